"""Wallet gateways: one interface over the places a challenge's money can come from and go to
(DESIGN.md "Peer-to-peer challenges and wallet gateways").

The internal gateway is the ledger: a movement is a ledger transfer, confirmed in the caller's
transaction. The external gateway is the simulated external wallet service (wallet/external.py):
a movement is recorded as pending, and a Celery task confirms or fails it later. Callers treat
both alike: ``transfer`` takes a batch of movements and returns one ``GatewayTransfer`` each; when a
pending one is decided, the handler registered for its ``reference_type`` is called in the
deciding transaction (the betting app registers the challenge handler from its AppConfig).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from core.db import all_rows, insert_values, instance, retried_on_conflict
from core.decimals import decimal_seconds
from core.errors import IdempotencyConflict, InvalidInput, NotFound
from ledger.models import Account, Transfer, format_entry_number
from ledger.services import TransferSpec, escrow_vault_balance, house_account, house_accounts, transfers_create
from wallet import external
from wallet.models import PURPOSES, ExternalTransaction, Gateway, GatewayTransfer
from wallet.selectors import wallet_balance
from wallet.services import wallet_open

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Movement:
    """One movement into (``in``) or out of (``out``) the escrow vault of a gateway."""

    user_id: int | None  # the player, or None for the platform's own pocket on that side
    direction: str  # GatewayTransfer.Direction: "in" | "out"
    amount: Decimal
    purpose: str  # one of PURPOSES
    reference_type: str  # "challenge"
    reference_id: Any
    idempotency_key: str  # unique per movement; asked again, the first GatewayTransfer is returned
    platform_account: str = ""  # user None on the internal side: the ledger house account code ("fees")


class WalletGateway(Protocol):
    name: str
    confirms_at_once: bool  # its transfers are confirmed in the caller's transaction (or refused there)

    def balance(self, *, user: Any) -> Decimal: ...

    def escrow_balance(self) -> Decimal: ...

    def transfer(self, movements: list[Movement], *, actor: Actor, delay: timedelta = timedelta(0),
                 made: list[GatewayTransfer] | None = None) -> list[GatewayTransfer]: ...

    def status(self, *, tx_id: str) -> GatewayTransfer: ...


_handlers: dict[str, Callable[[GatewayTransfer], None]] = {}


def gateway_handler_register(reference_type: str, handler: Callable[[GatewayTransfer], None]) -> None:
    """Call ``handler(transfer)`` when a pending transfer for ``reference_type`` is confirmed or failed."""
    _handlers[reference_type] = handler


def gateway_transfer_decided(transfer: GatewayTransfer) -> None:
    """Hand a transfer that has just been confirmed or failed to its reference's handler."""
    handler = _handlers.get(transfer.reference_type)
    if handler is not None:
        handler(transfer)


def gateway_transfer_retry(failed: GatewayTransfer, *, actor: Actor,
                           by_operator: bool = False) -> GatewayTransfer | None:
    """Ask again for a movement that failed, under the next key of its series (``key``, ``key#2``,
    ``key#3`` ...), confirming after a backoff that doubles each time. None once it has been asked
    again ``EXTERNAL_WALLET_RETRY_LIMIT`` times: the money stays where it was (in the vault) until an
    operator asks again (``by_operator``: one more attempt, without backoff)."""
    base, _, attempt = failed.idempotency_key.partition("#")
    tried = int(attempt or 1)
    if tried > settings.EXTERNAL_WALLET_RETRY_LIMIT and not by_operator:
        return None
    movement = Movement(user_id=failed.user_id, direction=failed.direction, amount=failed.amount,
                        purpose=failed.purpose, reference_type=failed.reference_type,
                        reference_id=failed.reference_id, idempotency_key=f"{base}#{tried + 1}",
                        platform_account=failed.platform_account)
    delay = timedelta(0) if by_operator else retry_backoff(tried)
    return wallet_gateway(failed.gateway).transfer([movement], actor=actor, delay=delay)[0]


def retry_backoff(tried: int) -> timedelta:
    """The wait beyond the confirmation time before the retry after ``tried`` attempts is decided."""
    return decimal_seconds(settings.EXTERNAL_WALLET_RETRY_BACKOFF_SECONDS) * 2 ** (tried - 1)


def wallet_gateway(name: str) -> WalletGateway:
    """The gateway called ``name``, or 400 ``invalid_funding``."""
    gateway = _GATEWAYS.get(name) if isinstance(name, str) else None
    if gateway is None:
        raise InvalidInput('funding must be "internal" or "external".', code="invalid_funding",
                           details={"field": "funding", "allowed": list(_GATEWAYS)})
    return gateway


_DIRECTIONS = frozenset(GatewayTransfer.Direction.values)  # read once: ``values`` builds a list per call


def movements_check(movements: list[Movement]) -> None:
    for movement in movements:
        if movement.direction not in _DIRECTIONS or movement.purpose not in PURPOSES:
            raise ValueError(f"not a movement: {movement}")


def transfers_earlier(movements: list[Movement],
                      made: list[GatewayTransfer] | None = None) -> dict[str, GatewayTransfer]:
    """The transfers already made for these movements' keys; a key reused for another movement is a conflict.
    ``made``: every transfer that can carry these keys, when the caller has read them already (a
    challenge's own, read under its lock: its movements' keys name it), instead of looking the keys up."""
    if made is None:
        made = all_rows(GatewayTransfer, idempotency_key__in=[m.idempotency_key for m in movements])
    keys = {m.idempotency_key for m in movements}
    earlier = {t.idempotency_key: t for t in made if t.idempotency_key in keys}
    for movement in movements:
        first = earlier.get(movement.idempotency_key)
        if first is not None and (first.amount != movement.amount or first.direction != movement.direction
                                  or first.user_id != movement.user_id):
            raise IdempotencyConflict(details={"idempotency_key": movement.idempotency_key,
                                               "gateway_transfer_id": first.pk})
    return earlier


def gateway_transfers_write(movements: list[Movement], *, gateway: str, status: str,
                            tx_ids: list[str]) -> list[GatewayTransfer]:
    """One GatewayTransfer per movement, written in one insert from rows of column values."""
    confirmed_at = timezone.now() if status == GatewayTransfer.Status.CONFIRMED else None
    rows = [{"gateway": gateway, "direction": m.direction, "user_id": m.user_id,
             "platform_account": m.platform_account, "amount": m.amount, "network_fee": ZERO, "status": status,
             "tx_id": tx_id, "reference_type": m.reference_type, "reference_id": str(m.reference_id),
             "purpose": m.purpose, "idempotency_key": m.idempotency_key, "confirmed_at": confirmed_at}
            for m, tx_id in zip(movements, tx_ids, strict=True)]
    for row, pk in zip(rows, insert_values(GatewayTransfer, rows), strict=True):
        row["id"] = pk
    return [instance(GatewayTransfer, row) for row in rows]


# The ledger transfer kind of each purpose.
KIND = {"stake": Transfer.Kind.ESCROW_HOLD, "payout": Transfer.Kind.P2P_PAYOUT,
        "refund": Transfer.Kind.P2P_REFUND, "fee": Transfer.Kind.P2P_FEE,
        "sweep": Transfer.Kind.ESCROW_RELEASE}


class InternalGateway:
    """The platform wallet: movements are ledger transfers between a player's wallet (or a house
    account) and the house escrow, written and confirmed in the caller's transaction. (Challenge
    settlement writes the same rows, ledger transfer and confirmed GatewayTransfer per movement, in the
    database: betting/sql/settlement.py ``betting_challenges_settle``.)"""

    name = Gateway.INTERNAL
    confirms_at_once = True

    def balance(self, *, user: Any) -> Decimal:
        return wallet_balance(user=user).balance

    def escrow_balance(self) -> Decimal:
        return escrow_vault_balance()

    def transfer(self, movements: list[Movement], *, actor: Actor, delay: timedelta = timedelta(0),
                 made: list[GatewayTransfer] | None = None) -> list[GatewayTransfer]:
        """Write every new movement's ledger transfer at once (``insufficient_funds`` writes none);
        a movement whose key was seen before (``transfers_earlier``, given ``made``) gets its first
        transfer back. Confirmed at once: ``delay`` (a retry's backoff) does not apply."""
        movements_check(movements)
        earlier = transfers_earlier(movements, made)
        new = [m for m in movements if m.idempotency_key not in earlier]
        if new:
            wallets = _wallets_of({m.user_id for m in new if m.user_id is not None})
            # Each movement's escrow shard (its challenge's, Account.escrow_shard) and the platform's
            # pockets in one read, not one per movement: a settlement batch pays a fee per challenge.
            shards = [Account.escrow_shard(m.reference_id) for m in new]
            house = house_accounts({*shards, *(m.platform_account for m in new if m.user_id is None)})
            specs = []
            for movement, shard in zip(new, shards, strict=True):
                other = wallets[movement.user_id] if movement.user_id is not None else house[movement.platform_account]
                escrow = house[shard]
                debit, credit = (other, escrow) if movement.direction == GatewayTransfer.Direction.IN \
                    else (escrow, other)
                specs.append(TransferSpec(
                    debit=debit, credit=credit, amount=movement.amount, kind=KIND[movement.purpose],
                    reference_type=movement.reference_type, reference_id=movement.reference_id,
                    idempotency_key=f"gateway:{movement.idempotency_key}", created_by=actor.user))
            ledger_rows = transfers_create(specs)
            rows = gateway_transfers_write(new, gateway=self.name, status=GatewayTransfer.Status.CONFIRMED,
                                           tx_ids=[format_entry_number(t["entry_number"]) for t in ledger_rows])
            earlier.update({row.idempotency_key: row for row in rows})
        return [earlier[m.idempotency_key] for m in movements]

    def status(self, *, tx_id: str) -> GatewayTransfer:
        return _transfer_of(self.name, tx_id)


def _wallets_of(user_ids: set[int]) -> dict[int, Account]:
    """Each player's wallet by user id, in one read (a settlement batch pays thousands), opened if new."""
    found = {a.owner_id: a for a in all_rows(Account, owner_id__in=list(user_ids), kind=Account.Kind.PLAYER)}
    for user_id in user_ids - found.keys():
        found[user_id] = wallet_open(user=get_user_model().objects.get(pk=user_id))
    return found


def _transfer_of(gateway: str, tx_id: str) -> GatewayTransfer:
    found = GatewayTransfer.objects.filter(gateway=gateway, tx_id=tx_id).first()
    if found is None:
        raise NotFound("No such gateway transfer.", details={"tx_id": tx_id})
    return found


class ExternalGateway:
    """The simulated external wallet: a movement is a transaction between the player's address (or
    the platform's treasury) and the platform's escrow vault there, recorded as pending and decided
    later by ``external_transfer_confirm`` (task ``wallet.tasks.external_confirm_task``)."""

    name = Gateway.EXTERNAL
    confirms_at_once = False

    def balance(self, *, user: Any) -> Decimal:
        account = external.external_account_of(user_id=user.pk)
        return account.balance if account else Decimal("0.00")

    def escrow_balance(self) -> Decimal:
        return external.platform_address(external.ESCROW_ADDRESS).balance

    def transfer(self, movements: list[Movement], *, actor: Actor, delay: timedelta = timedelta(0),
                 made: list[GatewayTransfer] | None = None) -> list[GatewayTransfer]:
        """Record each new movement as one pending external transaction and one pending transfer,
        and queue its confirmation after commit, ``delay`` later than usual; nothing moves yet.
        A movement whose key was seen before (``transfers_earlier``, given ``made``) gets its first transfer back."""
        movements_check(movements)
        earlier = transfers_earlier(movements, made)
        new = [m for m in movements if m.idempotency_key not in earlier]
        if new:
            vault = external.platform_address(external.ESCROW_ADDRESS)
            treasury = external.platform_address(external.TREASURY_ADDRESS)
            orders = []
            for movement in new:
                other = (external.external_account_require(user_id=movement.user_id)
                         if movement.user_id is not None else treasury)
                source, destination = (other, vault) if movement.direction == GatewayTransfer.Direction.IN \
                    else (vault, other)
                orders.append(external.Order(source=source, destination=destination, amount=movement.amount,
                                             idempotency_key=movement.idempotency_key))
            submitted = external.external_transactions_submit(orders, delay=delay)
            rows = gateway_transfers_write(new, gateway=self.name, status=GatewayTransfer.Status.PENDING,
                                           tx_ids=[tx.tx_id for tx in submitted])
            earlier.update({row.idempotency_key: row for row in rows})
            for tx in submitted:
                _confirm_queue(tx)
        return [earlier[m.idempotency_key] for m in movements]

    def status(self, *, tx_id: str) -> GatewayTransfer:
        return _transfer_of(self.name, tx_id)


def _confirm_queue(tx: ExternalTransaction) -> None:
    """The confirmation task, after commit, due when the transaction is (``confirm_after``)."""
    # By name: the tasks module imports this one. robust: with the broker down the transfer stays
    # pending, logged, and the beat sweep confirms it.
    tx_id, due = tx.tx_id, tx.confirm_after
    transaction.on_commit(lambda: current_app.send_task(CONFIRM_TASK, args=[tx_id], eta=due), robust=True)


CONFIRM_TASK = "wallet.tasks.external_confirm_task"


@retried_on_conflict
def external_transfer_confirm(*, tx_id: str, draw: external.Draw = random.random) -> GatewayTransfer | None:
    """Decide a pending external transaction (confirmed, or failed: ``draw() < FAILURE_RATE``), then
    in the same transaction: its GatewayTransfer follows, the ledger mirrors what moved (vault in:
    external_clearing → escrow_external; out: the reverse; the network fee: external_clearing →
    network_fees) and the reference's handler runs. A second or late delivery changes nothing."""
    with transaction.atomic():
        tx = external.external_transaction_decide(tx_id=tx_id, draw=draw)
        if tx is None:
            return None
        moved = GatewayTransfer.objects.select_for_update().get(gateway=Gateway.EXTERNAL, tx_id=tx_id)
        moved.status, moved.network_fee = tx.status, tx.network_fee
        moved.confirmed_at, moved.failure_reason = tx.confirmed_at, tx.failure_reason
        moved.save(update_fields=["status", "network_fee", "confirmed_at", "failure_reason"])
        if moved.status == GatewayTransfer.Status.CONFIRMED:
            _mirror(moved)
        gateway_transfer_decided(moved)
    return moved


def _mirror(moved: GatewayTransfer) -> None:
    vault = house_account(Account.House.ESCROW_EXTERNAL)
    clearing = house_account(Account.House.EXTERNAL_CLEARING)
    debit, credit = (clearing, vault) if moved.direction == GatewayTransfer.Direction.IN else (vault, clearing)
    common = {"reference_type": moved.reference_type, "reference_id": moved.reference_id,
              "metadata": {"tx_id": moved.tx_id}}
    specs = [TransferSpec(debit=debit, credit=credit, amount=moved.amount, kind=KIND[moved.purpose],
                          idempotency_key=f"external:{moved.tx_id}", **common)]
    if moved.network_fee:
        specs.append(TransferSpec(debit=clearing, credit=house_account(Account.House.NETWORK_FEES),
                                  amount=moved.network_fee, kind=Transfer.Kind.NETWORK_FEE,
                                  idempotency_key=f"external:{moved.tx_id}:fee", **common))
    transfers_create(specs)


def external_confirm_sweep(*, now: Any = None) -> int:
    """Confirm every external transaction overdue by the sweep's grace (a lost or late task), so no
    money is stranded pending; the number decided now."""
    return sum(external_transfer_confirm(tx_id=tx_id) is not None
               for tx_id in external.external_transactions_overdue(now=now))


_GATEWAYS: dict[str, WalletGateway] = {Gateway.INTERNAL: InternalGateway(), Gateway.EXTERNAL: ExternalGateway()}
