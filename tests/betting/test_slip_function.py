"""The placement function itself (betting/sql.py, installed by betting/migrations/0011): the text
installed, every refusal code run dry and placing, exact money, and its lock order."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place
from betting.slips import slip_parse, slip_run
from betting.sql import SLIP_FUNCTION, slip_function
from ledger.money import largest_stake_within
from tests.betting.test_bet_refusals import CASES
from tests.conftest import bets_snapshot, outcome_of, selection, threads_stop, wallet_of

# The slip codes the function answers (invalid_amount is refused by slip_parse, before it).
FUNCTION_CASES = [case for case, _ in CASES if case.__name__ != "invalid_amount"]


def test_the_installed_function_is_the_one_in_sql_py(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [SLIP_FUNCTION])
        (installed,) = cursor.fetchone()
    assert installed == slip_function().split("$fn$")[1], "betting/sql.py changed: ship it in a new migration"


@pytest.mark.parametrize("setup", FUNCTION_CASES, ids=[case.__name__ for case in FUNCTION_CASES])
@pytest.mark.parametrize("place", [False, True], ids=["dry", "placing"])
def test_each_refusal_code_is_an_answer_that_writes_nothing(player, make_event, setup, place):
    # given
    body = setup(player, make_event)
    slip = slip_parse(**{"odds_change": None, **body})
    before = bets_snapshot()
    # when (no rollback around it: the function itself must not have written)
    answer = slip_run(place=place, player=player, slip=slip, actor=Actor.of(player))
    # then
    assert setup.__name__ in [v.error for v in answer.violations]
    assert answer.bet_id is None and all(v.message for v in answer.violations)
    assert bets_snapshot() == before


def test_a_dry_run_answers_the_figures_a_placement_would_strike(player, make_event):
    # given five legs at the DESIGN.md "Money" example's prices, max winning 500,000
    prices = ["2.50", "2.20", "1.90", "1.70", "2.00"]
    events = [make_event(home=price) for price in prices]
    slip = slip_parse(selections=[selection(e) for e in events], stake="14072.61", bet_type="multiple")
    # when
    answer = slip_run(place=False, player=player, slip=slip, actor=Actor.of(player))
    # then: exact odds, return rounded down once, the largest stake within the limit
    assert answer.total_odds == Decimal("35.53")
    assert answer.potential_return == Decimal("499999.83")
    assert answer.max_allowed_stake == Decimal("14072.61")
    assert [v.error for v in answer.violations] == ["insufficient_funds"]


@pytest.mark.parametrize(("limit", "odds"), [
    ("500000.00", "35.53"), ("100.00", "2.5"), ("0.00", "3"), ("-5.00", "2"), ("10.00", "1.01"),
    ("999.99", "1.001"), ("1000000.00", "7.123456789"), ("40.00", "4.000000"),
])
def test_the_largest_stake_matches_the_python_rule(db, limit, odds):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {SLIP_FUNCTION}_largest_stake(%s, %s)", [Decimal(limit), Decimal(odds)])
        (found,) = cursor.fetchone()
    assert found == largest_stake_within(Decimal(limit), Decimal(odds))


concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@concurrent
def test_the_wallet_is_locked_after_the_book(make_user, make_event):
    """A placement queued on its wallet already holds its share locks on the book: the order is
    events, markets, outcomes (as the operator services lock them), then the wallet."""
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    body = selection(event)
    outcome = outcome_of(event)
    held, go, results = threading.Event(), threading.Event(), []

    def hold_the_wallet():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM ledger_account WHERE owner_id = %s FOR UPDATE", [player.pk])
                held.set()
                assert go.wait(10)
        finally:
            connections.close_all()

    def place():
        try:
            bet_place(player=player, selections=[body], stake="10.00", bet_type="single", actor=Actor.of(player))
            results.append("placed")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hold_the_wallet, daemon=True), threading.Thread(target=place, daemon=True)]
    try:
        threads[0].start()
        assert held.wait(10)
        threads[1].start()
        deadline = time.monotonic() + 10
        while True:  # until the placement waits on the wallet
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database()")
                if cursor.fetchone()[0]:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # then the outcome it will strike is share-locked: a writer cannot take it
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM events_outcome WHERE id = %s FOR UPDATE NOWAIT", [outcome.pk])
    except Exception as exc:
        locked = exc
    else:
        locked = None
    finally:
        go.set()
        for thread in threads:
            thread.join(20)
        threads_stop(threads)
    assert locked is not None and "could not obtain lock" in str(locked)
    assert results == ["placed"] and Bet.objects.count() == 1
    assert wallet_of(player).balance == Decimal("90.00")


def test_a_placement_sends_one_statement(make_user, make_event):
    from django.test.utils import CaptureQueriesContext

    # given a player whose request has loaded them (their role is read with the user)
    player = make_user(balance="100.00")
    body = selection(make_event())
    actor = Actor.of(player)
    bet_place(player=player, selections=[body], stake="1.00", bet_type="single", actor=actor)
    # when
    with CaptureQueriesContext(connection) as queries:
        bet_place(player=player, selections=[body], stake="1.00", bet_type="single", actor=actor)
    # then
    sent = [q["sql"].split("(")[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sent == [f"SELECT {SLIP_FUNCTION}"], sent
