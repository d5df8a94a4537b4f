"""Log-in throttling (issue 13): five failures lock a username for 15 minutes on the token endpoint,
the page log-in and the admin log-in; an address has its own, higher limit (AUTH_IP_FAILURE_LIMIT)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings
from django.utils import timezone

from tests.conftest import audit_rows

RIGHT = "a-long-test-password"


def token_login(api, username, password, **extra):
    return api().post("/api/v1/auth/token", {"username": username, "password": password}, format="json", **extra)


def test_five_failures_lock_the_username_on_the_token_endpoint(api, player, make_user):
    # given: four failures are refused as wrong credentials
    for _ in range(4):
        assert token_login(api, "patricia", "wrong").status_code == 401
    # when: the fifth failure
    fifth = token_login(api, "patricia", "wrong")
    # then: it locks the username, and the right password is refused too, in the API's error shape
    assert fifth.status_code == 429 and fifth.json()["error"] == "too_many_attempts"
    locked = token_login(api, "patricia", RIGHT)
    assert locked.status_code == 429
    assert locked.json() == {"error": "too_many_attempts", "message": locked.json()["message"],
                             "details": {"retry_after_minutes": 15}}
    assert "15 minutes" in locked.json()["message"]
    assert audit_rows("auth.locked_out", "refused").filter(resource_label="patricia").exists()
    # and another user from the same address still logs in: the username is locked, not the address
    make_user("player", "quentin")
    assert token_login(api, "quentin", RIGHT).status_code == 200


def test_the_lock_lifts_after_15_minutes(api, player):
    # given: a locked username
    for _ in range(5):
        token_login(api, "patricia", "wrong")
    assert token_login(api, "patricia", RIGHT).status_code == 429
    # when: the failures are 15 minutes old
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    # then
    assert token_login(api, "patricia", RIGHT).status_code == 200


def test_a_success_clears_earlier_failures(api, player):
    # given
    for _ in range(4):
        token_login(api, "patricia", "wrong")
    # when
    assert token_login(api, "patricia", RIGHT).status_code == 200
    # then: four more failures do not lock
    for _ in range(4):
        assert token_login(api, "patricia", "wrong").status_code == 401
    assert token_login(api, "patricia", RIGHT).status_code == 200


@pytest.mark.parametrize("page", ["/accounts/login/", "/admin/login/"])
def test_the_page_and_admin_log_ins_lock_with_a_clear_message(page, make_user):
    # given: a member of staff (the admin log-in takes staff only)
    make_user("trader", "tristan")
    client = Client()
    for _ in range(4):
        assert client.post(page, {"username": "tristan", "password": "wrong"}).status_code == 200
    # when
    fifth = client.post(page, {"username": "tristan", "password": "wrong"})
    locked = client.post(page, {"username": "tristan", "password": RIGHT})
    # then
    for response in (fifth, locked):
        assert response.status_code == 429
        assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_token_endpoint_and_the_pages_share_one_count(api, player):
    # given: three failures on the API and one on the page
    for _ in range(3):
        token_login(api, "patricia", "wrong")
    Client().post("/accounts/login/", {"username": "patricia", "password": "wrong"})
    # when: the fifth, on the admin's log-in
    Client().post("/admin/login/", {"username": "patricia", "password": "wrong"})
    # then
    assert token_login(api, "patricia", RIGHT).status_code == 429


@override_settings(AUTH_IP_FAILURE_LIMIT=8)
def test_an_address_is_locked_after_its_own_higher_limit(api, player):
    # given: seven failures from one address, each for another username (none reaches 5)
    for n in range(7):
        assert token_login(api, f"guess{n}", "wrong", REMOTE_ADDR="10.0.0.7").status_code == 401
    # when: the eighth
    assert token_login(api, "guess7", "wrong", REMOTE_ADDR="10.0.0.7").status_code == 429
    # then: the address is locked, even for a right password, and another address is not
    assert token_login(api, "patricia", RIGHT, REMOTE_ADDR="10.0.0.7").status_code == 429
    assert token_login(api, "patricia", RIGHT, REMOTE_ADDR="10.0.0.8").status_code == 200


@override_settings(AUTH_IP_FAILURE_LIMIT=8, TRUSTED_PROXY_IP_HEADER="X-Forwarded-For")
def test_the_address_comes_from_the_trusted_proxy_header(api, player):
    # given: behind the load balancer every request comes from its address
    behind = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(8):
        token_login(api, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9", **behind)
    # then: the client it names is locked, another client behind the same balancer is not
    assert token_login(api, "patricia", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.9", **behind).status_code == 429
    assert token_login(api, "patricia", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.4", **behind).status_code == 200
