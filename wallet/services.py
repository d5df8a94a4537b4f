"""Deposits and withdrawals of play credits: the player's wallet against the house cashier."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from core.db import first_row, retried_on_conflict
from core.errors import IdempotencyConflict, InvalidInput, refusal
from ledger.models import Account, Transfer
from ledger.services import house_account, money_validate, player_account_open, transfer_create
from risk.aml import aml_transfer_check_queue
from risk.rules import Violation, deposit_violations, withdrawal_violations


@dataclass(frozen=True)
class WalletMovement:
    transfer: Transfer
    balance: Decimal
    replayed: bool = False


def wallet_open(*, user: Any) -> Account:
    return player_account_open(user=user)


def wallet_lock(*, user: Any) -> Account:
    """The player's wallet, row-locked until the caller's transaction ends (created on first use)."""
    wallet = first_row(Account, owner_id=user.pk, lock=True)
    return wallet or Account.objects.select_for_update().get(pk=wallet_open(user=user).pk)


def wallet_deposit(
    *, user: Any, amount: Any, actor: Actor, idempotency_key: str | None = None, reason: str = ""
) -> WalletMovement:
    """``reason``: why staff moved the money (the console's cashier), kept in the audit row and the transfer."""
    return _wallet_move(user=user, amount=amount, actor=actor, idempotency_key=idempotency_key,
                        kind=Transfer.Kind.DEPOSIT, reason=reason)


def wallet_withdraw(
    *, user: Any, amount: Any, actor: Actor, idempotency_key: str | None = None, reason: str = ""
) -> WalletMovement:
    return _wallet_move(user=user, amount=amount, actor=actor, idempotency_key=idempotency_key,
                        kind=Transfer.Kind.WITHDRAWAL, reason=reason)


@retried_on_conflict
def _wallet_move(
    *, user: Any, amount: Any, actor: Actor, idempotency_key: str | None, kind: str, reason: str = ""
) -> WalletMovement:
    action = f"wallet.{kind}"
    because = {"reason": reason} if reason else {}
    with audited_transaction(actor=actor, action=action, category=AuditLog.Category.WALLET,
                             resource_type="wallet", resource_id=user.pk,
                             details={"amount": str(amount), **because}):
        value = money_validate(amount)
        maximum = Decimal(settings.WALLET_MAX_TRANSACTION)
        if value > maximum:
            raise InvalidInput(f"The most you can move at once is {maximum}.",
                               code="invalid_amount", details={"field": "amount",
                                                               "max_amount": str(maximum)})
        # Lock the wallet first: a concurrent request with the same key waits here and then sees
        # the first one's transfer.
        wallet = wallet_lock(user=user)
        ledger_key = f"wallet:{wallet.pk}:{idempotency_key}" if idempotency_key else None
        if ledger_key:
            earlier = Transfer.objects.filter(idempotency_key=ledger_key).first()
            if earlier is not None:
                return _replay(earlier, wallet=wallet, kind=kind, amount=value)
        if kind == Transfer.Kind.DEPOSIT:
            _deposit_check(user=user, wallet=wallet, amount=value, actor=actor)
        else:
            _withdrawal_check(user=user, wallet=wallet, amount=value)
        cashier = house_account(Account.House.CASHIER)
        debit, credit = (cashier, wallet) if kind == Transfer.Kind.DEPOSIT else (wallet, cashier)
        transfer = transfer_create(
            debit=debit, credit=credit, amount=value, kind=kind,
            reference_type="wallet", reference_id=wallet.pk, idempotency_key=ledger_key,
            created_by=actor.user, metadata=because or None,
        )
        audit_record(
            actor=actor, action=action, category=AuditLog.Category.WALLET,
            resource_type="wallet", resource_id=user.pk, resource_label=user.get_username(),
            details={"amount": str(value), "transfer": transfer.reference,
                     "balance": str(wallet.balance), **because},
        )
        aml_transfer_check_queue(transfer=transfer)  # monitoring, in the worker after commit; never blocks
        return WalletMovement(transfer=transfer, balance=wallet.balance)


def _replay(earlier: Transfer, *, wallet: Account, kind: str, amount: Decimal) -> WalletMovement:
    """The first response again for the same key and body; 409 for the same key and another body."""
    if earlier.kind != kind or earlier.amount != amount:
        raise IdempotencyConflict(details={"first_request": {"kind": earlier.kind,
                                                             "amount": str(earlier.amount)}})
    balance = (earlier.credit_balance_after if earlier.credit_account_id == wallet.pk
               else earlier.debit_balance_after)
    return WalletMovement(transfer=earlier, balance=balance, replayed=True)


def _deposit_check(*, user: Any, wallet: Account, amount: Decimal, actor: Actor) -> None:
    """Geofence, self-exclusion or time-out, the player's deposit limits and the KYC threshold."""
    ever = Transfer.objects.filter(credit_account=wallet, kind=Transfer.Kind.DEPOSIT).aggregate(
        ever=Sum("amount"))["ever"]
    found = deposit_violations(
        player=user, wallet_id=wallet.pk, amount=amount, country=actor.country or user.country,
        deposited_ever=ever or Decimal("0.00"), kyc_threshold=Decimal(settings.RISK_KYC_DEPOSIT_THRESHOLD))
    _refuse(found)


def _withdrawal_check(*, user: Any, wallet: Account, amount: Decimal) -> None:
    """The KYC threshold on everything withdrawn; read under the wallet's lock, so two withdrawals at
    once cannot both slip under it. A withdrawal the balance cannot cover is left to the transfer's
    refusal for funds: a verified identity would not let it through either."""
    if wallet.balance < amount:
        return
    ever = Transfer.objects.filter(debit_account=wallet, kind=Transfer.Kind.WITHDRAWAL).aggregate(
        ever=Sum("amount"))["ever"]
    _refuse(withdrawal_violations(player=user, amount=amount, withdrawn_ever=ever or Decimal("0.00"),
                                  kyc_threshold=Decimal(settings.RISK_KYC_WITHDRAWAL_THRESHOLD)))


def _refuse(found: list[Violation]) -> None:
    """Raise the first violation found, with all of them in its details."""
    if found:
        first = found[0]
        raise refusal(first.error, first.message,
                      {**first.details, "violations": [v.as_dict() for v in found]})
