"""64 threads withdraw from one wallet at once: the row lock must let exactly the affordable ones through."""

import time
from decimal import Decimal

import pytest

from audit.context import Actor
from core.errors import InsufficientFunds
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from tests.conftest import run_concurrently, wallet_of
from wallet.services import wallet_withdraw

THREADS = 64


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_64_concurrent_withdrawals_from_one_wallet(make_user):
    # given a wallet holding B and 64 withdrawals of s each
    balance, amount = Decimal("1000.00"), Decimal("33.00")
    player = make_user(balance=balance)
    # when they all run at once
    started = time.perf_counter()
    results = run_concurrently(
        THREADS, lambda i: wallet_withdraw(user=player, amount=amount, actor=Actor.of(player))
    )
    elapsed = time.perf_counter() - started
    # then exactly ⌊B/s⌋ succeed and every other one is refused for funds
    succeeded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    expected = int(balance // amount)
    print(f"\nhot wallet: {THREADS} attempts, {len(succeeded)} succeeded, {len(refused)} refused "
          f"for funds, {elapsed:.3f} s")
    assert len(succeeded) == expected == 30
    assert len(refused) == THREADS - expected, [r for r in results if isinstance(r, Exception)
                                                and not isinstance(r, InsufficientFunds)]
    assert wallet_of(player).balance == balance - expected * amount >= 0
    assert Transfer.objects.filter(kind=Transfer.Kind.WITHDRAWAL).count() == expected
    # each success saw a distinct balance: the withdrawals were serialised, none lost an update
    afters = sorted(m.balance for m in succeeded)
    assert afters == [balance - k * amount for k in range(expected, 0, -1)]
    assert ledger_verify().ok

