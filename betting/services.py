"""Placing bets, and accepting or rejecting them after the in-play delay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import BooleanField, F, Func
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction, notification_create
from betting.models import Bet, BetLeg
from betting.news import bet_news, bet_placed_news
from betting.slips import (
    PlacedBefore,
    Slip,
    SlipAnswer,
    book_share_lock,
    odds_text,
    outcome_available,
    slip_parse,
    slip_run,
)
from betting.sql.placement import ODDS_TAKEN
from core.db import retried_on_conflict
from core.errors import IdempotencyConflict
from ledger.models import Account, Transfer
from ledger.services import house_account, transfer_create
from risk.exposure import exposure_alert, exposure_release
from wallet.services import wallet_open

BET_DECIDE_TASK = "betting.tasks.bet_decide_task"


@dataclass(frozen=True)
class Validation:
    valid: bool
    total_odds: str
    potential_return: Decimal
    max_allowed_stake: Decimal
    violations: list[dict[str, Any]]


def bet_validate(*, player: Any, selections: Any, stake: Any, bet_type: Any, odds_change: Any,
                 actor: Actor) -> Validation:
    """What placing this slip now would do, without placing it (the bet slip calls it as you type):
    the placement's own rules, run dry."""
    slip = slip_parse(selections=selections, stake=stake, bet_type=bet_type, odds_change=odds_change)
    check = slip_run(place=False, player=player, slip=slip, actor=actor)
    if any(v.error == "not_a_player" for v in check.violations):
        raise check.refusal()  # a role refusal (403), not a slip to fix
    return Validation(valid=not check.violations, total_odds=odds_text(check.total_odds),
                      potential_return=check.potential_return, max_allowed_stake=check.max_allowed_stake,
                      violations=[v.as_dict() for v in check.violations])


@retried_on_conflict
def bet_place(*, player: Any, selections: Any, stake: Any, bet_type: Any, odds_change: Any = None,
              actor: Actor, idempotency_key: str | None = None) -> Bet:
    """Place a slip in one transaction and one call to the database (betting/sql/placement.py): it share-locks
    the slip's events, markets and outcomes, checks prices, market states, limits and exposure,
    locks the wallet last and checks velocity, today's loss and the balance under it, reserves
    exposure, moves the stake to held stakes and writes the bet, its legs and the audit record.
    Pre-match bets are accepted at once; in-play bets are ``placed`` and a task decides after the
    sport's delay. A refusal changes nothing but its audit record.
    """
    with audited_transaction(actor=actor, action="bet.place", category=AuditLog.Category.BETTING,
                             resource_type="bet", details={"stake": str(stake), "bet_type": str(bet_type),
                                                           "selections": selections}):
        slip = slip_parse(selections=selections, stake=stake, bet_type=bet_type, odds_change=odds_change)
        try:
            placed = slip_run(place=True, player=player, slip=slip, actor=actor, idempotency_key=idempotency_key)
        except PlacedBefore as earlier:
            if not earlier.same:
                raise IdempotencyConflict(details={"bet_id": earlier.bet_id}) from None
            return Bet.objects.get(pk=earlier.bet_id)
        if placed.violations:
            raise placed.refusal()
        bet = _bet_as_written(player=player, slip=slip, placed=placed, idempotency_key=idempotency_key)
        for outcome_id, liability, cap in placed.reserved:
            exposure_alert(outcome_id, before=liability - bet.potential_return, after=liability, cap=cap)
        bet_placed_news(player.pk, bet.pk, bet.status, placed.balance)
        if bet.status == Bet.Status.PLACED:
            delay = placed.delay
            # By name: the tasks module imports this one. robust: with the broker down the bet stands,
            # logged, and the beat sweep decides it.
            transaction.on_commit(lambda: current_app.send_task(BET_DECIDE_TASK, args=[bet.pk], countdown=delay),
                                  robust=True)
    return bet


def _bet_as_written(*, player: Any, slip: Slip, placed: SlipAnswer, idempotency_key: str | None) -> Bet:
    """The bet and legs the database wrote, without reading them back (the API answers with them)."""
    now, delay = placed.at, placed.delay
    bet = Bet(
        pk=placed.bet_id, player=player, bet_type=slip.bet_type, stake=slip.stake, total_odds=placed.total_odds,
        potential_return=placed.potential_return, odds_change=slip.odds_change,
        status=Bet.Status.PLACED if delay else Bet.Status.ACCEPTED, in_play=bool(delay),
        accept_after=now + timedelta(seconds=delay) if delay else None,
        accepted_at=None if delay else now, placed_at=now, idempotency_key=idempotency_key,
        request_fingerprint=slip.fingerprint,
    )
    bet._state.adding = False
    bet.leg_list = [BetLeg(bet=bet, position=i, outcome_id=outcome, market_id=market, event_id=event, price=price)
                    for i, (outcome, market, event, price) in enumerate(placed.legs)]
    return bet


@retried_on_conflict
def bet_decide(*, bet_id: int) -> Bet | None:
    """After the in-play delay: accept the bet if its markets are still open and the prices still
    satisfy the player's policy, else reject it and return the stake. Safe to run twice or early:
    only a ``placed`` bet whose delay has passed is decided.
    """
    actor = Actor.system("bet_decide")
    with transaction.atomic():
        bet = Bet.objects.select_for_update().filter(pk=bet_id, status=Bet.Status.PLACED).first()
        if bet is None or bet.accept_after > timezone.now():
            return None
        # Read the markets under share locks, so a suspension cannot commit between check and accept.
        book_share_lock(outcome_ids=list(bet.legs.values_list("outcome_id", flat=True)))
        legs = list(bet.legs.select_related("outcome__market__event").order_by("position").annotate(
            taken=Func(F("bet__odds_change"), F("price"), F("outcome__price"), function=ODDS_TAKEN,
                       output_field=BooleanField())))
        reason = _still_acceptable(bet, legs)
        if reason is None:
            bet.status, bet.accepted_at = Bet.Status.ACCEPTED, timezone.now()
            bet.save(update_fields=["status", "accepted_at"])
            message = f"Your bet {bet.ticket_number} was accepted."
        else:
            bet.status, bet.rejected_at, bet.rejection_reason = Bet.Status.REJECTED, timezone.now(), reason
            bet.save(update_fields=["status", "rejected_at", "rejection_reason"])
            transfer_create(debit=house_account(Account.House.STAKES_HELD),
                            credit=wallet_open(user=bet.player), amount=bet.stake,
                            kind=Transfer.Kind.BET_REFUND, reference_type="bet", reference_id=bet.pk,
                            idempotency_key=f"bet:{bet.pk}:refund")
            exposure_release(bets=[([leg.outcome_id for leg in legs], bet.stake, bet.potential_return)])
            message = f"Your bet {bet.ticket_number} was not accepted: {reason} Your stake was returned."
        bet_news(bet.player_id, bet.pk, bet.status)
        audit_record(actor=actor, action=f"bet.{'accept' if reason is None else 'reject'}",
                     category=AuditLog.Category.BETTING, resource_type="bet", resource_id=bet.pk,
                     resource_label=bet.ticket_number, details={"reason": reason} if reason else {})
        notification_create(user=bet.player, kind=f"bet_{bet.status}", message=message,
                            data={"bet_id": bet.pk, "status": bet.status})
    return bet


def _still_acceptable(bet: Bet, legs: list[BetLeg]) -> str | None:
    """None if the bet may be accepted, else the reason in words a player understands. ``taken``:
    whether the player's odds-change policy takes the leg's current price (the placement's rule)."""
    for leg in legs:
        outcome = leg.outcome
        if not outcome_available(outcome):
            return f"{outcome.market.name} was suspended during the in-play delay."
        if not leg.taken:
            return (f"The price of {outcome.name} moved from {leg.price} to {outcome.price} "
                    "during the in-play delay.")
    return None


def bets_pending_sweep(*, grace_seconds: int = 2) -> int:
    """Decide every placed bet whose delay passed a while ago (its task was lost or late)."""
    due = timezone.now() - timedelta(seconds=grace_seconds)
    ids = list(Bet.objects.filter(status=Bet.Status.PLACED, accept_after__lte=due)
               .order_by("accept_after").values_list("pk", flat=True)[:500])
    return sum(bet_decide(bet_id=bet_id) is not None for bet_id in ids)
