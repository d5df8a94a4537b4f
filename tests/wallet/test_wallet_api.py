from decimal import Decimal

import pytest

from audit.models import AuditLog
from ledger.models import Transfer
from tests.conftest import audit_rows, ledger_snapshot, run_concurrently, wallet_of


def test_deposit_credits_the_wallet(api, player):
    # when
    response = api(player).post("/api/v1/wallet/deposits", {"amount": "250.50"}, format="json")
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["balance"] == "1250.50"
    assert body["transaction"]["kind"] == "deposit"
    assert body["transaction"]["amount"] == "250.50"
    assert body["transaction"]["entry_number"].startswith("LDG-")
    assert wallet_of(player).balance == Decimal("1250.50")
    record = audit_rows("wallet.deposit", "success").get(actor=player)
    assert record.details["transfer"] == body["transaction"]["entry_number"]
    assert record.category == AuditLog.Category.WALLET and record.ip_address == "127.0.0.1"


def test_withdrawal_debits_the_wallet(api, player):
    response = api(player).post("/api/v1/wallet/withdrawals", {"amount": "999.99"}, format="json")
    assert response.status_code == 201
    assert response.json()["balance"] == "0.01"
    assert api(player).get("/api/v1/wallet").json() == {"balance": "0.01", "currency": "PLAY"}


def test_overdrawn_withdrawal_is_refused_and_leaves_only_an_audit_row(api, player):
    # given
    before = ledger_snapshot()
    # when
    response = api(player).post("/api/v1/wallet/withdrawals", {"amount": "1000.01"}, format="json")
    # then
    assert response.status_code == 422
    assert response.json() == {
        "error": "insufficient_funds",
        "message": "Your balance is too low for this.",
        "details": {"balance": "1000.00", "amount": "1000.01", "shortfall": "0.01"},
    }
    assert ledger_snapshot() == before
    refusal = audit_rows("wallet.withdrawal", "refused").get()
    assert refusal.details["error"] == "insufficient_funds"
    assert refusal.actor == player


@pytest.mark.parametrize("amount", [
    "0", "-5.00", "1.234", "abc", "", 10.5, None, True, [1], "1e3000", "1000000.01",
])
def test_bad_amounts_get_invalid_amount_and_change_nothing(api, player, amount):
    before = ledger_snapshot()
    response = api(player).post("/api/v1/wallet/deposits", {"amount": amount}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"] == "invalid_amount"
    assert response.json()["message"]
    assert ledger_snapshot() == before
    assert audit_rows("wallet.deposit", "refused").count() == 1


def test_missing_amount_is_a_400_with_the_error_shape(api, player):
    response = api(player).post("/api/v1/wallet/deposits", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request" and "amount" in body["details"]


def test_malformed_json_is_a_400(api, player):
    response = api(player).post("/api/v1/wallet/deposits", "{not json",
                                content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_same_idempotency_key_and_body_returns_the_first_response(api, player):
    client = api(player)
    first = client.post("/api/v1/wallet/deposits", {"amount": "10.00"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="dep-1")
    client.post("/api/v1/wallet/deposits", {"amount": "5.00"}, format="json")  # moves the balance
    again = client.post("/api/v1/wallet/deposits", {"amount": "10.00"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="dep-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["balance"] == "1010.00"
    assert Transfer.objects.filter(kind="deposit", amount=Decimal("10.00")).count() == 1
    assert wallet_of(player).balance == Decimal("1015.00")


def test_same_idempotency_key_with_another_body_is_a_409(api, player):
    client = api(player)
    client.post("/api/v1/wallet/deposits", {"amount": "10.00"}, format="json",
                HTTP_IDEMPOTENCY_KEY="dep-2")
    before = ledger_snapshot()
    response = client.post("/api/v1/wallet/deposits", {"amount": "11.00"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="dep-2")
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert ledger_snapshot() == before
    # the same key on the other endpoint is another body too
    response = client.post("/api/v1/wallet/withdrawals", {"amount": "10.00"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="dep-2")
    assert response.status_code == 409


def test_idempotency_keys_are_per_player(api, player, make_user):
    other = make_user()
    api(player).post("/api/v1/wallet/deposits", {"amount": "10.00"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="shared")
    response = api(other).post("/api/v1/wallet/deposits", {"amount": "20.00"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201
    assert response.json()["balance"] == "20.00"


def test_an_overlong_idempotency_key_is_refused(api, player):
    response = api(player).post("/api/v1/wallet/deposits", {"amount": "1.00"}, format="json",
                                HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_idempotency_key"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_identical_requests_make_one_transfer(api, make_user):
    # given
    player = make_user(balance="100.00")
    client = api(player)
    # when 16 copies of the same request race
    responses = run_concurrently(16, lambda i: client.post(
        "/api/v1/wallet/withdrawals", {"amount": "60.00"}, format="json",
        HTTP_IDEMPOTENCY_KEY="race-1"))
    # then one withdrawal happened and every copy got its response
    assert {r.status_code for r in responses} == {201}
    assert {r.json()["transaction"]["entry_number"] for r in responses} == {
        responses[0].json()["transaction"]["entry_number"]}
    assert wallet_of(player).balance == Decimal("40.00")
    assert Transfer.objects.filter(kind="withdrawal").count() == 1


def test_statement_lists_newest_first_with_running_balance(api, player):
    client = api(player)
    client.post("/api/v1/wallet/deposits", {"amount": "50.00"}, format="json")
    client.post("/api/v1/wallet/withdrawals", {"amount": "20.00"}, format="json")
    response = client.get("/api/v1/wallet/transactions")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    lines = [(line["kind"], line["amount"], line["direction"], line["balance_after"])
             for line in body["results"]]
    assert lines == [
        ("withdrawal", "20.00", "debit", "1030.00"),
        ("deposit", "50.00", "credit", "1050.00"),
        ("deposit", "1000.00", "credit", "1000.00"),
    ]
    assert set(body["results"][0]) >= {"entry_number", "kind", "amount", "direction",
                                       "balance_after", "reference", "created_at"}


def test_statement_pages(api, player):
    client = api(player)
    for _ in range(4):
        client.post("/api/v1/wallet/deposits", {"amount": "1.00"}, format="json")
    page = client.get("/api/v1/wallet/transactions?page_size=2&page=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"]


def test_wallet_needs_login(api):
    response = api().get("/api/v1/wallet")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
