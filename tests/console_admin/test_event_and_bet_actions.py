"""Creating events, starting, finishing and resulting them, and settling a bet by hand, through the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place
from events.models import Event, Market, OddsTick
from tests.conftest import audit_rows, selection, wallet_of
from tests.console_admin.conftest import messages_of, refused_with, state_snapshot

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")

EVENT_FORM = {
    "home_team": "Man United", "away_team": "Liverpool", "sport": "football", "competition": "Premier League",
    "start_time": "2026-12-20T15:00",
    "match_result__home": "2.50", "match_result__draw": "3.20", "match_result__away": "2.80",
    "over_under__line": "2.5", "over_under__over": "1.85", "over_under__under": "1.95",
    "both_teams_to_score__yes": "1.75", "both_teams_to_score__no": "2.05",
}


def test_one_form_creates_the_event_with_its_standard_markets_through_the_service(console):
    trader = console("trader")
    assert b'name="double_chance__home_draw"' in trader.get(reverse("admin:events_event_add")).content
    # when
    response = trader.post(reverse("admin:events_event_add"), EVENT_FORM, follow=True)
    # then
    event = Event.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:events_event_change", args=[event.pk])
    assert (event.home, event.away, event.competition.name, event.status) == ("Man United", "Liverpool",
                                                                              "Premier League", "scheduled")
    assert event.start_time.isoformat() == "2026-12-20T15:00:00+00:00"
    markets = {(m.kind, m.line): {o.key: o.price for o in m.outcomes.all()} for m in event.markets.all()}
    assert markets == {
        ("match_result", None): {"home": Decimal("2.5"), "draw": Decimal("3.2"), "away": Decimal("2.8")},
        ("over_under", Decimal("2.5")): {"over": Decimal("1.85"), "under": Decimal("1.95")},
        ("both_teams_to_score", None): {"yes": Decimal("1.75"), "no": Decimal("2.05")},
    }
    assert OddsTick.objects.filter(reason="opening price").count() == 7  # as event_create writes them
    assert audit_rows("event.create").get().actor_label == response.wsgi_request.user.username
    # the event page lists its markets, each with its actions
    page = response.content.decode()
    for market in event.markets.all():
        assert reverse("admin:events_market_suspend", args=[market.pk]) in page


@pytest.mark.parametrize("change, code", [
    ({"match_result__draw": ""}, "invalid_prices"),  # a market partly filled
    ({"match_result__home": "0.90"}, "invalid_price"),
    ({"away_team": "man united"}, "invalid_event"),
    ({"over_under__line": ""}, "invalid_line"),
])
def test_a_refused_event_is_not_created_and_the_service_code_is_shown(console, change, code):
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:events_event_add"), {**EVENT_FORM, **change})
    assert response.status_code == 400
    assert refused_with(response, code)
    assert not Event.objects.exists() and state_snapshot() == before


def test_an_event_without_any_market_is_a_form_error(console):
    form = {key: value for key, value in EVENT_FORM.items() if "__" not in key}
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:events_event_add"), form)
    assert response.status_code == 400 and response.context["form"].non_field_errors()
    assert not Event.objects.exists() and state_snapshot() == before


def test_start_finish_and_result_through_the_admin(console, make_event):
    event = make_event()
    trader = console("trader")
    assert trader.post(reverse("admin:events_event_start", args=[event.pk])).status_code == 302
    event.refresh_from_db()
    assert event.status == Event.Status.LIVE
    # starting twice is refused
    before = state_snapshot()
    again = trader.post(reverse("admin:events_event_start", args=[event.pk]))
    assert again.status_code == 409 and refused_with(again, "invalid_event_state")
    assert state_snapshot() == before
    # finish closes the markets
    assert trader.post(reverse("admin:events_event_finish", args=[event.pk])).status_code == 302
    assert event.markets.get().status == Market.Status.CLOSED
    # a negative score is the service's refusal
    before = state_snapshot()
    bad = trader.post(reverse("admin:events_event_result", args=[event.pk]), {"home_score": -1, "away_score": 0})
    assert bad.status_code == 400 and refused_with(bad, "invalid_result")
    assert state_snapshot() == before
    # the result grades the markets
    done = trader.post(reverse("admin:events_event_result", args=[event.pk]), {"home_score": 2, "away_score": 1},
                       follow=True)
    event.refresh_from_db()
    assert (event.score, event.status) == ("2-1", Event.Status.FINISHED)
    market = event.markets.get()
    assert market.status == Market.Status.RESULTED
    assert dict(market.outcomes.values_list("key", "status")) == {"home": "won", "draw": "lost", "away": "lost"}
    assert any("resulted 2-1" in m for m in messages_of(done))
    assert [r.action for r in audit_rows("event.start", "success")] == ["event.start"]
    assert audit_rows("event.start", "refused").count() == 1 and audit_rows("event.result", "refused").count() == 1
    assert audit_rows("event.finish").count() == 1 and audit_rows("event.result", "success").count() == 1


def test_cancelling_an_event_needs_a_reason(console, make_event):
    event = make_event()
    trader = console("trader")
    before = state_snapshot()
    refused = trader.post(reverse("admin:events_event_cancel", args=[event.pk]), {"reason": ""})
    assert refused.status_code == 400 and refused_with(refused, "reason_required")
    assert state_snapshot() == before
    assert trader.post(reverse("admin:events_event_cancel", args=[event.pk]), {"reason": "floodlights"}).status_code \
        == 302
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED and event.markets.get().status == Market.Status.CANCELLED


@pytest.fixture
def accepted_bet(player, make_event):
    event = make_event(home="2.00")
    return bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                     actor=Actor.of(player))


def test_settling_a_bet_by_hand_pays_and_audits(console, player, accepted_bet):
    # given
    assert accepted_bet.status == Bet.Status.ACCEPTED
    assert wallet_of(player).balance == Decimal("990.00")
    trader = console("trader")
    url = reverse("admin:betting_bet_settle", args=[accepted_bet.pk])
    assert trader.get(url).status_code == 200
    # when
    response = trader.post(url, {"result": "won", "reason": "feed lost the result"}, follow=True)
    # then
    accepted_bet.refresh_from_db()
    assert (accepted_bet.status, accepted_bet.result, accepted_bet.payout) == ("settled", "won", Decimal("20.00"))
    assert wallet_of(player).balance == Decimal("1010.00")
    row = audit_rows("bet.settle").get()
    assert row.actor_label == response.wsgi_request.user.username
    assert row.details == {"before": "accepted", "result": "won", "payout": "20.00", "reason": "feed lost the result"}
    assert any("settled by hand as won" in m for m in messages_of(response))


def test_settling_without_a_reason_is_refused_and_no_money_moves(console, accepted_bet):
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:betting_bet_settle", args=[accepted_bet.pk]), {"result": "won",
                                                                                         "reason": ""})
    assert response.status_code == 400
    assert refused_with(response, "reason_required")
    assert state_snapshot() == before


def test_settling_a_settled_bet_is_refused(console, accepted_bet):
    trader = console("trader")
    url = reverse("admin:betting_bet_settle", args=[accepted_bet.pk])
    assert trader.post(url, {"result": "void", "reason": "abandoned"}).status_code == 302
    before = state_snapshot()
    again = trader.post(url, {"result": "won", "reason": "twice"})
    assert again.status_code == 409 and refused_with(again, "invalid_bet_state")
    assert state_snapshot() == before


GAME_FORM = {
    "home_team": "Harbour Hawks", "away_team": "Valley Comets", "sport": "basketball", "competition": "Hoops",
    "start_time": "2026-12-20T19:00", "match_winner__home": "1.80", "match_winner__away": "2.00",
    "total_points__line": "221.5", "total_points__over": "1.90", "total_points__under": "1.90",
    "players": "home: Jay Brooks\r\nHOME: Sam Okafor\r\n\r\naway: Luis Moreno\r\n",
}


def test_a_basketball_event_is_created_with_its_roster_and_shows_it_inline(console):
    trader = console("trader")
    # when
    response = trader.post(reverse("admin:events_event_add"), GAME_FORM, follow=True)
    # then
    event = Event.objects.get()
    assert [(p.name, p.team) for p in event.players.order_by("pk")] == [
        ("Jay Brooks", "home"), ("Sam Okafor", "home"), ("Luis Moreno", "away")]
    assert {m.kind for m in event.markets.all()} == {"match_winner", "total_points"}
    page = response.content.decode()
    assert "Sam Okafor" in page and "Luis Moreno" in page


@pytest.mark.parametrize("players", ["bench: Jay Brooks", "home:", "home: Jay Brooks\nhome: jay brooks"])
def test_a_bad_roster_in_the_form_is_refused_with_the_service_code(console, players):
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:events_event_add"), {**GAME_FORM, "players": players})
    assert response.status_code == 400 and refused_with(response, "invalid_players")
    assert not Event.objects.exists() and state_snapshot() == before


def test_the_result_form_posts_each_players_final_stat_line_with_the_score(console):
    # given a basketball game with a roster, its stat lines as the feed left them
    trader = console("trader")
    trader.post(reverse("admin:events_event_add"), GAME_FORM)
    event = Event.objects.get()
    brooks, okafor, moreno = event.players.order_by("pk")
    url = reverse("admin:events_event_result", args=[event.pk])
    form = trader.get(url).content.decode()
    assert f'name="player_{brooks.pk}_points"' in form and f'name="player_{moreno.pk}_assists"' in form
    lines = {f"player_{p.pk}_{stat}": value for p, stats in ((brooks, (30, 5, 7)), (okafor, (12, 11, 2)),
                                                             (moreno, (40, 3, 9)))
             for stat, value in zip(("points", "rebounds", "assists"), stats, strict=True)}
    # a negative stat is the form's refusal and changes nothing
    before = state_snapshot()
    bad = trader.post(url, {"home_score": 101, "away_score": 99, **lines, f"player_{brooks.pk}_points": -1})
    assert bad.status_code == 400 and b"errorlist" in bad.content
    assert state_snapshot() == before and Event.objects.get().home_score is None
    # when the result goes in with the lines
    assert trader.post(url, {"home_score": 101, "away_score": 99, **lines}).status_code == 302
    # then the stat lines are final, with the result, in its audit row
    event.refresh_from_db()
    assert event.score == "101-99"
    assert [(p.points, p.rebounds, p.assists) for p in event.players.order_by("pk")] == [
        (30, 5, 7), (12, 11, 2), (40, 3, 9)]
    assert audit_rows("event.result", "success").get().details["player_stats"]
