"""The operator console in a real browser: a trader overrides a price and suspends a market in the
Django admin while a player has the event page open; the player's page shows both live (issue 7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connections
from playwright.sync_api import expect

from audit.models import AuditLog
from events.models import Market, Outcome
from tests.conftest import outcome_of
from tests.e2e.conftest import log_in, operator, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PASSWORD = "a-long-test-password"


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def admin_log_in(page, site: str, username: str, then: str) -> None:
    page.goto(f"{site}/admin/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{site}{then}")


def test_a_trader_overrides_a_price_and_suspends_a_market_and_the_player_page_follows_live(browser, site, make_user,
                                                                                            make_event):
    from playwright.sync_api import expect as expect_

    expect_.set_options(timeout=15_000)
    # given: a player watching the event page, and a trader in the admin
    operator(make_user, role="player", username="pia", balance="100.00")
    trader = operator(make_user, role="trader", username="tess")
    event = operator(make_event, home="2.50")
    home = outcome_of(event)
    market = home.market
    player_context, player = new_page(browser)
    trader_context, console = new_page(browser)
    try:
        log_in(player, site, "pia", then=f"/events/{event.pk}")
        expect(player.locator(f"#outcome-{home.pk} .odds")).to_have_text("2.50")
        player.evaluate("window.__marker = 1")  # gone if the page reloads
        price_url = f"/admin/events/outcome/{home.pk}/price/"
        admin_log_in(console, site, "tess", then=price_url)
        # when: the trader overrides the price
        expect(console.locator("input[name=price]")).to_have_value("2.500")
        console.fill("input[name=price]", "3.10")
        console.fill("input[name=reason]", "sharp money on the home side")
        console.click("input[name=_confirm]")
        console.wait_for_url(f"{site}/admin/events/outcome/{home.pk}/change/")
        expect(console.locator(".messagelist .success")).to_contain_text("3.100 (pinned)")
        # then: the player's page shows the new price without a reload
        expect(player.locator(f"#outcome-{home.pk} .odds")).to_have_text("3.10")
        expect(player.locator(f"#outcome-{home.pk}")).to_be_enabled()
        # when: the trader suspends the market from its page
        console.goto(f"{site}/admin/events/market/{market.pk}/change/")
        console.click("#action-suspend")
        console.wait_for_url(f"{site}/admin/events/market/{market.pk}/suspend/")
        console.fill("input[name=reason]", "penalty check")
        console.click("input[name=_confirm]")
        console.wait_for_url(f"{site}/admin/events/market/{market.pk}/change/")
        expect(console.locator(".messagelist .success")).to_contain_text("suspended")
        expect(console.locator("#action-resume")).to_be_visible()
        shot(console, "console-market")
        # then: the player's page shows the market suspended and its prices locked
        section = player.locator(f"#market-{market.pk}")
        expect(section).to_have_attribute("data-status", "suspended")
        expect(section.locator(".badge.suspended")).to_have_text("Suspended")
        for outcome_id in market.outcomes.values_list("pk", flat=True):
            expect(player.locator(f"#outcome-{outcome_id}")).to_be_disabled()
        expect(player.locator(f"#outcome-{home.pk} .odds")).to_have_text("3.10")
        assert player.evaluate("window.__marker") == 1
        shot(player, "console-player-page")
    finally:
        player_context.close()
        trader_context.close()
    # and the database agrees, with the trader named in the audit trail
    home = Outcome.objects.get(pk=home.pk)
    assert (home.price, home.pinned) == (Decimal("3.100"), True)
    assert Market.objects.get(pk=market.pk).status == Market.Status.SUSPENDED
    actions = set(AuditLog.objects.filter(actor=trader).values_list("action", flat=True))
    assert {"outcome.price_set", "market.suspend"} <= actions
    connections.close_all()  # what the test body opened while Playwright's loop was running

