"""Client sessions, security events and reality checks (issue 16, docs/sessions.md): a page log-in and a
token open a session; the player lists them and ends one, which logs that client out at once; every
log-in, failure, log-out, token creation and revocation is audited with the client's address and user
agent; each request carries when its session started, and the session time limit counts from it; the
page and API sockets send a reality check every interval of the session."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import UserSession
from audit.context import Actor
from audit.models import AuditLog
from betting.services import bet_place
from risk.models import PlayerRestriction
from tests.conftest import audit_rows, bets_snapshot, selection, wallet_of
from tests.test_live_daphne import collect, http

PASSWORD = "a-long-test-password"
BROWSER = {"HTTP_USER_AGENT": "Firefox/140.0", "REMOTE_ADDR": "203.0.113.5"}
BOT = {"HTTP_USER_AGENT": "OddsBot/2.0", "REMOTE_ADDR": "198.51.100.7"}

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def event(make_event):
    return make_event()


def token_log_in(api, username: str = "patricia", **client) -> str:
    response = api().post("/api/v1/auth/token", {"username": username, "password": PASSWORD}, format="json",
                          **{**BOT, **client})
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def with_token(api, token: str):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def page_log_in(username: str = "patricia") -> Client:
    browser = Client(**BROWSER)
    assert browser.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def session_of(token: str) -> UserSession:
    return UserSession.objects.get(key=hashlib.sha256(token.encode()).hexdigest())


def slip(event) -> dict:
    return {"selections": [selection(event)], "stake": "5.00", "bet_type": "single"}


# --- Opening sessions ---------------------------------------------------------------------------

def test_a_page_log_in_opens_a_browser_session_from_its_address(player):
    # when
    browser = page_log_in()
    # then
    session = UserSession.objects.get(user=player)
    assert (session.kind, session.key) == ("session", browser.session.session_key)
    assert (session.ip, session.user_agent, session.ended_at) == ("203.0.113.5", "Firefox/140.0", None)
    assert session.started_at == session.last_seen_at


def test_a_token_opens_a_token_session_keyed_by_its_hash_and_logging_in_again_keeps_it(api, player):
    # when
    token = token_log_in(api)
    again = token_log_in(api)
    # then: one token, one session, which holds no usable credential
    assert again == token
    session = UserSession.objects.get(user=player)
    assert (session.kind, session.ip, session.user_agent) == ("token", "198.51.100.7", "OddsBot/2.0")
    assert session.key == hashlib.sha256(token.encode()).hexdigest() != token
    assert audit_rows("auth.token_create").count() == 1


def test_each_request_carries_when_its_session_started(api, player):
    # given: a browser and an API client, each logged in
    browser, token = page_log_in(), token_log_in(api)
    # when
    page = browser.get("/bets")
    call = with_token(api, token).get("/api/v1/me")
    # then
    assert page.wsgi_request.session_started == UserSession.objects.get(kind="session").started_at
    assert call.wsgi_request.session_started == session_of(token).started_at


def test_a_browser_session_without_a_row_gets_one_on_its_next_page(player):
    # given: a logged-in browser whose session is not tracked (its key cycled by a password change, say)
    browser = page_log_in()
    UserSession.objects.all().delete()
    # when
    page = browser.get("/bets")
    # then
    session = UserSession.objects.get(key=browser.session.session_key)
    assert page.wsgi_request.session_started == session.started_at


# --- Listing and ending -------------------------------------------------------------------------

def test_the_list_shows_the_players_sessions_and_which_is_this_one(api, player, make_user):
    # given: a browser, a token, and another player's token
    browser, token = page_log_in(), token_log_in(api)
    make_user("player", "quentin")
    token_log_in(api, "quentin")
    # when
    listed = with_token(api, token).get("/api/v1/me/sessions").json()
    # then: newest first, the token marked as this request's
    assert listed["count"] == 2
    assert [(s["kind"], s["current"], s["active"]) for s in listed["results"]] == [
        ("token", True, True), ("session", False, True)]
    assert set(listed["results"][0]) == {"id", "kind", "ip", "user_agent", "started_at", "last_seen_at", "ended_at",
                                         "current", "active"}
    assert listed["results"][0]["ip"] == "198.51.100.7"
    # and the browser sees the same, itself marked
    page_list = browser.get("/api/v1/me/sessions").json()["results"]
    assert [(s["kind"], s["current"]) for s in page_list] == [("token", False), ("session", True)]
    sessions_page = browser.get("/account/sessions")
    assert sessions_page.status_code == 200
    assert b"(this browser)" in sessions_page.content and b"OddsBot/2.0" in sessions_page.content


def test_a_client_gone_without_logging_out_is_listed_as_ended(api, player):
    # given: an expired token and a browser session whose Django session expired
    token, browser = token_log_in(api), page_log_in()
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS,
                                                                                 seconds=1))
    Session.objects.filter(session_key=browser.session.session_key).update(expire_date=timezone.now())
    # when
    listed = page_log_in().get("/api/v1/me/sessions").json()["results"]
    # then: only the new browser is active
    assert [(s["kind"], s["active"], s["current"]) for s in listed] == [
        ("session", True, True), ("session", False, False), ("token", False, False)]


def test_ending_a_browser_session_logs_that_browser_out_at_once(api, player):
    # given: a logged-in browser, and the player's API client
    browser, token = page_log_in(), token_log_in(api)
    assert browser.get("/bets").status_code == 200
    session = UserSession.objects.get(kind="session")
    # when: the API client ends the browser's session
    response = with_token(api, token).post(f"/api/v1/me/sessions/{session.pk}/end", **BOT)
    # then
    assert response.status_code == 200
    assert (response.json()["active"], response.json()["current"]) == (False, False)
    following = browser.get("/bets")
    assert following.status_code == 302 and following["Location"].startswith(settings.LOGIN_URL)
    ended = audit_rows("auth.session_end").get()
    assert (ended.actor, ended.category, ended.ip_address, ended.user_agent) == (
        player, "security", "198.51.100.7", "OddsBot/2.0")
    # and the API client is still logged in
    assert with_token(api, token).get("/api/v1/me").status_code == 200


def test_ending_a_token_on_the_sessions_page_makes_its_next_call_a_401(api, player):
    # given
    browser, token = page_log_in(), token_log_in(api)
    # when: the browser ends the token with the page's button
    response = browser.post(f"/account/sessions/{session_of(token).pk}/end")
    # then
    assert response.status_code == 302 and response["Location"] == "/account/sessions"
    refused = with_token(api, token).get("/api/v1/me")
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    assert session_of(token).ended_at is not None
    revoked = audit_rows("auth.token_revoke").get()
    assert (revoked.actor, revoked.ip_address, revoked.user_agent) == (player, "203.0.113.5", "Firefox/140.0")
    assert browser.get("/bets").status_code == 200


def test_ending_this_browsers_own_session_logs_it_out(player):
    browser = page_log_in()
    session = UserSession.objects.get()
    response = browser.post(f"/account/sessions/{session.pk}/end")
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_URL
    assert browser.get("/bets")["Location"].startswith(settings.LOGIN_URL)


def test_another_players_session_is_not_found_and_stays(api, player, make_user):
    # given: quentin's token session
    make_user("player", "quentin")
    theirs = session_of(token_log_in(api, "quentin"))
    mine, browser = with_token(api, token_log_in(api)), page_log_in()
    # when
    over_api = mine.post(f"/api/v1/me/sessions/{theirs.pk}/end")
    on_page = browser.post(f"/account/sessions/{theirs.pk}/end")
    # then
    assert over_api.status_code == 404 and over_api.json()["error"] == "not_found"
    assert on_page.status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_at is None and Token.objects.filter(user__username="quentin").exists()


# --- Security events ----------------------------------------------------------------------------

def test_log_ins_failures_log_outs_and_tokens_are_audited_with_address_and_user_agent_and_no_secret(api, player):
    # when: a failed log-in, a token log-in, a page log-in and log-out, the token revoked
    assert api().post("/api/v1/auth/token", {"username": "patricia", "password": "wrong-guess-123"},
                      format="json", **BOT).status_code == 401
    token = token_log_in(api)
    browser = page_log_in()
    browser.post("/accounts/logout/")
    assert with_token(api, token).delete("/api/v1/auth/token", **BOT).status_code == 204
    # then: each is a security event from its client's address and user agent
    rows = AuditLog.objects.filter(category="security", action__startswith="auth.").order_by("pk")
    assert [(r.action, r.ip_address, r.user_agent) for r in rows] == [
        ("auth.login_failed", "198.51.100.7", "OddsBot/2.0"),
        ("auth.login", "198.51.100.7", "OddsBot/2.0"),
        ("auth.token_create", "198.51.100.7", "OddsBot/2.0"),
        ("auth.login", "203.0.113.5", "Firefox/140.0"),
        ("auth.logout", "203.0.113.5", "Firefox/140.0"),
        ("auth.token_revoke", "198.51.100.7", "OddsBot/2.0"),
    ]
    failed = rows[0]
    assert (failed.actor, failed.resource_label, failed.outcome) == (None, "patricia", "refused")
    assert failed.details == {"locked_out": False}
    assert all(r.actor == player for r in rows[1:])
    # the browser's session and the token's ended with them
    assert not UserSession.objects.filter(ended_at__isnull=True).exists()
    # and no row holds the password, the wrong guess, the token or its hash
    stored = json.dumps([[str(v) for v in r] for r in rows.values_list()])
    for secret in (PASSWORD, "wrong-guess-123", token, hashlib.sha256(token.encode()).hexdigest()):
        assert secret not in stored


# --- The session time limit and the cost of tracking -------------------------------------------

def test_a_placement_past_the_players_session_limit_is_refused(api, player, event):
    # given: a session limit of one minute, and a session started two minutes ago
    client = with_token(api, token_log_in(api))
    PlayerRestriction.objects.create(player=player, session_minutes=1)
    assert client.post("/api/v1/bets", slip(event), format="json").status_code == 201
    UserSession.objects.update(started_at=timezone.now() - timedelta(minutes=2))
    before = bets_snapshot()
    # when
    response = client.post("/api/v1/bets", slip(event), format="json")
    # then
    assert response.status_code == 403 and response.json()["error"] == "session_limit"
    assert bets_snapshot() == before


def test_a_tracked_token_adds_no_statement_to_a_placement_but_a_stale_last_seen(api, player, event):
    client, body = with_token(api, token_log_in(api)), slip(event)
    client.post("/api/v1/bets", body, format="json")  # prepared statements warm

    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.post("/api/v1/bets", body, format="json").status_code == 201
        return [q["sql"] for q in queries.captured_queries]

    # the token, its user, groups and session in one statement, then the placement (in its savepoint)
    fresh = statements()
    assert len(fresh) == 4, fresh
    assert "accounts_usersession" in fresh[0] and "betting_slip_place" in fresh[2]
    # a last-seen time older than SESSION_LAST_SEEN_SECONDS is written once, then fresh again
    UserSession.objects.update(last_seen_at=timezone.now() - timedelta(seconds=settings.SESSION_LAST_SEEN_SECONDS + 1))
    stale = statements()
    assert len(stale) == 5 and stale[1].startswith("UPDATE"), stale
    assert len(statements()) == 4
    session = UserSession.objects.get()
    assert timezone.now() - session.last_seen_at < timedelta(seconds=5)


# --- Reality checks over a real server ------------------------------------------------------------

@pytest.fixture
def quick_minutes_server(monkeypatch, request):
    """The server with a reality-check minute of half a second."""
    monkeypatch.setenv("REALITY_CHECK_MINUTE_SECONDS", "0.5")
    return request.getfixturevalue("daphne_server")


@live
def test_the_sockets_send_a_reality_check_every_interval_of_the_session(quick_minutes_server, api, make_user,
                                                                      make_event):
    # given: a stake before the session, a reality check every (half-second) minute, a stake in the session
    player, event = make_user(balance="100.00"), make_event()
    bet_place(player=player, actor=Actor.of(player), **{**slip(event), "stake": "7.00"})
    PlayerRestriction.objects.create(player=player, reality_check_minutes=1)
    token = token_log_in(api, player.username)
    browser = Client()
    browser.force_login(player)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    status, _ = http(quick_minutes_server, "/api/v1/bets", token, {**slip(event), "stake": "10.00"})
    assert status == 201
    ws_url = quick_minutes_server.replace("http", "ws")

    async def scenario():
        async with websockets.connect(f"{ws_url}/ws/v1/me", additional_headers={"Authorization": f"Token {token}"}) \
                as api_socket, websockets.connect(f"{ws_url}/ws/pages/me", origin=quick_minutes_server,
                                                  additional_headers={"Cookie": cookie}) as page_socket:
            checks = await collect(api_socket, lambda m: len(m) >= 2)
            while 'id="reality-check"' not in (dialog := await asyncio.wait_for(page_socket.recv(), 5)):
                pass
        await sync_to_async(connections.close_all)()
        return checks, dialog

    checks, dialog = asyncio.run(scenario())
    # then: minutes played, and the session's stakes alone (not the 7.00 before it)
    assert [{k: v for k, v in c.items() if k != "minutes"} for c in checks] == [
        {"type": "reality_check", "staked": "10.00", "returned": "0.00", "net": "-10.00"}] * 2
    assert checks[0]["minutes"] >= 1 and checks[1]["minutes"] == checks[0]["minutes"] + 1
    # and the page's dialog: the figures, continue, log out, set limits
    assert "10.00" in dialog and "-10.00" in dialog
    assert 'form="logout-form"' in dialog and 'method="dialog"' in dialog and "/account/safer-gambling" in dialog
    assert wallet_of(player).balance == 83


@live
def test_ending_a_session_closes_its_sockets_at_once_and_no_other(daphne_server, api, player):
    # given: the player's API client and browser, each with its socket open, and a second browser
    token = token_log_in(api, player.username)
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(player)
    cookies = [f"{settings.SESSION_COOKIE_NAME}={b.cookies[settings.SESSION_COOKIE_NAME].value}" for b in browsers]
    token_session = UserSession.objects.get(kind="token")
    ended_browser, kept_browser = (UserSession.objects.get(key=b.session.session_key) for b in browsers)
    ws_url = daphne_server.replace("http", "ws")

    async def scenario():
        async with websockets.connect(f"{ws_url}/ws/v1/me", additional_headers={"Authorization": f"Token {token}"}) \
                as api_socket, websockets.connect(f"{ws_url}/ws/pages/me", origin=daphne_server,
                                                  additional_headers={"Cookie": cookies[0]}) as ended_page, \
                websockets.connect(f"{ws_url}/ws/pages/me", origin=daphne_server,
                                   additional_headers={"Cookie": cookies[1]}) as kept_page:
            await asyncio.sleep(0.5)  # the sockets have joined their groups
            # when: the first browser's session and then the token are ended from the sessions list
            for session in (ended_browser, token_session):
                status, _ = http(daphne_server, f"/api/v1/me/sessions/{session.pk}/end", token, {})
                assert status == 200
            closed = []
            for socket in (ended_page, api_socket):
                with pytest.raises(websockets.ConnectionClosed) as gone:
                    while True:
                        await asyncio.wait_for(socket.recv(), 5)
                closed.append(gone.value.rcvd.code)
            # then: the other browser's socket is still open and answers a ping
            await kept_page.send(json.dumps({"type": "ping"}))
            answer = await asyncio.wait_for(kept_page.recv(), 5)
        await sync_to_async(connections.close_all)()
        return closed, answer

    closed, answer = asyncio.run(scenario())
    assert closed == [4401, 4401]
    assert "pong" in answer
    assert UserSession.objects.get(pk=kept_browser.pk).ended_at is None
