"""Reading and checking a bet slip: everything placement and validation share. The rules themselves
run in the database, in one call (betting/sql/placement.py); this module parses the slip and words the answer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.context import Actor, role_of
from betting.models import Bet
from betting.sql.placement import BOOK_LOCK, SLIP_FUNCTION
from core.errors import DomainError, InvalidInput, NotFound, refusal
from core.query import BIGINT_MAX
from events.models import Event, Market, Outcome
from events.services import price_validate
from ledger.money import exact_normal
from ledger.services import money_validate
from risk import rules
from risk.limits import DEFAULTS, selections_bound

# When a slip breaks several rules, the error code of the response is the first of these it breaks;
# every violation is listed in details.
PRIORITY = ["not_a_player", "self_excluded", "geo_blocked", "session_limit", "market_unavailable",
            "related_selections", "odds_changed", "too_many_selections", "odds_below_min", "odds_above_max",
            "combined_odds_above_max",
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

    @cached_property  # the call and the Bet it answers with both carry it
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


# The sentences of the slip's own rules; the risk rules' are risk.rules.SENTENCES.
SENTENCES = {
    **rules.SENTENCES,
    "market_unavailable": lambda d: "A selection is no longer available (its market is suspended or closed).",
    "related_selections": lambda d: "A multiple can have only one selection per event.",
    "odds_changed": lambda d: "Prices have changed; check the new prices and place again.",
}


@dataclass
class SlipAnswer:
    """What betting_slip_place answered: the slip's figures and violations, or the bet it placed."""

    at: datetime  # the clock the rules ran at, and the bet's placed_at
    total_odds: Decimal
    potential_return: Decimal
    delay: int  # seconds of in-play delay: the longest among the legs' live events
    violations: list[rules.Violation] = field(default_factory=list)
    max_allowed_stake: Decimal | None = None
    bet_id: int | None = None
    legs: list[tuple[int, int, int, Decimal]] = field(default_factory=list)  # outcome, market, event, price
    balance: Decimal | None = None  # the wallet's, after the stake
    reserved: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # outcome, liability, cap

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


_CALL = f"SELECT {SLIP_FUNCTION}(%s, %s, %s, %s, %s::bigint[], %s::numeric[], %s, %s, %s, %s, %s, %s, %s, %s, " \
    "%s, %s, %s::inet, %s, %s)"


def slip_run(*, place: bool, player: Any, slip: Slip, actor: Actor, idempotency_key: str | None = None) -> SlipAnswer:
    """Check the slip against the book, every limit and the account in one call to the database
    (betting/sql/placement.py); placing (``place``), also write it there when it passes. A replayed
    Idempotency-Key answers the earlier bet (a different slip under it is a conflict)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_CALL, [
            place, player.pk, role_of(player), actor.country or player.country,
            [s.outcome_id for s in slip.selections], [s.price for s in slip.selections], slip.stake, slip.bet_type,
            slip.odds_change, idempotency_key, slip.fingerprint, now, Decimal(settings.RISK_DEFAULT_EXPOSURE_CAP),
            *actor.audit_columns(), actor.session_started])
        answer = json.loads(cursor.fetchone()[0])  # Django's connection leaves jsonb as text; money in it is text
    if "missing" in answer:
        raise NotFound("A selection refers to an outcome that does not exist.",
                       details={"outcome_ids": answer["missing"]})
    if "replay" in answer or "conflict" in answer:
        raise PlacedBefore(answer.get("replay") or answer["conflict"], same="replay" in answer)
    found = SlipAnswer(at=now, total_odds=Decimal(answer["total_odds"]),
                       potential_return=Decimal(answer["potential_return"]), delay=answer["delay"])
    if "bet" in answer:
        found.bet_id, found.balance = answer["bet"], Decimal(answer["balance"])
        found.legs = [(s.outcome_id, market, event, Decimal(price)) for s, market, event, price in zip(
            slip.selections, answer["market_ids"], answer["event_ids"], answer["prices"], strict=True)]
        found.reserved = [(outcome, Decimal(after), Decimal(cap)) for outcome, after, cap in answer["reserved"]]
    else:
        found.max_allowed_stake = Decimal(answer["max_allowed_stake"])
        found.violations = [rules.Violation(code, SENTENCES[code](details), details)
                            for code, details in answer["violations"]]
    return found


class PlacedBefore(Exception):
    """An earlier request under this Idempotency-Key placed ``bet_id`` (``same``: with this slip)."""

    def __init__(self, bet_id: int, *, same: bool) -> None:
        super().__init__(bet_id)
        self.bet_id, self.same = bet_id, same


def outcome_available(outcome: Outcome) -> bool:
    return _available(outcome.status, outcome.market.status, outcome.market.event.status)


def _available(outcome_status: str, market_status: str, event_status: str) -> bool:
    return (outcome_status == Outcome.Status.ACTIVE and market_status == Market.Status.OPEN
            and event_status in (Event.Status.SCHEDULED, Event.Status.LIVE))


def book_share_lock(*, outcome_ids: list[int]) -> None:
    """FOR SHARE on these outcomes' events, then markets, then the outcomes, in the book's one lock
    order (``betting_book_lock``, betting/sql/placement.py), which placement takes too."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {BOOK_LOCK}(%s::bigint[])", [sorted(outcome_ids)])
