"""Reads of the ledger: balances, statements and the invariant check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, When, Window

from ledger.models import Account, Transfer

ZERO = Decimal("0.00")


def net_by_account(
    *, after: int = 0, upto: int | None = None, account_ids: list[int] | None = None
) -> dict[int, Decimal]:
    """Credits minus debits per account over transfers with after < entry_number <= upto."""
    transfers = Transfer.objects.filter(entry_number__gt=after)
    if upto is not None:
        transfers = transfers.filter(entry_number__lte=upto)
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for side, sign in (("credit_account", 1), ("debit_account", -1)):
        rows = transfers
        if account_ids is not None:
            rows = rows.filter(**{f"{side}__in": account_ids})
        for row in rows.values(side).annotate(total=Sum("amount")).order_by():
            net[row[side]] += sign * row["total"]
    return dict(net)


def account_balance(account: Account) -> Decimal:
    """The stored balance, or for a derived account its latest checkpoint plus the transfers since."""
    if account.stores_balance:
        return account.balance
    checkpoint = account.checkpoints.order_by("-entry_number").first()
    base, after = (checkpoint.balance, checkpoint.entry_number) if checkpoint else (ZERO, 0)
    return base + net_by_account(after=after, account_ids=[account.pk]).get(account.pk, ZERO)


def account_statement(account: Account) -> QuerySet[Transfer]:
    """The account's transfers, newest first."""
    return (
        Transfer.objects.filter(Q(debit_account=account) | Q(credit_account=account))
        .select_related("debit_account", "credit_account")
        .order_by("-entry_number")
    )


def account_statement_with_balance(account: Account) -> QuerySet[Transfer]:
    """The account's transfers, newest first, each annotated in SQL with ``signed_amount`` (+ credit,
    − debit) and ``running_balance``: the sum of every signed amount up to and including it.

    The window runs over all of the account's transfers before any LIMIT, so a page of the statement
    still carries the balance of the whole history (a window function, not N queries).
    """
    signed = Case(When(credit_account=account, then=F("amount")), default=-F("amount"),
                  output_field=DecimalField(max_digits=18, decimal_places=2))
    return (
        account_statement(account)
        .annotate(signed_amount=signed,
                  running_balance=Window(Sum(signed), order_by=F("entry_number").asc()))
        .order_by("-entry_number")
    )


@dataclass
class LedgerReport:
    accounts: int = 0
    transfers: int = 0
    total_stored: Decimal = ZERO
    total_derived: Decimal = ZERO
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total(self) -> Decimal:
        return self.total_stored + self.total_derived


@contextmanager
def snapshot_read() -> Iterator[None]:
    """Every read in the block sees one moment of the ledger: a REPEATABLE READ, READ ONLY transaction.

    Read statement by statement (READ COMMITTED), a check sums the transfers at one moment and reads
    the balances at a later one, so a transfer committing in between looks like drift. Inside a
    transaction the caller already holds (a test, a larger report), that transaction is the moment.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


# More invariants, from apps above the ledger that hold money in it (betting: escrow holds exactly the
# stakes of the challenges it holds). Each returns its problem lines and reads inside the check's snapshot.
_CHECKS: dict[str, Callable[[], list[str]]] = {}


def ledger_check_register(name: str, check: Callable[[], list[str]]) -> None:
    """Add an invariant to ``ledger_verify`` (from an ``AppConfig.ready``); a name registers once."""
    _CHECKS[name] = check


def ledger_verify() -> LedgerReport:
    """Check the ledger's invariants (DESIGN.md "Money") in one snapshot; every drift found is one
    problem line.

    - every stored balance equals the credits minus debits of its transfers;
    - every derived account's latest checkpoint matches the transfers up to it;
    - all balances (stored, and derived from checkpoint plus the transfers since) sum to zero;
    - no player balance is below zero;
    - every registered check (``ledger_check_register``) holds.
    """
    with snapshot_read():
        return _ledger_verify()


def _ledger_verify() -> LedgerReport:
    report = LedgerReport()
    net = net_by_account()
    report.transfers = Transfer.objects.count()
    for account in Account.objects.all():
        report.accounts += 1
        actual = net.get(account.pk, ZERO)
        if account.stores_balance:
            report.total_stored += account.balance
            if account.balance != actual:
                report.problems.append(
                    f"{account.code}: stored balance {account.balance} but transfers give {actual}"
                )
            if account.balance < 0:
                report.problems.append(f"{account.code}: balance {account.balance} is below zero")
            continue
        checkpoint = account.checkpoints.order_by("-entry_number").first()
        if checkpoint is not None:
            upto = net_by_account(upto=checkpoint.entry_number, account_ids=[account.pk])
            expected = upto.get(account.pk, ZERO)
            if checkpoint.balance != expected:
                report.problems.append(
                    f"{account.code}: checkpoint at entry {checkpoint.entry_number} holds "
                    f"{checkpoint.balance} but transfers up to it give {expected}"
                )
        report.total_derived += account_balance(account)
    if report.total != ZERO:
        report.problems.append(f"all balances sum to {report.total}, not 0.00")
    for check in _CHECKS.values():
        report.problems.extend(check())
    return report

