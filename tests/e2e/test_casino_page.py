"""The Casino page in a real browser against Daphne: a player opens it from the header, sees the dice
odds follow the target typed, rolls one round and sees it at the top of the last rounds, with the net
result, the nonce and the header's balance moved on, without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from casino.models import Round
from tests.e2e.conftest import log_in, operator, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_player_rolls_a_dice_round_and_sees_it_in_the_last_rounds(page, site, make_user):
    # given
    operator(make_user, role="player", username="dani", balance="50.00")
    log_in(page, site, "dani")
    page.click("nav.account >> text=Casino")
    page.wait_for_url(f"{site}/casino")
    expect(page.locator("#no-rounds")).to_be_visible()
    expect(page.locator("#next-nonce")).to_have_text("0")
    # when the target changes, the odds follow (casino.fairness: over 74.99 wins 25.00% of rolls)
    page.select_option("#dice-direction", "over")
    expect(page.locator("#dice-chance")).to_have_text("50.49%")
    page.fill("#dice-target", "74.99")
    expect(page.locator("#dice-chance")).to_have_text("25.00%")
    expect(page.locator("#dice-multiplier")).to_have_text("3.9600×")
    # when the player rolls 2.00 on it
    page.fill("#dice-stake", "2.00")
    page.click("#dice-roll")
    # then the round is drawn at the top of the last rounds, and the page moved on with it
    expect(page.locator("#casino-result")).to_be_visible()
    played = Round.objects.get(player__username="dani")
    row = page.locator("#casino-rounds tbody tr").first
    expect(row).to_have_attribute("id", f"round-{played.pk}")
    expect(row.locator(".outcome")).to_have_text(str(played.roll))
    expect(page.locator("#casino-net")).to_have_text(f"{played.payout - played.stake:,.2f}")
    expect(page.locator("#next-nonce")).to_have_text("1")
    expect(page.locator("#header-balance")).to_have_text(f"{50 - played.stake + played.payout:,.2f}")
    expect(page.locator("#dice-target")).to_have_value("74.99")  # the form keeps the bet for the next roll
    shot(page, "casino")
