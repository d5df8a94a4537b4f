"""Reading and checking a bet slip: everything placement and validation share."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from audit.context import role_of
from betting.models import Bet
from core.db import columns, loaded_chain
from core.errors import DomainError, InvalidInput, NotFound, refusal
from core.query import BIGINT_MAX
from events.models import Event, Market, Outcome, Sport
from events.services import price_validate
from ledger.models import Account
from ledger.money import exact_normal, exact_product, payout
from ledger.services import money_validate
from risk import rules
from risk.exposure import exposure_caps, exposure_current
from risk.limits import DEFAULTS, Limits, limits_for, restriction_of, selections_bound

# When a slip breaks several rules, the error code of the response is the first of these it breaks;
# every violation is listed in details.
PRIORITY = ["not_a_player", "self_excluded", "geo_blocked", "market_unavailable", "related_selections", "odds_changed",
            "too_many_selections", "odds_below_min", "odds_above_max", "combined_odds_above_max",
            "stake_below_min", "stake_above_max", "max_winning_exceeded", "exposure_limit",
            "velocity_limit", "loss_limit", "insufficient_funds"]


@dataclass(frozen=True)
class Selection:
    outcome_id: int
    price: Decimal  # the price the player saw


@dataclass(frozen=True)
class Slip:
    selections: list[Selection]
    stake: Decimal
    bet_type: str
    odds_change: str

    @property
    def fingerprint(self) -> str:
        body = {"selections": [[s.outcome_id, str(s.price)] for s in self.selections],
                "stake": str(self.stake), "bet_type": self.bet_type, "odds_change": self.odds_change}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def slip_parse(*, selections: Any, stake: Any, bet_type: Any, odds_change: Any = None) -> Slip:
    """The request body as a Slip, or a 400 that says what is wrong with it."""
    if bet_type not in Bet.Type.values:
        raise InvalidInput("bet_type must be \"single\" or \"multiple\".", details={"field": "bet_type"})
    odds_change = odds_change or Bet.OddsChange.NONE
    if odds_change not in Bet.OddsChange.values:
        raise InvalidInput("odds_change must be \"none\", \"higher\" or \"any\".",
                           details={"field": "odds_change"})
    if not isinstance(selections, list) or not selections:
        raise InvalidInput("Add at least one selection.", details={"field": "selections"})
    if len(selections) > DEFAULTS.max_selections and len(selections) > (bound := selections_bound()):
        raise refusal("too_many_selections", f"A bet can have at most {bound} selections.",
                      {"selections": len(selections), "max_selections": bound})
    parsed = []
    for position, item in enumerate(selections):
        outcome_id = item.get("outcome_id") if isinstance(item, dict) else None
        # No row has an id past bigint: such an id is malformed, not unknown.
        if not isinstance(outcome_id, int) or isinstance(outcome_id, bool) or not 0 < outcome_id <= BIGINT_MAX:
            raise InvalidInput("Each selection needs an outcome_id.",
                               details={"field": f"selections[{position}].outcome_id"})
        parsed.append(Selection(outcome_id, price_validate(item.get("price"),
                                                           field=f"selections[{position}].price")))
    if bet_type == Bet.Type.SINGLE and len(parsed) != 1:
        raise InvalidInput("A single takes exactly one selection; use a multiple for more.",
                           details={"field": "selections"})
    if bet_type == Bet.Type.MULTIPLE and len(parsed) < 2:
        raise InvalidInput("A multiple takes at least two selections.", details={"field": "selections"})
    return Slip(parsed, money_validate(stake, field="stake"), bet_type, odds_change)


@dataclass
class PricedLeg:
    outcome: Outcome
    seen_price: Decimal
    price: Decimal  # what the bet is struck at: the current price, when the policy takes it


@dataclass
class SlipCheck:
    legs: list[PricedLeg]
    limits: Limits
    total_odds: Decimal
    potential_return: Decimal
    max_allowed_stake: Decimal
    caps: dict[int, Decimal]
    violations: list[rules.Violation] = field(default_factory=list)
    restriction: Any = None  # the player's PlayerRestriction, if any (its loss limit is an account check)

    @property
    def in_play_delay(self) -> int:
        """Seconds to wait before acceptance: the longest delay among the legs' live events."""
        return max((leg.outcome.market.event.sport.inplay_delay_seconds for leg in self.legs
                    if leg.outcome.market.event.status == Event.Status.LIVE), default=0)

    def refusal(self) -> DomainError:
        ranked = sorted(self.violations, key=lambda v: PRIORITY.index(v.error))
        first = ranked[0]
        return refusal(first.error, first.message, {
            **first.details,
            "violations": [v.as_dict() for v in ranked],
            "total_odds": odds_text(self.total_odds),
            "potential_return": str(self.potential_return),
            "max_allowed_stake": str(self.max_allowed_stake),
        })


def odds_text(odds: Decimal) -> str:
    """Exact odds without trailing zeros but with at least two decimals: "35.53", "2.00"."""
    normal = exact_normal(odds)
    return f"{normal:f}" if normal.as_tuple().exponent < -1 else f"{odds.quantize(Decimal('0.01')):f}"


def slip_check(*, player: Any, slip: Slip, country: str, wallet: Account | None) -> SlipCheck:
    """Check a slip against current prices, market states and every limit; change nothing."""
    check = slip_check_book(player=player, slip=slip, country=country)
    check.violations += slip_check_account(check, player=player, stake=slip.stake, wallet=wallet)
    return check


def slip_check_book(*, player: Any, slip: Slip, country: str) -> SlipCheck:
    """The checks against the book: the player's standing, prices, market states, stake and price
    limits, exposure. Nothing here depends on the player's wallet or recent bets."""
    now = timezone.now()
    outcomes = _outcomes([s.outcome_id for s in slip.selections])
    restriction = restriction_of(player)
    violations = rules.player_gate(role=role_of(player), restriction=restriction, country=country or player.country,
                                   now=now)
    legs = []
    changed = False
    for selection in slip.selections:
        outcome = outcomes[selection.outcome_id]
        current, struck = outcome.price, outcome.price
        if current != selection.price:
            takes = (slip.odds_change == Bet.OddsChange.ANY
                     or (slip.odds_change == Bet.OddsChange.HIGHER and current > selection.price))
            changed |= not takes
        legs.append(PricedLeg(outcome, selection.price, struck))
    unavailable = [leg.outcome.pk for leg in legs if not outcome_available(leg.outcome)]
    if unavailable:
        violations.append(rules.Violation(
            "market_unavailable", "A selection is no longer available (its market is suspended or closed).",
            {"outcome_ids": unavailable}))
    repeated = sorted(e for e, n in Counter(leg.outcome.market.event_id for leg in legs).items() if n > 1)
    if repeated:
        twice = sorted(o for o, n in Counter(s.outcome_id for s in slip.selections).items() if n > 1)
        violations.append(rules.Violation(
            "related_selections", "A multiple can have only one selection per event.",
            {"event_ids": repeated, **({"outcome_ids": twice} if twice else {})}))
    if changed:
        violations.append(rules.Violation(
            "odds_changed", "Prices have changed; check the new prices and place again.",
            {"prices": [{"outcome_id": leg.outcome.pk, "price": str(leg.outcome.price),
                         "seen_price": str(leg.seen_price)} for leg in legs]}))
    total_odds = exact_product(leg.price for leg in legs)
    potential_return = payout(slip.stake, total_odds)
    limits = limits_for(player=player,
                        sport_ids={leg.outcome.market.event.sport_id for leg in legs},
                        competition_ids={leg.outcome.market.event.competition_id for leg in legs},
                        restriction=restriction)
    violations += rules.slip_violations(limits=limits, stake=slip.stake, prices=[leg.price for leg in legs],
                                        total_odds=total_odds, potential_return=potential_return)
    caps = exposure_caps(legs=[(leg.outcome.pk, leg.outcome.market.event.sport_id, leg.outcome.market.kind)
                               for leg in legs])
    current = exposure_current(outcome_ids=list(caps))
    headroom = min(caps[o] - current[o] for o in caps)
    if potential_return > headroom:
        violations.append(rules.Violation(
            "exposure_limit", "We cannot take this much on this selection right now; stake less.",
            {"max_allowed_stake": str(rules.max_allowed_stake(limits=limits, total_odds=total_odds,
                                                              exposure_headroom=headroom))}))
    return SlipCheck(legs=legs, limits=limits, total_odds=total_odds, potential_return=potential_return,
                     max_allowed_stake=rules.max_allowed_stake(limits=limits, total_odds=total_odds,
                                                               exposure_headroom=headroom),
                     caps=caps, violations=violations, restriction=restriction)


def slip_check_account(check: SlipCheck, *, player: Any, stake: Decimal,
                       wallet: Account | None) -> list[rules.Violation]:
    """The checks against the player's account: velocity, today's loss limit, balance. Placement
    runs them with the wallet locked, so two bets of one player cannot both pass on the same room."""
    history = _recent_history(player, now=timezone.now(), window_seconds=check.limits.velocity_window_seconds)
    violations = rules.velocity_violations(limits=check.limits, recent_bets=history["recent_bets"],
                                           recent_stake=history["recent_stake"], stake=stake)
    violations += rules.loss_limit_violations(restriction=check.restriction, lost_today=history["lost_today"],
                                              stake=stake)
    balance = wallet.balance if wallet else Decimal("0.00")
    if balance < stake:
        violations.append(rules.Violation("insufficient_funds", "Your balance is too low for this stake.",
                                          {"balance": str(balance), "stake": str(stake)}))
    return violations


def outcome_available(outcome: Outcome) -> bool:
    return _available(outcome.status, outcome.market.status, outcome.market.event.status)


def _available(outcome_status: str, market_status: str, event_status: str) -> bool:
    return (outcome_status == Outcome.Status.ACTIVE and market_status == Market.Status.OPEN
            and event_status in (Event.Status.SCHEDULED, Event.Status.LIVE))


# Each outcome with its market, event and sport, in one statement written as SQL: it runs on every
# placement and validation, and select_related's query cost more to build than to run.
_CHAIN = (Outcome, Market, Event, Sport)
_OUTCOMES = "SELECT {} FROM {} o JOIN {} m ON m.id = o.market_id JOIN {} e ON e.id = m.event_id " \
    "JOIN {} s ON s.id = e.sport_id WHERE o.id = ANY(%s)".format(
        ", ".join(columns(model, alias) for alias, model in zip("omes", _CHAIN, strict=True)),
        *(model._meta.db_table for model in _CHAIN))


def _outcomes(ids: list[int]) -> dict[int, Outcome]:
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOMES, [ids])
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        outcome, market, event, sport = loaded_chain(_CHAIN, row)
        event.sport, market.event, outcome.market = sport, event, market
        found[outcome.pk] = outcome
    missing = sorted(set(ids) - set(found))
    if missing:
        raise NotFound("A selection refers to an outcome that does not exist.",
                       details={"outcome_ids": missing})
    return found


def share_lock(*, event_ids: set[int], market_ids: set[int],
               outcome_ids: set[int]) -> dict[int, tuple[Decimal, bool, str]]:
    """FOR SHARE on events, then markets, then outcomes, each by id: the order in which the operator
    services lock them, so a bet and a trader's change wait for each other without deadlock.
    Returns each outcome's price, whether it can be bet on, and its event's status, as locked."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, status FROM {Event._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                       [sorted(event_ids)])
        events = dict(cursor.fetchall())
        cursor.execute(f"SELECT id, event_id, status FROM {Market._meta.db_table} WHERE id = ANY(%s) "
                       "ORDER BY id FOR SHARE", [sorted(market_ids)])
        markets = {market_id: (event_id, status) for market_id, event_id, status in cursor.fetchall()}
        cursor.execute(f"SELECT id, market_id, price, status FROM {Outcome._meta.db_table} WHERE id = ANY(%s) "
                       "ORDER BY id FOR SHARE", [sorted(outcome_ids)])
        state = {}
        for outcome_id, market_id, price, status in cursor.fetchall():
            event_id, market_status = markets[market_id]
            state[outcome_id] = (price, _available(status, market_status, events[event_id]), events[event_id])
        return state


def slip_confirm(check: SlipCheck) -> None:
    """Just before commit: share-lock the slip's events, markets and outcomes and make sure nothing
    the bet relied on has changed.

    A price change or suspension that committed while the bet was being written refuses the bet;
    one that starts now waits the few milliseconds until the bet has committed. Taking the locks
    last keeps them short, so a busy outcome cannot starve a trader's update. An event that went
    live in between is live in ``check`` from here on: its in-play delay applies to the bet.
    """
    locked = share_lock(event_ids={leg.outcome.market.event_id for leg in check.legs},
                        market_ids={leg.outcome.market_id for leg in check.legs},
                        outcome_ids={leg.outcome.pk for leg in check.legs})
    for leg in check.legs:
        price, available, leg.outcome.market.event.status = locked[leg.outcome.pk]
        if price != leg.outcome.price:
            raise refusal("odds_changed", "Prices changed while your bet was being placed; "
                          "check the new prices and place again.",
                          {"prices": [{"outcome_id": leg.outcome.pk, "price": str(price),
                                       "seen_price": str(leg.seen_price)}]})
        if not available:
            raise refusal("market_unavailable", "A selection was suspended while your bet was being placed.",
                          {"outcome_ids": [leg.outcome.pk]})


# Written as SQL: it runs on every placement with the wallet locked, where building it with the ORM
# cost more than running it.
_HISTORY = f"""
SELECT count(*) FILTER (WHERE placed_at >= %(window_start)s),
       sum(stake) FILTER (WHERE placed_at >= %(window_start)s),
       sum(stake) FILTER (WHERE placed_at >= %(midnight)s AND status <> %(rejected)s),
       sum(payout) FILTER (WHERE settled_at >= %(midnight)s)
  FROM {Bet._meta.db_table}
 WHERE player_id = %(player_id)s AND (placed_at >= %(since)s OR settled_at >= %(midnight)s)
"""


def _recent_history(player: Any, *, now, window_seconds: int) -> dict[str, Any]:
    """In one query over the player's bets of today and of the velocity window (not their whole
    history): bets and stake in the window, and today's net loss — stakes placed today (rejected
    ones returned) minus what today's settled bets paid out."""
    zero = Decimal("0.00")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = now - timedelta(seconds=window_seconds)
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY, {"player_id": player.pk, "window_start": window_start, "midnight": midnight,
                                  "since": min(midnight, window_start), "rejected": Bet.Status.REJECTED})
        recent_bets, recent_stake, staked, paid = cursor.fetchone()
    return {"recent_bets": recent_bets, "recent_stake": recent_stake or zero,
            "lost_today": (staked or zero) - (paid or zero)}
