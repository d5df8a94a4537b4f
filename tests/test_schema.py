"""The OpenAPI schema describes every endpoint, and every endpoint documents its error codes."""

import yaml


def test_schema_covers_the_v1_endpoints_with_their_errors(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in ["/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/me", "/api/v1/wallet",
                 "/api/v1/wallet/deposits", "/api/v1/wallet/withdrawals",
                 "/api/v1/wallet/transactions", "/api/v1/audit-logs",
                 "/api/v1/exports/audit-logs.csv", "/api/v1/events/{id}", "/api/v1/events/{id}/players"]:
        assert path in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{method.upper()} {path} documents no error response"
    event = schema["components"]["schemas"]["Event"]["properties"]
    assert {"clock", "score"} <= set(event)
    result = paths["/api/v1/events/{id}/result"]["post"]
    assert "invalid_player_stats" in result["responses"]["400"]["description"]
    withdrawals = paths["/api/v1/wallet/withdrawals"]["post"]["responses"]
    assert "insufficient_funds" in withdrawals["422"]["description"]
    assert "idempotency_conflict" in withdrawals["409"]["description"]


def test_docs_page_is_served(client, db):
    assert client.get("/api/docs/").status_code == 200


def test_schema_generates_without_warnings(db, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
