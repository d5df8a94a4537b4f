"""Odd input (issue 13): text PostgreSQL cannot store, out-of-range dates and numbers, ids past bigint.

Each is a 4xx with the error shape (or an error message on a console page), never a 500, and a
refused request changes nothing but its audit row.
"""

import json

import pytest
from django.test import Client, override_settings

from audit.models import AuditLog
from tests.conftest import audit_rows, bets_snapshot, ledger_snapshot, selection

BEYOND_BIGINT = "9" * 25
LONE_SURROGATE = "\ud800"


def _post_json(client, path: str, body, **headers):
    # json.dumps writes a lone surrogate as the escape "\ud800": valid JSON that Python parses back into it
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def _assert_refused(response, field_part: str, code: str = "invalid_request"):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == code and body["message"]
    assert field_part in body["details"]["field"]


# --- 1. NUL bytes and lone surrogates -----------------------------------------------------------

def test_a_lone_surrogate_in_an_unknown_key_of_a_slip_is_a_400_and_changes_nothing(api, player, make_event):
    # given a slip whose selection carries an unknown key holding a lone surrogate (schemathesis found it)
    event = make_event()
    slip = {"selections": [{**selection(event), f"x{LONE_SURROGATE}": 1}], "stake": "10.00", "bet_type": "single"}
    before = bets_snapshot()
    # when the player places it
    response = _post_json(api(player), "/api/v1/bets", slip)
    # then it is refused before any service runs: no bet, no money moved, no audit row to choke on
    _assert_refused(response, "selections[0].<key 2>")
    assert bets_snapshot() == before
    assert not audit_rows("bet.place").exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "10.00\x00"}, "amount"),
    ({"amount": "10.00", "note\x00": "x"}, "<key 1>"),
    ({"amount": ["1", {"deep": f"a{LONE_SURROGATE}"}]}, "amount[1].deep"),
])
def test_nul_and_lone_surrogates_anywhere_in_a_json_body_are_a_400(api, player, body, field):
    # given a deposit body with unstorable text in a value, a key, or deep inside
    before = ledger_snapshot()
    # when it is posted
    response = _post_json(api(player), "/api/v1/wallet/deposits", body)
    # then the parser refuses it and names the field
    _assert_refused(response, field)
    assert ledger_snapshot() == before


def test_a_nul_in_a_refused_slips_price_is_a_400_not_a_500(api, player, make_event):
    # given a price holding a NUL, which the refusal's audit row would copy into jsonb
    event = make_event()
    slip = {"selections": [selection(event, price="2.50\x00")], "stake": "10.00", "bet_type": "single"}
    before = bets_snapshot()
    # when it is placed
    response = _post_json(api(player), "/api/v1/bets", slip)
    # then a 400 naming the price, and nothing written
    _assert_refused(response, "selections[0].price")
    assert bets_snapshot() == before


def test_a_nul_in_an_api_query_string_is_a_400_with_the_error_shape(api, make_user):
    # given a regulator filtering the audit log
    regulator = make_user("regulator")
    # when a filter holds a NUL
    response = api(regulator).get("/api/v1/audit-logs", {"action": "wallet.deposit\x00"})
    # then the middleware refuses it before the query reaches PostgreSQL
    _assert_refused(response, "action")


@pytest.mark.parametrize("path", ["/?sport=foot%00ball", "/bets?status=%00", "/admin/events/event/?q=%00",
                                  "/admin/console/audit/?action=%00"])
def test_a_nul_in_a_page_or_admin_query_string_is_a_400_page(client, make_user, path):
    # given an admin's session (the player pages answer anyone)
    client.force_login(make_user("admin"))
    client.raise_request_exception = False
    # when a query value holds a NUL
    response = client.get(path)
    # then a 400 page, not a 500
    assert response.status_code == 400 and b"Bad request" in response.content


def test_a_nul_in_a_page_form_post_is_a_400_page_and_creates_no_user(db):
    # given the signup form
    client = Client(raise_request_exception=False)
    # when a field holds a NUL
    response = client.post("/signup", {"username": "nul\x00name", "password1": "a-long-test-password",
                                       "password2": "a-long-test-password", "email": "n@example.test",
                                       "country": "GB", "date_of_birth": "1990-01-01"})
    # then it is refused before the form runs
    assert response.status_code == 400 and b"username" in response.content
    from accounts.models import User
    assert not User.objects.filter(username__startswith="nul").exists()


def test_a_recorded_user_agent_is_cleaned_and_cut(api, player):
    # given a user agent with a NUL and far past the column's 300 characters
    agent = "odd\x00agent/" + "x" * 1000
    # when the player deposits
    response = _post_json(api(player), "/api/v1/wallet/deposits", {"amount": "5.00"}, HTTP_USER_AGENT=agent)
    # then the deposit goes through and the audit row keeps a clean, cut user agent
    assert response.status_code == 201
    row = audit_rows("wallet.deposit").latest("id")
    assert row.user_agent == ("oddagent/" + "x" * 1000)[:300]


@override_settings(TRUSTED_PROXY_IP_HEADER="X-Forwarded-For")
def test_a_garbled_forwarded_address_falls_back_to_the_peer(api, player):
    # given a proxy header that is no address (the audit column is inet)
    # when the player deposits through it
    response = _post_json(api(player), "/api/v1/wallet/deposits", {"amount": "5.00"},
                          HTTP_X_FORWARDED_FOR="not-an-ip, 10.0.0.1")
    # then the deposit goes through, recorded with the peer's address
    assert response.status_code == 201
    assert audit_rows("wallet.deposit").latest("id").ip_address == "127.0.0.1"


@pytest.mark.parametrize("key", ["clé-1", "key\x00", "tab\tkey", ""])
def test_an_idempotency_key_must_be_printable_ascii(api, player, key):
    # given a key outside printable ASCII (or empty)
    before = ledger_snapshot()
    # when a deposit carries it
    response = _post_json(api(player), "/api/v1/wallet/deposits", {"amount": "1.00"}, HTTP_IDEMPOTENCY_KEY=key)
    # then it is refused, and no money moved
    assert response.status_code == 400 and response.json()["error"] == "invalid_idempotency_key"
    assert ledger_snapshot() == before


def test_a_huge_refused_slip_writes_a_bounded_audit_row(api, player, make_event):
    # given a slip of about 2 MB (Django refuses bodies past 2.5 MB itself): a long price, many long
    # unknown values, and a bad stake
    event = make_event()
    bulky = {**selection(event, price="2." + "5" * 100_000), "padding": ["p" * 1000] * 2000}
    slip = {"selections": [bulky], "stake": "lots", "bet_type": "single"}
    before = bets_snapshot()
    # when it is placed and refused
    response = _post_json(api(player), "/api/v1/bets", slip)
    # then the refusal is audited with its code, in a row of bounded size that says what was cut
    assert response.status_code == 400, response.content
    assert bets_snapshot() == before
    from audit.services import DETAILS_MAX_CHARS

    row = audit_rows("bet.place", AuditLog.Outcome.REFUSED).get()
    stored = json.dumps(row.details)
    assert len(stored) <= DETAILS_MAX_CHARS + 200
    assert row.details["error"] == response.json()["error"] and "not kept" in row.details["details_cut"]


def test_bounded_details_cut_each_text_list_and_object_and_mark_it():
    from audit.services import bounded_details

    # given details with a long text, a long list, many keys and deep nesting
    details = {"text": "t" * 2000, "list": list(range(500)), "keys": {str(i): i for i in range(300)},
               "deep": [[[[[[[[[[["bottom"]]]]]]]]]]], "error": "invalid_amount", "message": "Bad."}
    # when they are bounded
    kept = bounded_details(details)
    # then every part is cut to its limit, with a marker saying how much is missing
    assert kept["text"].endswith("…[1500 more characters]") and len(kept["text"]) < 600
    assert kept["list"][:100] == list(range(100)) and kept["list"][100] == "…[400 more items]"
    assert kept["keys"]["…"] == "200 more keys"
    assert "nested deeper" in json.dumps(kept["deep"])
    assert kept["error"] == "invalid_amount" and kept["message"] == "Bad."


# --- 2. Dates and numbers in query strings -------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "field", "code"), [
    ("/api/v1/reports/ggr", {"end": "9999-12-31"}, "end", "invalid_date"),
    ("/api/v1/reports/ggr", {"start": "2026-W47-1"}, "start", "invalid_date"),
    ("/api/v1/reports/ggr", {"start": "20261122"}, "start", "invalid_date"),
    ("/api/v1/reports/ggr", {"end": "0000-01-01"}, "end", "invalid_date"),
    ("/api/v1/audit-logs", {"end": "9999-12-31"}, "end", "invalid_date"),
    ("/api/v1/audit-logs", {"category": "nonsense"}, "category", "invalid_request"),
    ("/api/v1/exports/bets.csv", {"end": "9999-12-31"}, "end", "invalid_date"),
    ("/api/v1/exports/audit-logs.csv", {"start": "２０２６-１１-２２"}, "start", "invalid_date"),
    ("/api/v1/bets", {"page": "²"}, "page", "invalid_request"),
    ("/api/v1/bets", {"page": BEYOND_BIGINT}, "page", "invalid_request"),
    ("/api/v1/bets", {"page_size": "٣"}, "page_size", "invalid_request"),
    ("/api/v1/audit-logs", {"page_size": "0"}, "page_size", "invalid_request"),
])
def test_bad_dates_and_numbers_in_api_queries_are_a_400(api, make_user, path, query, field, code):
    # given an admin, who may read every report
    admin = make_user("admin")
    # when a query value is out of range or not plain ASCII digits
    response = api(admin).get(path, query)
    # then a 400 with the error shape naming the parameter
    _assert_refused(response, field, code)


@pytest.mark.parametrize("actor", ["²", BEYOND_BIGINT, "9" * 5000])
def test_an_audit_actor_that_is_no_id_is_looked_up_as_a_name(api, make_user, actor):
    # given a regulator
    regulator = make_user("regulator")
    # when the actor filter is a digit int() refuses, a number past bigint, or past int()'s digit limit
    response = api(regulator).get("/api/v1/audit-logs", {"actor": actor})
    # then it is a username that nobody has
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_page_past_the_last_is_still_a_404(api, player):
    # when a player asks for page 2 of an empty list
    response = api(player).get("/api/v1/bets", {"page": "2"})
    # then the paginator's not found, in the error shape
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize(("path", "message"), [
    ("/admin/console/liabilities/?days=²", "days must be a whole number"),
    ("/admin/console/liabilities/?days=" + BEYOND_BIGINT, "days must be a whole number"),
    ("/admin/console/reports/ggr/?end=9999-12-31", "end must be a date"),
    ("/admin/console/reports/settlements/?start=2026-W47-1", "start must be a date"),
    ("/admin/console/audit/?actor=²", ""),
    ("/admin/console/audit/?end=9999-12-31", "end must be a date"),
])
def test_bad_dates_and_numbers_on_console_pages_show_a_message(client, make_user, path, message):
    # given an admin on the console
    client.force_login(make_user("admin"))
    # when a page's query is out of range
    response = client.get(path)
    # then the page is drawn with the message (and its defaults)
    assert response.status_code == 200
    assert message.lower() in response.content.decode().lower()


# --- Path ids past bigint: Django 5.2's lookups find no row, so each is a 404 -------------------

@pytest.mark.parametrize(("role", "method", "path", "body"), [
    (None, "get", "/api/v1/events/{id}", None),
    (None, "get", "/api/v1/events/{id}/players", None),
    ("trader", "post", "/api/v1/events/{id}/start", {}),
    ("trader", "post", "/api/v1/events/{id}/result", {"home_score": 1, "away_score": 0}),
    ("trader", "post", "/api/v1/events/{id}/cancel", {"reason": "odd"}),
    ("trader", "get", "/api/v1/events/{id}/settlement", None),
    ("trader", "post", "/api/v1/markets/{id}/suspend", {}),
    ("trader", "post", "/api/v1/markets/{id}/cancel", {"reason": "odd"}),
    ("trader", "post", "/api/v1/outcomes/{id}/price", {"price": "2.00", "reason": "odd"}),
    ("trader", "post", "/api/v1/outcomes/{id}/release", {}),
    ("player", "get", "/api/v1/bets/{id}", None),
    ("trader", "post", "/api/v1/bets/{id}/settle", {"result": "won", "reason": "odd"}),
    ("admin", "get", "/api/v1/accounts/{id}/transactions", None),
])
def test_api_ids_past_bigint_are_a_404(api, make_user, role, method, path, body):
    # given a caller who may use the endpoint
    client = api(make_user(role) if role else None)
    # when the id in the path is past bigint
    url = path.format(id=BEYOND_BIGINT)
    response = client.get(url) if method == "get" else client.post(url, body, format="json")
    # then not found, in the error shape
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/events/{id}", "/admin/console/ledger/{id}/", "/admin/events/event/{id}/start/",
                                  "/admin/events/market/{id}/suspend/", "/admin/events/outcome/{id}/price/",
                                  "/admin/betting/bet/{id}/settle/"])
def test_page_ids_past_bigint_are_a_404(client, make_user, path):
    # given an admin's session
    client.force_login(make_user("admin"))
    # when a page's id is past bigint
    response = client.get(path.format(id=BEYOND_BIGINT))
    # then not found
    assert response.status_code == 404



@pytest.mark.parametrize("path", ["/api/v1/accounts/-5/transactions", "/api/v1/no-such-thing"])
def test_an_api_url_that_matches_no_route_is_a_404_in_the_error_shape(api, make_user, path):
    # given an admin (schemathesis sent a negative id, which no <int:pk> route matches)
    client = api(make_user("admin"))
    # when the URL matches no route
    response = client.get(path)
    # then a 404 in the one error shape, not Django's HTML page
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("amount", ["٣", "١٠.٠٠", "１０.００", "10.0\u0660"])
def test_an_amount_in_another_scripts_digits_is_refused_not_read_as_a_number(api, player, amount):
    # given digits Python's Decimal() would read ("٣" is 3)
    before = ledger_snapshot()
    # when they are deposited
    response = api(player).post("/api/v1/wallet/deposits", {"amount": amount}, format="json")
    # then 400 invalid_amount naming the field, and nothing moved
    assert (response.status_code, response.json()["error"]) == (400, "invalid_amount")
    assert response.json()["details"]["field"] == "amount"
    assert ledger_snapshot() == before


def test_a_nul_in_a_multipart_put_is_a_400_not_a_500(api, player):
    # given a form body DRF parses itself (the middleware checks POSTed forms only)
    from risk.models import PlayerRestriction

    # when a limit's value holds a NUL
    response = api(player).put("/api/v1/me/limits", {"loss_month": "5\x00"}, format="multipart")
    # then the parser refuses it, naming the field, and nothing is set
    _assert_refused(response, "loss_month")
    assert not PlayerRestriction.objects.filter(player=player).exists()
