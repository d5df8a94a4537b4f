"""Challenge settlement: the event decides each matched challenge, exactly once, in set-based batches
(like betting/settlement.py), and the pot moves through each party's own wallet gateway.

A batch first runs the liquidity audit (betting/escrow_audit.py): on a mismatch it does nothing and
the challenges wait. Otherwise it claims up to ``SETTLEMENT_BATCH_SIZE`` decidable challenges with
``FOR UPDATE SKIP LOCKED`` (several workers share an event), decides them in memory and writes
everything with a few statements: one UPDATE for the challenges, one batch of movements per gateway,
one INSERT each for audit rows and notifications. A crash rolls the whole batch back; every movement
carries a unique key (``challenge:{id}:payout``, ``challenge:{id}:fee``,
``challenge:{id}:refund:{party}``), so a rerun pays nobody twice.

Money (API.md): the winner gets pot × (1 − P2P_FEE_RATE) rounded down, through the winner's gateway;
the fee goes to the platform on that side and the ledger's house ``fees`` receives exactly it. When
the parties are on different gateways the loser's stake crosses through the platform's pocket on each
side (internal: house ``external_clearing``; external: the treasury): it leaves the loser's vault to
that side's pocket, and the winner's side pocket pays it into the winner's vault. The external
service confirms later and may fail: a failed movement is asked again under a new key, and an
external winner is paid once the treasury's part has reached the vault. A void challenge refunds each
party its stake less the network fees of its own transfers (betting/challenge_money.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog, Notification
from audit.services import audit_entry, audit_record, audited_transaction, notification_create, notification_message
from betting.challenge_money import challenge_payout, refund_movements
from betting.escrow_audit import escrow_balanced
from betting.models import BettorStats, Challenge
from betting.news import challenge_message, challenges_board_news
from betting.stats import SettledLine, bettor_stats_record
from core import live
from core.db import columns, insert_values, loaded, retried_on_conflict
from core.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from events.models import Event, Market, Outcome, Player
from ledger.models import Account, Transfer
from ledger.services import TransferSpec, house_account, transfers_create
from wallet.gateways import Movement, gateway_transfer_retry, wallet_gateway
from wallet.models import Gateway, GatewayTransfer

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
IN, OUT = GatewayTransfer.Direction.IN, GatewayTransfer.Direction.OUT
S = Challenge.Status
# What an event's cancellation voids: every challenge that holds, or is about to hold, a stake.
VOIDABLE = (S.ESCROW_PENDING, S.OPEN, S.MATCHING, S.MATCHED)
_DECIDED_MARKET = (Market.Status.RESULTED, Market.Status.SETTLED)


def _sql_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


# A challenge the event has decided: matched, and its outcome's market resulted, settled or cancelled,
# or its proposition's event resulted (the final stats come with the result); or any challenge still
# holding or awaiting a stake on an event that was cancelled.
_DECIDABLE = f"""
    (c.status = '{S.MATCHED}' AND (
         m.status IN ({_sql_list([*_DECIDED_MARKET, Market.Status.CANCELLED])})
         OR (c.player_id IS NOT NULL AND e.status = '{Event.Status.FINISHED}' AND e.home_score IS NOT NULL)))
    OR (e.status = '{Event.Status.CANCELLED}' AND c.status IN ({_sql_list(VOIDABLE)}))"""
_FROM = f"""
    FROM {Challenge._meta.db_table} c JOIN {Event._meta.db_table} e ON e.id = c.event_id
    LEFT JOIN {Outcome._meta.db_table} o ON o.id = c.outcome_id
    LEFT JOIN {Market._meta.db_table} m ON m.id = o.market_id"""
# The claim reads each challenge whole, with what decides it (its event's, outcome's and market's
# status), in the statement that locks it: no further reads, and no users (their ids are enough).
_CLAIM = f"""SELECT {columns(Challenge, "c")}, e.status, o.status, m.status {_FROM}
    WHERE c.event_id = ANY(%(events)s) AND ({_DECIDABLE})
    ORDER BY c.id LIMIT %(size)s FOR UPDATE OF c SKIP LOCKED"""
_PENDING = f"{_FROM} WHERE c.status IN ({_sql_list(VOIDABLE)}) AND ({_DECIDABLE})"
_PENDING_EVENTS = f"SELECT DISTINCT c.event_id {_PENDING} ORDER BY 1"
_ANY_PENDING = f"SELECT 1 {_PENDING} AND c.event_id = ANY(%s) LIMIT 1"


@dataclass(frozen=True)
class Decided:
    challenge: Challenge
    result: str | None  # won | lost, from the creator's side; None: void
    reason: str = ""  # why it is void


def challenge_grade(challenge: Challenge, *, event_status: str, outcome_status: str | None = None,
                    market_status: str | None = None, stat: int | None = None) -> Decided:
    """Decide a challenge from its event. An outcome: won → the creator wins, lost → the acceptor,
    void or a cancelled market → void (a market resulted before its event was cancelled stands, as for
    bets). A proposition: over wins above the line, under below it, a stat exactly on it is void."""
    if challenge.status == S.MATCHED and challenge.outcome_id is not None and market_status in _DECIDED_MARKET:
        if outcome_status in (Challenge.Result.WON, Challenge.Result.LOST):
            return Decided(challenge, outcome_status)
        return Decided(challenge, None, "the selection was made void")
    if event_status == Event.Status.CANCELLED:
        return Decided(challenge, None, "the event was cancelled")
    if challenge.outcome_id is not None and market_status == Market.Status.CANCELLED:
        return Decided(challenge, None, "the market was cancelled")
    if stat is None or challenge.status != S.MATCHED or challenge.line is None:
        raise ValueError(f"challenge {challenge.pk} is not decided yet")
    if stat == challenge.line:
        return Decided(challenge, None, "the stat landed exactly on the line")
    over_won = stat > challenge.line
    creator_won = over_won == (challenge.side == Challenge.Side.OVER)
    return Decided(challenge, Challenge.Result.WON if creator_won else Challenge.Result.LOST)


# --- Movements -------------------------------------------------------------------------------------

def _pocket(gateway: str, *, purpose: str, amount: Decimal, direction: str, key: str, challenge_id: int) -> Movement:
    """The platform's own side of a movement: internal, the ledger's fees (a fee) or external_clearing
    (money crossing to the other gateway); external, the treasury."""
    account = ""
    if gateway == Gateway.INTERNAL:
        account = Account.House.FEES if purpose == "fee" else Account.House.EXTERNAL_CLEARING
    return Movement(user_id=None, direction=direction, amount=amount, purpose=purpose, reference_type="challenge",
                    reference_id=challenge_id, idempotency_key=key, platform_account=account)


def _to_player(user_id: int, *, amount: Decimal, purpose: str, key: str, challenge_id: int) -> Movement:
    return Movement(user_id=user_id, direction=OUT, amount=amount, purpose=purpose, reference_type="challenge",
                    reference_id=challenge_id, idempotency_key=key)


def _winner_paid(c: Challenge) -> list[Movement]:
    """Out of the winner's vault once it holds the whole pot: the payout, and the fee to the platform."""
    key = f"challenge:{c.pk}"
    side = c.creator_funding if c.winner_id == c.creator_id else c.acceptor_funding
    return [_to_player(c.winner_id, amount=c.payout, purpose="payout", key=f"{key}:payout", challenge_id=c.pk),
            _pocket(side, purpose="fee", amount=c.fee, direction=OUT, key=f"{key}:fee", challenge_id=c.pk)]


def _settled_movements(c: Challenge) -> tuple[dict[str, list[Movement]], list[TransferSpec]]:
    """The movements that pay a settled challenge (``winner``, ``payout``, ``fee`` set), per gateway,
    and the ledger transfer that books a fee the external side took into the house fees account."""
    key = f"challenge:{c.pk}"
    creator_won = c.winner_id == c.creator_id
    win_side, lose_side = ((c.creator_funding, c.acceptor_funding) if creator_won
                           else (c.acceptor_funding, c.creator_funding))
    moves: dict[str, list[Movement]] = defaultdict(list)
    if win_side != lose_side:
        moves[lose_side].append(_pocket(lose_side, purpose="sweep", amount=c.stake, direction=OUT,
                                        key=f"{key}:sweep:out", challenge_id=c.pk))
        moves[win_side].append(_pocket(win_side, purpose="sweep", amount=c.stake, direction=IN,
                                       key=f"{key}:sweep:in", challenge_id=c.pk))
    # The external vault may not pay before the treasury's part has arrived (it would fail short):
    # then the winner is paid when that top-up confirms (pot_top_up_decided).
    if win_side == lose_side or win_side == Gateway.INTERNAL:
        moves[win_side] += _winner_paid(c)
    ledger = []
    if win_side == Gateway.EXTERNAL:
        ledger.append(TransferSpec(
            debit=house_account(Account.House.EXTERNAL_CLEARING), credit=house_account(Account.House.FEES),
            amount=c.fee, kind=Transfer.Kind.P2P_FEE, reference_type="challenge", reference_id=c.pk,
            idempotency_key=f"{key}:fee:external"))
    return moves, ledger


def _stakes_in(challenges: list[Challenge]) -> dict[tuple[int, int], GatewayTransfer]:
    """(challenge id, user id) → that party's stake confirmed into escrow (the latest, after failed tries)."""
    rows = GatewayTransfer.objects.filter(
        reference_type="challenge", reference_id__in=[str(c.pk) for c in challenges], purpose="stake",
        direction=IN, status=GatewayTransfer.Status.CONFIRMED).order_by("id")
    return {(int(t.reference_id), t.user_id): t for t in rows}


def _held_parties(status: str) -> list[str]:
    """The parties whose stake escrow holds in this status (a stake still on its way is refunded when it lands)."""
    return {S.OPEN: ["creator"], S.MATCHING: ["creator"], S.MATCHED: ["creator", "acceptor"]}.get(status, [])


# --- Writing ---------------------------------------------------------------------------------------

def challenges_decided_write(decided: list[Decided], *, actor: Actor) -> None:
    """Write decided challenges, their movements, audit rows, notifications and socket messages,
    set-based. The caller holds the challenges' row locks."""
    now = timezone.now()
    # Only a void refunds the stakes it holds; a settled challenge pays from the pot, so reads none.
    stakes_in = _stakes_in([d.challenge for d in decided if d.result is None and _held_parties(d.challenge.status)])
    moves: dict[str, list[Movement]] = defaultdict(list)
    ledger: list[TransferSpec] = []
    audits: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    messages = []
    refunded: dict[int, dict[str, str]] = {}
    for d in decided:
        c, before = d.challenge, d.challenge.status
        c.settled_at = now
        if d.result is not None:
            c.status, c.result = S.SETTLED, d.result
            c.winner_id = c.creator_id if d.result == Challenge.Result.WON else c.acceptor_id
            _, c.payout, c.fee = challenge_payout(c.stake)
            by_gateway, fee_specs = _settled_movements(c)
            refunds = {}
            ledger += fee_specs
        else:
            c.status, c.status_reason = S.VOID, d.reason[:200]
            by_gateway, refunds = {}, {}
            for party in _held_parties(before):
                stake_in = stakes_in[(c.pk, c.creator_id if party == "creator" else c.acceptor_id)]
                party_moves = refund_movements(c.pk, stake_in, key=f"challenge:{c.pk}:{party}")
                by_gateway.setdefault(stake_in.gateway, []).extend(party_moves)
                refunds[party] = str(next((m.amount for m in party_moves if m.purpose == "refund"), ZERO))
        refunded[c.pk] = refunds
        for side, side_moves in by_gateway.items():
            moves[side] += side_moves
        details = {"before": before, "result": c.result, **({"winner_id": c.winner_id, "payout": str(c.payout),
                                                             "fee": str(c.fee)} if c.result else
                                                            {"reason": c.status_reason, "refunds": refunds})}
        audits.append(audit_entry(actor=actor, action="challenge.settle" if c.result else "challenge.void",
                                  category=AuditLog.Category.BETTING, resource_type="challenge", resource_id=c.pk,
                                  resource_label=f"CH-{c.pk}", details=details))
        message = challenge_message(c)  # one payload for both parties: serialised once (oddslab.live)
        for user_id in filter(None, (c.creator_id, c.acceptor_id)):
            notifications.append({"user_id": user_id, "audience": Notification.Audience.PLAYER,
                                  "kind": "challenge_settled", "message": _message(c, user_id, refunds),
                                  "data": {"challenge_id": c.pk, "status": c.status, "result": c.result}})
            messages.append((user_id, message))
    _challenges_update([d.challenge for d in decided])
    insert_values(AuditLog, audits)
    insert_values(Notification, notifications)
    # The money late: from its first transfer every batch holds the escrow account's and the players'
    # wallets' row locks until commit, so another worker's batch waits on them; the stats lines last
    # (their rows are the players' too).
    for name, side_moves in moves.items():
        wallet_gateway(name).transfer(side_moves, actor=actor)
    if ledger:
        transfers_create(ledger)
    bettor_stats_record(rows=[line for d in decided for line in _stats_lines(d.challenge, refunded[d.challenge.pk])])
    live.to_users([*messages, *((n["user_id"], notification_message(kind=n["kind"], message=n["message"],
                                                                     data=n["data"])) for n in notifications)])
    challenges_board_news([d.challenge for d in decided])  # an open challenge made void leaves the board


def _stats_lines(c: Challenge, refunds: dict[str, str]) -> list[SettledLine]:
    """A settled challenge counts for both parties (the winner returned the payout, the loser nothing);
    a void one for each party whose stake escrow held (returned: the refund, net of network fees)."""
    line = partial(SettledLine, product=BettorStats.Product.P2P, staked=c.stake, settled_at=c.settled_at)
    if c.result is not None:
        loser_id = c.acceptor_id if c.winner_id == c.creator_id else c.creator_id
        return [line(user_id=c.winner_id, result="won", returned=c.payout),
                line(user_id=loser_id, result="lost", returned=ZERO)]
    users = {"creator": c.creator_id, "acceptor": c.acceptor_id}
    return [line(user_id=users[party], result="void", returned=Decimal(amount)) for party, amount in refunds.items()]


def _challenges_update(challenges: list[Challenge]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Challenge._meta.db_table} c SET status = v.status, result = v.result,
                    winner_id = v.winner_id, fee = v.fee, payout = v.payout, status_reason = v.reason,
                    settled_at = v.settled_at
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::numeric[], %s::numeric[],
                            %s::text[], %s::timestamptz[])
                     AS v(id, status, result, winner_id, fee, payout, reason, settled_at)
                WHERE c.id = v.id""",
            [[c.pk for c in challenges], [c.status for c in challenges], [c.result for c in challenges],
             [c.winner_id for c in challenges], [c.fee for c in challenges], [c.payout for c in challenges],
             [c.status_reason for c in challenges], [c.settled_at for c in challenges]])


def _message(c: Challenge, user_id: int, refunds: dict[str, str]) -> str:
    if c.status == S.VOID:
        party = "creator" if user_id == c.creator_id else "acceptor"
        back = f" {refunds[party]} is on its way back to your wallet." if party in refunds else ""
        return f"Your challenge CH-{c.pk} is void: {c.status_reason}.{back}"
    if c.winner_id == user_id:
        return f"You won challenge CH-{c.pk}: {c.payout} is on its way to your wallet."
    return f"You lost challenge CH-{c.pk}."


# --- Batches ---------------------------------------------------------------------------------------

@retried_on_conflict
def challenge_settlement_batch(*, event_ids: list[int], size: int | None = None) -> int:
    """Settle (or void) one batch of the decided challenges of these events; the number written.
    Nothing while the liquidity audit finds escrow out of balance (it runs only when there is
    something to pay: a bet settlement on an event without challenges does not audit)."""
    with connection.cursor() as cursor:
        cursor.execute(_ANY_PENDING, [event_ids])
        if cursor.fetchone() is None:
            return 0
    if not escrow_balanced():
        logger.warning("challenge settlement held back: escrow does not balance")
        return 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, {"events": event_ids, "size": size or settings.SETTLEMENT_BATCH_SIZE})
            rows = cursor.fetchall()
        if not rows:
            return 0
        width = len(Challenge._meta.concrete_fields)
        claimed = [(loaded(Challenge, row[:width]), *row[width:]) for row in rows]
        players = {p.pk: p for p in Player.objects.filter(pk__in={c.player_id for c, *_ in claimed if c.player_id})}
        decided = []
        for c, event_status, outcome_status, market_status in claimed:
            player = players.get(c.player_id)
            decided.append(challenge_grade(c, event_status=event_status, outcome_status=outcome_status,
                                           market_status=market_status,
                                           stat=player.stats[c.stat] if player else None))
        challenges_decided_write(decided, actor=Actor.system("settlement"))
        return len(rows)


def challenges_settle(*, event_ids: list[int]) -> int:
    """Settle every decided challenge of these events, batch after batch; safe to run twice and on
    several workers. An external wallet outage leaves the rest for the settlement sweep."""
    total = 0
    try:
        while settled := challenge_settlement_batch(event_ids=event_ids):
            total += settled
    except ServiceUnavailable:
        logger.warning("challenge settlement paused: the external wallet is not answering")
    return total


def challenge_events_pending() -> list[int]:
    """Events with challenges decided but not yet settled (for the settlement sweep)."""
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_EVENTS)
        return [row[0] for row in cursor.fetchall()]


# --- External movements decided later -----------------------------------------------------------

def pot_top_up_decided(moved: GatewayTransfer, *, challenge: Challenge, actor: Actor) -> None:
    """The platform's part of a cross-gateway pot was decided on its way into the winner's external
    vault (called from the challenge's confirmation handler, the challenge locked): confirmed, the
    vault now holds the whole pot and pays the winner and the fee; failed, it is asked for again."""
    if moved.status == GatewayTransfer.Status.CONFIRMED:
        wallet_gateway(moved.gateway).transfer(_winner_paid(challenge), actor=actor)
    else:
        challenge_movement_retry(moved, challenge=challenge, actor=actor)


# --- Failed movements: bounded retries, then an operator ------------------------------------------

def challenge_movement_retry(failed: GatewayTransfer, *, challenge: Challenge, actor: Actor) -> GatewayTransfer | None:
    """Ask again for a failed movement out of a vault (or the platform's part of a pot on its way into
    one), the challenge locked. Once its retries are spent the money stays in the vault: the challenge
    is marked as waiting for an operator and, once per episode, compliance gets a critical audit row
    and staff a notification."""
    again = gateway_transfer_retry(failed, actor=actor)
    if again is None and challenge.money_waiting != Challenge.Waiting.OPERATOR:
        challenge.money_waiting = Challenge.Waiting.OPERATOR
        challenge.save(update_fields=["money_waiting"])
        details = {"challenge_id": challenge.pk, "tx_id": failed.tx_id, "purpose": failed.purpose,
                   "amount": str(failed.amount), "gateway": failed.gateway, "attempts": failed.idempotency_key}
        audit_record(actor=actor, action="challenge.transfer_stuck", category=AuditLog.Category.COMPLIANCE,
                     resource_type="challenge", resource_id=challenge.pk, resource_label=f"CH-{challenge.pk}",
                     details=details, severity=AuditLog.Severity.CRITICAL, outcome=AuditLog.Outcome.ERROR)
        notification_create(kind="challenge_transfer_stuck", data=details,
                            message=f"Challenge CH-{challenge.pk}: a {failed.purpose} of {failed.amount} failed "
                                    f"every retry and waits in escrow; retry it from the challenge's admin page.")
    return again


def _stuck(challenge: Challenge) -> list[GatewayTransfer]:
    """The latest attempt of each of the challenge's movement series (``key``, ``key#2`` ...) that failed
    and is not a stake (a failed stake is never asked again)."""
    latest: dict[str, tuple[int, GatewayTransfer]] = {}
    for moved in GatewayTransfer.objects.filter(reference_type="challenge", reference_id=str(challenge.pk)) \
            .exclude(purpose="stake").select_related("user"):
        base, _, attempt = moved.idempotency_key.partition("#")
        if int(attempt or 1) > latest.get(base, (0, None))[0]:
            latest[base] = (int(attempt or 1), moved)
    return [moved for _, moved in latest.values() if moved.status == GatewayTransfer.Status.FAILED]


@retried_on_conflict
def challenge_payout_retry(*, challenge_id: int, actor: Actor) -> Challenge:
    """An operator asks again for the movements of a challenge that failed every retry (its money still
    in the vault): each once more, under the next key of its series, so a double click or a late
    confirmation never pays twice. Audited, refusals too; refused (409 ``escrow_mismatch``) while the
    liquidity audit finds escrow out of balance, like the void."""
    balanced = escrow_balanced()
    with audited_transaction(actor=actor, action="challenge.transfer_retry", category=AuditLog.Category.BETTING,
                             resource_type="challenge", resource_id=challenge_id):
        challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
        if challenge is None:
            raise NotFound(f"No challenge with id {challenge_id}.")
        if challenge.money_waiting != Challenge.Waiting.OPERATOR:
            raise Conflict("No transfer of this challenge is waiting for an operator.",
                           code="invalid_challenge_state", details={"status": challenge.status})
        if not balanced:
            raise Conflict("Escrow does not balance, so no money leaves it until compliance has put it right.",
                           code="escrow_mismatch", details={"challenge_id": challenge.pk})
        again = [gateway_transfer_retry(failed, actor=actor, by_operator=True) for failed in _stuck(challenge)]
        challenge.money_waiting = Challenge.Waiting.NOTHING
        challenge.save(update_fields=["money_waiting"])
        audit_record(actor=actor, action="challenge.transfer_retry", category=AuditLog.Category.BETTING,
                     resource_type="challenge", resource_id=challenge.pk, resource_label=f"CH-{challenge.pk}",
                     details={"transfers": [{"tx_id": t.tx_id, "purpose": t.purpose, "amount": str(t.amount)}
                                            for t in again]})
    return challenge


# --- Operator void ---------------------------------------------------------------------------------

@retried_on_conflict
def challenge_void(*, challenge_id: int, reason: str, actor: Actor) -> Challenge:
    """A trader or admin voids a challenge that still holds or awaits stakes, with a reason: each party
    held is refunded as for a cancelled event; audited, refusals too. Refused (409 ``escrow_mismatch``)
    while the liquidity audit finds escrow out of balance, like the settlement batches."""
    balanced = escrow_balanced()  # in a snapshot of its own, before this transaction's locks
    with audited_transaction(actor=actor, action="challenge.void", category=AuditLog.Category.BETTING,
                             resource_type="challenge", resource_id=challenge_id, details={"reason": str(reason)}):
        if not (reason or "").strip():
            raise InvalidInput("Say why the challenge is made void.", code="reason_required")
        challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
        if challenge is None:
            raise NotFound(f"No challenge with id {challenge_id}.")
        if challenge.status not in VOIDABLE:
            raise Conflict(f"Only a challenge that holds or awaits stakes can be made void; this one is "
                           f"{challenge.status}.", code="invalid_challenge_state",
                           details={"status": challenge.status})
        if not balanced:
            raise Conflict("Escrow does not balance, so no money leaves it until compliance has put it right.",
                           code="escrow_mismatch", details={"challenge_id": challenge.pk})
        challenges_decided_write([Decided(challenge, None, reason.strip())], actor=actor)
    return challenge
