"""The bet slip of a page: selections kept in the session, checked and placed through the betting
services. Views and page sockets both render it from here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place, bet_validate
from betting.slips import odds_text, outcome_available
from core.errors import DomainError
from events.models import Outcome
from risk.models import SELECTIONS_CEILING

SESSION_KEY = "slip"
# Refusals whose remedy is a smaller stake: the slip offers the largest stake that would pass.
STAKE_CODES = {"stake_above_max", "max_winning_exceeded", "exposure_limit", "combined_odds_above_max"}
POLICIES = Bet.OddsChange.choices


def state(session: Any) -> dict[str, Any]:
    slip = session.get(SESSION_KEY) or {}
    slip.setdefault("selections", [])  # [{"outcome_id": int, "price": "2.50"}], the price the player saw
    slip.setdefault("stake", "")
    slip.setdefault("bet_type", "multiple")  # "single" with several selections: one single each
    slip.setdefault("odds_change", Bet.OddsChange.NONE)
    slip.setdefault("bets", [])  # bets placed from this slip and not yet decided
    slip.setdefault("error", None)
    return slip


def save(session: Any, slip: dict[str, Any]) -> None:
    session[SESSION_KEY] = slip
    session.modified = True


def selected_ids(session: Any) -> set[int]:
    return {s["outcome_id"] for s in state(session)["selections"]}


def toggle(session: Any, *, outcome: Outcome) -> bool:
    """Add the outcome at its current price, or take it off; True when it is now in the slip."""
    slip = state(session)
    kept = [s for s in slip["selections"] if s["outcome_id"] != outcome.pk]
    added = len(kept) == len(slip["selections"])
    slip["error"], slip["last_placed"] = None, []
    if added and len(kept) >= SELECTIONS_CEILING:  # the session is no place for an unbounded list
        slip["error"] = {"code": "too_many_selections", "details": {},
                         "message": f"A slip holds at most {SELECTIONS_CEILING} selections."}
        added = False
    elif added:
        kept.append({"outcome_id": outcome.pk, "price": str(outcome.price)})
    slip["selections"] = kept
    save(session, slip)
    return added


def update(session: Any, data: Any) -> None:
    """Stake, single/multiple and odds-change policy from a submitted slip form."""
    slip = state(session)
    if "stake" in data:
        slip["stake"] = (data.get("stake") or "").strip()[:20]
    if data.get("bet_type") in Bet.Type.values:
        slip["bet_type"] = data["bet_type"]
    if data.get("odds_change") in Bet.OddsChange.values:
        slip["odds_change"] = data["odds_change"]
    slip["error"] = None
    save(session, slip)


def clear(session: Any) -> None:
    save(session, {})


def accept_prices(session: Any) -> None:
    """Take the current price of every selection (the one-click answer to odds_changed)."""
    slip = state(session)
    prices = dict(Outcome.objects.filter(pk__in=[s["outcome_id"] for s in slip["selections"]])
                  .values_list("pk", "price"))
    for selection in slip["selections"]:
        if selection["outcome_id"] in prices:
            selection["price"] = str(prices[selection["outcome_id"]])
    slip["error"] = None
    save(session, slip)


@dataclass
class Line:
    outcome: Outcome
    seen_price: str
    available: bool

    @property
    def moved(self) -> bool:
        return Decimal(self.seen_price) != self.outcome.price


@dataclass
class SlipView:
    lines: list[Line]
    stake: str
    bet_type: str
    odds_change: str
    singles: bool
    total_odds: str | None = None
    potential_return: Decimal | None = None
    total_stake: Decimal | None = None
    max_allowed_stake: Decimal | None = None
    problems: list[str] = field(default_factory=list)
    offer_max: bool = False
    error: dict[str, Any] | None = None
    new_prices: list[dict[str, Any]] = field(default_factory=list)
    pending: list[Bet] = field(default_factory=list)
    accepted: list[Bet] = field(default_factory=list)
    policies: list[tuple[str, str]] = field(default_factory=lambda: POLICIES)
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def count(self) -> int:
        return len(self.lines)


def _selections(slip: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"outcome_id": s["outcome_id"], "price": s["price"]} for s in slip["selections"]]


def _stake(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def _groups(slip: dict[str, Any]) -> list[tuple[list[dict[str, Any]], str]]:
    """What placing the slip means: one multiple, or one single per selection."""
    selections = _selections(slip)
    if len(selections) == 1:
        return [(selections, Bet.Type.SINGLE)]
    if slip["bet_type"] == Bet.Type.SINGLE:
        return [([s], Bet.Type.SINGLE) for s in selections]
    return [(selections, Bet.Type.MULTIPLE)]


def _decided(user: Any, slip: dict[str, Any]) -> tuple[list[Bet], list[Bet]]:
    """Bets this slip placed last: still pending, and accepted. A bet the in-play delay rejected
    puts its reason on the slip and keeps the selections; acceptance clears the slip."""
    ids = slip.get("last_placed") or []
    if not ids or not getattr(user, "is_authenticated", False):
        return [], []
    bets = list(Bet.objects.filter(player=user, pk__in=ids).order_by("pk"))
    pending = [b for b in bets if b.status == Bet.Status.PLACED]
    accepted = [b for b in bets if b.status in (Bet.Status.ACCEPTED, Bet.Status.SETTLED)]
    rejected = [b for b in bets if b.status == Bet.Status.REJECTED]
    if rejected:
        slip["error"] = {"code": "rejected", "message": " ".join(
            f"{b.ticket_number} was not accepted: {b.rejection_reason}" for b in rejected), "details": {}}
    if slip["bets"] and not pending:  # the last pending bet was just decided
        slip["bets"] = []
        if not rejected:
            slip.update(selections=[], stake="")
    return pending, accepted


def view(*, user: Any, session: Any, actor: Actor) -> SlipView:
    """Everything the slip partial shows, validated against current prices and limits."""
    slip = state(session)
    before = repr(slip)
    pending, accepted = _decided(user, slip)
    if repr(slip) != before:
        save(session, slip)
    outcomes = {o.pk: o for o in Outcome.objects.select_related("market__event").filter(
        pk__in=[s["outcome_id"] for s in slip["selections"]])}
    lines = [Line(outcomes[s["outcome_id"]], s["price"], outcome_available(outcomes[s["outcome_id"]]))
             for s in slip["selections"] if s["outcome_id"] in outcomes]
    result = SlipView(lines=lines, stake=slip["stake"], bet_type=slip["bet_type"],
                      odds_change=slip["odds_change"], singles=False, error=slip["error"],
                      pending=pending, accepted=accepted)
    result.singles = len(lines) > 1 and slip["bet_type"] == Bet.Type.SINGLE
    if result.error and result.error.get("code") == "odds_changed":
        names = {line.outcome.pk: line.outcome.name for line in lines}
        result.new_prices = [{**p, "name": names.get(p["outcome_id"], "")}
                             for p in result.error.get("details", {}).get("prices", [])
                             if p.get("price") != p.get("seen_price")]
    stake = _stake(slip["stake"])
    if not lines or pending or stake is None or not getattr(user, "is_authenticated", False):
        if slip["stake"] and stake is None:
            result.problems.append("Enter a stake greater than zero, e.g. 10.00.")
        return result
    _validate(result, user=user, slip=slip, actor=actor)
    return result


def _validate(result: SlipView, *, user: Any, slip: dict[str, Any], actor: Actor) -> None:
    total_return, total_stake, max_stakes, odds = Decimal("0.00"), Decimal("0.00"), [], []
    for selections, bet_type in _groups(slip):
        try:
            check = bet_validate(player=user, selections=selections, stake=slip["stake"], bet_type=bet_type,
                                 odds_change=slip["odds_change"], actor=actor)
        except DomainError as exc:
            result.problems.append(exc.message)
            return
        total_return += check.potential_return
        total_stake += Decimal(slip["stake"])
        max_stakes.append(check.max_allowed_stake)
        odds.append(check.total_odds)
        for violation in check.violations:
            if violation["message"] not in result.problems:
                result.problems.append(violation["message"])
            result.offer_max |= violation["error"] in STAKE_CODES
    result.total_odds = odds[0] if len(odds) == 1 else None
    result.potential_return, result.total_stake = total_return, total_stake
    result.max_allowed_stake = min(max_stakes) if max_stakes else None
    result.offer_max &= bool(result.max_allowed_stake and result.max_allowed_stake > 0)


def place(*, user: Any, session: Any, actor: Actor, idempotency_key: str = "") -> list[Bet]:
    """Place the slip (one multiple, or one single per selection). A refusal is kept on the slip
    with its code, message and details; placed bets are remembered until they are decided."""
    slip = state(session)
    placed: list[Bet] = []
    slip["error"] = None
    for i, (selections, bet_type) in enumerate(_groups(slip)):
        key = f"{idempotency_key[:60]}:{i}" if idempotency_key else None
        try:
            bet = bet_place(player=user, selections=selections, stake=slip["stake"], bet_type=bet_type,
                            odds_change=slip["odds_change"], actor=actor, idempotency_key=key)
        except DomainError as exc:
            slip["error"] = {"code": exc.code, "message": exc.message, "details": exc.details}
            break
        placed.append(bet)
    if placed:
        done = {leg["outcome_id"] for bet in placed for leg in bet.legs.values("outcome_id")}
        if slip["error"]:  # singles: keep only what was not placed
            slip["selections"] = [s for s in slip["selections"] if s["outcome_id"] not in done]
        slip["bets"] = [b.pk for b in placed if b.status == Bet.Status.PLACED]
        if not slip["bets"] and not slip["error"]:
            slip.update(selections=[], stake="")
        slip["last_placed"] = [b.pk for b in placed]
    save(session, slip)
    return placed


def describe_odds(value: Decimal) -> str:
    return odds_text(value)
