"""The code that moves money: every movement is one ``Transfer`` written by ``transfers_create``, or by
one of the betting app's database functions (placement, challenge settlement: betting/sql/), which
write the same rows by the same rules (balance-storing accounts locked in id order, balances before
and after, never below zero)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from core import live
from core.db import all_rows, first_row, insert_values, instance
from core.decimals import exact_decimal, has_at_most
from core.errors import InsufficientFunds, InvalidInput
from ledger.models import Account, Checkpoint, Transfer
from ledger.money import CENT
from ledger.selectors import net_by_account
from ledger.sql import ACCOUNTS_LOCK

MONEY_CEILING = Decimal(10) ** 16  # NUMERIC(18,2)


def money_validate(amount: Any, *, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimals that fits NUMERIC(18,2), or ``invalid_amount``."""
    value = exact_decimal(amount, code="invalid_amount", field=field, example="10.50")
    if value <= 0:
        raise InvalidInput("The amount must be greater than zero.", code="invalid_amount",
                           details={"field": field})
    if value >= MONEY_CEILING:
        raise InvalidInput("The amount is too large.", code="invalid_amount", details={"field": field})
    if not has_at_most(value, 2):
        raise InvalidInput("The amount can have at most two decimals.", code="invalid_amount",
                           details={"field": field})
    return value.quantize(CENT)


def house_account(code: str) -> Account:
    account = first_row(Account, code=f"house:{code}")
    if account is None:
        raise Account.DoesNotExist(f"No house account {code!r} (the ledger migrations create them).")
    return account


def house_accounts(codes: set[str]) -> dict[str, Account]:
    """House accounts by code, in one read (a settlement batch touches every escrow shard)."""
    found = {a.code.removeprefix("house:"): a
             for a in all_rows(Account, code__in=[f"house:{code}" for code in codes])}
    if len(found) != len(codes):
        raise Account.DoesNotExist(f"No house account {sorted(set(codes) - set(found))} (the ledger migrations "
                                   f"create them).")
    return found


def escrow_vault_balance() -> Decimal:
    """What the internal escrow vault holds: the sum of its shards' stored balances."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(balance), 0) FROM {Account._meta.db_table} WHERE code = ANY(%s)",
                       [[f"house:{Account.escrow_shard(n)}" for n in range(Account.ESCROW_SHARDS)]])
        return cursor.fetchone()[0].quantize(CENT)


def player_account_open(*, user: Any) -> Account:
    """The player's wallet account, created on first use (idempotent)."""
    account, _ = Account.objects.get_or_create(
        owner=user,
        defaults={
            "code": f"player:{user.pk}",
            "kind": Account.Kind.PLAYER,
            "name": f"Wallet of {user.get_username()}",
            "may_go_negative": False,
            "balance": Decimal("0.00"),
        },
    )
    return account


def transfer_row(
    *, debit: Account, credit: Account, amount: Decimal, kind: str,
    debit_balance_before: Decimal | None, credit_balance_before: Decimal | None,
    reference_type: str = "", reference_id: Any = "", idempotency_key: str | None = None,
    created_by: Any = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a transfer row holds, as column values (``insert_values``): a batch writes thousands."""
    return {
        "debit_account_id": debit.pk,
        "credit_account_id": credit.pk,
        "amount": amount,
        "kind": kind,
        "reference_type": reference_type,
        "reference_id": str(reference_id),
        "idempotency_key": idempotency_key,
        "debit_balance_before": debit_balance_before,
        "debit_balance_after": None if debit_balance_before is None else debit_balance_before - amount,
        "credit_balance_before": credit_balance_before,
        "credit_balance_after": None if credit_balance_before is None else credit_balance_before + amount,
        "created_by_id": getattr(created_by, "pk", None),
        **({"metadata": metadata} if metadata else {}),  # else the field's default, one object for a batch
    }


@dataclass(frozen=True)
class TransferSpec:
    debit: Account
    credit: Account
    amount: Decimal
    kind: str
    reference_type: str = ""
    reference_id: Any = ""
    idempotency_key: str | None = None
    created_by: Any = None
    metadata: dict[str, Any] | None = None


def transfer_create(
    *, debit: Account, credit: Account, amount: Decimal, kind: str,
    reference_type: str = "", reference_id: Any = "", idempotency_key: str | None = None,
    created_by: Any = None, metadata: dict[str, Any] | None = None,
) -> Transfer:
    """Move ``amount`` from ``debit`` to ``credit`` in the caller's transaction (see transfers_create)."""
    return instance(Transfer, transfers_create([TransferSpec(
        debit=debit, credit=credit, amount=amount, kind=kind, reference_type=reference_type,
        reference_id=reference_id, idempotency_key=idempotency_key, created_by=created_by,
        metadata=metadata)])[0])


def transfers_create(specs: list[TransferSpec]) -> list[dict[str, Any]]:
    """Write transfers in the caller's transaction, set-based: the only way money moves.

    Locks the balance-storing accounts involved in id order (so two transactions moving money
    between the same wallets in opposite directions cannot deadlock), refuses with
    ``insufficient_funds`` when one would go below zero, records each side's balance before and
    after in order, then writes every row in one insert and every balance in one update. House
    accounts that may go negative are not locked: their balance is derived from transfers. Returns
    the rows written, as column values with their ``entry_number``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("transfers must be written inside the caller's transaction.atomic()")
    stored_ids = sorted({a.pk for spec in specs for a in (spec.debit, spec.credit) if a.stores_balance})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, balance FROM {ACCOUNTS_LOCK}(%s)", [stored_ids])
        balances = dict(cursor.fetchall())
    rows = []
    for spec in specs:
        amount = money_validate(spec.amount)
        debit_before = balances.get(spec.debit.pk)
        if debit_before is not None and debit_before < amount:
            raise InsufficientFunds(details={"balance": str(debit_before), "amount": str(amount),
                                             "shortfall": str(amount - debit_before)})
        row = transfer_row(
            debit=spec.debit, credit=spec.credit, amount=amount, kind=spec.kind,
            debit_balance_before=debit_before, credit_balance_before=balances.get(spec.credit.pk),
            reference_type=spec.reference_type, reference_id=spec.reference_id,
            idempotency_key=spec.idempotency_key, created_by=spec.created_by, metadata=spec.metadata)
        for account_id, after in ((spec.debit.pk, row["debit_balance_after"]),
                                  (spec.credit.pk, row["credit_balance_after"])):
            if after is not None:
                balances[account_id] = after
        rows.append(row)
    if balances:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {Account._meta.db_table} a SET balance = v.balance
                    FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, balance) WHERE a.id = v.id""",
                [list(balances), list(balances.values())])
    for row, entry_number in zip(rows, insert_values(Transfer, rows), strict=True):
        row["entry_number"] = entry_number
    owners = {}
    for spec in specs:  # keep the caller's objects current
        for account in (spec.debit, spec.credit):
            if account.pk in balances:
                account.balance = balances[account.pk]
                if account.owner_id:
                    owners[account.owner_id] = account.balance
    live.to_users([(owner_id, {"type": "wallet", "balance": str(balance)}) for owner_id, balance in owners.items()])
    return rows


def checkpoint_create() -> list[Checkpoint]:
    """Checkpoint every derived (house) account at the newest committed transfer.

    ``LOCK TABLE ... IN SHARE MODE`` waits for every transaction that is inserting transfers to
    finish and holds new ones back for the few milliseconds the sums take, so no transfer with a
    lower entry number can commit after the checkpoint was taken.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Transfer._meta.db_table} IN SHARE MODE")
        upto = Transfer.objects.aggregate(n=Max("entry_number"))["n"]
        if upto is None:
            return []
        created = []
        for account in Account.objects.filter(may_go_negative=True):
            last = account.checkpoints.order_by("-entry_number").first()
            after = last.entry_number if last else 0
            if after >= upto:
                continue
            since = net_by_account(after=after, upto=upto, account_ids=[account.pk])
            created.append(Checkpoint(
                account=account, entry_number=upto,
                balance=(last.balance if last else Decimal("0.00")) + since.get(account.pk, 0),
            ))
        return Checkpoint.objects.bulk_create(created)
