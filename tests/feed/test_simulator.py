"""The simulator: reproducible, within limits, and a whole accelerated game played end to end."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place
from betting.settlement import markets_pending_settlement, markets_settle
from core.errors import DomainError
from events.models import Event, Market, Outcome, Sport
from feed.ingest import Ingestor
from feed.pricing import GameState, fair_probabilities
from feed.simulator import Simulator
from feed.wire import dump

START = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def lines(**options):
    return [m if isinstance(m, str) else dump(m) for _, m in Simulator(start=START, **options).messages()]


def test_a_seed_replays_a_run_exactly():
    assert lines(games=3, seed=42) == lines(games=3, seed=42)
    assert lines(games=3, seed=42) != lines(games=3, seed=43)


def test_prices_stay_within_the_limits_and_on_time_order():
    simulator = Simulator(games=4, seed=7, start=START)
    times = []
    for at, message in simulator.messages():
        times.append(at)
        prices = [p["price"] for p in message.get("prices", [])] if message["type"] == "prices" else []
        prices += [p for m in message.get("markets", []) for p in m["prices"].values()]
        prices += list(message.get("prices", {}).values()) if message["type"] == "market_created" else []
        for price in prices:
            assert Decimal("1.01") <= Decimal(price) <= Decimal("100"), message
            assert Decimal(price) == Decimal(price).quantize(Decimal("0.01")), price
    assert times == sorted(times)


@pytest.mark.parametrize("minute", [0, 30, 60, 89])
def test_probabilities_sum_to_one_and_prices_carry_the_margin(minute):
    from feed.pricing import price_book

    state = GameState(1.6, 1.1, float(minute), 1, 0)
    probabilities = fair_probabilities(state, lines=(Decimal("2.5"),))
    for kind, outcomes in probabilities.items():
        assert sum(outcomes.values()) == pytest.approx(2.0 if kind == "double_chance" else 1.0)
    book = price_book(probabilities["match_result"], margin=Decimal("0.05"))
    overround = sum(1 / float(price) for price in book.values())
    assert overround >= 1.05 - 1e-9 or min(book.values()) == Decimal("1.01")


def test_faults_are_refused_or_dropped_and_the_feed_goes_on(db):
    ingestor = Ingestor().ingest(lines(games=2, seed=5, minutes=30,
                                       faults={"duplicates", "malformed", "burst", "cancel-market"}))
    assert ingestor.refused["stale_seq"] > 0
    assert ingestor.refused["invalid_json"] + ingestor.refused["invalid_price"] + ingestor.refused["unknown_event"] > 0
    assert set(Event.objects.values_list("status", flat=True)) == {"finished"}
    assert Market.objects.filter(external_ref__endswith=":btts", status="cancelled").exists()


def test_an_accelerated_game_with_bets_ends_with_every_bet_settled(make_user):
    # given in-play bets are decided at once (the delay path has its own tests)
    Sport.objects.filter(key="football").update(inplay_delay_seconds=0)
    players = [make_user(balance="5000.00") for _ in range(4)]
    ingestor = Ingestor()
    placed, refused_while_suspended = 0, 0
    # when a 30-minute game plays and players bet between its messages
    for i, line in enumerate(lines(games=2, seed=11, minutes=30)):
        assert ingestor.line(line), ingestor.refused
        open_outcomes = list(Outcome.objects.filter(market__status="open", market__event__status="live")
                             .order_by("pk").values_list("pk", "price"))
        suspended = list(Outcome.objects.filter(market__status="suspended").values_list("pk", "price")[:1])
        for outcome_id, price in suspended:
            try:
                bet_place(player=players[0], selections=[{"outcome_id": outcome_id, "price": str(price)}],
                          stake="1.00", bet_type="single", actor=Actor.of(players[0]))
                raise AssertionError("a bet was accepted on a suspended market")
            except DomainError as refusal:
                assert refusal.code == "market_unavailable"
                refused_while_suspended += 1
        if open_outcomes and i % 3 == 0:
            outcome_id, price = open_outcomes[i % len(open_outcomes)]
            player = players[i % len(players)]
            bet_place(player=player, selections=[{"outcome_id": outcome_id, "price": str(price)}],
                      stake="2.00", bet_type="single", odds_change="any", actor=Actor.of(player))
            placed += 1
    # then after full time every bet is settled and the ledger balances
    markets_settle(market_ids=markets_pending_settlement())
    assert placed > 10
    assert Bet.objects.count() == placed
    assert set(Bet.objects.values_list("status", flat=True)) == {"settled"}
    assert not Market.objects.exclude(status__in=["settled", "cancelled"]).exists()
    print(f"\nfeed game: {placed} bets settled, {refused_while_suspended} refused during goal suspensions, "
          f"{dict(ingestor.applied)}")
    call_command("ledger_check")


def test_run_feed_records_a_run_that_ingest_feed_replays_without_applying_twice(db, tmp_path, capsys):
    record = tmp_path / "game.jsonl"
    call_command("run_feed", games=2, seed=3, minute_seconds=0, record=str(record))  # football and basketball
    first = capsys.readouterr().out
    lines_written = record.read_text().splitlines()
    prices = dict(Outcome.objects.values_list("pk", "price"))
    assert "refused: {}" in first and len(lines_written) > 50
    assert sorted(Event.objects.values_list("sport__key", "status")) == [("basketball", "finished"),
                                                                         ("football", "finished")]
    # replaying the recording over the same state changes nothing: every line is already applied
    call_command("ingest_feed", str(record))
    replay = capsys.readouterr().out
    assert "applied: 0 {}" in replay and f"refused: {len(lines_written)}" in replay
    assert dict(Outcome.objects.values_list("pk", "price")) == prices
