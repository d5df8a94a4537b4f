"""The placement function itself (betting/sql/placement.py; tests/test_sql_functions.py checks the text installed):
every refusal code run dry and placing, exact money, and its lock order."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from audit.context import Actor
from betting import slips
from betting.services import bet_place
from betting.settlement import bet_settle_manual
from betting.slips import slip_parse, slip_run
from betting.sql.placement import SLIP_FUNCTION
from ledger.money import largest_stake_within
from risk.models import LimitProfile, OutcomeExposure, PlayerRestriction
from tests.betting.test_bet_refusals import CASES
from tests.conftest import bets_snapshot, locks_held_while_waiting, outcome_of, selection, wallet_of

# The slip codes the function answers (invalid_amount is refused by slip_parse, before it).
FUNCTION_CASES = [case for case, _ in CASES if case.__name__ != "invalid_amount"]


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


def test_a_loss_is_the_periods_stakes_less_what_came_back_and_the_velocity_window_its_own_bets(
        player, make_user, make_event, monkeypatch):
    # given three bets of 10.00 placed now, one of them won at 2.50 (25.00 back to the wallet)
    bets = [bet_place(player=player, selections=[selection(make_event())], stake="10.00", bet_type="single",
                      actor=Actor.of(player)) for _ in range(3)]
    bet_settle_manual(bet_id=bets[0].pk, result="won", reason="test", actor=Actor.of(make_user("trader")))
    # and a 24-hour loss limit of 30.00, and a velocity limit of 2 bets a minute
    PlayerRestriction.objects.create(player=player, loss_day=Decimal("30.00"))
    LimitProfile.objects.update_or_create(scope="global", defaults={"velocity_max_bets": 2,
                                                                    "velocity_window_seconds": 60})
    placed_at = timezone.now()

    def tried(stake: str, *, later: timedelta):
        monkeypatch.setattr(slips, "timezone", SimpleNamespace(now=lambda: placed_at + later))
        slip = slip_parse(selections=[selection(make_event())], stake=stake, bet_type="single")
        return slip_run(place=False, player=player, slip=slip, actor=Actor.of(player))

    # when 25.00 and 25.01 are tried two minutes on (out of the velocity window), and 30.00 a day and a second on
    passes, refused = tried("25.00", later=timedelta(minutes=2)), tried("25.01", later=timedelta(minutes=2))
    next_day = tried("30.00", later=timedelta(hours=24, seconds=1))
    # then the loss is 10 + 10 + 10 - 25 = 5.00, so 25.00 is the most that passes; a day on, none of it counts
    assert passes.violations == [] and next_day.violations == []
    assert [(v.error, v.details) for v in refused.violations] == [
        ("loss_limit", {"limit": "30.00", "period": "day", "used": "5.00", "remaining": "25.00"})]
    # and the velocity window (2 bets a minute) counts only the bets inside it
    assert [v.error for v in tried("1.00", later=timedelta(seconds=1)).violations] == ["velocity_limit"]


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


def _locks_of_a_placement_waiting_on(held: tuple[str, str, int], player, selections, probes) -> dict:
    """Which of the rows ``probes`` a placement of ``selections`` holds while it waits on ``held``."""
    def place():
        bet_place(player=player, selections=selections, stake="1.00",
                  bet_type="single" if len(selections) == 1 else "multiple", actor=Actor.of(player))
        return "placed"

    taken, result = locks_held_while_waiting(held, place, probes)
    assert result == "placed"
    return taken


@concurrent
def test_the_wallet_is_locked_after_the_book(make_user, make_event):
    """Waiting on its wallet, a placement already holds the book's rows it read."""
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    outcome = outcome_of(event)
    book = [("events_event", "id", event.pk), ("events_market", "id", outcome.market_id),
            ("events_outcome", "id", outcome.pk)]
    taken = _locks_of_a_placement_waiting_on(("ledger_account", "owner_id", player.pk), player,
                                             [selection(event)], book)
    assert taken == dict.fromkeys(book, True)
    assert wallet_of(player).balance == Decimal("99.00")


@concurrent
def test_the_book_is_locked_events_then_markets_then_outcomes(make_user, make_event):
    """The operator services' order: waiting on the market, a placement holds the event, not the outcome."""
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    outcome = outcome_of(event)
    taken = _locks_of_a_placement_waiting_on(
        ("events_market", "id", outcome.market_id), player, [selection(event)],
        [("events_event", "id", event.pk), ("events_outcome", "id", outcome.pk),
         ("ledger_account", "owner_id", player.pk)])
    assert list(taken.values()) == [True, False, False], taken


@concurrent
def test_a_multiples_exposure_counters_are_taken_in_outcome_order(make_user, make_event):
    """Waiting on the higher outcome's counter, a multiple holds the lower one's (exposure_release
    locks them in that order too), and its wallet."""
    player = make_user(balance="100.00")
    low, high = sorted([make_event(), make_event()], key=lambda e: outcome_of(e).pk)
    for event in (low, high):  # the counters exist
        bet_place(player=player, selections=[selection(event)], stake="1.00", bet_type="single",
                  actor=Actor.of(player))
    counters = "risk_outcomeexposure"
    taken = _locks_of_a_placement_waiting_on(
        (counters, "outcome_id", outcome_of(high).pk), player, [selection(high), selection(low)],
        [(counters, "outcome_id", outcome_of(low).pk), ("ledger_account", "owner_id", player.pk)])
    assert list(taken.values()) == [True, True], taken
    assert OutcomeExposure.objects.get(outcome=outcome_of(high)).bets == 2


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
