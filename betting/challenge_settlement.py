"""Challenge settlement: the event decides each matched challenge, exactly once, in set-based batches
(like betting/settlement.py), and the pot moves through each party's own wallet gateway.

A batch first runs the liquidity audit (betting/escrow_audit.py): on a mismatch it does nothing and
the challenges wait. Otherwise one call of the database function ``betting_challenges_settle``
(betting/sql/settlement.py, installed by betting/migrations/0012) claims up to ``SETTLEMENT_BATCH_SIZE`` decided
challenges with ``FOR UPDATE SKIP LOCKED`` (several workers share an event), grades them and writes
everything of the internal gateway: the challenges, the audit rows, the notifications, the ledger and
gateway transfers, the wallets' balances and the weekly stats. It answers only what the rest needs:
the movements on the external gateway, which go through ``ExternalGateway.transfer`` in the same
transaction (pending external transactions, confirmations queued after commit), and what the socket
messages say. The operator's void and the void of a cancelled event's challenges are the same call. A
crash rolls the whole batch back; every movement carries a unique key (``challenge:{id}:payout``,
``challenge:{id}:fee``, ``challenge:{id}:{party}:refund`` ...), so a rerun pays nobody twice.

Money (API.md): the winner gets pot × (1 − P2P_FEE_RATE) rounded down, through the winner's gateway;
the fee goes to the platform on that side and the ledger's house ``fees`` receives exactly it. When
the parties are on different gateways the loser's stake crosses through the platform's pocket on each
side (internal: house ``external_clearing``; external: the treasury): it leaves the loser's vault to
that side's pocket, and the winner's side pocket pays it into the winner's vault. The external
service confirms later and may fail: a failed movement is asked again under a new key, and an
external winner is paid once the treasury's part has reached the vault (``pot_top_up_decided``). A
void challenge refunds each party its stake less the network fees of its own transfers.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction, notification_create, notification_message
from betting.challenge_money import fee_rate
from betting.escrow_audit import escrow_balanced
from betting.models import Challenge
from betting.news import challenge_status_message, challenges_board_news
from betting.sql import settlement as settlement_sql
from core import live
from core.db import retried_on_conflict
from core.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from wallet.external import network_fee
from wallet.gateways import Movement, gateway_transfer_retry, wallet_gateway
from wallet.models import Gateway, GatewayTransfer

logger = logging.getLogger(__name__)

S = Challenge.Status


# --- Writing ---------------------------------------------------------------------------------------

def _challenges_decide(*, actor: Actor, event_ids: list[int] | None = None, size: int | None = None,
                       void_id: int | None = None, reason: str = "") -> int:
    """The one write path of settlement and voids, in the caller's transaction: a batch of the decided
    challenges of ``event_ids`` (claimed), or the challenge ``void_id`` (locked by the caller) made
    void for ``reason``. The database function writes every internal movement and row; the external
    movements it answers go to the external gateway here; the socket messages go out after commit.
    The number of challenges written."""
    with connection.cursor() as cursor:
        cursor.execute(settlement_sql.challenges_call(), [
            event_ids, size or settings.SETTLEMENT_BATCH_SIZE, void_id, reason, fee_rate(), network_fee(),
            timezone.now(), *actor.audit_columns()])
        answer = json.loads(cursor.fetchone()[0])  # Django's connection leaves jsonb as text; money in it is text
    if not answer["count"]:
        return 0
    external = [Movement(user_id=user_id, direction=direction, amount=Decimal(amount), purpose=purpose,
                         reference_type="challenge", reference_id=challenge_id, idempotency_key=key,
                         platform_account=platform_account)
                for challenge_id, user_id, direction, amount, purpose, key, platform_account in answer["external"]]
    if external:
        # made=[]: a challenge is decided once, under its row lock, so no movement can carry these
        # keys yet (the keys' unique index would refuse one that did).
        wallet_gateway(Gateway.EXTERNAL).transfer(external, actor=actor, made=[])
    news: dict[int, dict] = {}  # one payload per challenge for both parties: serialised once (core.live)
    messages, notifications, opened = [], [], set()
    for challenge_id, user_id, before, text, data in answer["parties"]:
        if challenge_id not in news:
            news[challenge_id] = challenge_status_message(challenge_id, data["status"], data["result"])
        messages.append((user_id, news[challenge_id]))
        notifications.append((user_id, notification_message(kind="challenge_settled", message=text, data=data)))
        if before == S.OPEN:
            opened.add(challenge_id)
    live.to_users([*((user_id, {"type": "wallet", "balance": balance}) for user_id, balance in answer["wallets"]),
                   *messages, *notifications])
    if opened:  # an open challenge made void leaves the board
        left = list(Challenge.objects.select_related("outcome__market", "player").filter(pk__in=opened))
        for challenge in left:
            challenge.status_known = S.OPEN  # as it was before this transaction
        challenges_board_news(left)
    return answer["count"]


# --- Batches ---------------------------------------------------------------------------------------

@retried_on_conflict
def challenge_settlement_batch(*, event_ids: list[int], size: int | None = None) -> int:
    """Settle (or void) one batch of the decided challenges of these events; the number written.
    Nothing while the liquidity audit finds escrow out of balance (it runs only when there is
    something to pay: a bet settlement on an event without challenges does not audit)."""
    with connection.cursor() as cursor:
        cursor.execute(settlement_sql.challenges_any_pending(), [event_ids])
        if cursor.fetchone() is None:
            return 0
    if not escrow_balanced():
        logger.warning("challenge settlement held back: escrow does not balance")
        return 0
    with transaction.atomic():
        return _challenges_decide(actor=Actor.system("settlement"), event_ids=event_ids, size=size)


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
        cursor.execute(settlement_sql.challenge_events_pending())
        return [row[0] for row in cursor.fetchall()]


# --- External movements decided later -----------------------------------------------------------

def _winner_paid(c: Challenge) -> list[Movement]:
    """Out of an external winner's vault once it holds the whole pot: the payout, and the fee to the
    platform's treasury, under the keys the settlement function gives every other winner's."""
    key = f"challenge:{c.pk}"
    common = {"direction": GatewayTransfer.Direction.OUT, "reference_type": "challenge", "reference_id": c.pk}
    return [Movement(user_id=c.winner_id, amount=c.payout, purpose="payout", idempotency_key=f"{key}:payout",
                     **common),
            Movement(user_id=None, amount=c.fee, purpose="fee", idempotency_key=f"{key}:fee", **common)]


def pot_top_up_decided(moved: GatewayTransfer, *, challenge: Challenge, actor: Actor) -> None:
    """The platform's part of a cross-gateway pot was decided on its way into the winner's external
    vault (called from the challenge's confirmation handler, the challenge locked): confirmed, the
    vault now holds the whole pot and pays the winner and the fee (the settlement function pays every
    other winner at once); failed, it is asked for again."""
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
        if challenge.status not in Challenge.VOIDABLE:
            raise Conflict(f"Only a challenge that holds or awaits stakes can be made void; this one is "
                           f"{challenge.status}.", code="invalid_challenge_state",
                           details={"status": challenge.status})
        if not balanced:
            raise Conflict("Escrow does not balance, so no money leaves it until compliance has put it right.",
                           code="escrow_mismatch", details={"challenge_id": challenge.pk})
        _challenges_decide(actor=actor, void_id=challenge.pk, reason=reason.strip())
        challenge.refresh_from_db()
    return challenge
