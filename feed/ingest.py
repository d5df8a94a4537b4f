"""Ingestion: validate each feed line and apply it through the events services.

Feed and operators share one write path: a feed price goes through ``outcome_price_feed`` (so a
pinned price is recorded as a tick, not applied), a suspension through ``market_suspend``, a
result through ``event_result_set``. Each message is applied in one transaction together with the
event's last applied sequence number; a duplicate or older ``seq`` is dropped. A bad line is
refused with a logged reason and a counter and never stops ingestion: whatever one line raises
(a refusal, a database error, a bug) rolls back that line's transaction alone and is counted, and
the next line starts afresh. Errors nobody foresaw are logged with their traceback.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from django.db import DatabaseError, transaction

from audit.context import Actor
from core.errors import DomainError
from events import services
from events.models import Event, Market, Outcome, Player
from feed.wire import MARKET_STATUS_TYPES, Message, Refused, parse, timestamp

logger = logging.getLogger("feed")


class Ingestor:
    def __init__(self) -> None:
        self.applied: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def ingest(self, lines: Iterable[str]) -> Ingestor:
        for line in lines:
            if line.strip():
                self.line(line)
        return self

    def line(self, line: str) -> bool:
        """Apply one line; False (with the reason logged and counted) if it was refused."""
        try:
            message = parse(line)
            self._apply(message)
        except Refused as refusal:
            return self._refuse(refusal, line)
        except DatabaseError as error:  # what the parser could not know: a constraint, a lost connection
            return self._refuse(Refused("database_error", f"{type(error).__name__}: {error}"), line, error)
        except Exception as error:  # a bug: one line's, and the feed goes on
            return self._refuse(Refused("internal_error", f"{type(error).__name__}: {error}"), line, error)
        self.applied[message.type] += 1
        return True

    def _refuse(self, refusal: Refused, line: str, error: Exception | None = None) -> bool:
        self.refused[refusal.reason] += 1
        log = logger.error if error else logger.warning
        # Lone surrogates (bytes that were not UTF-8) written out escaped, so that no log handler trips on them.
        shown = line.strip()[:300].encode("utf-8", "backslashreplace").decode()
        log("feed line refused (%s): %s | %s", refusal.reason, refusal.detail[:300], shown, exc_info=error)
        return False

    def _apply(self, message: Message) -> None:
        actor = Actor.system(f"feed:{message.source}")
        try:
            with transaction.atomic():
                if message.type == "event_created":
                    event = self._create(message, actor)
                else:
                    event = Event.objects.select_for_update().filter(external_ref=message.event).first()
                    if event is None:
                        raise Refused("unknown_event", message.event)
                    if message.seq <= event.feed_seq:
                        raise Refused("stale_seq", f"seq {message.seq} after {event.feed_seq}")
                    HANDLERS[message.type](self, message, event, actor)
                Event.objects.filter(pk=event.pk).update(feed_seq=message.seq)
        except DomainError as refusal:
            raise Refused("rejected_by_service", f"{refusal.code}: {refusal.message}") from None

    def _create(self, message: Message, actor: Actor) -> Event:
        if Event.objects.filter(external_ref=message.event).exists():
            raise Refused("stale_seq", f"event {message.event} exists already")
        body = message.body
        taken = list(Market.objects.filter(external_ref__in=[m["market"] for m in body["markets"]])
                     .values_list("external_ref", flat=True))
        if taken:
            raise Refused("duplicate_ref", f"markets of another event: {', '.join(sorted(taken))}"[:300])
        roster = body.get("players", [])
        taken = list(Player.objects.filter(external_ref__in=[p["player"] for p in roster])
                     .values_list("external_ref", flat=True))
        if taken:
            raise Refused("duplicate_ref", f"players of another event: {', '.join(sorted(taken))}"[:300])
        event = services.event_create(
            home_team=body["home"], away_team=body["away"], sport=body["sport"], competition=body["competition"],
            start_time=timestamp(body["start_time"], "start_time"), actor=actor,
            markets=[services.MarketSpec(kind=m["kind"], line=m.get("line"), prices=m["prices"])
                     for m in body["markets"]],
            players=[{"name": p["name"], "team": p["team"]} for p in roster])
        Event.objects.filter(pk=event.pk).update(external_ref=message.event)
        for spec, market in zip(body["markets"], event.markets.order_by("pk"), strict=True):
            Market.objects.filter(pk=market.pk).update(external_ref=spec["market"])
        for spec, player in zip(roster, event.players.order_by("pk"), strict=True):
            Player.objects.filter(pk=player.pk).update(external_ref=spec["player"])
        return event

    # --- one handler per message type ---------------------------------------------------------
    def _market(self, message: Message, event: Event, ref: str | None = None) -> Market:
        ref = message.get("market") if ref is None else ref
        market = event.markets.filter(external_ref=ref).first()
        if market is None:
            raise Refused("unknown_market", ref)
        return market

    def _started(self, message, event, actor):
        services.event_start(event_id=event.pk, actor=actor)

    def _finished(self, message, event, actor):
        services.event_finish(event_id=event.pk, actor=actor)

    def _market_created(self, message, event, actor):
        if Market.objects.filter(external_ref=message.get("market")).exists():
            raise Refused("stale_seq", f"market {message.get('market')} exists already")
        services.market_create(event_id=event.pk, actor=actor, external_ref=message.get("market"),
                               spec=services.MarketSpec(kind=message.get("kind"), line=message.get("line"),
                                                        prices=message.get("prices")))

    def _market_status(self, message, event, actor):
        market = self._market(message, event)
        move = MARKET_STATUS_TYPES[message.type]
        reason = message.get("reason") or f"feed: {message.type}"
        getattr(services, f"market_{move}")(market_id=market.pk, actor=actor, reason=str(reason))

    def _prices(self, message, event, actor):
        for item in message.get("prices"):
            market = self._market(message, event, item["market"])
            outcome = Outcome.objects.filter(market=market, key=item["outcome"]).first()
            if outcome is None:
                raise Refused("unknown_outcome", f"{item['market']}/{item['outcome']}")
            services.outcome_price_feed(outcome_id=outcome.pk, price=item["price"], reason="feed")

    def _game_event(self, message, event, actor):
        services.event_clock_set(event_id=event.pk, clock=f"{message.get('minute')}'", live_score=message.get("score"))

    def _clock(self, message, event, actor):
        services.event_clock_set(event_id=event.pk, clock=message.get("clock"), live_score=message.get("score"))

    def _stat_lines(self, message: Message, event: Event) -> list[dict]:
        """The message's stat lines with the feed's player refs turned into the event's player ids."""
        ids = dict(event.players.values_list("external_ref", "pk"))
        lines = []
        for line in message.get("players", []):
            if line["player"] not in ids:
                raise Refused("unknown_player", line["player"])
            lines.append({"player_id": ids[line["player"]], **{k: v for k, v in line.items() if k != "player"}})
        return lines

    def _stats(self, message, event, actor):
        services.player_stats_set(event_id=event.pk, stats=self._stat_lines(message, event), actor=actor)

    def _market_result(self, message, event, actor):
        services.market_result_set(market_id=self._market(message, event).pk, winners=message.get("winners"),
                                   actor=actor)

    def _result(self, message, event, actor):
        services.event_result_set(event_id=event.pk, home_score=message.get("home_score"),
                                  away_score=message.get("away_score"), actor=actor,
                                  player_stats=self._stat_lines(message, event))


HANDLERS = {
    "event_started": Ingestor._started,
    "event_finished": Ingestor._finished,
    "market_created": Ingestor._market_created,
    **{kind: Ingestor._market_status for kind in MARKET_STATUS_TYPES},
    "prices": Ingestor._prices,
    "game_event": Ingestor._game_event,
    "clock": Ingestor._clock,
    "stats": Ingestor._stats,
    "market_result": Ingestor._market_result,
    "result": Ingestor._result,
}
