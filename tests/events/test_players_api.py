"""Rosters, stat lines and the running clock and score through the events API."""

import pytest

from audit.context import Actor
from betting.models import Challenge
from core.errors import Conflict
from events.models import Event, Player
from events.services import event_clock_set, event_result_set, event_start, player_stats_set
from tests.conftest import audit_rows, bets_snapshot

GAME = {
    "home_team": "Harbour Hawks", "away_team": "Valley Comets", "sport": "basketball",
    "competition": "Odds Lab Hoops", "start_time": "2026-12-20T19:00:00Z",
    "markets": [{"kind": "match_winner", "prices": {"home": "1.80", "away": "2.00"}},
                {"kind": "total_points", "line": "221.5", "prices": {"over": "1.90", "under": "1.90"}}],
    "players": [{"name": "Jay Brooks", "team": "home"}, {"name": "Sam Okafor", "team": "home"},
                {"name": "Luis Moreno", "team": "away"}],
}


@pytest.fixture
def trader(make_user):
    return make_user("trader")


@pytest.fixture
def game(api, trader):
    response = api(trader).post("/api/v1/events", GAME, format="json")
    assert response.status_code == 201, response.json()
    return Event.objects.get(pk=response.json()["id"])


def ids(event):
    return {p.name: p.pk for p in event.players.all()}


def test_an_event_is_created_with_its_roster_and_anyone_reads_the_stat_lines(api, game):
    # when
    players = api().get(f"/api/v1/events/{game.pk}/players")
    # then
    assert players.status_code == 200
    assert [(p["name"], p["team"], p["stats"]) for p in players.json()] == [
        ("Jay Brooks", "home", {"points": 0, "rebounds": 0, "assists": 0}),
        ("Sam Okafor", "home", {"points": 0, "rebounds": 0, "assists": 0}),
        ("Luis Moreno", "away", {"points": 0, "rebounds": 0, "assists": 0})]
    assert {p["player_id"] for p in players.json()} == set(ids(game).values())
    assert audit_rows("event.create").get().details["players"][2] == {"name": "Luis Moreno", "team": "away"}
    assert {m["kind"] for m in api().get(f"/api/v1/events/{game.pk}").json()["markets"]} == {
        "match_winner", "total_points"}
    assert api().get("/api/v1/events/999999/players").json()["error"] == "not_found"


@pytest.mark.parametrize("players", [
    [{"name": "Jay Brooks", "team": "bench"}],
    [{"name": "  ", "team": "home"}],
    [{"name": "J" * 51, "team": "home"}],
    [{"name": "Jay\tBrooks", "team": "home"}],
    [{"name": "Jay Brooks", "team": "home"}, {"name": "jay brooks", "team": "home"}],
    [{"name": f"Player {n}", "team": "home"} for n in range(41)],
    "Jay Brooks",
])
def test_a_bad_roster_refuses_the_whole_event(api, trader, players):
    # when
    response = api(trader).post("/api/v1/events", {**GAME, "players": players}, format="json")
    # then
    assert response.status_code == 400, response.json()
    assert response.json()["error"] in {"invalid_players", "invalid_request"}
    assert set(response.json()) == {"error", "message", "details"}
    assert not Event.objects.exists() and not Player.objects.exists()


def test_the_result_sets_the_final_stat_lines_audited(api, trader, game):
    # given
    players = ids(game)
    stats = [{"player_id": players["Jay Brooks"], "points": 31, "rebounds": 7, "assists": 9},
             {"player_id": players["Luis Moreno"], "points": 0, "rebounds": 12, "assists": 1}]
    # when
    response = api(trader).post(f"/api/v1/events/{game.pk}/result",
                                {"home_score": 104, "away_score": 99, "player_stats": stats}, format="json")
    # then
    assert response.status_code == 202, response.json()
    assert (response.json()["score"], response.json()["status"]) == ("104-99", "finished")
    lines = {p["name"]: p["stats"] for p in api().get(f"/api/v1/events/{game.pk}/players").json()}
    assert lines == {"Jay Brooks": {"points": 31, "rebounds": 7, "assists": 9},
                     "Sam Okafor": {"points": 0, "rebounds": 0, "assists": 0},
                     "Luis Moreno": {"points": 0, "rebounds": 12, "assists": 1}}
    assert audit_rows("event.result", "success").get().details["player_stats"][str(players["Jay Brooks"])] == {
        "points": 31, "rebounds": 7, "assists": 9}
    # and the final lines stand
    with pytest.raises(Conflict, match="stand"):
        player_stats_set(event_id=game.pk, stats=[{"player_id": players["Jay Brooks"], "points": 2}],
                         actor=Actor.system("feed"))


@pytest.mark.parametrize(("line", "field"), [
    ({"player_id": 999_999, "points": 3}, "player_id"),
    ({"player_id": "JAY AS TEXT", "points": 3}, "player_id"),
    ({"points": 3}, "player_id"),
    ({"player_id": "JAY", "points": -1}, "points"),
    ({"player_id": "JAY", "rebounds": 1000}, "rebounds"),
    ({"player_id": "JAY", "assists": 10**30}, "assists"),
    ({"player_id": "JAY", "points": "١٢"}, "points"),
    ({"player_id": "JAY", "points": "12"}, "points"),
    ({"player_id": "JAY", "points": 12.0}, "points"),
    ({"player_id": "JAY", "points": True}, "points"),
    ({"player_id": "JAY", "points": None}, "points"),
])
def test_odd_stat_lines_refuse_the_result_and_change_nothing(api, trader, game, make_event, line, field):
    # given a player of another event, whose id does not belong to this one
    other = make_event()
    Player.objects.create(event=other, name="Elsewhere", team="home")
    jay = ids(game)["Jay Brooks"]
    line = {k: {"JAY": jay, "JAY AS TEXT": str(jay)}.get(v, v) if isinstance(v, str) else v for k, v in line.items()}
    before = (bets_snapshot(), list(Challenge.objects.values_list("pk", "status")),
              list(Player.objects.order_by("pk").values_list("points", "rebounds", "assists")))
    # when
    response = api(trader).post(f"/api/v1/events/{game.pk}/result",
                                {"home_score": 100, "away_score": 90, "player_stats": [line]}, format="json")
    # then
    assert response.status_code == 400, response.json()
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    if body["error"] == "invalid_player_stats":
        assert body["details"]["field"] == field
    else:  # the shape itself (a missing id) is the serializer's
        assert body["error"] == "invalid_request"
    game.refresh_from_db()
    assert (game.status, game.home_score) == ("scheduled", None)
    assert before == (bets_snapshot(), list(Challenge.objects.values_list("pk", "status")),
                      list(Player.objects.order_by("pk").values_list("points", "rebounds", "assists")))


def test_a_stat_line_of_another_events_player_is_refused(api, trader, game, make_event):
    other = make_event()
    stranger = Player.objects.create(event=other, name="Elsewhere", team="home")
    response = api(trader).post(f"/api/v1/events/{game.pk}/result", {
        "home_score": 100, "away_score": 90, "player_stats": [{"player_id": stranger.pk, "points": 3}]}, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_player_stats")
    assert Event.objects.get(pk=game.pk).home_score is None


def test_the_events_api_carries_the_clock_and_the_score(api, game):
    actor = Actor.system("test")
    # before the start: no clock, no score
    detail = api().get(f"/api/v1/events/{game.pk}").json()
    assert (detail["clock"], detail["score"]) == ("", None)
    # while live: the running clock and score, in the list and the detail alike
    event_start(event_id=game.pk, actor=actor)
    assert api().get(f"/api/v1/events/{game.pk}").json()["score"] == "0-0"
    event_clock_set(event_id=game.pk, clock="Q3 07:12", live_score="71-66")
    detail = api().get(f"/api/v1/events/{game.pk}").json()
    [listed] = api().get("/api/v1/events", {"status": "live"}).json()["results"]
    assert (detail["clock"], detail["score"]) == ("Q3 07:12", "71-66")
    assert (listed["clock"], listed["score"]) == ("Q3 07:12", "71-66")
    # once resulted: the final score, not the last running one
    event_result_set(event_id=game.pk, home_score=104, away_score=99, actor=actor)
    assert api().get(f"/api/v1/events/{game.pk}").json()["score"] == "104-99"


def test_running_stat_lines_are_set_and_audited(game):
    # given
    players = ids(game)
    # when
    player_stats_set(event_id=game.pk, stats=[{"player_id": players["Sam Okafor"], "points": 5, "assists": 2}],
                     actor=Actor.system("feed:sim"))
    # then
    sam = Player.objects.get(pk=players["Sam Okafor"])
    assert sam.stats == {"points": 5, "rebounds": 0, "assists": 2}
    assert audit_rows("event.player_stats", "success").get().details == {
        "players": {str(sam.pk): {"points": 5, "rebounds": 0, "assists": 2}}}
