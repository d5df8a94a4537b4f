"""The basketball simulator: four quarters, stat lines that make up the score, prices within the
limits, a result at the end, replayable with a seed; and a whole game ingested end to end."""

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from events.models import Event, Market, Player
from feed.basketball import Offense, fair_probabilities
from feed.ingest import Ingestor
from feed.simulator import Simulator
from feed.wire import dump

START = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
CLOCK = re.compile(r"^(Q[1-4]|OT\d) (\d\d):(\d\d)$")


def games(seed, count=2, sports=("basketball",)):
    """The messages of each event of a run, in time order."""
    by_event = defaultdict(list)
    for at, message in Simulator(games=count, seed=seed, start=START, sports=sports).messages():
        by_event[message["event"]].append((at, message))
    return by_event


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_seeded_game_plays_four_quarters_and_its_stat_lines_make_up_the_score(seed):
    for messages in games(seed).values():
        created = messages[0][1]
        assert created["type"] == "event_created" and created["sport"] == "basketball"
        roster = {p["player"]: p["team"] for p in created["players"]}
        assert sorted(roster.values()).count("home") == 8 == sorted(roster.values()).count("away")
        lines = {ref: {"points": 0, "rebounds": 0, "assists": 0} for ref in roster}
        periods, times = [], [at for at, _ in messages]
        for _, message in messages:
            if message["type"] == "stats":
                for line in message["players"]:
                    lines[line["player"]] = {k: v for k, v in line.items() if k != "player"}
            if message["type"] == "clock":
                period, minutes, seconds = CLOCK.match(message["clock"]).groups()
                assert int(minutes) * 60 + int(seconds) <= 12 * 60
                periods.append(period)
                # the running score is what the players' running lines add up to
                home = sum(line["points"] for ref, line in lines.items() if roster[ref] == "home")
                away = sum(line["points"] for ref, line in lines.items() if roster[ref] == "away")
                assert message["score"] == f"{home}-{away}"
        # then four quarters (and overtimes only while level), the whistle, then the result
        assert [p for i, p in enumerate(periods) if p not in periods[:i]][:4] == ["Q1", "Q2", "Q3", "Q4"]
        assert [m["type"] for _, m in messages[-2:]] == ["event_finished", "result"]
        result = messages[-1][1]
        final = {line["player"]: line for line in result["players"]}
        assert set(final) == set(roster)
        assert result["home_score"] == sum(final[r]["points"] for r, t in roster.items() if t == "home")
        assert result["away_score"] == sum(final[r]["points"] for r, t in roster.items() if t == "away")
        assert result["home_score"] != result["away_score"]
        assert 120 <= result["home_score"] + result["away_score"] <= 320
        assert times == sorted(times)


def test_prices_stay_within_the_limits_and_markets_are_suspended_only_at_the_breaks():
    for messages in games(7, count=3).values():
        suspensions = [m["reason"] for _, m in messages if m["type"] == "market_suspended"]
        assert set(suspensions) <= {"end of quarter", "half time"} and "half time" in suspensions
        for _, message in messages:
            prices = [p["price"] for p in message.get("prices", [])] if message["type"] == "prices" else []
            prices += [p for m in message.get("markets", []) for p in m["prices"].values()]
            for price in prices:
                assert Decimal("1.01") <= Decimal(price) <= Decimal("100"), message
                assert Decimal(price) == Decimal(price).quantize(Decimal("0.01"))


def test_a_seed_replays_a_mixed_run_exactly():
    def run(seed):
        return [m if isinstance(m, str) else dump(m) for _, m in Simulator(
            games=4, seed=seed, start=START, sports=("football", "basketball")).messages()]

    assert run(9) == run(9) and run(9) != run(10)
    sports = [m["sport"] for m in map(__import__("json").loads, run(9)) if m["type"] == "event_created"]
    assert sports == ["football", "basketball", "football", "basketball"]


def test_the_fair_prices_follow_the_score_the_clock_and_the_strengths():
    strong = Offense(turnover=0.11, foul=0.08, three_share=0.38, two_make=0.55, three_make=0.39, free_throw=0.8)
    weak = Offense(turnover=0.15, foul=0.08, three_share=0.38, two_make=0.47, three_make=0.32, free_throw=0.75)
    assert 0.95 < weak.points()[0] < strong.points()[0] < 1.25

    def chances(**state):
        return fair_probabilities(strong, weak, line=Decimal("210.5"), **state)

    start = chances(seconds_left=2880, home_points=0, away_points=0)
    assert start["match_winner"]["home"] > 0.6
    assert sum(start["match_winner"].values()) == pytest.approx(1)
    assert sum(start["total_points:210.5"].values()) == pytest.approx(1)
    # a big lead late is nearly decided; at the buzzer it is
    assert chances(seconds_left=60, home_points=80, away_points=95)["match_winner"]["away"] > 0.99
    over = chances(seconds_left=0, home_points=110, away_points=101)
    assert over["match_winner"] == {"home": 1.0, "away": 0.0} and over["total_points:210.5"]["over"] == 1.0


@pytest.mark.django_db
def test_a_whole_game_ingests_and_ends_resulted_with_the_final_stat_lines():
    # given
    messages = next(iter(games(11, count=1).values()))
    # when
    ingestor = Ingestor().ingest(dump(m) for _, m in messages)
    # then
    assert not ingestor.refused, ingestor.refused
    event = Event.objects.get()
    result = messages[-1][1]
    assert (event.sport.key, event.status, event.home_score, event.away_score) == (
        "basketball", "finished", result["home_score"], result["away_score"])
    assert re.match(r"^Q4 00:00$|^OT\d 00:00$", event.clock)
    final = {line["player"]: line for line in result["players"]}
    for player in Player.objects.filter(event=event):
        line = final[player.external_ref]
        assert player.stats == {"points": line["points"], "rebounds": line["rebounds"], "assists": line["assists"]}
    for team, score in (("home", event.home_score), ("away", event.away_score)):
        assert sum(Player.objects.filter(event=event, team=team).values_list("points", flat=True)) == score
    winner = "home" if event.home_score > event.away_score else "away"
    assert Market.objects.get(event=event, kind="match_winner").outcomes.get(status="won").key == winner
    assert set(Market.objects.filter(event=event).values_list("status", flat=True)) == {"resulted"}


def test_run_feed_refuses_an_unknown_sport():
    with pytest.raises(CommandError, match="sports"):
        call_command("run_feed", "--sports", "football,curling", "--minute-seconds", "0")
