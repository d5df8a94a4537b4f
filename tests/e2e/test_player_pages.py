"""The player pages in a real browser against Daphne, Redis and the test database: live prices,
the slip, refusals in words, in-play acceptance and settlement (issue 6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from audit.context import Actor
from betting.models import Bet
from betting.settlement import markets_pending_settlement, markets_settle
from events.models import Sport
from events.services import (
    MarketSpec,
    event_cancel,
    event_result_set,
    event_start,
    market_create,
    market_suspend,
    outcome_price_set,
)
from risk.models import LimitProfile
from tests.conftest import outcome_of, wallet_of
from tests.e2e.conftest import log_in, operator, shot, wait_for_sockets

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TRADER = Actor.system("e2e-trader")


def add_to_slip(page, outcome) -> None:
    page.click(f"#outcome-{outcome.pk}")
    expect(page.locator(f"#slip-line-{outcome.pk}")).to_be_visible()
    settled(page)


def settled(page) -> None:
    """htmx has finished swapping (new content gets its handlers as it settles)."""
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def enter_stake(page, stake: str) -> None:
    settled(page)
    page.fill("#slip-stake", "")
    page.locator("#slip-stake").press_sequentially(stake, delay=40)  # the slip checks it as you type


def test_an_operator_price_change_appears_without_reload(page, site, make_user, make_event):
    # given
    operator(make_user, role="player", username="olivia", balance="100.00")
    event = operator(make_event, home="2.50")
    home = outcome_of(event)
    log_in(page, site, "olivia")
    button = page.locator(f"#outcome-{home.pk}")
    expect(button.locator(".odds")).to_have_text("2.50")
    page.evaluate("window.__marker = 1")  # gone if the page reloads
    # when
    operator(outcome_price_set, outcome_id=home.pk, price="2.90", reason="trader", actor=TRADER)
    # then
    expect(button.locator(".odds")).to_have_text("2.90")
    expect(button).to_have_class("price flash-up")
    assert page.evaluate("window.__marker") == 1
    shot(page, "live-list")
    # a dropped socket says so, and the page refetches when it is back
    expect(page.locator("#connection")).to_be_hidden()
    page.evaluate("htmx.trigger('#odds-socket', 'htmx:wsClose', {})")
    expect(page.locator("#connection")).to_be_visible()
    expect(page.locator("#connection")).to_contain_text("Reconnecting")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true" and r.url == f"{site}/"):
        page.evaluate("htmx.trigger('#odds-socket', 'htmx:wsOpen', {})")
    expect(page.locator("#connection")).to_be_hidden()
    page.goto(f"{site}/events/{event.pk}")
    expect(page.locator("svg polyline").first).to_be_visible()
    page.wait_for_selector("#odds-socket[data-socket=open]", state="attached")
    # a market opened while the page is open appears on it
    market = operator(market_create, event_id=event.pk, actor=TRADER,
                      spec=MarketSpec(kind="over_under", line="2.5", prices={"over": "1.90", "under": "1.86"}))
    expect(page.locator(f"#event-{event.pk}-markets .market")).to_have_count(2)
    expect(page.locator(f"#market-{market.pk}-block .history polyline")).to_have_count(2)  # its chart came too
    shot(page, "event-page")
    # on a phone the slip is a bottom drawer
    page.set_viewport_size({"width": 390, "height": 844})
    page.click(f"#outcome-{home.pk}")
    expect(page.locator("#slip")).to_be_hidden()
    page.click(".drawer-toggle")
    expect(page.locator(f"#slip-line-{home.pk}")).to_be_visible()
    shot(page, "slip-phone")


def test_an_event_moves_from_upcoming_to_live_on_an_open_list_and_leaves_it_when_cancelled(page, site, make_event):
    # given: two upcoming games on the open list
    starting, waiting = operator(make_event, home="2.00"), operator(make_event, home="3.00")
    page.goto(f"{site}/")
    wait_for_sockets(page)
    upcoming, live_now = page.locator("section[data-group=scheduled]"), page.locator("section[data-group=live]")
    expect(upcoming.locator(f"#event-{starting.pk}")).to_be_visible()
    expect(live_now.locator(".empty")).to_be_visible()
    page.evaluate("window.__marker = 1")  # gone if the page reloads
    # when: the operator starts one
    operator(event_start, event_id=starting.pk, actor=TRADER)
    # then: it moves under Live, with its live state, and the other stays upcoming
    expect(live_now.locator(f"#event-{starting.pk} .badge.live")).to_be_visible()
    expect(upcoming.locator(f"#event-{starting.pk}")).to_have_count(0)
    expect(upcoming.locator(f"#event-{waiting.pk}")).to_be_visible()
    expect(live_now.locator(".count")).to_have_text("1")
    shot(page, "live-list-regrouped")
    # and a cancelled game leaves the list
    operator(event_cancel, event_id=starting.pk, actor=TRADER, reason="floodlight failure")
    expect(page.locator(f"#event-{starting.pk}")).to_have_count(0)
    expect(live_now.locator(".empty")).to_be_visible()
    # prices still move in place on the refetched list
    operator(outcome_price_set, outcome_id=outcome_of(waiting).pk, price="3.40", reason="trader", actor=TRADER)
    expect(page.locator(f"#outcome-{outcome_of(waiting).pk} .odds")).to_have_text("3.40")
    assert page.evaluate("window.__marker") == 1


def test_two_selections_place_pending_then_accepted(page, site_with_worker, make_user, make_event):
    # given: one game in play (a one-second bet delay), one upcoming
    site = site_with_worker
    Sport.objects.filter(key="football").update(inplay_delay_seconds=1)
    player = operator(make_user, role="player", username="paul", balance="1000.00")
    live_game, later = operator(make_event, home="2.00"), operator(make_event, home="3.00")
    operator(event_start, event_id=live_game.pk, actor=TRADER)
    log_in(page, site, "paul")
    expect(page.locator("#header-balance")).to_have_text("1,000.00")
    # when
    add_to_slip(page, outcome_of(live_game))
    add_to_slip(page, outcome_of(later))
    enter_stake(page, "10")
    # then: the return the server computed
    expect(page.locator("#slip-total-odds")).to_have_text("6.00")
    expect(page.locator("#slip-return")).to_have_text("60.00")
    shot(page, "slip")
    page.click("#place-bet")
    expect(page.locator("#slip .pending")).to_be_visible()
    expect(page.locator("#slip .accepted")).to_be_visible(timeout=30_000)
    expect(page.locator("#slip .empty")).to_be_visible()
    expect(page.locator("#header-balance")).to_have_text("990.00")
    bet = Bet.objects.get(player=player)
    assert bet.status == Bet.Status.ACCEPTED and bet.in_play and bet.stake == Decimal("10.00")
    assert wallet_of(player).balance == Decimal("990.00")


def test_a_market_suspended_in_the_slip_is_refused_and_nothing_debited(page, site, make_user, make_event):
    # given
    player = operator(make_user, role="player", username="sam", balance="100.00")
    event = operator(make_event)
    home = outcome_of(event)
    log_in(page, site, "sam")
    add_to_slip(page, home)
    enter_stake(page, "5")
    expect(page.locator("#slip-return")).to_have_text("12.50")
    # when
    operator(market_suspend, market_id=home.market_id, actor=TRADER, reason="goal")
    expect(page.locator(f"#outcome-{home.pk}")).to_be_disabled()
    page.click("#place-bet")
    # then
    expect(page.locator(".slip-error")).to_contain_text("suspended")
    assert not Bet.objects.exists()
    assert wallet_of(player).balance == Decimal("100.00")
    expect(page.locator("#header-balance")).to_have_text("100.00")


def test_odds_changed_under_policy_none_shows_the_new_price_and_one_click_accepts(page, site, make_user,
                                                                                   make_event):
    # given
    player = operator(make_user, role="player", username="nina", balance="100.00")
    event = operator(make_event, home="2.50")
    home = outcome_of(event)
    log_in(page, site, "nina")
    add_to_slip(page, home)
    expect(page.locator("#slip-odds-change")).to_have_value("none")
    enter_stake(page, "10")
    expect(page.locator("#slip-return")).to_have_text("25.00")
    operator(outcome_price_set, outcome_id=home.pk, price="2.80", reason="trader", actor=TRADER)
    expect(page.locator(f"#outcome-{home.pk} .odds")).to_have_text("2.80")
    # when
    page.click("#place-bet")
    # then
    expect(page.locator(".slip-error .new-price")).to_have_text("2.80")
    assert not Bet.objects.exists()
    page.click("#accept-new-price")
    expect(page.locator(".slip-error")).to_have_count(0)
    page.click("#place-bet")
    expect(page.locator("#slip .accepted")).to_be_visible()
    bet = Bet.objects.get(player=player)
    assert bet.total_odds == Decimal("2.8") and bet.stake == Decimal("10.00")


def test_over_the_max_winning_the_suggested_stake_is_offered_and_works(page, site, make_user, make_event):
    # given: nobody may win more than 100.00
    LimitProfile.objects.create(scope=LimitProfile.Scope.GLOBAL, max_winning=Decimal("100.00"))
    player = operator(make_user, role="player", username="max", balance="500.00")
    event = operator(make_event, home="2.00")
    log_in(page, site, "max")
    page.focus(f"#outcome-{outcome_of(event).pk}")  # the keyboard works as well as the mouse
    page.keyboard.press("Enter")
    expect(page.locator(f"#slip-line-{outcome_of(event).pk}")).to_be_visible()
    # when
    enter_stake(page, "80")
    # then
    offer = page.locator("#use-max-stake")
    expect(offer).to_contain_text("50.00")
    offer.click()
    expect(page.locator("#slip-stake")).to_have_value("50.00")
    expect(page.locator("#slip-return")).to_have_text("100.00")
    expect(page.locator("#use-max-stake")).to_have_count(0)
    page.click("#place-bet")
    expect(page.locator("#slip .accepted")).to_be_visible()
    assert Bet.objects.get(player=player).stake == Decimal("50.00")
    expect(page.locator("#header-balance")).to_have_text("450.00")


def test_after_settlement_the_bet_shows_won_with_its_payout_and_the_balance_rises(page, site, make_user,
                                                                                  make_event):
    # given: an accepted pre-match bet, and My bets open
    player = operator(make_user, role="player", username="wes", balance="100.00")
    event = operator(make_event, home="2.00")
    log_in(page, site, "wes")
    add_to_slip(page, outcome_of(event))
    enter_stake(page, "10")
    page.click("#place-bet")
    expect(page.locator("#slip .accepted")).to_be_visible()
    expect(page.locator("#header-balance")).to_have_text("90.00")
    bet = Bet.objects.get(player=player)
    page.goto(f"{site}/bets")
    row = page.locator(f"#bet-{bet.pk}")
    expect(row.locator(".status")).to_have_text("Accepted")
    page.wait_for_selector("#me-socket[data-socket=open]", state="attached")
    # when: the home side wins and the markets settle
    operator(event_result_set, event_id=event.pk, home_score=2, away_score=1, actor=TRADER)
    assert operator(lambda: markets_settle(market_ids=markets_pending_settlement())) >= 1
    # then
    expect(row.locator(".status")).to_have_text("Won")
    expect(row.locator(".payout")).to_have_text("20.00")
    expect(page.locator("#header-balance")).to_have_text("110.00")
    expect(page.locator(".toast").first).to_contain_text("won")
    assert wallet_of(player).balance == Decimal("110.00")
