from decimal import Decimal

import pytest

from events.models import Event, Market, OddsTick, Outcome
from tests.conftest import audit_rows

CREATE = {
    "home_team": "Man United", "away_team": "Liverpool", "sport": "football",
    "competition": "Premier League", "start_time": "2026-12-20T15:00:00Z",
    "markets": [
        {"kind": "match_result", "prices": {"home": "2.50", "draw": "3.20", "away": "2.80"}},
        {"kind": "over_under", "line": "2.5", "prices": {"over": "1.85", "under": "1.95"}},
        {"kind": "both_teams_to_score", "prices": {"yes": "1.75", "no": "2.05"}},
        {"kind": "double_chance", "prices": {"home_draw": "1.30", "home_away": "1.25", "draw_away": "1.45"}},
    ],
}


@pytest.fixture
def trader(make_user):
    return make_user("trader")


def test_a_trader_creates_the_event_of_the_contract(api, trader):
    response = api(trader).post("/api/v1/events", CREATE, format="json")
    assert response.status_code == 201, response.json()
    event = response.json()
    assert (event["home_team"], event["away_team"], event["status"]) == ("Man United", "Liverpool", "scheduled")
    markets = {m["kind"]: m for m in event["markets"]}
    assert markets["over_under"]["line"] == "2.5" and markets["match_result"]["line"] is None
    assert [(o["key"], o["name"], o["price"], o["status"]) for o in markets["match_result"]["outcomes"]] == [
        ("home", "Man United", "2.500", "active"), ("draw", "Draw", "3.200", "active"),
        ("away", "Liverpool", "2.800", "active")]
    assert {m["status"] for m in event["markets"]} == {"open"}
    assert OddsTick.objects.filter(reason="opening price").count() == 10
    assert audit_rows("event.create").get().actor == trader
    listed = api().get("/api/v1/events", {"status": "scheduled"}).json()
    assert [e["id"] for e in listed["results"]] == [event["id"]]
    assert api().get(f"/api/v1/events/{event['id']}").json() == event


@pytest.mark.parametrize(("change", "code"), [
    ({"sport": "curling"}, "unknown_sport"),
    ({"markets": [{"kind": "corners", "prices": {}}]}, "unknown_market_kind"),
    ({"markets": [{"kind": "over_under", "prices": {"over": "1.9", "under": "1.9"}}]}, "invalid_line"),
    ({"markets": [{"kind": "over_under", "line": "2.25", "prices": {"over": "1.9", "under": "1.9"}}]},
     "invalid_line"),
    ({"markets": [{"kind": "match_result", "prices": {"home": "2.5", "away": "2.8"}}]}, "invalid_prices"),
    ({"markets": [{"kind": "match_result", "prices": {"home": 2.5, "draw": "3", "away": "2.8"}}]},
     "invalid_price"),
    ({"markets": [{"kind": "match_result", "prices": {"home": "2.5001", "draw": "3", "away": "2.8"}}]},
     "invalid_price"),
    ({"markets": [{"kind": "match_result", "prices": {"home": "1.00", "draw": "3", "away": "2.8"}}]},
     "invalid_price"),
    ({"markets": [CREATE["markets"][0], CREATE["markets"][0]]}, "duplicate_market"),
    ({"markets": [{"kind": "over_under", "line": "NaN", "prices": {"over": "1.9", "under": "1.9"}}]},
     "invalid_line"),
    ({"markets": [{"kind": "over_under", "line": 2.5, "prices": {"over": "1.9", "under": "1.9"}}]},
     "invalid_line"),
    ({"away_team": "man united"}, "invalid_event"),
    ({"markets": []}, "invalid_request"),
])
def test_bad_events_are_refused_whole(api, trader, change, code):
    response = api(trader).post("/api/v1/events", {**CREATE, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"] == code
    assert not Event.objects.exists() and not Market.objects.exists()


def test_players_cannot_run_events(api, player, make_event):
    event = make_event()
    market = event.markets.get()
    client = api(player)
    assert client.post("/api/v1/events", CREATE, format="json").status_code == 403
    assert client.post(f"/api/v1/markets/{market.pk}/suspend").status_code == 403
    assert client.post(f"/api/v1/outcomes/{market.outcomes.first().pk}/price",
                       {"price": "2.00", "reason": "x"}, format="json").status_code == 403
    assert client.post(f"/api/v1/events/{event.pk}/start").status_code == 403


def test_market_states_move_only_along_legal_paths(api, trader, make_event):
    market = make_event().markets.get()
    client = api(trader)
    url = f"/api/v1/markets/{market.pk}"
    assert client.post(f"{url}/suspend", {"reason": "goal"}, format="json").json()["status"] == "suspended"
    assert client.post(f"{url}/suspend").status_code == 409
    assert client.post(f"{url}/resume").json()["status"] == "open"
    assert client.post(f"{url}/close").json()["status"] == "closed"
    resumed = client.post(f"{url}/resume")
    assert resumed.status_code == 409 and resumed.json()["error"] == "invalid_market_state"
    assert client.post(f"{url}/cancel", {}, format="json").json()["error"] == "reason_required"
    assert client.post(f"{url}/cancel", {"reason": "abandoned"}, format="json").json()["status"] == "cancelled"
    assert client.post("/api/v1/markets/999999/suspend").status_code == 404
    assert [r.action for r in audit_rows("market.suspend", "success")] == ["market.suspend"]
    assert sorted(r.details["error"] for r in audit_rows("market.suspend", "refused")) == [
        "invalid_market_state", "not_found"]
    assert market.history.count() >= 4


def test_an_override_pins_the_price_until_released(api, trader, make_event):
    outcome = make_event(home="2.50").markets.get().outcomes.get(key="home")
    from events.services import outcome_price_feed

    # when the trader pins 2.40, then the feed sends 2.55
    response = api(trader).post(f"/api/v1/outcomes/{outcome.pk}/price", {"price": "2.40", "reason": "sharp money"},
                                format="json")
    assert response.status_code == 200 and response.json()["price"] == "2.400" and response.json()["pinned"]
    outcome_price_feed(outcome_id=outcome.pk, price="2.55")
    # then the feed tick is recorded, not applied
    outcome.refresh_from_db()
    assert outcome.price == Decimal("2.400")
    feed_tick = outcome.ticks.filter(source="feed").get()
    assert (feed_tick.new_price, feed_tick.applied) == (Decimal("2.550"), False)
    assert audit_rows("outcome.price_set").get().details == {"before": "2.500", "after": "2.400",
                                                             "reason": "sharp money"}
    # and releasing hands the price back to the feed
    released = api(trader).post(f"/api/v1/outcomes/{outcome.pk}/release")
    assert released.json()["price"] == "2.550" and released.json()["pinned"] is False
    assert api(trader).post(f"/api/v1/outcomes/{outcome.pk}/release").status_code == 409
    outcome_price_feed(outcome_id=outcome.pk, price="2.60")
    assert Outcome.objects.get(pk=outcome.pk).price == Decimal("2.600")


def test_a_bad_override_price_is_refused(api, trader, make_event):
    outcome = make_event().markets.get().outcomes.first()
    for price in ("1.005", "abc", "1000.001", "0"):
        response = api(trader).post(f"/api/v1/outcomes/{outcome.pk}/price", {"price": price, "reason": "x"},
                                    format="json")
        assert response.status_code == 400 and response.json()["error"] == "invalid_price", price


def test_start_and_finish_an_event(api, trader, make_event):
    from audit.context import Actor
    from events.services import event_finish

    event = make_event()
    started = api(trader).post(f"/api/v1/events/{event.pk}/start")
    assert started.status_code == 200 and started.json()["status"] == "live"
    assert api(trader).post(f"/api/v1/events/{event.pk}/start").status_code == 409
    event_finish(event_id=event.pk, actor=Actor.of(trader))
    assert set(event.markets.values_list("status", flat=True)) == {"closed"}
