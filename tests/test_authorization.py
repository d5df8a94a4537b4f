"""A player never sees another player's data; staff endpoints refuse players."""

import pytest

from tests.conftest import wallet_of


def test_a_player_cannot_read_another_players_statement(api, player, make_user):
    other = make_user(balance="50.00")
    response = api(player).get(f"/api/v1/accounts/{wallet_of(other).pk}/transactions")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    own = api(player).get("/api/v1/wallet/transactions").json()
    assert own["count"] == 1 and own["results"][0]["amount"] == "1000.00"


@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/ledger/check",
                                  "/api/v1/audit-logs"])
def test_staff_endpoints_refuse_players(api, player, path):
    assert api(player).get(path).status_code == 403


def test_staff_read_any_statement(api, player, make_user):
    response = api(make_user("regulator")).get(
        f"/api/v1/accounts/{wallet_of(player).pk}/transactions")
    assert response.status_code == 200
    assert response.json()["results"][0]["balance_after"] == "1000.00"
    assert api(make_user("trader")).get("/api/v1/accounts/999999/transactions").status_code == 404


def test_ledger_accounts_and_check_for_staff(api, player, make_user):
    compliance = api(make_user("compliance"))
    accounts = {a["code"]: a["balance"] for a in compliance.get("/api/v1/accounts").json()["results"]}
    assert accounts["house:cashier"] == "-1000.00"
    assert compliance.get("/api/v1/ledger/check").json()["ok"] is True
