"""The console pages: who may open them, and that each shows what the reports and the ledger hold."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLog
from betting.reports import event_settlement_report, ggr_report
from ledger.models import Account
from ledger.selectors import account_balance
from tests.conftest import wallet_of

D = Decimal
PAGES = ["/admin/console/", "/admin/console/liabilities/", "/admin/console/reports/ggr/",
         "/admin/console/reports/settlements/", "/admin/console/ledger/", "/admin/console/audit/",
         "/admin/console/aml-alerts/"]


@pytest.mark.parametrize("path", PAGES)
def test_players_and_visitors_are_sent_to_the_admin_login(client, player, path):
    # given no session, then a player's
    for user in (None, player):
        if user:
            client.force_login(user)
        # when they open a console page
        response = client.get(path)
        # then the staff check sends them to the admin's login, and nothing of the page is shown
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (user, path)


@pytest.mark.parametrize(("role", "allowed"), [
    ("trader", {"/admin/console/", "/admin/console/liabilities/", "/admin/console/reports/ggr/",
                "/admin/console/reports/settlements/", "/admin/console/ledger/"}),
    ("compliance", set(PAGES)),
    ("regulator", set(PAGES)),
    ("admin", set(PAGES)),
])
def test_each_staff_role_opens_exactly_its_pages(client, make_user, role, allowed):
    client.force_login(make_user(role))
    statuses = {path: client.get(path).status_code for path in PAGES}
    assert statuses == {path: 200 if path in allowed else 403 for path in PAGES}


def test_the_console_index_lists_only_the_pages_the_role_may_open(client, make_user):
    client.force_login(make_user("trader"))
    html = client.get("/admin/console/").content.decode()
    assert "/admin/console/liabilities/" in html and "/admin/console/audit/" not in html
    # and the admin's own index links to the console
    assert 'href="/admin/console/"' in client.get("/admin/").content.decode()


def test_ggr_page_shows_the_ggr_report_and_export_links(client, make_user, seeded_day):
    today = timezone.now().date().isoformat()
    client.force_login(make_user("regulator"))
    response = client.get("/admin/console/reports/ggr/", {"start": today, "end": today})
    assert response.status_code == 200
    report = response.context["report"]
    assert report == ggr_report(start=today, end=today, viewer=None)
    assert (report["total_staked"], report["total_paid_out"], report["ggr"]) == (D("75.00"), D("145.00"),
                                                                                 D("-70.00"))
    html = response.content.decode()
    assert "75.00" in html and "145.00" in html and "-70.00" in html and "-93.33%" in html
    for name in ("bets", "settlements", "ledger"):
        assert f"/api/v1/exports/{name}.csv?start={today}&amp;end={today}" in html
    # the chart has one bar per day, today's hanging below the line for the house's loss
    chart = response.context["chart"]
    assert len(chart["bars"]) == 1 and chart["bars"][0].ggr == D("-70.00") and chart["bars"][0].y == chart["zero_y"]
    assert "<svg" in html and "bar-neg" in html


def test_a_trader_sees_reports_without_export_links(client, make_user, seeded_day):
    client.force_login(make_user("trader"))
    html = client.get("/admin/console/reports/ggr/").content.decode()
    assert "/api/v1/exports/" not in html


def test_an_unreadable_period_is_reported_not_a_500(client, make_user):
    client.force_login(make_user("regulator"))
    response = client.get("/admin/console/reports/ggr/", {"start": "2026-13-01", "end": "2026-11-01"})
    assert response.status_code == 200
    assert "start must be a date" in response.content.decode()
    response = client.get("/admin/console/reports/settlements/", {"start": "2026-11-20", "end": "2026-11-01"})
    assert response.status_code == 200 and "start must not be after end" in response.content.decode()


def test_settlement_page_rows_equal_the_per_event_report(client, make_user, seeded_day):
    one, two, _ = seeded_day["events"]
    client.force_login(make_user("compliance"))
    response = client.get("/admin/console/reports/settlements/")
    rows = {row["event_id"]: row for row in response.context["page"].object_list}
    # the grouped query gives, per event, exactly what the one-event report gives
    assert set(rows) == {one.pk, two.pk}
    for event in (one, two):
        report = event_settlement_report(event_id=event.pk, viewer=None)
        assert {k: rows[event.pk][k] for k in report} == report
    # event one: alice's two singles and bob's double; event two: the double and carol's single
    assert (rows[one.pk]["bets_processed"], rows[one.pk]["total_staked"], rows[one.pk]["total_paid_out"]) == (
        3, D("45.00"), D("145.00"))
    assert rows[two.pk]["by_result"] == {"won": 1, "lost": 1, "void": 0}
    assert "/api/v1/exports/settlements.csv" in response.content.decode()


def test_ledger_statement_running_balance_matches_the_balances(client, make_user, seeded_day):
    alice = seeded_day["players"][0]
    client.force_login(make_user("regulator"))
    # a player's wallet: the newest row's running balance is the stored balance, and each row's
    # running balance equals the balance_after the transfer recorded for that side
    wallet = wallet_of(alice)
    response = client.get(f"/admin/console/ledger/{wallet.pk}/")
    rows = list(response.context["page"].object_list)
    assert rows[0].running_balance == wallet.balance == D("500.00") - 30 + 25
    for t in rows:
        assert t.running_balance == (t.credit_balance_after if t.credit_account_id == wallet.pk
                                     else t.debit_balance_after)
    assert [t.entry_number for t in rows] == sorted((t.entry_number for t in rows), reverse=True)
    assert "495.00" in response.content.decode()
    # a house account (balance derived, no before/after columns): the window sum ends at its balance
    held = Account.objects.get(code="house:stakes_held")
    top = client.get(f"/admin/console/ledger/{held.pk}/").context["page"].object_list[0]
    assert top.running_balance == account_balance(held) == D("40.00")  # only carol's open bet is held


def test_ledger_statement_pages_keep_the_running_balance_of_the_whole_history(client, make_user):
    # given 60 deposits of 1.00, more than one page of 50
    from audit.context import Actor
    from wallet.services import wallet_deposit
    user = make_user("player", "dora")
    for _ in range(60):
        wallet_deposit(user=user, amount=D("1.00"), actor=Actor.system("test"))
    client.force_login(make_user("compliance"))
    wallet = wallet_of(user)
    first = client.get(f"/admin/console/ledger/{wallet.pk}/").context["page"]
    second = client.get(f"/admin/console/ledger/{wallet.pk}/", {"page": 2}).context["page"]
    # then page two still carries the balance counted from the first transfer, not from the page
    assert [t.running_balance for t in first.object_list][:2] == [D("60.00"), D("59.00")]
    assert [t.running_balance for t in second.object_list] == [D(n) for n in range(10, 0, -1)]
    # and the account list finds the wallet by its owner
    listing = client.get("/admin/console/ledger/", {"q": "dora"}).context["page"].object_list
    assert [a.pk for a in listing] == [wallet.pk]


def test_audit_page_filters_like_the_api(client, make_user, seeded_day):
    client.force_login(make_user("compliance"))
    today = timezone.now().date().isoformat()
    response = client.get("/admin/console/audit/", {"actor": "alice", "action": "bet.place", "start": today,
                                                    "end": today, "severity": "info"})
    records = list(response.context["page"].object_list)
    assert len(records) == 2 and {r.action for r in records} == {"bet.place"}
    assert all(r.actor_label == "alice" for r in records)
    assert ("/api/v1/exports/audit-logs.csv?" in response.content.decode()
            and "actor=alice" in response.context["export"])
    # resource type and category narrow too; a bad date is explained, not a 500
    by_category = client.get("/admin/console/audit/", {"category": "wallet"}).context["page"]
    assert by_category.paginator.count == AuditLog.objects.filter(category="wallet").count() > 0
    bad = client.get("/admin/console/audit/", {"start": "yesterday"})
    assert bad.status_code == 200 and "start must be a date" in bad.content.decode()
    # a regulator reads it but a trader may not
    client.force_login(make_user("trader"))
    assert client.get("/admin/console/audit/").status_code == 403


def test_the_dashboard_ggr_chart_covers_the_last_n_days_and_adds_up_to_the_report(client, make_user, seeded_day):
    client.force_login(make_user("trader"))
    today = timezone.now().date()
    for days, expected in ((None, 14), ("3", 3), ("1000", 92), ("x", 14)):
        response = client.get("/admin/console/liabilities/", {"days": days} if days else {})
        chart = response.context["chart"]
        assert len(chart["bars"]) == expected and chart["bars"][-1].day == today
    first = (today - timedelta(days=2)).isoformat()
    chart = client.get("/admin/console/liabilities/", {"days": "3"}).context["chart"]
    assert chart["total"] == ggr_report(start=first, end=today.isoformat(), viewer=None)["ggr"] == D("-70.00")
    # the settlement table beside it lists the settled events
    settled = client.get("/admin/console/liabilities/").context["settlements"]
    assert {row["event_id"] for row in settled} == {e.pk for e in seeded_day["events"][:2]}
