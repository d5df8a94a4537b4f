from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from core.errors import InsufficientFunds, InvalidInput
from ledger.models import Transfer
from ledger.selectors import account_balance, ledger_verify
from ledger.services import checkpoint_create, house_account, transfer_create
from tests.conftest import assert_database_refuses, ledger_snapshot, wallet_of


def test_transfer_moves_money_and_records_both_sides(make_user):
    # given
    alice, bob = make_user(balance="100.00"), make_user(balance="5.00")
    # when
    with transaction.atomic():
        row = transfer_create(debit=wallet_of(alice), credit=wallet_of(bob),
                              amount=Decimal("40.00"), kind=Transfer.Kind.CORRECTION)
    # then
    row.refresh_from_db()
    assert (row.debit_balance_before, row.debit_balance_after) == (Decimal("100.00"), Decimal("60.00"))
    assert (row.credit_balance_before, row.credit_balance_after) == (Decimal("5.00"), Decimal("45.00"))
    assert wallet_of(alice).balance == Decimal("60.00")
    assert wallet_of(bob).balance == Decimal("45.00")
    assert row.reference == f"LDG-{row.entry_number:09d}"
    assert ledger_verify().ok


def test_house_side_is_derived_not_stored(make_user):
    # given a deposit: cashier (may go negative) → player
    player = make_user(balance="250.00")
    cashier = house_account("cashier")
    # then the cashier row holds no balance, the transfer no cashier before/after
    row = Transfer.objects.get(credit_account=wallet_of(player))
    assert cashier.balance is None
    assert row.debit_balance_before is None and row.debit_balance_after is None
    assert account_balance(cashier) == Decimal("-250.00")


def test_overdraft_is_refused_and_changes_nothing(make_user):
    # given
    alice, bob = make_user(balance="10.00"), make_user(balance="0.00")
    before = ledger_snapshot()
    # when / then
    with pytest.raises(InsufficientFunds) as refusal, transaction.atomic():
        transfer_create(debit=wallet_of(alice), credit=wallet_of(bob), amount=Decimal("10.01"),
                        kind=Transfer.Kind.CORRECTION)
    assert refusal.value.code == "insufficient_funds"
    assert refusal.value.details["shortfall"] == "0.01"
    assert ledger_snapshot() == before


@pytest.mark.parametrize("amount", [0.5, "0", "-1.00", "1.001", "abc", "NaN", "Infinity", None])
def test_bad_amounts_are_refused(make_user, amount):
    alice, bob = make_user(balance="10.00"), make_user()
    before = ledger_snapshot()
    with pytest.raises(InvalidInput) as refusal, transaction.atomic():
        transfer_create(debit=wallet_of(alice), credit=wallet_of(bob), amount=amount,
                        kind=Transfer.Kind.CORRECTION)
    assert refusal.value.code == "invalid_amount"
    assert ledger_snapshot() == before


def test_transfer_create_needs_the_callers_transaction(make_user, django_db_blocker):
    alice, bob = make_user(balance="10.00"), make_user()
    # pytest-django wraps the test in a transaction; step outside it to see the guard.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError, match="inside"):
            transfer_create(debit=wallet_of(alice), credit=wallet_of(bob), amount="1.00",
                            kind=Transfer.Kind.CORRECTION)
    finally:
        connection.in_atomic_block = saved


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_transfer SET amount = amount + 1",
    "DELETE FROM ledger_transfer",
    "TRUNCATE ledger_transfer CASCADE",
])
def test_database_refuses_to_change_transfers(player, statement):
    assert_database_refuses(statement)
    assert Transfer.objects.count() == 1


def test_database_refuses_a_negative_stored_balance(player):
    assert_database_refuses(f"UPDATE ledger_account SET balance = -0.01 WHERE owner_id = {player.pk}",
                            match="account_balance_not_negative")


def test_database_refuses_an_unbalanced_transfer_row(player):
    wallet, cashier = wallet_of(player), house_account("cashier")
    with pytest.raises(IntegrityError, match="transfer_credit_side_balanced"), transaction.atomic():
        Transfer.objects.create(debit_account=cashier, credit_account=wallet, amount=Decimal("5"),
                                kind="correction", credit_balance_before=Decimal("1000.00"),
                                credit_balance_after=Decimal("1006.00"))


def test_checkpoint_then_more_transfers_keep_derived_balances_exact(make_user):
    # given
    first = make_user(balance="100.00")
    checkpoints = checkpoint_create()
    # when more money moves after the checkpoint
    make_user(balance="50.00")
    with transaction.atomic():
        transfer_create(debit=wallet_of(first), credit=house_account("revenue"),
                        amount=Decimal("30.00"), kind=Transfer.Kind.BET_STAKE_WON)
    # then
    assert {c.account.code: c.balance for c in checkpoints}["house:cashier"] == Decimal("-100.00")
    assert account_balance(house_account("cashier")) == Decimal("-150.00")
    assert account_balance(house_account("revenue")) == Decimal("30.00")
    assert checkpoint_create()  # a second checkpoint covers the new transfers
    report = ledger_verify()
    assert report.ok, report.problems
    assert report.total == 0
