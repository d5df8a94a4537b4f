"""Player pages: each page whole, and its partial for htmx; the slip, signup and wallet forms."""

from decimal import Decimal

import pytest

from audit.context import Actor
from audit.services import notification_create
from betting.models import Bet
from events.services import market_suspend, outcome_price_set
from tests.conftest import bets_snapshot, outcome_of, wallet_of

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def logged_in(client, make_user):
    user = make_user("player", "wendy", balance="500.00")
    client.force_login(user)
    return user


def full(response) -> str:
    text = response.content.decode()
    assert response.status_code == 200, text[:500]
    assert "<html" in text and 'hx-headers=\'{"X-CSRFToken"' in text
    return text


def partial(response) -> str:
    text = response.content.decode()
    assert response.status_code == 200, text[:500]
    assert "<html" not in text
    return text


def toggle(client, outcome):
    return client.post(f"/slip/outcomes/{outcome.pk}", **HTMX)


def test_live_list_groups_events_and_renders_price_buttons(client, make_event):
    # given
    event = make_event(home="2.50")
    home = outcome_of(event)
    # when
    page = full(client.get("/"))
    fragment = partial(client.get("/", **HTMX))
    # then
    for text in (page, fragment):
        assert f'id="outcome-{home.pk}"' in text and "2.50" in text and "Upcoming" in text
        assert 'data-group="scheduled"' in text and f'id="event-{event.pk}-state" class="event-state scheduled"' in text
    assert 'id="slip"' in page and "/static/vendor/htmx.min.js" in page and 'ws-connect="/ws/pages/odds"' in page


def test_suspended_market_is_greyed_and_its_buttons_disabled(client, make_event):
    event = make_event()
    market = event.markets.get()
    market_suspend(market_id=market.pk, actor=Actor.system("test"), reason="goal")
    text = partial(client.get("/", **HTMX))
    assert "Suspended" in text
    button = text[text.index(f'id="outcome-{outcome_of(event).pk}"'):]
    assert button[:button.index(">")].rstrip().endswith("disabled")


def test_event_page_has_every_market_and_a_price_history_chart(client, make_event):
    # given
    event = make_event(home="2.50")
    home = outcome_of(event)
    outcome_price_set(outcome_id=home.pk, price="2.70", reason="test", actor=Actor.system("test"))
    # when
    page = full(client.get(f"/events/{event.pk}"))
    fragment = partial(client.get(f"/events/{event.pk}", **HTMX))
    # then
    for text in (page, fragment):
        assert "Match result" in text or "match" in text.lower()
        assert "<svg" in text and "<polyline" in text and "from 2.50 to 2.70" in text
        assert f'<div id="market-{home.market_id}-block" class="market-wrap"' in text  # the block sockets send too
    assert f'ws-connect="/ws/pages/odds?events={event.pk}"' in page
    assert client.get("/events/999999").status_code == 404


def test_slip_add_and_remove(client, make_event):
    event = make_event(home="2.50")
    home = outcome_of(event)
    added = partial(toggle(client, home))
    assert "Bet slip" in added and home.name in added
    assert f'id="outcome-{home.pk}"' in added and 'hx-swap-oob="true"' in added and "selected" in added
    assert client.session["slip"]["selections"] == [{"outcome_id": home.pk, "price": "2.500"}]
    removed = partial(toggle(client, home))
    assert "Click a price to add it" in removed
    assert client.session["slip"]["selections"] == []
    # without htmx, the form posts back to the page it came from
    assert client.post(f"/slip/outcomes/{home.pk}", HTTP_REFERER="/events/1").url == "/events/1"
    assert full(client.get("/slip"))
    assert 'id="slip"' in partial(client.get("/slip", **HTMX))


def test_slip_shows_server_computed_return_as_you_type(client, logged_in, make_event):
    first, second = make_event(home="2.00"), make_event(home="3.00")
    toggle(client, outcome_of(first))
    toggle(client, outcome_of(second))
    text = partial(client.post("/slip/update", {"stake": "10", "bet_type": "multiple", "odds_change": "none"}, **HTMX))
    assert 'id="slip-total-odds">6.00<' in text and 'id="slip-return">60.00<' in text
    singles = partial(client.post("/slip/update", {"bet_type": "single"}, **HTMX))
    assert "Total stake" in singles and "20.00" in singles and "50.00" in singles


def test_placing_a_multiple_through_the_slip(client, logged_in, make_event):
    # given
    first, second = make_event(home="2.00"), make_event(home="3.00")
    toggle(client, outcome_of(first))
    toggle(client, outcome_of(second))
    # when
    text = partial(client.post("/slip/place", {"stake": "10.00", "bet_type": "multiple", "odds_change": "none",
                                               "idempotency_key": "k1"}, **HTMX))
    # then
    bet = Bet.objects.get(player=logged_in)
    assert bet.status == Bet.Status.ACCEPTED and bet.stake == Decimal("10.00") and bet.bet_type == "multiple"
    assert "Accepted" in text and bet.ticket_number in text and "Click a price" in text
    assert 'id="header-balance"' in text and "490.00" in text
    assert wallet_of(logged_in).balance == Decimal("490.00")


def test_a_suspended_selection_is_refused_in_words_and_nothing_is_debited(client, logged_in, make_event):
    event = make_event()
    toggle(client, outcome_of(event))
    market_suspend(market_id=event.markets.get().pk, actor=Actor.system("test"), reason="goal")
    before = bets_snapshot()
    text = partial(client.post("/slip/place", {"stake": "5"}, **HTMX))
    assert "suspended" in text and 'class="slip-error"' in text
    assert bets_snapshot() == before


def test_odds_changed_shows_the_new_price_and_one_click_accepts_it(client, logged_in, make_event):
    # given
    event = make_event(home="2.50")
    home = outcome_of(event)
    toggle(client, home)
    outcome_price_set(outcome_id=home.pk, price="2.70", reason="test", actor=Actor.system("test"))
    # when
    refused = partial(client.post("/slip/place", {"stake": "5", "odds_change": "none"}, **HTMX))
    # then
    assert "Prices have changed" in refused and "2.70" in refused and 'id="accept-new-price"' in refused
    accepted = partial(client.post("/slip/accept-prices", **HTMX))
    assert client.session["slip"]["selections"][0]["price"] == "2.700" and "slip-error" not in accepted
    placed = partial(client.post("/slip/place", {"stake": "5"}, **HTMX))
    assert "Accepted" in placed
    assert Bet.objects.get(player=logged_in).total_odds == Decimal("2.7")


def test_a_breached_limit_offers_the_max_stake(client, logged_in, make_event):
    event = make_event(home="2.00")
    toggle(client, outcome_of(event))
    text = partial(client.post("/slip/update", {"stake": "100000000"}, **HTMX))
    assert 'id="use-max-stake"' in text
    assert client.post("/slip/place", {"stake": "100000000"}, **HTMX).status_code == 200
    assert not Bet.objects.exists()


def test_anonymous_players_are_asked_to_log_in_to_place(client, make_event):
    event = make_event()
    toggle(client, outcome_of(event))
    text = partial(client.post("/slip/place", {"stake": "5"}, **HTMX))
    assert "Log in to place a bet." in text and not Bet.objects.exists()


def test_signup_registers_and_logs_in(client, db):
    page = full(client.get("/signup"))
    assert 'name="adult"' in page and 'name="country"' in page
    assert partial(client.get("/signup", **HTMX))
    refused = client.post("/signup", {"username": "newbie", "email": "n@example.test",
                                      "password": "a-long-enough-pass-42", "country": "GB"})
    assert refused.status_code == 422 and "18 or older" in refused.content.decode()
    weak = client.post("/signup", {"username": "newbie", "email": "n@example.test", "password": "123",
                                   "country": "GB", "adult": "on"})
    assert weak.status_code == 422 and "too short" in weak.content.decode()
    response = client.post("/signup", {"username": "newbie", "email": "n@example.test",
                                       "password": "a-long-enough-pass-42", "country": "gb", "adult": "on"})
    assert response.status_code == 302 and response.url == "/"
    home = client.get("/").content.decode()
    assert "newbie" in home and 'ws-connect="/ws/pages/me"' in home


def test_login_page_and_pages_that_need_a_login(client, db):
    assert "Log in" in client.get("/accounts/login/").content.decode()
    for url in ("/wallet", "/bets", "/notifications"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url


def test_wallet_deposit_and_withdraw_forms(client, logged_in):
    assert "500.00" in full(client.get("/wallet"))
    assert partial(client.get("/wallet", **HTMX))
    deposited = partial(client.post("/wallet", {"action": "deposit", "deposit-amount": "25.50"}, **HTMX))
    assert "Deposited 25.50" in deposited and "525.50" in deposited and 'id="header-balance"' in deposited
    refused = partial(client.post("/wallet", {"action": "withdraw", "withdraw-amount": "10000"}, **HTMX))
    assert 'class="error"' in refused
    assert wallet_of(logged_in).balance == Decimal("525.50")
    withdrawn = client.post("/wallet", {"action": "withdraw", "withdraw-amount": "5.50"})
    assert withdrawn.status_code == 200 and "Withdrew 5.50" in withdrawn.content.decode()
    assert wallet_of(logged_in).balance == Decimal("520.00")


def test_my_bets_lists_and_filters(client, logged_in, make_event):
    event = make_event(home="2.00")
    toggle(client, outcome_of(event))
    client.post("/slip/place", {"stake": "10"}, **HTMX)
    bet = Bet.objects.get()
    page = full(client.get("/bets"))
    assert bet.ticket_number in page and "Accepted" in page and "2.00" in page
    open_only = partial(client.get("/bets?status=open", **HTMX))
    assert open_only.startswith('\n  <div id="bet-list">') or 'id="bet-list"' in open_only
    assert bet.ticket_number in open_only
    assert bet.ticket_number not in partial(client.get("/bets?status=settled", **HTMX))


def test_notifications_page(client, logged_in):
    notification_create(user=logged_in, kind="test", message="Hello from the house.")
    assert "Hello from the house." in full(client.get("/notifications"))
    assert "Hello from the house." in partial(client.get("/notifications", **HTMX))
