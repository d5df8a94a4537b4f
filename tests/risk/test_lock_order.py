"""Lock order on the money path: exposure counters are locked in id order by reservation and release
alike, and a deadlock or serialization failure is retried, never a 500."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.db.models import F

from audit.context import Actor
from betting.services import bet_place
from core.db import RETRY_ATTEMPTS, retried_on_conflict
from core.errors import DomainError
from risk.exposure import exposure_release
from risk.models import OutcomeExposure
from tests.conftest import outcome_of, selection, threads_stop, wallet_of

concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _waiting_on_a_lock(count: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] >= count


def _until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@concurrent
def test_a_release_waits_behind_a_multiples_reservation_instead_of_deadlocking(make_user, make_event):
    # given the higher outcome's counter written first (a release reading the table in its physical
    # order would lock it first), and bets on both outcomes to release
    low, high = sorted([outcome_of(make_event()), outcome_of(make_event())], key=lambda o: o.pk)
    player = make_user(balance="100.00")
    for outcome in (high, low):
        bet_place(player=player, selections=[selection(outcome.market.event)], stake="1.00", bet_type="single",
                  actor=Actor.of(player))
    reserved_low, go_on, errors = threading.Event(), threading.Event(), []

    def reserve(outcome):  # what a placement's reservation does to a counter: an UPDATE that locks it
        OutcomeExposure.objects.filter(outcome=outcome).update(
            stakes=F("stakes") + Decimal("1.00"), worst_case_payout=F("worst_case_payout") + Decimal("6.25"),
            bets=F("bets") + 1)

    def reserve_a_multiple():  # holds the lower counter, then takes the higher one
        try:
            with transaction.atomic():
                reserve(low)
                reserved_low.set()
                assert go_on.wait(10)
                reserve(high)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def release_both():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Read the counters as the planner would on a large book: a scan in table order.
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_bitmapscan = off")
                exposure_release(bets=[([low.pk, high.pk], Decimal("1.00"), Decimal("2.50"))])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reserve_a_multiple, daemon=True),
               threading.Thread(target=release_both, daemon=True)]
    try:
        threads[0].start()
        assert reserved_low.wait(10)
        # when the release starts while the reservation holds the lower counter
        threads[1].start()
        _until(lambda: _waiting_on_a_lock(1))
        go_on.set()
        for thread in threads:
            thread.join(20)
    finally:
        go_on.set()
        threads_stop(threads)
    # then both went through: the release queued on the lower counter holding nothing else
    assert errors == []
    counters = dict(OutcomeExposure.objects.values_list("outcome_id", "worst_case_payout"))
    assert counters == {low.pk: Decimal("6.25"), high.pk: Decimal("6.25")}


@concurrent
def test_a_deadlocked_money_transaction_is_run_again(make_user):
    # given two transactions that lock two wallets in opposite orders (what the lock helpers never do)
    first, second = wallet_of(make_user(balance="10.00")), wallet_of(make_user(balance="10.00"))
    both_hold_one = threading.Barrier(2)
    attempts: list[str] = []

    @retried_on_conflict
    def lock(name: str, order: list[int]) -> str:
        attempts.append(name)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE", [order[0]])
            if attempts.count(name) == 1:
                both_hold_one.wait(10)
            cursor.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE", [order[1]])
        return name

    results: dict[str, object] = {}

    def run(name, order):
        try:
            results[name] = lock(name, order)
        except Exception as exc:
            results[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=("a", [first.pk, second.pk]), daemon=True),
               threading.Thread(target=run, args=("b", [second.pk, first.pk]), daemon=True)]
    try:
        # when PostgreSQL detects the deadlock and aborts one of them
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        threads_stop(threads, barrier=both_hold_one)
    # then the aborted one ran again and both finished
    assert results == {"a": "a", "b": "b"}
    assert sorted(attempts) in (["a", "a", "b"], ["a", "b", "b"])


def test_a_conflict_that_persists_is_a_409_not_a_500():
    # given a transaction PostgreSQL aborts every time
    from django.db import OperationalError
    from psycopg import errors as pg_errors

    calls = []

    @retried_on_conflict
    def always_deadlocked():
        calls.append(1)
        try:
            raise pg_errors.DeadlockDetected("deadlock detected")
        except pg_errors.DeadlockDetected as cause:
            raise OperationalError("deadlock detected") from cause

    # when
    with pytest.raises(DomainError) as refused:
        always_deadlocked()
    # then it was tried the bounded number of times and refused with a code
    assert len(calls) == RETRY_ATTEMPTS
    assert (refused.value.status, refused.value.code) == (409, "concurrent_change")
