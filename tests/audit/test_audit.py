import csv
import io

import pytest

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from tests.conftest import assert_database_refuses


def test_database_refuses_to_change_audit_rows(player):
    audit_record(actor=Actor.of(player), action="test.thing", category="admin")
    for statement in ("UPDATE audit_auditlog SET action = 'x'", "DELETE FROM audit_auditlog",
                      "TRUNCATE audit_auditlog"):
        assert_database_refuses(statement)
    assert AuditLog.objects.filter(action="test.thing").count() == 1


def test_retention_follows_the_category(player):
    rows = {category: audit_record(actor=Actor.of(player), action="t", category=category)
            for category in AuditLog.Category.values}
    years = {c: round((r.expires_at - r.created_at).days / 365) for c, r in rows.items()}
    assert years == {"betting": 5, "wallet": 5, "admin": 2, "security": 7, "compliance": 7}


def test_regulator_filters_the_audit_log(api, make_user, player):
    # given
    regulator = make_user("regulator")
    api(player).post("/api/v1/wallet/withdrawals", {"amount": "5000.00"}, format="json")
    api(player).post("/api/v1/wallet/deposits", {"amount": "5.00"}, format="json")
    # when
    response = api(regulator).get("/api/v1/audit-logs", {"actor": "patricia",
                                                         "resource_type": "wallet"})
    # then
    assert response.status_code == 200
    actions = [(r["action"], r["outcome"]) for r in response.json()["results"]]
    assert actions == [("wallet.deposit", "success"), ("wallet.withdrawal", "refused")]
    refused = api(regulator).get("/api/v1/audit-logs", {"action": "wallet.withdrawal"}).json()
    assert refused["count"] == 1
    today = refused["results"][0]["created_at"][:10]
    assert api(regulator).get("/api/v1/audit-logs", {"start": today, "end": today}).json()["count"]
    assert api(regulator).get("/api/v1/audit-logs", {"end": "2000-01-01"}).json()["count"] == 0


def test_bad_dates_are_a_400(api, make_user):
    response = api(make_user("compliance")).get("/api/v1/audit-logs", {"start": "yesterday"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_date"


def test_compliance_downloads_the_csv_export(api, make_user, player):
    api(player).post("/api/v1/wallet/deposits", {"amount": "5.00"}, format="json")
    response = api(make_user("compliance")).get("/api/v1/exports/audit-logs.csv",
                                                {"action": "wallet.deposit", "actor": "patricia"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["wallet.deposit"]
    assert rows[0]["actor"] == "patricia" and '"amount": "5.00"' in rows[0]["details"]


@pytest.mark.parametrize("path", ["/api/v1/audit-logs", "/api/v1/exports/audit-logs.csv"])
def test_players_and_traders_cannot_read_the_audit_log(api, make_user, player, path):
    assert api(player).get(path).status_code == 403
    assert api(make_user("trader")).get(path).status_code == 403
    assert api().get(path).status_code == 401
