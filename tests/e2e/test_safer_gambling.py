"""The "Safer gambling" page in a real browser against Daphne: the player sets a deposit limit, tightens
it (in force at once) and loosens it (shown waiting with its time, the old value still in force)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from risk.models import LimitChange
from tests.e2e.conftest import log_in, operator, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def save_deposit_limit(page, value: str) -> None:
    page.fill("#id_deposit_day", value)
    page.click("#limits-form button[type=submit]")


def test_a_player_sets_tightens_and_loosens_a_deposit_limit(page, site, make_user):
    # given
    operator(make_user, role="player", username="sasha", balance="30.00")
    log_in(page, site, "sasha")
    page.click("nav.account >> text=Safer gambling")
    page.wait_for_url(f"{site}/account/safer-gambling")
    deposit_limit = page.locator("#limit-deposit_day .in-force")
    expect(deposit_limit).to_have_text("No limit")
    expect(page.locator("#limit-deposit_day .used")).to_have_text("30.00")
    # when the player sets a limit, then tightens it
    save_deposit_limit(page, "100")
    expect(deposit_limit).to_have_text("100.00")
    save_deposit_limit(page, "50")
    # then the tighter one is in force at once
    expect(deposit_limit).to_have_text("50.00")
    expect(page.locator("#safer-panel .ok")).to_have_text("In force now: deposits per 24 hours.")
    expect(page.locator("#pending-changes .empty")).to_have_text("No change is waiting.")
    # when it is loosened
    save_deposit_limit(page, "200")
    # then it waits its cooling-off, shown with its time, and the old value holds
    waiting = page.locator("#pending-deposit_day")
    expect(waiting).to_contain_text("200.00")
    change = LimitChange.objects.get(player__username="sasha", status=LimitChange.Status.PENDING)
    expect(waiting.locator("time")).to_have_text(f"{change.effective_at:%Y-%m-%d %H:%M} UTC")
    expect(deposit_limit).to_have_text("50.00")
    expect(page.locator("#id_deposit_day")).to_have_value("50.00")
    shot(page, "safer-gambling")
