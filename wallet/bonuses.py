"""Bonus credits: a trader or admin credits a player's wallet from the house bonus pool, with a reason.

One ledger transfer (house:bonus → the player's wallet, kind ``bonus``) in an audited transaction with
the staff member as actor. The pool may go negative (ledger migration 0002): it is the house's money,
and what it has paid out is the GGR report's ``total.bonuses``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from audit.context import Actor, role_of
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from core.db import retried_on_conflict
from core.errors import IdempotencyConflict, InvalidInput, NotFound, refusal
from ledger.models import Account, Transfer
from ledger.services import house_account, money_validate, transfer_create
from wallet.services import WalletMovement, wallet_lock

REASON_MAX = 200
ACTION = "bonus.credit"


@retried_on_conflict
def bonus_credit(
    *, user_id: int, amount: Any, reason: Any, actor: Actor, idempotency_key: str | None = None
) -> WalletMovement:
    """Credit ``amount`` from the bonus pool to player ``user_id``'s wallet; the reason is required.

    Refusals: ``invalid_amount``, ``reason_required`` and ``invalid_request`` (a reason over
    REASON_MAX characters) 400, ``not_a_player`` 403 (staff and agents take no bonus), ``not_found``
    404, ``idempotency_conflict`` 409 (the same key from the same staff member with another body).
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    with audited_transaction(actor=actor, action=ACTION, category=AuditLog.Category.WALLET,
                             resource_type="wallet", resource_id=user_id,
                             details={"amount": str(amount), "reason": reason}):
        value = money_validate(amount)
        if not reason:
            raise InvalidInput("Say why the bonus is credited.", code="reason_required",
                               details={"field": "reason"})
        if len(reason) > REASON_MAX:
            raise InvalidInput(f"Keep the reason to {REASON_MAX} characters.", code="invalid_request",
                               details={"field": "reason", "max_length": REASON_MAX})
        player = get_user_model().objects.visible_to(actor.user).filter(pk=user_id).first()
        if player is None:
            raise NotFound(f"No user with id {user_id}.", details={"resource": "user", "id": user_id})
        role = role_of(player)
        if role != "player":
            raise refusal("not_a_player", f"This is a {role} account; only player accounts receive bonuses.",
                          {"role": role})
        # The key is the staff member's (one client's retries). A request under a key waits for any other
        # under it, whichever player that one credits, and then sees its transfer: a key sent twice for
        # two players is a conflict, not a duplicate-key error.
        ledger_key = f"bonus:{actor.user_id}:{idempotency_key}" if idempotency_key else None
        if ledger_key:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [ledger_key])
        wallet = wallet_lock(user=player)
        if ledger_key:
            earlier = Transfer.objects.filter(idempotency_key=ledger_key).first()
            if earlier is not None:
                return _replay(earlier, wallet=wallet, amount=value, reason=reason)
        transfer = transfer_create(
            debit=house_account(Account.House.BONUS), credit=wallet, amount=value, kind=Transfer.Kind.BONUS,
            reference_type="wallet", reference_id=wallet.pk, idempotency_key=ledger_key,
            created_by=actor.user, metadata={"reason": reason},
        )
        audit_record(
            actor=actor, action=ACTION, category=AuditLog.Category.WALLET,
            resource_type="wallet", resource_id=player.pk, resource_label=player.get_username(),
            details={"amount": str(value), "reason": reason, "transfer": transfer.reference,
                     "balance": str(wallet.balance)},
        )
        return WalletMovement(transfer=transfer, balance=wallet.balance)


def _replay(earlier: Transfer, *, wallet: Account, amount: Any, reason: str) -> WalletMovement:
    """The first answer again for the same key and body; 409 for the same key and another body."""
    if (earlier.kind != Transfer.Kind.BONUS or earlier.credit_account_id != wallet.pk or earlier.amount != amount
            or (earlier.metadata or {}).get("reason") != reason):
        raise IdempotencyConflict(details={"first_request": {
            "kind": earlier.kind, "amount": str(earlier.amount),
            "reason": (earlier.metadata or {}).get("reason", "")}})
    return WalletMovement(transfer=earlier, balance=earlier.credit_balance_after, replayed=True)
