"""Redis down after commit: the change stands, the callbacks after the live message still run, and the
lost message is logged and counted (``live.failures``). The edge is real: the live publisher's Redis
client points at a port nobody listens on."""

import json
import logging
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from audit.context import Actor
from betting.models import Bet
from core import live
from events.models import Event, Market, Outcome
from events.services import market_suspend, outcome_price_feed
from feed.ingest import Ingestor
from tests.conftest import selection, wallet_of

committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_down(monkeypatch):
    """Call it to make the live publisher's Redis unreachable; it returns the failures counted since.
    (Tests look at their own kinds only: a batch window opened by a given step may end at any time.)"""
    def go_down():
        monkeypatch.setattr(live, "_redis_client", live._connect(f"redis://127.0.0.1:{_closed_port()}/0"))
        before = live.failures.copy()
        return lambda: live.failures - before

    return go_down


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escaped a thread (a window's timer)."""
    errors = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    return errors


def _logged_failures(caplog, kind):
    return [r for r in caplog.records if r.name == "core.live" and r.levelno == logging.ERROR
            and f"live {kind} message failed" in r.getMessage() and r.exc_info]


@committed
def test_a_price_change_commits_and_the_callbacks_after_it_run_when_redis_is_down(make_event, redis_down, caplog):
    # given
    event = make_event(home="2.50")
    home = selection(event)["outcome_id"]
    later = []
    failures = redis_down()
    # when
    with transaction.atomic():
        outcome_price_feed(outcome_id=home, price="2.60")
        transaction.on_commit(lambda: later.append("ran"))
    # then
    assert Outcome.objects.get(pk=home).price == Decimal("2.600")
    assert later == ["ran"]
    assert failures()["prices"] == 1
    assert len(_logged_failures(caplog, "prices")) == 1


@committed
def test_a_market_change_commits_when_redis_is_down(make_event, redis_down, caplog):
    # given
    market = make_event().markets.get()
    failures = redis_down()
    # when
    market_suspend(market_id=market.pk, actor=Actor.system("trader"), reason="goal")
    # then
    assert Market.objects.get(pk=market.pk).status == "suspended"
    assert failures()["market"] == 1
    assert len(_logged_failures(caplog, "market")) == 1


@committed
def test_a_deposit_through_the_api_succeeds_when_redis_is_down(api, player, redis_down, caplog):
    # given
    failures = redis_down()
    # when
    response = api(player).post("/api/v1/wallet/deposits", {"amount": "25.00"}, format="json")
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["balance"] == "1025.00"
    assert wallet_of(player).balance == Decimal("1025.00")
    assert failures()["user"] == 1
    assert len(_logged_failures(caplog, "user")) == 1


@committed
def test_a_bet_placed_through_the_api_succeeds_when_redis_is_down(api, player, make_event, redis_down):
    # given
    event = make_event()
    slip = {"selections": [selection(event)], "stake": "10.00", "bet_type": "single", "odds_change": "none"}
    failures = redis_down()
    # when
    response = api(player).post("/api/v1/bets", slip, format="json")
    # then
    assert response.status_code == 201, response.json()
    assert Bet.objects.get(pk=response.json()["id"]).status == "accepted"
    assert wallet_of(player).balance == Decimal("990.00")
    assert failures()["user"] >= 1  # the bet and the wallet messages, in one commit or two


@committed
def test_the_feed_goes_on_applying_lines_when_redis_is_down(redis_down):
    # given
    ingestor = Ingestor()
    failures = redis_down()
    created = {"type": "event_created", "source": "test", "event": "down-1", "seq": 1, "ts": "2026-11-22T10:00:00Z",
               "home": "Reds", "away": "Blues", "sport": "football", "competition": "Feed Cup",
               "start_time": "2026-11-22T10:00:00Z", "markets": [
                   {"market": "down-1:mr", "kind": "match_result",
                    "prices": {"home": "2.10", "draw": "3.30", "away": "3.40"}}]}
    prices = {**{k: created[k] for k in ("type", "source", "event", "ts")}, "type": "prices", "seq": 2,
              "prices": [{"market": "down-1:mr", "outcome": "home", "price": "2.20"}]}
    # when
    applied = [ingestor.line(json.dumps(message)) for message in (created, prices)]
    # then
    assert applied == [True, True] and not ingestor.refused
    assert Event.objects.get(external_ref="down-1").feed_seq == 2
    assert Outcome.objects.get(market__external_ref="down-1:mr", key="home").price == Decimal("2.200")
    assert (failures()["event"], failures()["prices"]) == (1, 1)


@committed
def test_redis_going_down_during_a_price_window_is_counted_not_raised_in_the_timer(
        make_event, settings, redis_down, thread_errors):
    # given a price change that went at once and opened its event's window
    settings.LIVE_CONFLATION_MS = 1_000
    event = make_event()
    home, draw = selection(event, "home")["outcome_id"], selection(event, "draw")["outcome_id"]
    outcome_price_feed(outcome_id=home, price="2.60")
    outcome_price_feed(outcome_id=draw, price="3.30")  # pending until the window ends
    # when Redis goes away before the window ends
    failures = redis_down()
    time.sleep(2)
    # then the timer counted the failure and stopped; nothing escaped the thread
    assert failures()["prices"] == 1
    assert thread_errors == []


@committed
def test_a_redis_that_hangs_holds_a_committed_deposit_for_seconds_not_for_ever(api, player, monkeypatch):
    # given a Redis that takes connections and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setattr(live, "_redis_client", live._connect(f"redis://127.0.0.1:{silent.getsockname()[1]}/0"))
        before, responses = live.failures.copy(), []

        def deposit():
            try:
                responses.append(api(player).post("/api/v1/wallet/deposits", {"amount": "25.00"}, format="json"))
            finally:
                connection.close()

        # when
        started = time.monotonic()
        request = threading.Thread(target=deposit, daemon=True)
        request.start()
        request.join(30)
        took = time.monotonic() - started
    # then: two attempts of REDIS_TIMEOUT each, and the deposit stands
    assert not request.is_alive() and took < 4 * live.REDIS_TIMEOUT
    assert responses[0].status_code == 201 and wallet_of(player).balance == Decimal("1025.00")
    assert (live.failures - before)["user"] == 1


@committed
def test_a_result_stands_when_the_broker_is_down_and_the_sweep_settles_it(api, make_user, make_event, monkeypatch,
                                                                          caplog):
    # given a bet on an event, and a broker that refuses every task (the edge: kombu's error)
    from celery import current_app
    from kombu.exceptions import OperationalError

    from betting.services import bet_place
    from betting.settlement import markets_pending_settlement, markets_settle

    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    bet = bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                    actor=Actor.of(player))

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    # when the trader enters the result
    response = api(make_user("trader")).post(f"/api/v1/events/{event.pk}/result",
                                             {"home_score": 1, "away_score": 0}, format="json")
    # then the result is committed and answered, the lost task is logged, and the sweep settles the bet
    assert response.status_code == 202, response.content
    assert Event.objects.get(pk=event.pk).score == "1-0"
    assert any("on_commit" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    markets_settle(market_ids=markets_pending_settlement())
    bet.refresh_from_db()
    assert (bet.result, bet.payout) == ("won", Decimal("25.00"))
