"""The compliance document's regulator scenario (README "Refusals"), walked end to end in a real browser
as a regulator would watch it (issue 17): an admin creates the five events and the player in the console
and tops the player up at the cashier; the player builds the five-leg slip on the player pages, 1,000 is
accepted, 20,000 is refused with the maximum stake 14,072.61 offered, which is refused for funds until a
second top-up; the admin results the events; the payouts, the balance 540,457.22 and the day's GGR
-520,457.22 show on the pages. tests/betting/test_settlement.py is the same scenario through the API."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from betting.models import Bet
from events.models import Event
from tests.conftest import outcome_of, wallet_of
from tests.e2e.conftest import log_in, operator, shot, wait_for_sockets

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PASSWORD = "a-long-test-password"
PLAYER_PASSWORD = "walkthrough-pass-2026"
# Five games and the home price of each: combined odds 35.53.
GAMES = [("Arsenal", "Chelsea", "2.50"), ("Everton", "Fulham", "2.20"), ("Leeds", "Burnley", "1.90"),
         ("Brighton", "Wolves", "1.70"), ("Brentford", "Newcastle", "2.00")]


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def settled(page) -> None:
    """htmx has finished swapping (new content gets its handlers as it settles)."""
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def admin_log_in(page, site: str, username: str, then: str = "/admin/") -> None:
    page.goto(f"{site}/admin/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{site}{then}")


def success_message(console):
    return console.locator(".messagelist .success")


def create_event(console, site: str, home: str, away: str, price: str, start: str) -> int:
    """The console's one-form event creation, with the match result market's opening prices."""
    console.goto(f"{site}/admin/events/event/add/")
    console.fill("#id_home_team", home)
    console.fill("#id_away_team", away)
    console.select_option("#id_sport", "football")
    console.fill("#id_competition", "Premier League")
    console.fill("#id_start_time", start)
    console.fill("#id_match_result__home", price)
    console.fill("#id_match_result__draw", "3.40")
    console.fill("#id_match_result__away", "3.10")
    console.click("input[name=_save]")
    console.wait_for_url(re.compile(r".*/admin/events/event/\d+/change/$"))
    expect(success_message(console)).to_contain_text(f"{home} v {away} created with 1 markets")
    return int(re.search(r"/event/(\d+)/change/", console.url).group(1))


def cashier_credit(console, site: str, player_id: int, amount: str, balance: str) -> None:
    """From the player's page in the console: Cashier, credit with a reason."""
    console.goto(f"{site}/admin/accounts/user/{player_id}/change/")
    console.click("#action-cashier")
    console.wait_for_url(f"{site}/admin/accounts/user/{player_id}/cashier/")
    console.select_option("#id_direction", "credit")
    console.fill("#id_amount", amount)
    console.fill("#id_reason", "Regulator walkthrough top-up")
    console.click("input[name=_confirm]")
    console.wait_for_url(f"{site}/admin/accounts/user/{player_id}/change/")
    expect(success_message(console)).to_contain_text(f"credit of {amount} done")
    expect(success_message(console)).to_contain_text(f"balance {balance}")


def build_slip(player, outcomes) -> None:
    for outcome in outcomes:
        player.click(f"#outcome-{outcome.pk}")
        expect(player.locator(f"#slip-line-{outcome.pk}")).to_be_visible()
        settled(player)
    expect(player.locator("#slip .count")).to_have_text(str(len(outcomes)))
    expect(player.locator("#slip input[name=bet_type][value=multiple]")).to_be_checked()


def enter_stake(player, stake: str) -> None:
    settled(player)
    player.fill("#slip-stake", "")
    player.locator("#slip-stake").press_sequentially(stake, delay=40)  # the slip checks it as you type


def test_the_regulator_scenario_in_the_browser(browser, site_with_worker, make_user):
    site = site_with_worker
    expect.set_options(timeout=15_000)
    operator(make_user, role="admin", username="ada")
    operator(make_user, role="regulator", username="rex")
    console_context, console = new_page(browser)
    player_context, player = new_page(browser)
    regulator_context, regulator = new_page(browser)
    try:
        # -- the admin creates the five events in the console --------------------------------------
        admin_log_in(console, site, "ada")
        start = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT15:00")
        event_ids = [create_event(console, site, home, away, price, start) for home, away, price in GAMES]
        console.goto(f"{site}/admin/events/event/?status__exact=scheduled")
        for home, away, _ in GAMES:
            expect(console.locator("#result_list")).to_contain_text(f"{home} v {away}")
        # -- creates the player (Role: player) --------------------------------------------------------
        console.goto(f"{site}/admin/accounts/user/add/")
        console.fill("#id_username", "alice_reg")
        console.fill("#id_password1", PLAYER_PASSWORD)
        console.fill("#id_password2", PLAYER_PASSWORD)
        console.select_option("#id_role", "player")
        console.fill("#id_country", "GB")
        console.click("input[name=_save]")
        console.wait_for_url(re.compile(r".*/admin/accounts/user/\d+/change/$"))
        expect(success_message(console)).to_contain_text("alice_reg")
        player_id = int(re.search(r"/user/(\d+)/change/", console.url).group(1))
        # -- and tops the player up with 10,000 --------------------------------------------------------
        cashier_credit(console, site, player_id, "10000.00", "10000.00")
        shot(console, "walkthrough-cashier")

        # -- the player logs in and builds the five-leg slip ------------------------------------------
        log_in(player, site, "alice_reg", password=PLAYER_PASSWORD)
        expect(player.locator("#header-balance")).to_have_text("10,000.00")
        legs = [outcome_of(Event.objects.get(pk=pk)) for pk in event_ids]
        for leg, (_, _, price) in zip(legs, GAMES, strict=True):
            expect(player.locator(f"#outcome-{leg.pk} .odds")).to_have_text(price)
        build_slip(player, legs)
        enter_stake(player, "1000")
        expect(player.locator("#slip-total-odds")).to_have_text("35.53")
        expect(player.locator("#slip-return")).to_have_text("35,530.00")
        expect(player.locator("#slip .problems")).to_have_count(0)
        shot(player, "walkthrough-slip")
        # 1,000 is accepted
        player.click("#place-bet")
        expect(player.locator("#slip .accepted")).to_be_visible()
        expect(player.locator("#slip .empty")).to_be_visible()
        expect(player.locator("#header-balance")).to_have_text("9,000.00")
        # 20,000 is refused with the maximum stake offered
        build_slip(player, legs)
        enter_stake(player, "20000")
        expect(player.locator("#slip-return")).to_have_text("710,600.00")
        expect(player.locator("#slip .problems")).to_contain_text("stake at most 14072.61")
        player.click("#place-bet")
        refusal = player.locator("#slip .slip-error")
        expect(refusal).to_have_attribute("data-code", "max_winning_exceeded")
        expect(refusal).to_contain_text("stake at most 14072.61")
        offer = player.locator("#use-max-stake")
        expect(offer).to_contain_text("14,072.61")
        shot(player, "walkthrough-max-stake")
        # the offered maximum is refused for funds (the balance is 9,000)
        offer.click()
        expect(player.locator("#slip-stake")).to_have_value("14072.61")
        expect(player.locator("#slip-return")).to_have_text("499,999.83")
        expect(player.locator("#use-max-stake")).to_have_count(0)
        expect(player.locator("#slip .problems")).to_contain_text("Your balance is too low for this stake.")
        player.click("#place-bet")
        refusal = player.locator("#slip .slip-error")
        expect(refusal).to_have_attribute("data-code", "insufficient_funds")
        expect(refusal).to_contain_text("Your balance is too low for this stake.")
        expect(player.locator("#header-balance")).to_have_text("9,000.00")
        assert Bet.objects.filter(player_id=player_id).count() == 1

        # -- the admin tops up 10,000 more; the player's open page shows it without a reload ---------
        player.evaluate("window.__marker = 1")  # gone if the page reloads
        cashier_credit(console, site, player_id, "10000.00", "19000.00")
        expect(player.locator("#header-balance")).to_have_text("19,000.00")
        assert player.evaluate("window.__marker") == 1
        # and the same slip, placed again, is accepted
        expect(player.locator("#slip-stake")).to_have_value("14072.61")
        expect(player.locator("#slip .count")).to_have_text("5")
        player.click("#place-bet")
        expect(player.locator("#slip .accepted")).to_be_visible()
        expect(player.locator("#header-balance")).to_have_text("4,927.39")

        # -- the player watches My bets while the admin results the five events (home wins) -----------
        bets = list(Bet.objects.filter(player_id=player_id).order_by("pk"))
        assert [(b.stake, b.status) for b in bets] == [(Decimal("1000.00"), "accepted"),
                                                      (Decimal("14072.61"), "accepted")]
        player.goto(f"{site}/bets")
        wait_for_sockets(player)
        first, second = (player.locator(f"#bet-{b.pk}") for b in bets)
        for row in (first, second):
            expect(row.locator(".status")).to_have_text("Accepted")
        for event_id in event_ids:
            console.goto(f"{site}/admin/events/event/{event_id}/change/")
            console.click("#action-result")
            console.wait_for_url(f"{site}/admin/events/event/{event_id}/result/")
            console.fill("#id_home_score", "2")
            console.fill("#id_away_score", "0")
            console.click("input[name=_confirm]")
            console.wait_for_url(f"{site}/admin/events/event/{event_id}/change/")
            expect(success_message(console)).to_contain_text("resulted 2-0")

        # -- the payouts and the balance on the player's pages ----------------------------------------
        settlement = {"timeout": 60_000}  # the worker settles after the results
        expect(first.locator(".status")).to_have_text("Won", **settlement)
        expect(second.locator(".status")).to_have_text("Won", **settlement)
        expect(first.locator(".payout")).to_have_text("35,530.00")
        expect(second.locator(".payout")).to_have_text("499,999.83")
        expect(player.locator("#header-balance")).to_have_text("540,457.22")
        shot(player, "walkthrough-bets")
        player.goto(f"{site}/wallet")
        expect(player.locator("#wallet-balance")).to_have_text("540,457.22")

        # -- the day's GGR in the console, read by the regulator --------------------------------------
        today = timezone.now().date().isoformat()
        admin_log_in(regulator, site, "rex", then="/admin/console/reports/ggr/")
        regulator.fill("input[name=start]", today)
        regulator.fill("input[name=end]", today)
        regulator.click("form.filters button[type=submit]")
        report = regulator.locator("#ggr-report")
        expect(report.locator("caption")).to_contain_text(f"from {today} to {today}")  # the day asked for
        expect(report.locator("[data-field=total_staked]")).to_have_text("15,072.61")
        expect(report.locator("[data-field=total_paid_out]")).to_have_text("535,529.83")
        expect(report.locator("[data-field=ggr]")).to_have_text("-520,457.22")
        expect(regulator.locator("#ggr-products [data-field=total_ggr]")).to_have_text("-520,457.22")
        shot(regulator, "walkthrough-ggr")
    finally:
        console_context.close()
        player_context.close()
        regulator_context.close()
    # and the books agree with the pages
    assert wallet_of(bets[0].player).balance == Decimal("540457.22")
    assert [(b.status, b.result, b.payout) for b in Bet.objects.filter(player_id=player_id).order_by("pk")] == [
        ("settled", "won", Decimal("35530.00")), ("settled", "won", Decimal("499999.83"))]
    connections.close_all()  # what the test body opened while Playwright's loop was running
