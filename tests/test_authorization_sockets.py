"""The sockets' rows of the authorization matrix (tests/test_authorization_matrix.py, ``SOCKET_ROWS``):
each role opens each socket on oddslab.asgi.application as its clients do, an API client with its
token, a page with its session cookie, and is accepted or refused as the table says.

Their own module: a socket's handshake reads the session and the user on Channels' database thread, so
these need committed rows (a transactional test), which the matrix's shared, rolled-back fixtures are not.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.services import user_with_role
from oddslab.asgi import application
from tests.test_authorization_matrix import PASSWORD, ROLES, SOCKET_ROWS, Row, describe, matches

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def handshakes(settings):
    """Per role: the headers of an API client (token) and of a page (session cookie, same origin)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    made = {"anonymous": {"api": [], "page": [(b"origin", b"http://testserver")]}}
    for role in ROLES[1:]:
        group = "player" if role == "other_player" else role
        user, _ = user_with_role(username=f"s-{role}", password=PASSWORD, role=group)
        page = Client()
        page.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={page.cookies[settings.SESSION_COOKIE_NAME].value}"
        made[role] = {"api": [(b"authorization", f"Token {Token.objects.create(user=user).key}".encode())],
                      "page": [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]}
    return made


def _connect(row: Row, headers: list) -> str:
    async def handshake() -> str:
        communicator = WebsocketCommunicator(application, f"/{row.name}", headers=headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return "OK" if connected else "REFUSED"

    return async_to_sync(handshake)()


def _headers(row: Row, handshakes: dict, role: str) -> list:
    return handshakes[role]["page" if row.name.startswith("ws/pages/") else "api"]


@live
def test_each_role_is_accepted_or_refused_by_every_socket_as_the_table_says(handshakes):
    # when: every role opens every socket
    wrong = [describe(row, role, row.expect[role], got) for row in SOCKET_ROWS for role in ROLES
             if not matches(row.expect[role], got := _connect(row, _headers(row, handshakes, role)))]
    # then
    assert not wrong, f"{len(wrong)} outcome(s) differ from the table:\n" + "\n".join(wrong)
