"""Reads the player pages need beyond the apps' own selectors."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from audit.models import Notification
from betting.challenge_selectors import challenge_list, challenges_with_transfers
from betting.models import Challenge
from betting.slips import outcome_available
from events.models import Event, Market, OddsTick, Player, Sport
from events.selectors import event_list

# The markets the live list shows for each event; the event page shows them all.
MAIN_KINDS = ("match_result", "over_under")
LISTED = (Event.Status.LIVE, Event.Status.SCHEDULED)


def sport_list() -> QuerySet[Sport]:
    return Sport.objects.order_by("name")


def events_by_status(*, sport: str | None = None, status: str | None = None) -> list[tuple[str, list[Event]]]:
    """Live events first, then upcoming ones, each with its main markets as ``main_markets``."""
    groups = []
    for value in LISTED:
        if status and status != value:
            continue
        events = event_list(status=value)
        if sport:
            events = events.filter(sport__key=sport)
        events = list(events)
        for event in events:
            markets = list(event.markets.all())
            main = [m for m in markets if m.kind in MAIN_KINDS and m.status != "settled"]
            event.main_markets = main[:2] or markets[:1]
            event.more_markets = len(markets) - len(event.main_markets)
        groups.append((value, events))
    return groups


def price_history(*, event: Event | None = None, market: Market | None = None, width: int = 120, height: int = 32,
                  limit: int = 60) -> dict[int, dict[str, Any]]:
    """Per outcome of the event (or of one market): an SVG polyline of its last ``limit`` applied prices,
    oldest first. The page socket draws one market's chart per market message, so only those rows are read."""
    scope = {"outcome__market": market} if market is not None else {"outcome__market__event": event}
    latest_first = [F("created_at").desc(), F("id").desc()]
    ticks = (OddsTick.objects.filter(applied=True, **scope)
             .annotate(rank=Window(RowNumber(), partition_by=[F("outcome_id")], order_by=latest_first))
             .filter(rank__lte=limit).order_by("outcome_id", "created_at", "id").values_list("outcome_id", "new_price"))
    prices: dict[int, list[Decimal]] = defaultdict(list)
    for outcome_id, price in ticks:
        prices[outcome_id].append(price)
    return {outcome_id: sparkline(values, width=width, height=height) for outcome_id, values in prices.items()}


def sparkline(values: list[Decimal], *, width: int = 120, height: int = 32) -> dict[str, Any]:
    """Prices stay Decimal here too: the coordinates are computed exactly and printed to 0.1 px."""
    low, high = min(values), max(values)
    step = Decimal(width) / max(len(values) - 1, 1)
    pad = 3

    def y(v: Decimal) -> Decimal:
        return Decimal(height) / 2 if high == low else pad + (height - 2 * pad) * (high - v) / (high - low)

    points = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    if len(values) == 1:
        points += f" {width:.1f},{points.split(',')[1]}"
    return {"points": points, "width": width, "height": height, "first": values[0], "last": values[-1],
            "low": low, "high": high, "count": len(values),
            "trend": "up" if values[-1] > values[0] else "down" if values[-1] < values[0] else "flat"}


def notification_list(*, user: Any, limit: int = 50) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("-created_at", "-id")[:limit])


def challenge_panel(*, event: Event, roster: list[Player]) -> dict[str, Any]:
    """The event page's challenge forms: whether the event still takes challenges (they close at its
    start), the outcomes one can back now, market by market, and the roster for stat lines."""
    markets = [(m, [o for o in m.outcomes.all() if outcome_available(o)]) for m in event.markets.all()]
    return {"takes_challenges": event.status == Event.Status.SCHEDULED and event.start_time > timezone.now(),
            "markets": [(m, outcomes) for m, outcomes in markets if outcomes], "roster": roster}


OPEN_LISTED = 200  # open challenges the page lists; the oldest beyond these wait for the next look


def open_challenges(*, user: Any, event_id: str | None = None) -> list[tuple[Event, list[Challenge]]]:
    """Everyone's open challenges but the viewer's own (those are under "Your challenges"), by event,
    soonest game first."""
    listed = challenge_list(user=None, status=Challenge.Status.OPEN, event_id=event_id).select_related(
        "event__sport", "event__competition")
    if user is not None:
        listed = listed.exclude(creator=user)
    groups: dict[int, tuple[Event, list[Challenge]]] = {}
    for challenge in listed[:OPEN_LISTED]:
        groups.setdefault(challenge.event_id, (challenge.event, []))[1].append(challenge)
    return sorted(groups.values(), key=lambda group: (group[0].start_time, group[0].pk))


MINE_LISTED = 50


def my_challenges(*, user: Any) -> list[Challenge]:
    """The player's challenges, made or accepted, newest first, each with its escrow transfers."""
    mine = challenge_list(user=user).filter(Q(creator=user) | Q(acceptor=user)).select_related("event")
    return challenges_with_transfers(list(mine[:MINE_LISTED]))
