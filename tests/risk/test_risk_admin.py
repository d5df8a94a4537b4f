"""Limits are data that the right roles edit in the admin, audited and with history."""

from decimal import Decimal

from risk.models import Geofence, LimitProfile
from tests.conftest import audit_rows


def test_compliance_edits_a_limit_profile_and_the_edit_is_audited(client, make_user):
    client.force_login(make_user("compliance"))
    response = client.post("/admin/risk/limitprofile/add/", {
        "scope": "global", "max_stake": "250.00", "note": "holiday limits"})
    assert response.status_code == 302, response.content[:2000]
    profile = LimitProfile.objects.get()
    assert profile.max_stake == Decimal("250.00")
    record = audit_rows("limitprofile.add").get()
    assert record.details["after"]["max_stake"] == "250.00" and record.category == "compliance"
    client.post(f"/admin/risk/limitprofile/{profile.pk}/change/", {"scope": "global", "max_stake": "300.00"})
    change = audit_rows("limitprofile.change").get()
    assert (change.details["before"]["max_stake"], change.details["after"]["max_stake"]) == ("250.00", "300.00")
    assert profile.history.count() == 2


def test_compliance_turns_geofencing_on(client, make_user):
    client.force_login(make_user("compliance"))
    response = client.post("/admin/risk/geofence/1/change/", {"enabled": "on", "blocked_countries": "US,FR"})
    assert response.status_code == 302
    assert Geofence.objects.get().blocked_countries == ["US", "FR"]


def test_traders_and_regulators_cannot_edit_limits(client, make_user):
    for role in ("trader", "regulator"):
        client.force_login(make_user(role))
        assert client.get("/admin/risk/limitprofile/").status_code == 200
        assert client.get("/admin/risk/limitprofile/add/").status_code == 403
        assert client.post("/admin/risk/limitprofile/add/", {"scope": "global"}).status_code == 403
    assert not LimitProfile.objects.exists()
