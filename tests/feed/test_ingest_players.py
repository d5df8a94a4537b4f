"""Rosters, stat lines and the clock over the wire: applied through the events services, and every
bad line refused with its reason while ingestion goes on."""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from events.models import Event, Player
from feed.ingest import Ingestor
from tests.conftest import audit_rows
from tests.feed.test_ingest import msg

TS = "2026-11-22T19:00:00Z"
ROSTER = [{"player": "b-1:p1", "name": "Jay Brooks", "team": "home"},
          {"player": "b-1:p2", "name": "Luis Moreno", "team": "away"}]


def created(event="b-1", players=ROSTER, **overrides):
    return msg("event_created", 1, event=event, **{
        "home": "Harbour Hawks", "away": "Valley Comets", "sport": "basketball", "competition": "Feed Hoops",
        "start_time": TS, "players": players,
        "markets": [{"market": f"{event}:mw", "kind": "match_winner", "prices": {"home": "1.80", "away": "2.00"}},
                    {"market": f"{event}:tp", "kind": "total_points", "line": "215.5",
                     "prices": {"over": "1.90", "under": "1.90"}}],
        **overrides})


def lines():
    return {p.external_ref: p.stats for p in Player.objects.order_by("pk")}


@pytest.fixture
def ingestor(db):
    return Ingestor()


def test_a_roster_its_running_lines_the_clock_and_the_final_lines_are_applied(ingestor):
    # when
    ingestor.ingest([
        created(),
        msg("event_started", 2, event="b-1"),
        msg("stats", 3, event="b-1", players=[{"player": "b-1:p1", "points": 2}]),
        msg("clock", 4, event="b-1", clock="Q1 11:32", score="2-0"),
        msg("stats", 5, event="b-1", players=[{"player": "b-1:p1", "points": 5, "assists": 1},
                                               {"player": "b-1:p2", "rebounds": 3}]),
        msg("event_finished", 6, event="b-1"),
        msg("result", 7, event="b-1", home_score=101, away_score=99,
            players=[{"player": "b-1:p1", "points": 31, "rebounds": 4, "assists": 8},
                     {"player": "b-1:p2", "points": 27, "rebounds": 11, "assists": 2}]),
    ])
    # then
    assert not ingestor.refused, ingestor.refused
    event = Event.objects.get(external_ref="b-1")
    assert (event.clock, event.live_score, event.score) == ("Q1 11:32", "2-0", "101-99")
    assert lines() == {"b-1:p1": {"points": 31, "rebounds": 4, "assists": 8},
                       "b-1:p2": {"points": 27, "rebounds": 11, "assists": 2}}
    assert [p.team for p in Player.objects.order_by("pk")] == ["home", "away"]
    assert audit_rows("event.player_stats", "success").count() == 2


@pytest.mark.parametrize(("line", "reason"), [
    (msg("stats", 9, event="b-1", players=[{"player": "b-9:p1", "points": 2}]), "unknown_player"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "points": "2"}]), "invalid_field"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "points": True}]), "invalid_field"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "steals": 2}]), "unknown_field"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "points": -2}]), "rejected_by_service"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "points": 1000}]), "rejected_by_service"),
    (msg("stats", 9, event="b-1", players=[{"player": "b-1:p1", "points": 2}, {"player": "b-1:p1", "points": 3}]),
     "duplicate_ref"),
    (msg("stats", 9, event="b-1", players={"b-1:p1": 2}), "invalid_field"),
    (msg("stats", 9, event="b-1", players=["b-1:p1"]), "invalid_field"),
    (msg("clock", 9, event="b-1", clock="Q1 11:32" * 3, score="2-0"), "invalid_field"),
    (msg("clock", 9, event="b-1", clock=692, score="2-0"), "invalid_field"),
    (msg("clock", 9, event="b-1", clock="Q1 11:32"), "invalid_field"),
    (msg("result", 9, event="b-1", home_score=101, away_score=99, players=[{"player": "b-9:p1", "points": 1}]),
     "unknown_player"),
    (msg("result", 9, event="b-1", home_score=101, away_score=99, players=[{"player": "b-1:p1", "points": 10**6}]),
     "rejected_by_service"),
    (created("b-2", players=[{**ROSTER[0], "player": "b-2:p1", "team": "bench"}]), "rejected_by_service"),
    (created("b-2", players=[{**ROSTER[0], "player": "b-2:p1", "name": "J" * 51}]), "rejected_by_service"),
    (created("b-2", players=[{**ROSTER[0], "player": "b-2:p1"}, {**ROSTER[1], "player": "b-2:p1"}]),
     "duplicate_ref"),
    (created("b-2", players=[{**ROSTER[0]}]), "duplicate_ref"),  # b-1:p1 is b-1's
    (created("b-2", players=[{"player": "b-2:p1", "name": "Jay Brooks"}]), "invalid_field"),
    (created("b-2", players=[{**ROSTER[0], "player": "b-2:p1", "number": 23}]), "unknown_field"),
    (created("b-2", players=[{**ROSTER[0], "player": ""}]), "invalid_field"),
])
def test_bad_roster_stats_and_clock_lines_are_refused_and_ingestion_goes_on(ingestor, line, reason):
    # given
    ingestor.ingest([created(), msg("event_started", 2, event="b-1")])
    before = (lines(), list(Event.objects.values_list("pk", "clock", "live_score", "home_score")))
    # when the bad line comes, then a good one
    assert ingestor.line(line) is False
    assert ingestor.line(msg("clock", 50, event="b-1", clock="Q2 06:00", score="50-48")) is True
    # then
    assert ingestor.refused == {reason: 1}
    assert lines() == before[0] and Event.objects.count() == 1
    assert Event.objects.get(external_ref="b-1").clock == "Q2 06:00"


def test_stat_lines_after_the_result_are_refused(ingestor):
    ingestor.ingest([created(), msg("result", 2, event="b-1", home_score=90, away_score=80)])
    assert ingestor.line(msg("stats", 3, event="b-1", players=[{"player": "b-1:p1", "points": 2}])) is False
    assert ingestor.refused == {"rejected_by_service": 1}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_event_messages_on_the_odds_socket_carry_the_stat_lines_and_the_clock():
    from oddslab.asgi import websocket_application

    ingestor = Ingestor()
    ingestor.ingest([created(), msg("event_started", 2, event="b-1")])
    event = Event.objects.get(external_ref="b-1")
    ids = dict(Player.objects.values_list("external_ref", "pk"))

    async def scenario():
        socket = WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={event.pk}")
        assert (await socket.connect())[0]
        await sync_to_async(ingestor.line)(msg("stats", 3, event="b-1", players=[{"player": "b-1:p1", "points": 3}]))
        await sync_to_async(ingestor.line)(msg("clock", 4, event="b-1", clock="Q1 11:10", score="3-0"))
        received = []
        while len(received) < 2:
            message = json.loads(await socket.receive_from(timeout=3))
            if message["type"] == "event":
                received.append(message)
        await socket.disconnect()
        return received

    stats, clock = async_to_sync(scenario)()
    assert (clock["status"], clock["clock"], clock["score"]) == ("live", "Q1 11:10", "3-0")
    assert clock["players"] == stats["players"] == [
        {"player_id": ids["b-1:p1"], "name": "Jay Brooks", "team": "home",
         "stats": {"points": 3, "rebounds": 0, "assists": 0}},
        {"player_id": ids["b-1:p2"], "name": "Luis Moreno", "team": "away",
         "stats": {"points": 0, "rebounds": 0, "assists": 0}}]
