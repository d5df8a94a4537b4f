"""The liability dashboard: its numbers for a hand-computed book, the htmx partial, the links."""

from decimal import Decimal

from audit.context import Actor
from audit.models import Notification
from betting.services import bet_place
from events.services import market_suspend
from risk.models import ExposureCap
from tests.conftest import outcome_of, selection

D = Decimal


def place(player, selections, stake, bet_type="single"):
    return bet_place(player=player, selections=selections, stake=stake, bet_type=bet_type, actor=Actor.of(player))


def seed_book(make_user, make_event):
    """Two events; a cap of 1,000.00 per match_result outcome.

    Event one, home @2.50: 100 + 200 singles and a 10 double (home @2.50 x home @2.00 = 5.00); draw @3.20: 50.
      home: stakes 310.00, 3 bets, worst case 250 + 500 + 50 = 800.00 (80.0% of the cap)
      draw: stakes 50.00, 1 bet, worst case 160.00 (16.0%); away: nothing.
      stakes on the market 360.00 -> net liability home 440.00, draw -200.00, away -360.00
    Event two, home @2.00: the double only -> stakes 10.00, worst case 50.00, net 40.00, 5.0%.
    """
    ExposureCap.objects.create(market_kind="match_result", cap=D("1000.00"))
    one, two = make_event(home="2.50", draw="3.20"), make_event(home="2.00")
    players = [make_user("player", balance="1000.00") for _ in range(4)]
    place(players[0], [selection(one, "home")], "100.00")
    place(players[1], [selection(one, "home")], "200.00")
    place(players[2], [selection(one, "draw")], "50.00")
    place(players[3], [selection(one, "home"), selection(two, "home")], "10.00", bet_type="multiple")
    return one, two


def test_dashboard_numbers_match_the_hand_computed_book(client, make_user, make_event):
    # given the book above
    one, two = seed_book(make_user, make_event)
    client.force_login(make_user("trader"))
    # when the trader opens the dashboard
    response = client.get("/admin/console/liabilities/")
    # then the riskiest market comes first with every figure as computed by hand
    assert response.status_code == 200
    book = response.context["book"]
    assert [m.market_id for m in book] == [one.markets.get().pk, two.markets.get().pk]
    first = book[0]
    assert (first.stakes, first.bets, first.worst_case_payout, first.net_liability, first.percent_of_cap) == (
        D("360.00"), 4, D("800.00"), D("440.00"), D("80.0"))
    assert first.level == "warning"
    rows = {o.name: (o.stakes, o.bets, o.worst_case_payout, o.net_liability, o.percent_of_cap, o.cap)
            for o in first.outcomes}
    home, draw, away = (outcome_of(one, k).name for k in ("home", "draw", "away"))
    assert rows == {
        home: (D("310.00"), 3, D("800.00"), D("440.00"), D("80.0"), D("1000.00")),
        draw: (D("50.00"), 1, D("160.00"), D("-200.00"), D("16.0"), D("1000.00")),
        away: (D("0.00"), 0, D("0.00"), D("-360.00"), D("0.0"), D("1000.00")),
    }
    assert [o.name for o in first.outcomes] == [home, draw, away]  # riskiest outcome first
    second = book[1]
    assert (second.stakes, second.bets, second.worst_case_payout, second.net_liability, second.percent_of_cap) == (
        D("10.00"), 1, D("50.00"), D("40.00"), D("5.0"))
    # the page prints them with two decimals, and the 80% alert with its time
    html = response.content.decode()
    for text in ("800.00", "440.00", "-200.00", "-360.00", "80.0%", "1,000.00"):
        assert text in html, text
    alerts = response.context["alerts"]
    assert [a.data["outcome_id"] for a in alerts] == [outcome_of(one, "home").pk]
    assert alerts[0].message in html and alerts[0].created_at.strftime("%Y-%m-%d %H:%M:%S") in html


def test_htmx_polls_get_only_the_live_partial(client, make_user, make_event):
    seed_book(make_user, make_event)
    client.force_login(make_user("trader"))
    page = client.get("/admin/console/liabilities/").content.decode()
    partial = client.get("/admin/console/liabilities/", HTTP_HX_REQUEST="true").content.decode()
    # the page is the admin's (it extends admin/base_site.html), loads htmx and polls itself
    assert "<html" in page and 'id="site-name"' in page and "vendor/htmx.min.js" in page
    assert 'hx-trigger="every 5s"' in page and 'hx-get="/admin/console/liabilities/"' in page
    # the poll's answer is only the live block, which polls again when swapped in
    assert "<html" not in partial and "vendor/htmx.min.js" not in partial
    assert partial.lstrip().startswith('<div id="live-liabilities"') and 'hx-trigger="every 5s"' in partial
    assert 'id="liability-book"' in partial and 'id="exposure-alerts"' in partial
    assert "ggr-chart" not in partial and "ggr-chart" in page


def test_the_book_follows_market_state_and_links_to_the_admin_actions(client, make_user, make_event):
    one, _ = seed_book(make_user, make_event)
    market = one.markets.get()
    market_suspend(market_id=market.pk, actor=Actor.system("test"), reason="goal")
    client.force_login(make_user("trader"))
    response = client.get("/admin/console/liabilities/", HTTP_HX_REQUEST="true")
    # a suspended market stays on the book, marked so
    book = {m.market_id: m for m in response.context["book"]}
    assert book[market.pk].status == "suspended"
    html = response.content.decode()
    assert "badge suspended" in html
    # every outcome links to its price page in the admin (the action page, or its change page)
    home = outcome_of(one, "home")
    assert (f"/admin/events/outcome/{home.pk}/price/" in html) or (f"/admin/events/outcome/{home.pk}/change/" in html)


def test_a_market_with_no_open_bets_is_not_on_the_book(client, make_user, make_event):
    make_event()
    client.force_login(make_user("trader"))
    response = client.get("/admin/console/liabilities/")
    assert response.context["book"] == []
    assert "No open bets on open or suspended markets." in response.content.decode()
    assert not Notification.objects.filter(kind="exposure_alert").exists()


def test_the_liabilities_api_serves_the_same_book_to_staff_only(client, make_user, make_event):
    one, two = seed_book(make_user, make_event)
    client.force_login(make_user("regulator"))
    # when a regulator asks the API for the book
    markets = client.get("/api/v1/reports/liabilities").json()["markets"]
    # then it is the dashboard's, riskiest first, money as strings with two decimals
    assert [m["market_id"] for m in markets] == [one.markets.get().pk, two.markets.get().pk]
    first = markets[0]
    assert {k: first[k] for k in ("stakes", "bets", "worst_case_payout", "net_liability", "percent_of_cap")} == {
        "stakes": "360.00", "bets": 4, "worst_case_payout": "800.00", "net_liability": "440.00",
        "percent_of_cap": "80.0"}
    home = first["outcomes"][0]
    assert (home["outcome_id"], home["stakes"], home["worst_case_payout"], home["net_liability"], home["cap"]) == (
        outcome_of(one, "home").pk, "310.00", "800.00", "440.00", "1000.00")
    # and a player may not read it
    client.force_login(make_user("player"))
    response = client.get("/api/v1/reports/liabilities")
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
