"""Placing bets, and accepting or rejecting them after the in-play delay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction, notification_create
from betting.models import Bet, BetLeg
from betting.news import bet_news
from betting.slips import (
    Slip,
    SlipCheck,
    odds_text,
    outcome_available,
    share_lock,
    slip_check,
    slip_check_account,
    slip_check_book,
    slip_confirm,
    slip_parse,
)
from core.db import insert_rows, retried_on_conflict
from core.errors import IdempotencyConflict, refusal
from ledger.models import Account, Transfer
from ledger.services import house_account, transfer_create
from risk.exposure import exposure_current, exposure_release, exposure_reserve
from risk.rules import max_allowed_stake
from wallet.selectors import wallet_account
from wallet.services import wallet_lock, wallet_open

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
    """What placing this slip now would do, without placing it (the bet slip calls it as you type)."""
    slip = slip_parse(selections=selections, stake=stake, bet_type=bet_type, odds_change=odds_change)
    check = slip_check(player=player, slip=slip, country=actor.country, wallet=wallet_account(user=player))
    if any(v.error == "not_a_player" for v in check.violations):
        raise check.refusal()  # a role refusal (403), not a slip to fix
    return Validation(valid=not check.violations, total_odds=odds_text(check.total_odds),
                      potential_return=check.potential_return, max_allowed_stake=check.max_allowed_stake,
                      violations=[v.as_dict() for v in check.violations])


@retried_on_conflict
def bet_place(*, player: Any, selections: Any, stake: Any, bet_type: Any, odds_change: Any = None,
              actor: Actor, idempotency_key: str | None = None) -> Bet:
    """Place a slip in one transaction: check it against the book (prices, market states, limits,
    exposure), then lock the wallet and check it against the account (velocity, loss limit,
    balance), reserve exposure, move the stake to held stakes, write the bet and its legs, confirm
    under share locks that prices and states still hold, and write the audit record.
    The wallet is locked last, so one player's placements queue on it only for the account checks
    and the writes, not for the reads of the book.
    Pre-match bets are accepted at once; in-play bets are ``placed`` and a task decides after the
    sport's delay. A refusal changes nothing but its audit record.
    """
    with audited_transaction(actor=actor, action="bet.place", category=AuditLog.Category.BETTING,
                             resource_type="bet", details={"stake": str(stake), "bet_type": str(bet_type),
                                                           "selections": selections}):
        slip = slip_parse(selections=selections, stake=stake, bet_type=bet_type, odds_change=odds_change)
        check = slip_check_book(player=player, slip=slip, country=actor.country)
        stakes_held = house_account(Account.House.STAKES_HELD)  # read before the lock: it keeps the lock short
        wallet = wallet_lock(user=player)
        # Under the lock, so a twin sent at the same time is seen once it has committed; before any
        # violation is raised, so a replay is answered as first placed whatever the book or balance say now.
        if earlier := _placed_before(player, idempotency_key, slip):
            return earlier
        check.violations += slip_check_account(check, player=player, stake=slip.stake, wallet=wallet)
        if check.violations:
            raise check.refusal()
        bet = _bet_write(player=player, slip_type=slip.bet_type, odds_change=slip.odds_change,
                         stake=slip.stake, check=check, idempotency_key=idempotency_key,
                         fingerprint=slip.fingerprint)
        if exposure_reserve(caps=check.caps, stake=bet.stake, payout=bet.potential_return):
            # Another bet took the headroom between our read and our update.
            current = exposure_current(outcome_ids=list(check.caps))
            headroom = min(check.caps[o] - current[o] for o in check.caps)
            raise refusal("exposure_limit", "We cannot take this much on this selection right now; "
                          "stake less.", {"max_allowed_stake": str(max_allowed_stake(
                              limits=check.limits, total_odds=check.total_odds, exposure_headroom=headroom))})
        transfer_create(debit=wallet, credit=stakes_held, amount=bet.stake,
                        kind=Transfer.Kind.BET_STAKE, reference_type="bet", reference_id=bet.pk,
                        idempotency_key=f"bet:{bet.pk}:stake", created_by=actor.user)
        slip_confirm(check)
        if check.in_play_delay and not bet.in_play:  # an event went live since the book was read
            _bet_in_play(bet, delay=check.in_play_delay)
        bet_news(player.pk, bet.pk, bet.status)
        audit_record(actor=actor, action="bet.place", category=AuditLog.Category.BETTING,
                     resource_type="bet", resource_id=bet.pk, resource_label=bet.ticket_number,
                     details={"status": bet.status, "stake": str(bet.stake),
                              "total_odds": odds_text(bet.total_odds),
                              "potential_return": str(bet.potential_return),
                              "legs": [{"outcome_id": leg.outcome.pk, "price": str(leg.price)}
                                       for leg in check.legs]})
        if bet.status == Bet.Status.PLACED:
            delay = check.in_play_delay
            # By name: the tasks module imports this one. robust: with the broker down the bet stands,
            # logged, and the beat sweep decides it.
            transaction.on_commit(lambda: current_app.send_task(BET_DECIDE_TASK, args=[bet.pk], countdown=delay),
                                  robust=True)
    return bet


def _placed_before(player: Any, idempotency_key: str | None, slip: Slip) -> Bet | None:
    """The bet an earlier request with this Idempotency-Key placed; a different slip under the same
    key is a conflict."""
    if not idempotency_key:
        return None
    earlier = Bet.objects.filter(player=player, idempotency_key=idempotency_key).first()
    if earlier is not None and earlier.request_fingerprint != slip.fingerprint:
        raise IdempotencyConflict(details={"bet_id": earlier.pk})
    return earlier


def _bet_write(*, player: Any, slip_type: str, odds_change: str, stake: Decimal, check: SlipCheck,
               idempotency_key: str | None, fingerprint: str) -> Bet:
    now = timezone.now()
    delay = check.in_play_delay
    bet = Bet(
        player=player, bet_type=slip_type, stake=stake, total_odds=check.total_odds,
        potential_return=check.potential_return, odds_change=odds_change,
        status=Bet.Status.PLACED if delay else Bet.Status.ACCEPTED, in_play=bool(delay),
        accept_after=now + timedelta(seconds=delay) if delay else None,
        accepted_at=None if delay else now, idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    insert_rows([bet])
    bet.leg_list = [BetLeg(bet=bet, position=i, outcome=leg.outcome, market_id=leg.outcome.market_id,
                           event_id=leg.outcome.market.event_id, price=leg.price)
                    for i, leg in enumerate(check.legs)]
    insert_rows(bet.leg_list)
    return bet


def _bet_in_play(bet: Bet, *, delay: int) -> None:
    """A bet written as pre-match whose event started before it was confirmed: it waits the
    in-play delay like any in-play bet, never accepted at once."""
    bet.status, bet.in_play, bet.accepted_at = Bet.Status.PLACED, True, None
    bet.accept_after = timezone.now() + timedelta(seconds=delay)
    bet.save(update_fields=["status", "in_play", "accepted_at", "accept_after"])


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
        keys = list(bet.legs.values_list("event_id", "market_id", "outcome_id"))
        # Read the markets under share locks, so a suspension cannot commit between check and accept.
        share_lock(event_ids={e for e, _, _ in keys}, market_ids={m for _, m, _ in keys},
                   outcome_ids={o for _, _, o in keys})
        legs = list(bet.legs.select_related("outcome__market__event").order_by("position"))
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
    """None if the bet may be accepted, else the reason in words a player understands."""
    for leg in legs:
        outcome = leg.outcome
        if not outcome_available(outcome):
            return f"{outcome.market.name} was suspended during the in-play delay."
        if outcome.price == leg.price or bet.odds_change == Bet.OddsChange.ANY:
            continue
        if bet.odds_change == Bet.OddsChange.HIGHER and outcome.price > leg.price:
            continue
        return (f"The price of {outcome.name} moved from {leg.price} to {outcome.price} "
                "during the in-play delay.")
    return None


def bets_pending_sweep(*, grace_seconds: int = 2) -> int:
    """Decide every placed bet whose delay passed a while ago (its task was lost or late)."""
    due = timezone.now() - timedelta(seconds=grace_seconds)
    ids = list(Bet.objects.filter(status=Bet.Status.PLACED, accept_after__lte=due)
               .order_by("accept_after").values_list("pk", flat=True)[:500])
    return sum(bet_decide(bet_id=bet_id) is not None for bet_id in ids)
