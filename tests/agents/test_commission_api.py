"""The commission endpoints per role (API.md "Tenants, agents, commissions, bonuses"): run, list,
approve, reject and the CSV export."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Tenant
from agents.models import CommissionStatement
from audit.context import Actor
from ledger.models import Transfer
from tests.agents.helpers import players_of, this_period
from tests.conftest import ledger_snapshot, wallet_of

User = get_user_model()


@pytest.fixture
def book(db, make_user):
    """Two agents of the platform tenant with a depositing player each, and staff of every role."""
    w = {role: make_user(role) for role in ("player", "trader", "compliance", "regulator", "admin")}
    w["agent"], w["other_agent"] = make_user("agent"), make_user("agent")
    players_of(w["agent"], make_user("player", balance="500.00"), make_user("player", balance="9.99"))
    players_of(w["other_agent"], make_user("player", balance="100.00"))
    start, end = this_period()
    w["period"] = {"start": start.isoformat(), "end": end.isoformat()}
    return w


def run(api, user, period):
    return api(user).post("/api/v1/commissions/run", period, format="json")


def test_compliance_runs_a_period_and_gets_the_statements(api, book):
    response = run(api, book["compliance"], book["period"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [s["agent_id"] for s in body] == sorted([book["agent"].pk, book["other_agent"].pk])
    mine = next(s for s in body if s["agent_id"] == book["agent"].pk)
    assert mine["period"] == book["period"]
    assert (mine["deposits"], mine["turnover"], mine["ggr"], mine["amount"], mine["status"]) == (
        "509.99", "0.00", "0.00", "10.00", "pending")
    assert mine["lines"] == [
        {"kind": "deposits", "base": "500.00", "rate": "0.0200", "amount": "10.00"},
        {"kind": "turnover", "base": "0.00", "rate": "0.0150", "amount": "0.00"},
        {"kind": "ggr", "base": "0.00", "rate": "0.1000", "amount": "0.00"}]
    assert (mine["carried_in"], mine["carried_out"], mine["transfer"]) == ("0.00", "0.00", None)
    # a second run answers the same statements and writes nothing
    again = run(api, book["admin"], book["period"])
    assert again.status_code == 201 and again.json() == body
    assert CommissionStatement.objects.count() == 2


@pytest.mark.parametrize(("role", "status"), [("player", 403), ("agent", 403), ("trader", 403),
                                              ("regulator", 403), (None, 401)])
def test_only_compliance_and_admins_run_a_period(api, book, role, status):
    response = run(api, book[role] if role else None, book["period"])
    assert response.status_code == status
    assert response.json()["error"] == ("not_authenticated" if status == 401 else "forbidden")
    assert not CommissionStatement.objects.exists()


@pytest.mark.parametrize(("body", "code"), [
    ({"start": "2026-12-07", "end": "2026-12-07"}, "invalid_period"),
    ({"start": "2026-12-07", "end": "2099-01-01"}, "invalid_period"),
    ({"start": "07/12/2026", "end": "2026-12-08"}, "invalid_date"),
    ({"start": "2026-12-07"}, "invalid_request"),
    ({"start": 20261207, "end": "2026-12-08"}, "invalid_date"),
])
def test_a_bad_period_is_a_400(api, book, body, code):
    response = run(api, book["compliance"], body)
    assert (response.status_code, response.json()["error"]) == (400, code)
    assert not CommissionStatement.objects.exists()


def test_who_reads_which_statements(api, book):
    run(api, book["compliance"], book["period"])
    everyone = sorted(CommissionStatement.objects.values_list("pk", flat=True))
    for role in ("compliance", "regulator", "admin"):
        response = api(book[role]).get("/api/v1/commissions")
        assert response.status_code == 200
        assert sorted(s["id"] for s in response.json()["results"]) == everyone
    # an agent reads their own only, whatever they filter on
    own = api(book["agent"]).get("/api/v1/commissions").json()["results"]
    assert [s["agent_id"] for s in own] == [book["agent"].pk]
    assert api(book["agent"]).get("/api/v1/commissions", {"agent": book["other_agent"].pk}).json()["results"] == []
    for role in ("player", "trader"):
        assert api(book[role]).get("/api/v1/commissions").status_code == 403
    assert api().get("/api/v1/commissions").status_code == 401


def test_the_list_filters_by_agent_and_status(api, book):
    run(api, book["compliance"], book["period"])
    client = api(book["compliance"])
    by_agent = client.get("/api/v1/commissions", {"agent": book["other_agent"].pk}).json()["results"]
    assert [s["agent_id"] for s in by_agent] == [book["other_agent"].pk]
    assert client.get("/api/v1/commissions", {"status": "paid"}).json()["results"] == []
    assert len(client.get("/api/v1/commissions", {"status": "pending"}).json()["results"]) == 2
    for bad in ({"status": "done"}, {"agent": "x"}, {"agent": "-1"}):
        response = client.get("/api/v1/commissions", bad)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_approve_pays_the_agent_once_and_reject_pays_nothing(api, book):
    run(api, book["compliance"], book["period"])
    mine = CommissionStatement.objects.get(agent=book["agent"])
    theirs = CommissionStatement.objects.get(agent=book["other_agent"])
    client = api(book["compliance"])
    approved = client.post(f"/api/v1/commissions/{mine.pk}/approve", {"reason": "checked"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["status"], approved.json()["reason"]) == ("paid", "checked")
    assert approved.json()["transfer"].startswith("LDG-")
    assert wallet_of(book["agent"]).balance == Decimal("10.00")
    before = ledger_snapshot()
    again = client.post(f"/api/v1/commissions/{mine.pk}/approve", {"reason": "again"}, format="json")
    assert (again.status_code, again.json()["error"], again.json()["details"]) == (
        409, "commission_not_pending", {"status": "paid"})
    rejected = api(book["admin"]).post(f"/api/v1/commissions/{theirs.pk}/reject", {"reason": "no"}, format="json")
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["transfer"]) == (200, "rejected", None)
    assert ledger_snapshot() == before
    assert Transfer.objects.filter(kind=Transfer.Kind.COMMISSION).count() == 1


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_needs_a_reason_and_the_right_role(api, book, decision):
    run(api, book["compliance"], book["period"])
    statement = CommissionStatement.objects.get(agent=book["agent"])
    url = f"/api/v1/commissions/{statement.pk}/{decision}"
    before = ledger_snapshot()
    for body in ({}, {"reason": "  "}):
        response = api(book["compliance"]).post(url, body, format="json")
        assert (response.status_code, response.json()["error"]) == (400, "reason_required")
    for role in ("player", "agent", "trader", "regulator"):
        response = api(book[role]).post(url, {"reason": "mine"}, format="json")
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert api().post(url, {"reason": "x"}, format="json").status_code == 401
    missing = api(book["compliance"]).post(f"/api/v1/commissions/{statement.pk + 999}/{decision}", {"reason": "x"},
                                           format="json")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    statement.refresh_from_db()
    assert statement.status == "pending" and ledger_snapshot() == before


def test_another_tenants_staff_neither_see_nor_decide_the_statements(api, book, make_user):
    run(api, book["compliance"], book["period"])
    statement = CommissionStatement.objects.get(agent=book["agent"])
    acme = Tenant.objects.create(slug="acme-api", name="Acme")
    outsider = make_user("compliance", "acme-officer")
    User.objects.filter(pk=outsider.pk).update(tenant=acme)
    client = api(User.objects.get(pk=outsider.pk))
    before = ledger_snapshot()
    assert client.get("/api/v1/commissions").json()["results"] == []
    for decision in ("approve", "reject"):
        response = client.post(f"/api/v1/commissions/{statement.pk}/{decision}", {"reason": "x"}, format="json")
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
    export = client.get("/api/v1/exports/commissions.csv", {"start": "2020-01-01", "end": "2030-12-31"})
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 1  # the header
    statement.refresh_from_db()
    assert statement.status == "pending" and ledger_snapshot() == before


def test_the_csv_export_has_one_row_per_statement(api, book):
    run(api, book["compliance"], book["period"])
    statement = CommissionStatement.objects.get(agent=book["agent"])
    api(book["compliance"]).post(f"/api/v1/commissions/{statement.pk}/approve", {"reason": "ok"}, format="json")
    response = api(book["regulator"]).get("/api/v1/exports/commissions.csv", book["period"])
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    row = next(r for r in rows if r["statement_id"] == str(statement.pk))
    assert (row["agent"], row["period_start"], row["period_end"]) == (
        book["agent"].username, book["period"]["start"], book["period"]["end"])
    assert (row["deposits"], row["deposits_base"], row["deposits_rate"], row["deposits_amount"]) == (
        "509.99", "500.00", "0.0200", "10.00")
    assert (row["amount"], row["status"], row["reason"], row["decided_by"]) == (
        "10.00", "paid", "ok", book["compliance"].username)
    assert row["transfer"].startswith("LDG-") and row["tenant"] == "oddslab"
    # periods starting outside [start, end] are left out; a bad date is a 400
    later = api(book["regulator"]).get("/api/v1/exports/commissions.csv", {"start": "2030-01-01", "end": "2030-12-31"})
    assert b"".join(later.streaming_content).decode().count("\n") == 1
    bad = api(book["regulator"]).get("/api/v1/exports/commissions.csv", {"start": "soon"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_date")
    for role in ("trader", "agent", "player"):
        assert api(book[role]).get("/api/v1/exports/commissions.csv").status_code == 403


def test_the_console_page_lists_and_decides(client, book):
    from agents.services import commissions_run

    commissions_run(start=book["period"]["start"], end=book["period"]["end"], actor=Actor.system("test"))
    statement = CommissionStatement.objects.get(agent=book["agent"])
    client.force_login(book["compliance"])
    page = client.get("/admin/console/commissions/", {"status": "pending"})
    assert page.status_code == 200 and f'data-id="{statement.pk}"' in page.content.decode()
    assert b"Approve and pay" in page.content
    refused = client.post(f"/admin/console/commissions/{statement.pk}/decide/?status=pending",
                          {"decision": "approve", "reason": ""}, follow=True)
    assert "Say why" in refused.content.decode()
    done = client.post(f"/admin/console/commissions/{statement.pk}/decide/", {"decision": "approve", "reason": "ok"})
    assert done.status_code == 302
    statement.refresh_from_db()
    assert statement.status == "paid"
    client.force_login(book["regulator"])
    read_only = client.get("/admin/console/commissions/")
    assert read_only.status_code == 200 and b"Approve and pay" not in read_only.content
    assert client.post(f"/admin/console/commissions/{statement.pk}/decide/",
                       {"decision": "reject", "reason": "x"}).status_code == 403
    client.force_login(book["trader"])
    assert client.get("/admin/console/commissions/").status_code == 403


def test_the_schema_documents_the_commission_endpoints(api):
    schema = api().get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/commissions", "/api/v1/commissions/run", "/api/v1/commissions/{id}/approve",
                 "/api/v1/commissions/{id}/reject", "/api/v1/exports/commissions.csv"):
        assert path in schema["paths"], path


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_id_past_bigint_is_a_404(api, book, decision):
    response = api(book["compliance"]).post(f"/api/v1/commissions/{2**63}/{decision}", {"reason": "x"}, format="json")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_a_tenants_compliance_officer_runs_and_sees_their_tenant_only(api, book, make_user):
    acme = Tenant.objects.create(slug="acme-officer", name="Acme")
    officer = make_user("compliance", "acme-runner")
    User.objects.filter(pk=officer.pk).update(tenant=acme)
    response = run(api, User.objects.get(pk=officer.pk), book["period"])
    assert (response.status_code, response.json()) == (201, [])
    assert not CommissionStatement.objects.exists()


def test_the_console_index_links_the_page_and_a_bad_filter_is_a_message(client, book):
    client.force_login(book["regulator"])
    assert b"/admin/console/commissions/" in client.get("/admin/console/").content
    page = client.get("/admin/console/commissions/", {"agent": "abc"})
    assert page.status_code == 200 and "agent must be a whole number" in page.content.decode()
    client.force_login(book["trader"])
    assert b"/admin/console/commissions/" not in client.get("/admin/console/").content
