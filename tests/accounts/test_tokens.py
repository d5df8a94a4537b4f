"""API tokens (issue 13): DELETE /api/v1/auth/token revokes the token in use; tokens expire after
AUTH_TOKEN_TTL_HOURS, and logging in again then issues a fresh one."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.conftest import audit_rows

CREDENTIALS = {"username": "patricia", "password": "a-long-test-password"}


def logged_in(api, token: str):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_delete_revokes_the_token_in_use(api, player):
    # given
    token = api().post("/api/v1/auth/token", CREDENTIALS, format="json").json()["token"]
    client = logged_in(api, token)
    assert client.get("/api/v1/me").status_code == 200
    # when
    response = client.delete("/api/v1/auth/token")
    # then
    assert response.status_code == 204
    assert not Token.objects.filter(key=token).exists()
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    assert audit_rows("auth.token_revoke").get().actor == player


def test_delete_with_a_session_revokes_the_users_token(api, player):
    # given: a token, and a page session of the same player
    token = api().post("/api/v1/auth/token", CREDENTIALS, format="json").json()["token"]
    session = Client()
    session.force_login(player)
    # when
    response = session.delete("/api/v1/auth/token")
    # then
    assert response.status_code == 204
    assert logged_in(api, token).get("/api/v1/me").status_code == 401


def test_delete_needs_a_login(api, db):
    response = api().delete("/api/v1/auth/token")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


def test_an_expired_token_is_refused_and_logging_in_issues_a_fresh_one(api, player, settings):
    # given: a token issued longer ago than the TTL
    old = api().post("/api/v1/auth/token", CREDENTIALS, format="json").json()["token"]
    Token.objects.filter(key=old).update(created=timezone.now() - timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS,
                                                                            seconds=1))
    # when
    expired = logged_in(api, old).get("/api/v1/me")
    # then
    assert expired.status_code == 401 and expired.json()["error"] == "not_authenticated"
    # and a log-in (even one that still sends the expired token) gets a new token that works
    response = logged_in(api, old).post("/api/v1/auth/token", CREDENTIALS, format="json")
    assert response.status_code == 200
    fresh = response.json()["token"]
    assert fresh != old and not Token.objects.filter(key=old).exists()
    assert logged_in(api, fresh).get("/api/v1/me").json()["username"] == "patricia"


def test_a_token_within_its_ttl_works_and_is_reissued_as_it_is(api, player, settings):
    # given: a token just within the TTL
    first = api().post("/api/v1/auth/token", CREDENTIALS, format="json").json()["token"]
    Token.objects.filter(key=first).update(created=timezone.now() - timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS)
                                           + timedelta(minutes=1))
    # then
    assert logged_in(api, first).get("/api/v1/me").status_code == 200
    assert api().post("/api/v1/auth/token", CREDENTIALS, format="json").json()["token"] == first
