"""The simulated external wallet service: a separate system with books of its own (addresses,
balances, transactions), reached by the platform only through the external gateway.

It behaves like a slow, fallible payment network: a transaction is accepted as ``pending`` and
decided later (``external_transaction_decide``, from a Celery task): it fails with probability
``EXTERNAL_WALLET_FAILURE_RATE`` or when the source lacks the funds by then (nothing moves), else the
balances move and the platform's treasury pays ``EXTERNAL_WALLET_NETWORK_FEE`` to the network.
When ``EXTERNAL_WALLET_AVAILABLE`` is off, the service is down: 503 ``external_wallet_unavailable``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from audit.context import Actor, role_of
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from core import live
from core.db import retried_on_conflict
from core.decimals import decimal_seconds
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, ServiceUnavailable, refusal
from ledger.money import CENT
from ledger.services import money_validate
from risk.rules import deposit_violations, player_gate
from wallet.models import ExternalAccount, ExternalTransaction

# The platform's own addresses, created by a wallet migration.
ESCROW_ADDRESS = "ext:platform:escrow"
TREASURY_ADDRESS = "ext:platform:treasury"
NETWORK_ADDRESS = "ext:network:fees"

Draw = Callable[[], float]  # a random number in [0, 1): whether a transaction fails


def external_available() -> None:
    """Refuse with 503 (and Retry-After) while the simulated service is down."""
    if not settings.EXTERNAL_WALLET_AVAILABLE:
        raise ServiceUnavailable("The external wallet service is not answering; try again in a moment.",
                                 code="external_wallet_unavailable",
                                 retry_after=settings.EXTERNAL_WALLET_RETRY_AFTER)


def confirm_wait() -> timedelta:
    return decimal_seconds(settings.EXTERNAL_WALLET_CONFIRM_SECONDS)


def network_fee() -> Decimal:
    return Decimal(settings.EXTERNAL_WALLET_NETWORK_FEE).quantize(CENT)


def platform_address(address: str) -> ExternalAccount:
    return ExternalAccount.objects.get(address=address)


def external_account_of(*, user_id: int) -> ExternalAccount | None:
    return ExternalAccount.objects.filter(owner_id=user_id, kind=ExternalAccount.Kind.PLAYER).first()


def external_account_require(*, user_id: int) -> ExternalAccount:
    account = external_account_of(user_id=user_id)
    if account is None:
        raise refusal("external_wallet_not_open", "You have no external wallet yet; open one first "
                      "(POST /api/v1/external-wallet).", {"user_id": user_id})
    return account


def _player_check(user: Any, actor: Actor) -> None:
    found = player_gate(player_id=user.pk, role=role_of(user), country=actor.country or user.country)
    if found:
        raise refusal(found[0].error, found[0].message, found[0].details)


@dataclass(frozen=True)
class ExternalWallet:
    account: ExternalAccount
    created: bool = False


def external_wallet_open(*, user: Any, actor: Actor) -> ExternalWallet:
    """Open the player's address at the external service; opening it again returns the same one."""
    with audited_transaction(actor=actor, action="external_wallet.open", category=AuditLog.Category.WALLET,
                             resource_type="external_wallet", resource_id=user.pk):
        external_available()
        _player_check(user, actor)
        account, created = ExternalAccount.objects.get_or_create(
            owner=user, defaults={"address": f"ext:{uuid.uuid4().hex}", "kind": ExternalAccount.Kind.PLAYER,
                                  "currency": settings.ODDSLAB_CURRENCY})
        if created:
            audit_record(actor=actor, action="external_wallet.open", category=AuditLog.Category.WALLET,
                         resource_type="external_wallet", resource_id=user.pk,
                         resource_label=user.get_username(), details={"address": account.address})
    return ExternalWallet(account=account, created=created)


@dataclass(frozen=True)
class TopUp:
    transaction: ExternalTransaction
    account: ExternalAccount
    replayed: bool = False


@retried_on_conflict
def external_wallet_top_up(*, user: Any, amount: Any, actor: Actor, idempotency_key: str | None = None) -> TopUp:
    """Play money credited by the external service itself, confirmed at once. Capped like a deposit
    (``WALLET_MAX_TRANSACTION``) and refused like one (staff, self-exclusion, geofence, the player's
    deposit limit, the KYC threshold), counting top-ups as the deposits they are."""
    with audited_transaction(actor=actor, action="external_wallet.top_up", category=AuditLog.Category.WALLET,
                             resource_type="external_wallet", resource_id=user.pk,
                             details={"amount": str(amount)}):
        external_available()
        value = money_validate(amount)
        maximum = Decimal(settings.WALLET_MAX_TRANSACTION)
        if value > maximum:
            raise InvalidInput(f"The most you can move at once is {maximum}.", code="invalid_amount",
                               details={"field": "amount", "max_amount": str(maximum)})
        _player_check(user, actor)
        account = ExternalAccount.objects.select_for_update(no_key=True).get(
            pk=external_account_require(user_id=user.pk).pk)
        key = f"top_up:{account.pk}:{idempotency_key or uuid.uuid4().hex}"
        earlier = ExternalTransaction.objects.filter(idempotency_key=key).first()
        if earlier is not None:
            if earlier.amount != value:
                raise IdempotencyConflict(details={"first_request": {"amount": str(earlier.amount)}})
            return TopUp(transaction=earlier, account=account, replayed=True)
        _top_up_check(user=user, account=account, amount=value, actor=actor)
        now = timezone.now()
        top_up = ExternalTransaction.objects.create(
            tx_id=_tx_id(), source=None, destination=account, amount=value, idempotency_key=key,
            status=ExternalTransaction.Status.CONFIRMED, confirm_after=now, confirmed_at=now)
        account.balance += value
        account.save(update_fields=["balance"])
        balances_news([account])
        audit_record(actor=actor, action="external_wallet.top_up", category=AuditLog.Category.WALLET,
                     resource_type="external_wallet", resource_id=user.pk, resource_label=user.get_username(),
                     details={"amount": str(value), "tx_id": top_up.tx_id, "balance": str(account.balance)})
    return TopUp(transaction=top_up, account=account)


def _top_up_check(*, user: Any, account: ExternalAccount, amount: Decimal, actor: Actor) -> None:
    ever = ExternalTransaction.objects.filter(destination=account, source__isnull=True).aggregate(
        ever=Sum("amount"))["ever"]
    found = deposit_violations(
        player=user, amount=amount, country=actor.country or user.country, deposited_ever=ever or Decimal("0.00"),
        kyc_threshold=Decimal(settings.RISK_KYC_DEPOSIT_THRESHOLD))
    if found:
        raise refusal(found[0].error, found[0].message,
                      {**found[0].details, "violations": [v.as_dict() for v in found]})


def _tx_id() -> str:
    return f"EXT-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Order:
    """What the platform asks the service to move: from one address to another."""

    source: ExternalAccount
    destination: ExternalAccount
    amount: Decimal
    idempotency_key: str


def external_transactions_submit(orders: list[Order], *, delay: timedelta = timedelta(0)) -> list[ExternalTransaction]:
    """Accept transactions as pending, due in ``EXTERNAL_WALLET_CONFIRM_SECONDS`` (plus ``delay``: a
    retry's backoff, so the sweep does not pick it up early either). A player's address
    must cover the amount beyond what it already has on its way out (``insufficient_funds``); its row
    is locked only for this check, never while the transaction waits for its confirmation."""
    external_available()
    players = sorted({o.source.pk for o in orders if o.source.kind == ExternalAccount.Kind.PLAYER})
    if players:
        locked = {a.pk: a for a in ExternalAccount.objects.select_for_update(no_key=True).filter(pk__in=players)
                  .order_by("pk")}
        pending = dict(ExternalTransaction.objects.filter(source_id__in=players,
                                                          status=ExternalTransaction.Status.PENDING)
                       .values("source_id").annotate(total=Sum("amount")).values_list("source_id", "total"))
        asked: dict[int, Decimal] = {}
        for order in orders:
            if order.source.pk in locked:
                asked[order.source.pk] = asked.get(order.source.pk, Decimal("0.00")) + order.amount
        for account_id, amount in asked.items():
            available = locked[account_id].balance - pending.get(account_id, Decimal("0.00"))
            if available < amount:
                raise InsufficientFunds("Your external wallet balance is too low for this.",
                                        details={"balance": str(available), "amount": str(amount),
                                                 "shortfall": str(amount - available), "gateway": "external"})
    due = timezone.now() + confirm_wait() + delay
    return ExternalTransaction.objects.bulk_create([
        ExternalTransaction(tx_id=_tx_id(), source=o.source, destination=o.destination, amount=o.amount,
                            idempotency_key=o.idempotency_key, confirm_after=due) for o in orders])


def external_transaction_decide(*, tx_id: str, draw: Draw = random.random) -> ExternalTransaction | None:
    """Confirm or fail a pending transaction, in the caller's transaction; None if it was already
    decided (a second delivery), unknown, or the service is down (the sweep tries again later).
    Rows are locked in one order: the transaction, then its addresses by id."""
    if not settings.EXTERNAL_WALLET_AVAILABLE:
        return None
    tx = ExternalTransaction.objects.select_for_update().filter(tx_id=tx_id).first()
    if tx is None or tx.status != ExternalTransaction.Status.PENDING:
        return None
    fee = network_fee()
    treasury, network = platform_address(TREASURY_ADDRESS), platform_address(NETWORK_ADDRESS)
    ids = sorted({tx.source_id, tx.destination_id, *((treasury.pk, network.pk) if fee else ())})
    # FOR NO KEY UPDATE: a balance is no key, so transactions being submitted meanwhile, whose rows
    # reference these addresses (a key share lock), neither wait for this one nor deadlock with it.
    accounts = {a.pk: a for a in ExternalAccount.objects.select_for_update(no_key=True).filter(pk__in=ids)
                .order_by("pk")}
    source = accounts[tx.source_id]
    if Decimal(repr(draw())) < Decimal(settings.EXTERNAL_WALLET_FAILURE_RATE):
        tx.failure_reason = "The network did not confirm the transfer."
    elif not source.may_go_negative and source.balance < tx.amount:
        tx.failure_reason = "The source address did not hold the amount."
    tx.status = ExternalTransaction.Status.FAILED if tx.failure_reason else ExternalTransaction.Status.CONFIRMED
    if tx.status == ExternalTransaction.Status.CONFIRMED:
        moves = [(tx.source_id, -tx.amount), (tx.destination_id, tx.amount)]
        if fee:
            moves += [(treasury.pk, -fee), (network.pk, fee)]
        for account_id, change in moves:
            accounts[account_id].balance += change
        ExternalAccount.objects.bulk_update([accounts[i] for i in sorted({i for i, _ in moves})], ["balance"])
        tx.network_fee, tx.confirmed_at = fee, timezone.now()
    tx.save(update_fields=["status", "failure_reason", "network_fee", "confirmed_at"])
    balances_news([accounts[tx.source_id], accounts[tx.destination_id]])
    return tx


def balances_news(accounts: list[ExternalAccount]) -> None:
    """``{"type": "external_wallet", "balance"}`` to the owner of each player's address among
    ``accounts``, on /ws/v1/me after commit (a failed transaction too: it is no longer pending)."""
    live.to_users([(account.owner_id, {"type": "external_wallet", "balance": str(account.balance)})
                   for account in accounts if account.owner_id])


def external_transactions_overdue(*, now: Any = None, limit: int = 500) -> list[str]:
    """Pending transactions past their due time by the sweep's grace: their task was lost or late."""
    due = (now or timezone.now()) - timedelta(seconds=settings.EXTERNAL_WALLET_SWEEP_GRACE_SECONDS)
    return list(ExternalTransaction.objects.filter(status=ExternalTransaction.Status.PENDING,
                                                   confirm_after__lte=due)
                .order_by("confirm_after").values_list("tx_id", flat=True)[:limit])
