"""Page sockets: the live messages of core/live.py as HTML fragments for the htmx ws extension.

They join the same groups as the JSON sockets and render each message in the consumer, per
connection: API clients use the conflated JSON stream (serialised once for every subscriber),
while pages are fewer and each needs its own markup (its slip selections, its session's slip).
Every fragment carries an ``id`` and is swapped out of band (``hx-swap-oob``).

A socket that follows named events (the event page, ``?events=<id>``) gets a changed market whole,
with its price history, from the partial the page itself is built from: a market opened after the
page loaded (the feed's micro-markets) arrives as it would have been drawn on load. The all-events
socket (the live list, whose cards show no charts) gets the market alone, so no chart is read for it.
An event's state carries its status: the list page compares it with the group the card sits in and
refetches its list when they differ (static/js/oddslab.js), so clock ticks and prices cost no refetch.

The Challenges page's socket (``/ws/pages/challenges[?events=<id>]``) draws a challenge that opened
as the card the page is built from, for this viewer, and removes one that closed. A party's own
challenge is left to /ws/pages/me, which redraws its card under "Your challenges" (a closed one
stays there, matched or cancelled; an open one of the viewer's never joins the open list).
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from accounts.consumers import ClientSessionSocket
from audit.context import Actor
from betting.challenge_selectors import challenge_get
from betting.models import Challenge
from core.errors import DomainError
from core.sockets import ChallengesConsumer, MeConsumer, OddsConsumer
from events.models import Event, Market, OddsTick, Outcome
from events.selectors import event_players
from oddslab.web import selectors, slip
from oddslab.web.render import render_block

logger = logging.getLogger(__name__)


def _session(scope: dict[str, Any]):
    """A fresh copy of the connection's session: the slip changes between messages."""
    key = getattr(scope.get("session"), "session_key", None)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store(session_key=key) if key else store()


def _selected(scope: dict[str, Any]) -> set[int]:
    return slip.selected_ids(_session(scope))


def _prices_html(payload: dict[str, Any], scope: dict[str, Any]) -> str:
    ids = [p["outcome_id"] for p in payload.get("prices", [])]
    outcomes = Outcome.objects.select_related("market__event").filter(pk__in=ids).order_by("pk")
    last_moves = {}
    for outcome_id, old, new in (OddsTick.objects.filter(outcome_id__in=ids, applied=True)
                                 .order_by("outcome_id", "-created_at", "-id").distinct("outcome_id")
                                 .values_list("outcome_id", "old_price", "new_price")):
        last_moves[outcome_id] = "" if old is None or old == new else ("up" if new > old else "down")
    selected = _selected(scope)
    return "".join(render_to_string("web/_outcome.html", {
        "outcome": o, "selected": selected, "oob": True, "flash": last_moves.get(o.pk, "")}) for o in outcomes)


def _market_html(payload: dict[str, Any], scope: dict[str, Any], *, whole: bool) -> str:
    market = Market.objects.select_related("event").prefetch_related("outcomes").filter(
        pk=payload.get("market_id")).first()
    if market is None:
        return ""
    context = {"market": market, "selected": _selected(scope), "oob": True}
    if whole:
        return render_to_string("web/_market_block.html", {**context, "charts": selectors.price_history(market=market)})
    return render_to_string("web/_market.html", context)


def _event_html(payload: dict[str, Any], *, box_score: bool) -> str:
    """The event's state (status, score, clock); with ``box_score``, and a roster, its players' lines."""
    event = Event.objects.select_related("sport").filter(pk=payload.get("event_id")).first()
    if event is None:
        return ""
    html = render_to_string("web/_event_state.html", {"event": event, "oob": True})
    if box_score and payload.get("players"):
        html += render_to_string("web/_box_score.html", {
            "event": event, "players": list(event_players(event_id=event.pk)), "oob": True})
    return html


@database_sync_to_async
def odds_fragment(payload: dict[str, Any], scope: dict[str, Any], *, whole_markets: bool = False) -> str:
    """``whole_markets``: markets with their price history (and box scores), for a socket that follows
    named events."""
    kind = payload.get("type")
    if kind == "prices":
        return _prices_html(payload, scope)
    if kind == "market":
        return _market_html(payload, scope, whole=whole_markets)
    if kind == "event":
        return _event_html(payload, box_score=whole_markets)
    return ""


@database_sync_to_async
def challenges_fragment(payload: dict[str, Any], scope: dict[str, Any]) -> str:
    kind, user = payload.get("type"), scope.get("user") or AnonymousUser()
    if kind not in ("challenge_open", "challenge_closed"):
        return ""
    challenge = (Challenge.objects.select_related("event", "outcome__market", "player")
                 .filter(pk=payload.get("challenge_id")).first())
    if challenge is None or (user.is_authenticated and user.pk in (challenge.creator_id, challenge.acceptor_id)):
        return ""
    if kind == "challenge_closed" or challenge.status != Challenge.Status.OPEN:  # closed again meanwhile
        return render_to_string("web/_challenge_gone.html", {"challenge_id": challenge.pk})
    return render_to_string("web/_challenge.html", {
        "challenge": challenge, "viewer": user if user.is_authenticated else None, "oob": True, "board": True})


@database_sync_to_async
def me_fragment(payload: dict[str, Any], scope: dict[str, Any]) -> str:
    kind = payload.get("type")
    user = scope.get("user") or AnonymousUser()
    if kind == "wallet":
        return render_to_string("web/_balance.html", {"balance": payload.get("balance"), "oob": True})
    if kind == "external_wallet":
        return render_to_string("web/_external_balance.html", {"balance": payload.get("balance"), "oob": True})
    if kind == "notification":
        return render_to_string("web/_toast.html", {"message": payload.get("message", ""),
                                                     "kind": payload.get("kind", "")})
    if kind == "reality_check":  # the socket's own (accounts.consumers.ClientSessionSocket)
        return render_to_string("web/_reality_check.html", payload)
    if kind == "challenge":
        # The party's card wherever it is drawn (the challenges page, the event page that made it)
        try:
            challenge = challenge_get(user=user, challenge_id=payload["challenge_id"])
        except DomainError:
            return ""
        return render_to_string("web/_challenge.html", {"challenge": challenge, "viewer": user, "oob": True})
    if kind == "bet":
        from betting.selectors import bet_get

        session, html = _session(scope), ""
        # Only a bet this page's slip placed; the placing request itself renders the slip first
        # (its session is saved after the bet commits, so an earlier render here would be stale).
        if payload["bet_id"] in (slip.state(session).get("last_placed") or []):
            view = slip.view(user=user, session=session, actor=Actor.of(user))
            if session.modified:
                session.save()
            html = render_block("web/slip.html", "slip", {"slip": view})
        bet = bet_get(user=user, bet_id=payload["bet_id"])
        return html + render_to_string("web/_bet.html", {"bet": bet, "oob": True})
    return ""


class RenderedMessages:
    """A page socket renders each message (database reads) in a task of its own, in the order they
    came: its group's ``Fanout`` only queues them, so no page holds up the other sockets."""

    async def connect(self):
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.renderer = asyncio.ensure_future(self.render_inbox())
        await super().connect()

    async def disconnect(self, code):
        self.renderer.cancel()
        await super().disconnect(code)

    async def live_message(self, message):
        self.inbox.put_nowait(json.loads(message["text"]))

    async def render_inbox(self):
        while True:
            payload = await self.inbox.get()
            try:
                html = await self.render(payload)
            except Exception:  # a message that cannot be drawn must not silence the ones after it
                logger.exception("page socket could not render %s", payload.get("type"))
                continue
            if html:
                await self.send(text_data=html)

    async def render(self, payload: dict[str, Any]) -> str:
        raise NotImplementedError

    async def handle(self, request) -> None:
        return None  # the page sends nothing but pings


class PageOddsConsumer(RenderedMessages, OddsConsumer):
    """/ws/pages/odds[?events=ids]: price buttons, market locks and event state as HTML."""

    allow_batch = False  # a page renders each message as it comes

    async def render(self, payload):
        return await odds_fragment(payload, self.scope, whole_markets="odds.all" not in self.groups_joined)


class PageChallengesConsumer(RenderedMessages, ChallengesConsumer):
    """/ws/pages/challenges[?events=<id>]: open challenges appearing and going, as cards."""

    async def render(self, payload):
        return await challenges_fragment(payload, self.scope)


class PageMeConsumer(ClientSessionSocket, RenderedMessages, MeConsumer):
    """/ws/pages/me: the logged-in player's slip, bets, balance, notifications and reality checks as HTML."""

    async def initial_groups(self):
        user = self.scope.get("user") or AnonymousUser()
        return [f"user.{user.pk}"] if user.is_authenticated else None

    async def render(self, payload):
        return await me_fragment(payload, self.scope)
