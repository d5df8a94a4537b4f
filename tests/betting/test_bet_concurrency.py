"""Placement under real concurrency: threads against PostgreSQL."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place
from core.errors import DomainError
from events.services import market_suspend, outcome_price_set
from ledger.selectors import ledger_verify
from risk.models import LimitProfile, OutcomeExposure, PlayerRestriction
from tests.conftest import run_concurrently, selection, threads_stop, wallet_of

concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@concurrent
def test_50_threads_on_one_wallet_accept_exactly_the_affordable_bets(make_user, make_event):
    # given a wallet of 1,000 and 50 slips of 30 each
    player = make_user(balance="1000.00")
    body = selection(make_event(home="2.00"))
    # when they are placed at once
    results = run_concurrently(50, lambda i: bet_place(
        player=player, selections=[body], stake="30.00", bet_type="single", actor=Actor.of(player)))
    # then exactly ⌊1000/30⌋ = 33 are accepted and the rest refused for funds
    placed = [r for r in results if isinstance(r, Bet)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(placed) == 33, [r for r in results if not isinstance(r, Bet | DomainError)]
    assert {r.code for r in refused} == {"insufficient_funds"} and len(refused) == 17
    assert wallet_of(player).balance == Decimal("10.00")
    assert OutcomeExposure.objects.get(outcome_id=body["outcome_id"]).worst_case_payout == Decimal("1980.00")
    assert ledger_verify().ok


@pytest.mark.parametrize("limit", ["velocity", "loss"])
@concurrent
def test_30_threads_on_one_wallet_never_pass_the_players_velocity_or_loss_limit(make_user, make_event, limit):
    """The account checks run with the wallet locked: two bets cannot both pass on the last room."""
    # given a rich wallet and a limit that leaves room for exactly 5 bets of 10
    player = make_user(balance="10000.00")
    if limit == "velocity":
        LimitProfile.objects.create(scope="player", player=player, velocity_max_bets=5)
    else:
        PlayerRestriction.objects.create(player=player, loss_day=Decimal("50.00"))
    body = selection(make_event(home="2.00"))
    # when 30 slips of 10 are placed at once
    results = run_concurrently(30, lambda i: bet_place(
        player=player, selections=[body], stake="10.00", bet_type="single", actor=Actor.of(player)))
    # then exactly 5 are accepted, the rest refused for that limit, and the books agree
    placed = [r for r in results if isinstance(r, Bet)]
    refused = {r.code for r in results if isinstance(r, DomainError)}
    assert len(placed) == 5, [r for r in results if not isinstance(r, Bet | DomainError)]
    assert refused == {f"{limit}_limit"}
    assert wallet_of(player).balance == Decimal("9950.00")
    assert ledger_verify().ok


@concurrent
def test_prices_moving_under_busy_betting_never_strike_a_bet_at_a_stale_price(make_user, make_event):
    # given 8 players betting at 2.50 (policy "none") as fast as they can, while a trader moves the
    # price up tick by tick (never back to 2.50) and then suspends the market
    players = [make_user(balance="1000.00") for _ in range(8)]
    event = make_event(home="2.50")
    outcome_id = selection(event)["outcome_id"]
    stop = threading.Event()
    trader_seconds = []

    def trader():
        started = time.perf_counter()
        time.sleep(0.2)
        for step in range(1, 11):
            outcome_price_set(outcome_id=outcome_id, price=f"{Decimal('2.50') + step * Decimal('0.01')}",
                              reason="race", actor=Actor.system("test"))
        market_suspend(market_id=event.markets.get().pk, actor=Actor.system("test"))
        trader_seconds.append(time.perf_counter() - started)
        stop.set()

    def bettor(i):
        if i == 0:
            return trader()
        seen = []
        while not stop.is_set():
            try:
                bet_place(player=players[i - 1], selections=[{"outcome_id": outcome_id, "price": "2.50"}],
                          stake="1.00", bet_type="single", actor=Actor.of(players[i - 1]))
                seen.append("placed")
            except DomainError as refusal:
                seen.append(refusal.code)
        return seen

    # when
    results = run_concurrently(9, bettor)
    # then bets were taken, then refused, and every one taken is at 2.50
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = {code for seen in results[1:] for code in seen}
    assert "placed" in codes and codes <= {"placed", "odds_changed", "market_unavailable", "velocity_limit"}
    assert set(Bet.objects.values_list("legs__price", flat=True)) == {Decimal("2.500")}
    # a trader is not starved by the share locks of busy betting
    assert trader_seconds[0] < 15, trader_seconds
    assert ledger_verify().ok


def _waiting_on_a_lock() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] > 0


def _until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _held_open(work, reached: threading.Event, go: threading.Event):
    """A thread that runs ``work`` in a transaction and keeps it open (its locks held) until ``go``."""
    from django.db import connections, transaction

    def run():
        try:
            with transaction.atomic():
                work()
                reached.set()
                assert go.wait(10)
        finally:
            connections.close_all()

    return threading.Thread(target=run, daemon=True)


def _place_while_a_change_is_uncommitted(player, body, change) -> list[str]:
    """Run ``change`` in a transaction left open, place ``body`` meanwhile (it waits on the changed
    rows' locks in its one statement), then commit the change; the placement's outcome."""
    changed, go = threading.Event(), threading.Event()
    trader = _held_open(change, changed, go)
    results: list[str] = []
    placing = threading.Thread(target=lambda: results.append(_attempt(player, body)), daemon=True)
    try:
        trader.start()
        assert changed.wait(10)
        placing.start()
        _until(_waiting_on_a_lock)
        assert not results  # the bet waits for the change
        go.set()
        trader.join()
        placing.join()
    finally:
        go.set()
        threads_stop([trader, placing])
    return results


@concurrent
@pytest.mark.parametrize(("change", "code"), [("price", "odds_changed"), ("suspend", "market_unavailable")])
def test_a_change_committed_while_a_bet_waits_for_it_refuses_the_bet(make_user, make_event, change, code):
    # given a bet at 2.50 arriving while a trader's change has not committed yet
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    body = selection(event)

    def trader():
        if change == "price":
            outcome_price_set(outcome_id=body["outcome_id"], price="2.40", reason="race", actor=Actor.system("t"))
        else:
            market_suspend(market_id=event.markets.get().pk, actor=Actor.system("t"))

    # when the change commits
    results = _place_while_a_change_is_uncommitted(player, body, trader)
    # then the bet, which read the book under share locks, is refused and left no trace
    assert results == [code]
    assert not Bet.objects.exists() and wallet_of(player).balance == Decimal("100.00")
    assert not OutcomeExposure.objects.filter(worst_case_payout__gt=0).exists()


@concurrent
def test_a_bet_whose_event_goes_live_while_it_waits_waits_the_in_play_delay(make_user, make_event):
    from events.services import event_start

    # given a pre-match bet arriving while the game's kick-off has not committed yet
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    body = selection(event)
    # when the kick-off commits
    results = _place_while_a_change_is_uncommitted(
        player, body, lambda: event_start(event_id=event.pk, actor=Actor.system("feed")))
    # then the bet is in play: placed, waiting the sport's delay, not accepted at once
    assert results == ["placed"]
    bet = Bet.objects.get()
    assert (bet.status, bet.in_play, bet.accepted_at) == (Bet.Status.PLACED, True, None)
    delay = event.sport.inplay_delay_seconds
    assert delay > 0 and bet.accept_after >= bet.placed_at + timedelta(seconds=delay - 1)


@concurrent
def test_a_change_that_starts_after_the_bet_read_the_book_waits_for_the_bet(make_user, make_event):
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    body = selection(event)
    placed, go = threading.Event(), threading.Event()
    results, changed_at = [], []
    # the bet's transaction kept open after its statement: its share locks are held until it commits
    placing = _held_open(lambda: results.append(_attempt(player, body, close=False)), placed, go)
    trader = threading.Thread(target=lambda: (market_suspend(market_id=event.markets.get().pk,
                                                             actor=Actor.system("t")),
                                              changed_at.append(time.perf_counter())), daemon=True)
    try:
        placing.start()
        assert placed.wait(10)
        trader.start()
        time.sleep(0.5)
        assert not changed_at  # the suspension is waiting for the bet
        released_at = time.perf_counter()
        go.set()
        placing.join()
        trader.join()
    finally:
        go.set()
        threads_stop([placing, trader])
    assert results == ["placed"] and changed_at[0] > released_at


def _attempt(player, body, *, close=True):
    try:
        bet_place(player=player, selections=[body], stake="10.00", bet_type="single", actor=Actor.of(player))
        return "placed"
    except DomainError as refusal:
        return refusal.code
    finally:
        if close:
            from django.db import connections

            connections.close_all()


@concurrent
def test_identical_requests_with_one_idempotency_key_place_one_bet(api, make_user, make_event):
    player = make_user(balance="100.00")
    client = api(player)
    body = {"selections": [selection(make_event())], "stake": "10.00", "bet_type": "single"}
    responses = run_concurrently(12, lambda i: client.post("/api/v1/bets", body, format="json",
                                                           HTTP_IDEMPOTENCY_KEY="same-slip"))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Bet.objects.count() == 1 and wallet_of(player).balance == Decimal("90.00")


@concurrent
def test_exposure_cap_holds_under_concurrent_bets(make_user, make_event):
    from risk.models import ExposureCap

    ExposureCap.objects.create(cap=Decimal("1000.00"))
    body = selection(make_event(home="2.00"))
    players = [make_user(balance="500.00") for _ in range(20)]
    started = time.perf_counter()
    results = run_concurrently(20, lambda i: bet_place(
        player=players[i], selections=[body], stake="100.00", bet_type="single", actor=Actor.of(players[i])))
    assert time.perf_counter() - started < 60
    placed = [r for r in results if isinstance(r, Bet)]
    assert len(placed) == 5  # 5 × 200 = 1,000: the cap exactly
    assert {r.code for r in results if isinstance(r, DomainError)} == {"exposure_limit"}
    assert OutcomeExposure.objects.get(outcome_id=body["outcome_id"]).worst_case_payout == Decimal("1000.00")
