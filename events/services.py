"""Every change to events, markets and prices; the API, the admin and the feed all call these."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from audit.tenancy import keeps_the_book
from core import live
from core.decimals import exact_decimal, has_at_most
from core.errors import Conflict, DomainError, InvalidInput, NotFound
from events.kinds import Score, market_kind
from events.models import Competition, Event, Market, OddsTick, Outcome, Player, Sport
from events.rosters import roster_validate, stat_lines_validate

PRICE_STEP = Decimal("0.001")
PRICE_MIN = Decimal("1.01")


def price_validate(value: Any, *, field: str = "price") -> Decimal:
    """1.01 ≤ price ≤ ODDSLAB_PRICE_MAX, at most three decimals, from an exact decimal string."""
    price = exact_decimal(value, code="invalid_price", field=field, example="2.50")
    ceiling = Decimal(settings.ODDSLAB_PRICE_MAX)
    if not PRICE_MIN <= price <= ceiling:
        raise InvalidInput(f"Prices run from {PRICE_MIN} to {ceiling}.", code="invalid_price",
                           details={"field": field, "price": str(value)})
    if not has_at_most(price, 3):
        raise InvalidInput("A price has at most three decimals.", code="invalid_price",
                           details={"field": field, "price": str(value)})
    return price.quantize(PRICE_STEP)


@dataclass(frozen=True)
class MarketSpec:
    kind: str
    prices: dict[str, Any]
    line: Any = None


def event_create(
    *, home_team: str, away_team: str, sport: str, competition: str, start_time: datetime,
    markets: list[MarketSpec], actor: Actor, players: list[dict[str, Any]] | None = None,
) -> Event:
    """An event with its markets and opening prices, and its roster (``[{"name", "team"}]``, for
    player propositions and stat lines) if given; all or nothing."""
    with _operator_change(actor, "event.create", "event", home_team=home_team, away_team=away_team):
        roster = roster_validate([] if players is None else players)
        home_team, away_team = home_team.strip(), away_team.strip()
        if not home_team or not away_team or home_team.casefold() == away_team.casefold():
            raise InvalidInput("An event needs two different teams.", code="invalid_event")
        sport_row = Sport.objects.filter(key=sport).first()
        if sport_row is None:
            raise InvalidInput(f"Unknown sport {sport!r}.", code="unknown_sport",
                               details={"known": list(Sport.objects.values_list("key", flat=True))})
        built = [_market_build(spec, home=home_team, away=away_team, index=i)
                 for i, spec in enumerate(markets)]
        keys = [(m.kind, m.line) for m, _ in built]
        if len(set(keys)) != len(keys):
            raise InvalidInput("Each market (kind and line) may appear once.", code="duplicate_market")
        competition_row, _ = Competition.objects.get_or_create(sport=sport_row,
                                                               name=competition.strip())
        event = Event.objects.create(sport=sport_row, competition=competition_row, home=home_team,
                                     away=away_team, start_time=start_time)
        for market, outcomes in built:
            market.event = event
            market.save()
            for outcome in outcomes:
                outcome.market = market
            Outcome.objects.bulk_create(outcomes)
            OddsTick.objects.bulk_create([
                OddsTick(outcome=o, old_price=None, new_price=o.price, source=OddsTick.Source.OPERATOR,
                         reason="opening price", actor=actor.user) for o in outcomes])
        Player.objects.bulk_create([Player(event=event, name=name, team=team) for name, team in roster])
        audit_record(actor=actor, action="event.create", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event),
                     details={"markets": [{"kind": m.kind, "line": None if m.line is None else str(m.line)}
                                          for m, _ in built],
                              "players": [{"name": name, "team": team} for name, team in roster]})
        _event_news(event)
    return event


def _event_news(event: Event) -> None:
    """The event message; an event with a roster carries its players' stat lines too."""
    players = [{"player_id": p.pk, "name": p.name, "team": p.team, "stats": p.stats}
               for p in Player.objects.filter(event_id=event.pk).order_by("pk")]
    live.event_changed(event_id=event.pk, status=event.status, score=event.current_score, clock=event.clock,
                       players=players or None)


def player_stats_set(*, event_id: int, stats: list[dict[str, Any]], actor: Actor) -> Event:
    """The running stat lines of an event's players (``[{"player_id", "points", "rebounds",
    "assists"}]``, a stat left out keeps its value), as the feed reports them while the game is on.
    The final lines come with the result (``event_result_set``); after it they stand."""
    with _operator_change(actor, "event.player_stats", "event", event_id, stats=stats):
        event = _locked(Event, event_id)
        if event.status == Event.Status.CANCELLED or event.home_score is not None:
            raise Conflict(f"The stat lines of a {'resulted' if event.home_score is not None else event.status} "
                           "event stand.", code="invalid_event_state", details={"status": event.status})
        changed = _stat_lines_apply(event, stats)
        _event_news(event)
        audit_record(actor=actor, action="event.player_stats", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event),
                     details={"players": changed})
    return event


def _stat_lines_apply(event: Event, stats: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Validate and write stat lines of ``event`` (locked by the caller); what changed, by player id."""
    players = {p.pk: p for p in Player.objects.select_for_update().filter(event=event).order_by("pk")}
    changed = {}
    for player_id, values in stat_lines_validate(stats, players=players).items():
        player = players[player_id]
        if any(getattr(player, stat) != value for stat, value in values.items()):
            for stat, value in values.items():
                setattr(player, stat, value)
            player.save(update_fields=list(values))
            changed[str(player_id)] = player.stats
    return changed


def _market_build(spec: MarketSpec, *, home: str, away: str, index: int) -> tuple[Market, list[Outcome]]:
    kind = market_kind(spec.kind)
    line = None
    if spec.line not in (None, ""):
        line = exact_decimal(spec.line, code="invalid_line", field=f"markets[{index}].line", example="2.5")
    line = kind.line_validate(line)
    outcomes = kind.outcomes(home=home, away=away, line=line)
    expected = {o.key for o in outcomes}
    if set(spec.prices) != expected:
        raise InvalidInput(f"A {kind.key} market needs a price for exactly: {', '.join(sorted(expected))}.",
                           code="invalid_prices", details={"market": index, "expected": sorted(expected)})
    return (
        Market(kind=kind.key, line=line, name=kind.market_name(line=line)),
        [Outcome(key=o.key, name=o.name,
                 price=price_validate(spec.prices[o.key], field=f"markets[{index}].{o.key}"))
         for o in outcomes],
    )


# Markets no result has decided yet: the ones a result grades, a cancellation voids.
UNDECIDED = (Market.Status.OPEN, Market.Status.SUSPENDED, Market.Status.CLOSED)

# Which market statuses each operator action may start from.
_MARKET_MOVES = {
    "suspend": ({Market.Status.OPEN}, Market.Status.SUSPENDED),
    "resume": ({Market.Status.SUSPENDED}, Market.Status.OPEN),
    "close": ({Market.Status.OPEN, Market.Status.SUSPENDED}, Market.Status.CLOSED),
    # Not once resulted: bets may already be settled on the result.
    "cancel": (set(UNDECIDED), Market.Status.CANCELLED),
}


_PAST = {"suspend": "suspended", "resume": "resumed", "close": "closed", "cancel": "cancelled"}


def _market_move(*, market_id: int, move: str, actor: Actor, reason: str = "") -> Market:
    allowed_from, target = _MARKET_MOVES[move]
    with _operator_change(actor, f"market.{move}", "market", market_id, reason=reason):
        market = _locked(Market, market_id)
        if market.status not in allowed_from:
            raise Conflict(f"A {market.status} market cannot be {_PAST[move]}.",
                           code="invalid_market_state",
                           details={"market_id": market.pk, "status": market.status})
        before = market.status
        _markets_set([market], target, reason)
        audit_record(actor=actor, action=f"market.{move}", category=AuditLog.Category.ADMIN,
                     resource_type="market", resource_id=market.pk, resource_label=str(market),
                     details={"before": before, "after": target, "reason": reason})
    return market


def market_suspend(*, market_id: int, actor: Actor, reason: str = "") -> Market:
    return _market_move(market_id=market_id, move="suspend", actor=actor, reason=reason)


def market_resume(*, market_id: int, actor: Actor, reason: str = "") -> Market:
    return _market_move(market_id=market_id, move="resume", actor=actor, reason=reason)


def market_close(*, market_id: int, actor: Actor, reason: str = "") -> Market:
    return _market_move(market_id=market_id, move="close", actor=actor, reason=reason)


def market_cancel(*, market_id: int, actor: Actor, reason: str) -> Market:
    """Cancel a market: every leg on it becomes void (a single returns its stake; a multiple
    counts the leg at 1.00), which settlement applies once this commits."""
    with _operator_change(actor, "market.cancel", "market", market_id, reason=reason):
        if not reason.strip():
            raise InvalidInput("Say why the market is cancelled.", code="reason_required")
        market = _market_move(market_id=market_id, move="cancel", actor=actor, reason=reason)
        _settlement_request([market.pk])
    return market


def markets_mark_settled(*, market_ids: list[int], actor: Actor) -> list[Market]:
    """Resulted markets whose bets are all settled become ``settled``: settlement hands over the ones
    it left without an open bet (this app does not read bets). Each with its audit row and live
    message; one already settled, or not resulted, is left as it is, so two workers finishing the
    same markets together mark each once."""
    with transaction.atomic():
        markets = list(Market.objects.select_for_update()
                       .filter(pk__in=market_ids, status=Market.Status.RESULTED).order_by("pk"))
        for market in markets:
            _markets_set([market], Market.Status.SETTLED, market.status_reason)
            audit_record(actor=actor, action="market.settled", category=AuditLog.Category.ADMIN,
                         resource_type="market", resource_id=market.pk, resource_label=str(market),
                         details={"before": Market.Status.RESULTED, "after": Market.Status.SETTLED})
    return markets


def outcome_price_set(*, outcome_id: int, price: Any, reason: str, actor: Actor) -> Outcome:
    """An operator's override: the price is pinned until released; feed prices are only recorded."""
    with _operator_change(actor, "outcome.price_set", "outcome", outcome_id, price=price, reason=reason):
        new_price = price_validate(price)
        outcome = _locked(Outcome, outcome_id)
        old_price = outcome.price
        outcome.price, outcome.pinned = new_price, True
        outcome.save(update_fields=["price", "pinned"])
        OddsTick.objects.create(outcome=outcome, old_price=old_price, new_price=new_price,
                                source=OddsTick.Source.OPERATOR, reason=reason[:200], actor=actor.user)
        _price_news(outcome)
        audit_record(actor=actor, action="outcome.price_set", category=AuditLog.Category.ADMIN,
                     resource_type="outcome", resource_id=outcome.pk, resource_label=outcome.name,
                     details={"before": str(old_price), "after": str(new_price), "reason": reason})
    return outcome


def outcome_price_release(*, outcome_id: int, actor: Actor) -> Outcome:
    """Unpin; the latest feed price seen while pinned (if any) becomes the price."""
    with _operator_change(actor, "outcome.price_release", "outcome", outcome_id):
        outcome = _locked(Outcome, outcome_id)
        if not outcome.pinned:
            raise Conflict("This price is not pinned.", code="price_not_pinned")
        old_price = outcome.price
        outcome.pinned = False
        if outcome.feed_price is not None and outcome.feed_price != old_price:
            outcome.price = outcome.feed_price
            OddsTick.objects.create(outcome=outcome, old_price=old_price, new_price=outcome.price,
                                    source=OddsTick.Source.FEED, reason="pin released", actor=actor.user)
            _price_news(outcome)
        outcome.save(update_fields=["pinned", "price"])
        audit_record(actor=actor, action="outcome.price_release", category=AuditLog.Category.ADMIN,
                     resource_type="outcome", resource_id=outcome.pk, resource_label=outcome.name,
                     details={"before": str(old_price), "after": str(outcome.price)})
    return outcome


def outcome_price_feed(*, outcome_id: int, price: Any, reason: str = "") -> Outcome:
    """A price from the feed: applied, or only recorded while an operator has the price pinned."""
    new_price = price_validate(price)
    with transaction.atomic():
        outcome = _locked(Outcome, outcome_id)
        old_price = outcome.price
        applied = not outcome.pinned
        if applied:
            outcome.price = new_price
        outcome.feed_price = new_price
        outcome.save(update_fields=["price", "feed_price"])
        OddsTick.objects.create(outcome=outcome, old_price=old_price, new_price=new_price,
                                source=OddsTick.Source.FEED, applied=applied, reason=reason[:200])
        if applied and new_price != old_price:
            _price_news(outcome)
    return outcome


def _price_news(outcome: Outcome) -> None:
    live.prices_changed(event_id=outcome.market.event_id, changes=[(outcome.market_id, outcome.pk, outcome.price)])


def event_start(*, event_id: int, actor: Actor) -> Event:
    """The event is live: from now on in-play rules (the sport's bet delay) apply."""
    with _operator_change(actor, "event.start", "event", event_id):
        event = _locked(Event, event_id)
        if event.status != Event.Status.SCHEDULED:
            raise Conflict(f"A {event.status} event cannot start.", code="invalid_event_state",
                           details={"status": event.status})
        event.status, event.started_at = Event.Status.LIVE, timezone.now()
        event.save(update_fields=["status", "started_at"])
        _event_news(event)
        # Challenges still open expire at the start; the beat task catches any this misses.
        transaction.on_commit(lambda: current_app.send_task(CHALLENGES_EXPIRE_TASK), robust=True)
        audit_record(actor=actor, action="event.start", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event))
    return event


def event_finish(*, event_id: int, actor: Actor) -> Event:
    """The event is over: its open and suspended markets close, so nothing more can be bet."""
    with _operator_change(actor, "event.finish", "event", event_id):
        event = _locked(Event, event_id)
        if event.status not in (Event.Status.SCHEDULED, Event.Status.LIVE):
            raise Conflict(f"A {event.status} event cannot finish.", code="invalid_event_state",
                           details={"status": event.status})
        event.status, event.finished_at = Event.Status.FINISHED, timezone.now()
        event.save(update_fields=["status", "finished_at"])
        closed = list(event.markets.select_for_update().order_by("pk")
                      .filter(status__in=[Market.Status.OPEN, Market.Status.SUSPENDED]))
        _markets_set(closed, Market.Status.CLOSED, "event finished")
        _event_news(event)
        audit_record(actor=actor, action="event.finish", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event),
                     details={"markets_closed": [m.pk for m in closed]})
    return event


def market_create(*, event_id: int, spec: MarketSpec, actor: Actor, external_ref: str | None = None) -> Market:
    """Open one more market on an event (the feed's micro-markets, an operator's extra line)."""
    with _operator_change(actor, "market.create", "event", event_id, kind=spec.kind, line=spec.line):
        event = _locked(Event, event_id)
        if event.status not in (Event.Status.SCHEDULED, Event.Status.LIVE):
            raise Conflict(f"A {event.status} event takes no new markets.", code="invalid_event_state")
        market, outcomes = _market_build(spec, home=event.home, away=event.away, index=0)
        if event.markets.filter(kind=market.kind, line=market.line).exists():
            raise InvalidInput("This market already exists on the event.", code="duplicate_market")
        market.event, market.external_ref = event, external_ref
        market.save()
        for outcome in outcomes:
            outcome.market = market
        Outcome.objects.bulk_create(outcomes)
        OddsTick.objects.bulk_create([OddsTick(outcome=o, new_price=o.price, source=OddsTick.Source.FEED
                                               if actor.user is None else OddsTick.Source.OPERATOR,
                                               reason="opening price", actor=actor.user) for o in outcomes])
        live.market_changed(event_id=event.pk, market_id=market.pk, status=market.status)
        audit_record(actor=actor, action="market.create", category=AuditLog.Category.ADMIN,
                     resource_type="market", resource_id=market.pk, resource_label=str(market),
                     details={"kind": market.kind, "line": None if market.line is None else str(market.line)})
    return market


def market_result_set(*, market_id: int, winners: list[str], actor: Actor) -> Market:
    """Result one market directly (a micro-market the feed watched): the named outcomes won, the
    others lost; with no winners every outcome is void. Settlement is requested on commit."""
    with _operator_change(actor, "market.result", "market", market_id, winners=winners):
        market = _locked(Market, market_id)
        if market.status not in UNDECIDED:
            raise Conflict(f"A {market.status} market cannot be resulted.", code="invalid_market_state",
                           details={"status": market.status})
        outcomes = list(market.outcomes.order_by("pk"))
        unknown = set(winners) - {o.key for o in outcomes}
        if unknown:
            raise InvalidInput(f"Unknown outcome keys: {', '.join(sorted(unknown))}.", code="invalid_result")
        for outcome in outcomes:
            outcome.status = (Outcome.Status.VOID if not winners else
                              Outcome.Status.WON if outcome.key in winners else Outcome.Status.LOST)
        Outcome.objects.bulk_update(outcomes, ["status"])
        _markets_set([market], Market.Status.RESULTED, f"winners: {', '.join(winners) or 'none (void)'}")
        audit_record(actor=actor, action="market.result", category=AuditLog.Category.ADMIN,
                     resource_type="market", resource_id=market.pk, resource_label=str(market),
                     details={"winners": winners})
        _settlement_request([market.pk])
    return market


def event_clock_set(*, event_id: int, clock: str, live_score: str) -> Event:
    """The running clock and score of a live game, as the feed reports them."""
    with transaction.atomic():
        event = _locked(Event, event_id)
        event.clock, event.live_score = clock[:16], live_score[:16]
        event.save(update_fields=["clock", "live_score"])
        _event_news(event)
    return event


# Settlement lives in betting, above this app; it is asked for by task name, after commit.
SETTLE_MARKETS_TASK = "betting.tasks.settle_markets_task"
CHALLENGES_EXPIRE_TASK = "betting.tasks.challenges_expire_task"


def _settlement_request(market_ids: list[int], *, event_id: int | None = None) -> None:
    """Settle these markets' bets, and the challenges of their events and of ``event_id`` (a result or
    a cancellation decides challenges on players' stats, or by the event's status alone)."""
    if market_ids or event_id is not None:
        # robust: with the broker down the change stands, logged, and the beat's settlement sweep
        # settles the markets.
        event_ids = [] if event_id is None else [event_id]
        transaction.on_commit(lambda: current_app.send_task(SETTLE_MARKETS_TASK, args=[market_ids],
                                                            kwargs={"event_ids": event_ids}), robust=True)


def event_result_set(*, event_id: int, home_score: Any, away_score: Any, actor: Actor,
                     player_stats: list[dict[str, Any]] | None = None) -> Event:
    """Record the final score (and the players' final stat lines, if given): the event finishes,
    its markets close and each kind grades its outcomes; the markets are ``resulted`` and
    settlement is requested once this commits."""
    with _operator_change(actor, "event.result", "event", event_id, home_score=home_score, away_score=away_score,
                          player_stats=player_stats):
        score = Score(home=_goals(home_score, "home_score"), away=_goals(away_score, "away_score"))
        event = _locked(Event, event_id)
        if event.status == Event.Status.CANCELLED:
            raise Conflict("A cancelled event has no result.", code="invalid_event_state",
                           details={"status": event.status})
        if event.home_score is not None:
            raise Conflict(f"This event was already resulted {event.score}.", code="already_resulted",
                           details={"score": event.score})
        event.home_score, event.away_score = score.home, score.away
        event.status, event.finished_at = Event.Status.FINISHED, event.finished_at or timezone.now()
        event.save(update_fields=["home_score", "away_score", "status", "finished_at"])
        final_lines = _stat_lines_apply(event, [] if player_stats is None else player_stats)
        markets = list(event.markets.select_for_update().order_by("pk").filter(status__in=UNDECIDED))
        # Micro-markets the feed did not result in time cannot be graded from a final score: void.
        unresultable = [m for m in markets if not market_kind(m.kind).graded_by_score]
        markets = [m for m in markets if market_kind(m.kind).graded_by_score]
        outcomes = list(Outcome.objects.filter(market__in=markets).select_related("market").order_by("pk"))
        for outcome in outcomes:
            outcome.status = market_kind(outcome.market.kind).grade(key=outcome.key, line=outcome.market.line,
                                                                    score=score)
        Outcome.objects.bulk_update(outcomes, ["status"])
        _markets_set(markets, Market.Status.RESULTED, f"result {event.score}")
        _markets_set(unresultable, Market.Status.CANCELLED, "not settled by the final score")
        _event_news(event)
        audit_record(actor=actor, action="event.result", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event),
                     details={"score": event.score, "markets_resulted": [m.pk for m in markets],
                              "markets_cancelled": [m.pk for m in unresultable],
                              "outcomes": {o.pk: o.status for o in outcomes}, "player_stats": final_lines})
        _settlement_request([m.pk for m in markets + unresultable], event_id=event.pk)
    return event


def event_cancel(*, event_id: int, actor: Actor, reason: str) -> Event:
    """The event will not be played: every undecided market is cancelled and every leg on it becomes
    void. A market already resulted or settled (a micro-market the feed decided before the game was
    abandoned) stands: its bets were, or are being, settled on that result, and a market is never
    settled two ways."""
    with _operator_change(actor, "event.cancel", "event", event_id, reason=reason):
        if not reason.strip():
            raise InvalidInput("Say why the event is cancelled.", code="reason_required")
        event = _locked(Event, event_id)
        if event.status == Event.Status.CANCELLED or event.home_score is not None:
            raise Conflict(f"A {event.status} event cannot be cancelled.", code="invalid_event_state",
                           details={"status": event.status})
        event.status = Event.Status.CANCELLED
        event.save(update_fields=["status"])
        markets = list(event.markets.select_for_update().order_by("pk"))
        voided = [m for m in markets if m.status in UNDECIDED]
        standing = [{"market_id": m.pk, "status": m.status} for m in markets if m.status not in UNDECIDED]
        _markets_set(voided, Market.Status.CANCELLED, reason)
        _event_news(event)
        audit_record(actor=actor, action="event.cancel", category=AuditLog.Category.ADMIN,
                     resource_type="event", resource_id=event.pk, resource_label=str(event),
                     details={"reason": reason, "markets_cancelled": [m.pk for m in voided],
                              "markets_standing": standing})
        _settlement_request([m.pk for m in voided], event_id=event.pk)
    return event


def _markets_set(markets: list[Market], status: str, reason: str) -> None:
    for market in markets:
        market.status, market.status_reason = status, reason[:200]
        market.save(update_fields=["status", "status_reason"])
        live.market_changed(event_id=market.event_id, market_id=market.pk, status=status)


@contextmanager
def _operator_change(actor: Actor, action: str, resource_type: str, resource_id: Any = "", **request: Any):
    """The change in one transaction; a refusal rolls it back and is audited with what was asked,
    whether it came from the API, the console or the feed. Events, markets and prices are shared by
    every tenant: only the platform's staff (audit.tenancy.keeps_the_book) change them, a white-label
    tenant's trader is refused (403 ``forbidden``)."""
    with audited_transaction(actor=actor, action=action, category=AuditLog.Category.ADMIN,
                             resource_type=resource_type, resource_id=resource_id,
                             details={k: None if v is None else str(v) for k, v in request.items()}):
        if not keeps_the_book(actor.user):  # the system and the feed (no user) keep it
            raise DomainError("Events, markets and prices are the platform's; a tenant's staff do not change them.",
                              code="forbidden", status=403)
        yield


def _goals(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 999:
        raise InvalidInput("Scores are whole numbers from 0.", code="invalid_result", details={"field": field})
    return value


def _locked(model, pk: int):
    row = model.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No {model._meta.verbose_name} with id {pk}.",
                       details={"resource": model._meta.model_name, "id": pk})
    return row
