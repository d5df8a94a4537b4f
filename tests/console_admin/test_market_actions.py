"""Market and price actions through the admin views: confirmation, the service, its message, the audit row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from audit.context import Actor
from events.models import Market, OddsTick
from events.services import market_close, market_suspend, outcome_price_feed, outcome_price_set
from tests.conftest import audit_rows, outcome_of
from tests.console_admin.conftest import messages_of, refused_with, state_snapshot

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_suspend_shows_a_confirmation_then_suspends_with_the_reason_and_audits_the_trader(console, make_event):
    # given
    market = make_event().markets.get()
    trader = console("trader")
    url = reverse("admin:events_market_suspend", args=[market.pk])
    assert url == f"/admin/events/market/{market.pk}/suspend/"
    # when: the button leads to a confirmation page, which changes nothing yet
    page = trader.get(url)
    assert page.status_code == 200 and b'name="reason"' in page.content
    market.refresh_from_db()
    assert market.status == Market.Status.OPEN
    response = trader.post(url, {"reason": "goal scored"}, follow=True)
    # then
    assert response.redirect_chain[-1][0] == reverse("admin:events_market_change", args=[market.pk])
    market.refresh_from_db()
    assert (market.status, market.status_reason) == (Market.Status.SUSPENDED, "goal scored")
    assert any("suspended" in m for m in messages_of(response))
    row = audit_rows("market.suspend").get()
    assert row.actor_label == response.wsgi_request.user.username and row.actor_role == "trader"
    assert row.resource_id == str(market.pk) and row.details["reason"] == "goal scored"
    # and the change page offers resume, not suspend
    assert f'href="/admin/events/market/{market.pk}/resume/"'.encode() in response.content
    assert f'href="/admin/events/market/{market.pk}/suspend/"'.encode() not in response.content


@pytest.mark.parametrize("action, service", [("resume", market_suspend), ("close", market_suspend),
                                             ("cancel", market_suspend)])
def test_resume_close_and_cancel_through_the_admin(console, make_event, action, service):
    market = make_event().markets.get()
    service(market_id=market.pk, actor=SYSTEM, reason="first")
    response = console("trader").post(reverse(f"admin:events_market_{action}", args=[market.pk]),
                                      {"reason": "trader decision"})
    assert response.status_code == 302
    market.refresh_from_db()
    assert market.status == {"resume": "open", "close": "closed", "cancel": "cancelled"}[action]
    assert audit_rows(f"market.{action}").get().details["reason"] == "trader decision"


@pytest.mark.parametrize(("closed_first", "action", "reason", "status", "message"), [
    (True, "suspend", "x", 409, "invalid_market_state: A closed market cannot be suspended"),
    (False, "cancel", "  ", 400, "reason_required:"),
])
def test_a_refused_market_action_shows_the_code_and_nothing_changes(console, make_event, closed_first, action,
                                                                    reason, status, message):
    # given: a market (closed at half time for the suspension)
    market = make_event().markets.get()
    if closed_first:
        market_close(market_id=market.pk, actor=SYSTEM, reason="half time")
    trader = console("trader")
    before = state_snapshot()
    # when
    response = trader.post(reverse(f"admin:events_market_{action}", args=[market.pk]), {"reason": reason})
    # then
    assert response.status_code == status
    assert refused_with(response, message.split(":")[0]) and message in messages_of(response)[0]
    assert state_snapshot() == before


def test_bulk_suspend_from_the_list_confirms_then_reports_each_success_and_refusal(console, make_event):
    # given: two open markets and one already closed
    first, second, closed = (make_event().markets.get() for _ in range(3))
    market_close(market_id=closed.pk, actor=SYSTEM)
    trader = console("trader")
    changelist = reverse("admin:events_market_changelist")
    selected = {"action": "suspend_markets", "_selected_action": [first.pk, second.pk, closed.pk]}
    # when: choosing the action shows the confirmation page
    page = trader.post(changelist, selected)
    assert page.status_code == 200 and b'name="confirm" value="yes"' in page.content
    assert Market.objects.filter(status=Market.Status.SUSPENDED).count() == 0
    response = trader.post(changelist, {**selected, "confirm": "yes", "reason": "bulk"}, follow=True)
    # then
    statuses = dict(Market.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[second.pk], statuses[closed.pk]) == ("suspended", "suspended", "closed")
    texts = messages_of(response)
    assert "Suspend: 2 of 3 done." in texts
    assert any("invalid_market_state" in m for m in texts)
    assert audit_rows("market.suspend", "success").count() == 2
    assert audit_rows("market.suspend", "refused").get().resource_id == str(closed.pk)


def test_price_override_pins_the_price_records_a_tick_and_audits(console, make_event):
    # given
    outcome = outcome_of(make_event(home="2.50"))
    trader = console("trader")
    url = reverse("admin:events_outcome_price", args=[outcome.pk])
    assert url == f"/admin/events/outcome/{outcome.pk}/price/"
    assert b'value="2.500"' in trader.get(url).content  # the current price is offered
    # when
    response = trader.post(url, {"price": "3.10", "reason": "sharp money"}, follow=True)
    # then
    outcome.refresh_from_db()
    assert (outcome.price, outcome.pinned) == (Decimal("3.100"), True)
    tick = OddsTick.objects.filter(outcome=outcome).first()
    assert (tick.source, tick.old_price, tick.new_price, tick.reason) == ("operator", Decimal("2.5"),
                                                                          Decimal("3.1"), "sharp money")
    assert tick.actor == response.wsgi_request.user
    assert audit_rows("outcome.price_set").get().details == {"before": "2.500", "after": "3.100",
                                                             "reason": "sharp money"}
    assert any("3.100 (pinned)" in m for m in messages_of(response))
    # a feed price is now recorded, not applied
    outcome_price_feed(outcome_id=outcome.pk, price="2.00")
    outcome.refresh_from_db()
    assert outcome.price == Decimal("3.100")


@pytest.mark.parametrize("price", ["1.00", "100000", "2.5555", "abc"])
def test_a_price_out_of_bounds_is_refused_and_nothing_changes(console, make_event, price):
    outcome = outcome_of(make_event(home="2.50"))
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:events_outcome_price", args=[outcome.pk]),
                           {"price": price, "reason": "typo"})
    assert response.status_code == 400
    assert refused_with(response, "invalid_price")
    assert state_snapshot() == before


def test_an_override_needs_a_reason(console, make_event):
    outcome = outcome_of(make_event())
    trader = console("trader")
    before = state_snapshot()
    response = trader.post(reverse("admin:events_outcome_price", args=[outcome.pk]), {"price": "3.00"})
    assert response.status_code == 400 and response.context["form"].errors["reason"]
    assert state_snapshot() == before


def test_release_gives_the_price_back_to_the_feed(console, make_event):
    # given: pinned at 3.00 while the feed said 2.20
    outcome = outcome_of(make_event(home="2.50"))
    outcome_price_set(outcome_id=outcome.pk, price="3.00", reason="pin", actor=SYSTEM)
    outcome_price_feed(outcome_id=outcome.pk, price="2.20")
    trader = console("trader")
    url = reverse("admin:events_outcome_release", args=[outcome.pk])
    assert url == f"/admin/events/outcome/{outcome.pk}/release/"
    # when
    response = trader.post(url, {})
    # then
    assert response.status_code == 302
    outcome.refresh_from_db()
    assert (outcome.price, outcome.pinned) == (Decimal("2.200"), False)
    assert audit_rows("outcome.price_release").count() == 1
    # releasing again is refused with the service's code
    before = state_snapshot()
    again = trader.post(url, {})
    assert again.status_code == 409 and refused_with(again, "price_not_pinned")
    assert state_snapshot() == before


def test_the_market_page_shows_outcomes_with_their_actions_and_the_history(console, make_event):
    market = make_event().markets.get()
    trader = console("trader")
    trader.post(reverse("admin:events_market_suspend", args=[market.pk]), {"reason": "var check"})
    page = trader.get(reverse("admin:events_market_change", args=[market.pk])).content.decode()
    for outcome in market.outcomes.all():
        assert reverse("admin:events_outcome_price", args=[outcome.pk]) in page
    history = trader.get(reverse("admin:events_market_history", args=[market.pk]))
    assert history.status_code == 200
    rows = history.content.decode().split('id="change-history"')[1]
    assert "var check" in rows and "suspended" in rows
    assert market.history.count() == 2  # created, suspended
