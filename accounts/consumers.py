"""The logged-in client on a socket: API clients' token on the handshake, and the player's reality
checks on /ws/v1/me (and, drawn as a dialog, on the page socket: oddslab.web.consumers)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import TokenAuthentication
from accounts.selectors import client_session_of
from accounts.sessions import SESSION_ENDED
from core.decimals import decimal_seconds
from core.sockets import MeConsumer
from risk.reality import reality_check_minutes, session_result

SESSION_ENDED_CLOSE = 4401  # the close code of a socket whose client session ended


class TokenAuthMiddleware:
    """Lets API clients authenticate the handshake with ``Authorization: Token <key>``, read as the API
    reads it: the scope's ``user``, and ``client_session``, the token's (id, start)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode()
        if header.startswith("Token "):
            user, session = await _token_client(header[6:].strip())
            scope = {**scope, "user": user, "client_session": session}
        return await self.inner(scope, receive, send)


@database_sync_to_async
def _token_client(key: str) -> tuple[Any, tuple[int | None, datetime | None]]:
    try:
        user, token = TokenAuthentication().authenticate_credentials(key)
    except AuthenticationFailed:
        return AnonymousUser(), (None, None)
    return user, (token.client_session_id, token.session_started)


async def _client_session(scope: dict[str, Any]) -> tuple[int | None, datetime | None]:
    """The socket's client session, (id, start): the token's (read on the handshake), else the
    browser session's."""
    if "client_session" in scope:
        return scope["client_session"]
    key = getattr(scope.get("session"), "session_key", None)
    if key is None:
        return None, None
    return await database_sync_to_async(client_session_of)(user_id=scope["user"].pk, key=key)


def reality_check_message(*, player_id: int, started: datetime, minutes: int) -> dict[str, Any]:
    """``{"type": "reality_check", "minutes", "staked", "returned", "net"}``: the money staked and
    returned since the session started, as strings."""
    result = session_result(player_id=player_id, since=started)
    return {"type": "reality_check", "minutes": minutes, "staked": str(result.staked),
            "returned": str(result.returned), "net": str(result.net)}


class ClientSessionSocket:
    """A logged-in client's socket, which lives as long as its client session (accounts.sessions):

    - when the session ends (the player ended it, logged out, the token was revoked) the socket is
      closed with code 4401 (SESSION_ENDED_CLOSE): the end is a ``session_ended`` message to the user's
      sockets naming the session, and the others drop it;
    - every ``reality_check_minutes`` of the session (counted from its start, whenever the socket
      connected) it sends a ``reality_check`` message, handed on like the socket's live messages. The
      interval is read when the socket connects and at each check, so a changed one applies from the
      next; with none set when it connects, the socket sends none (a page connects again on every
      page, an API client when it reconnects)."""

    client_session_id: int | None = None

    async def connect(self):
        await super().connect()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:  # else the handshake was refused
            self.client_session_id, started = await _client_session(self.scope)
            self.reality_checks = asyncio.ensure_future(self.reality_checks_send(user.pk, started))

    async def disconnect(self, code):
        if hasattr(self, "reality_checks"):
            self.reality_checks.cancel()
        await super().disconnect(code)

    async def live_message(self, message):
        if SESSION_ENDED in message["text"]:  # cheap test first: every live message passes here
            ended = json.loads(message["text"])
            if ended.get("type") == SESSION_ENDED:
                if ended.get("session_id") == self.client_session_id:
                    await self.close(code=SESSION_ENDED_CLOSE)
                return
        await super().live_message(message)

    async def reality_checks_send(self, player_id: int, started: datetime | None) -> None:
        interval = await database_sync_to_async(reality_check_minutes)(player_id=player_id)
        if started is None or not interval:
            return
        minute = decimal_seconds(settings.REALITY_CHECK_MINUTE_SECONDS)
        checked = (timezone.now() - started) // minute  # whole minutes played
        while interval:
            due = (checked // interval + 1) * interval  # the session's next whole interval, in minutes
            await asyncio.sleep((started + due * minute - timezone.now()).total_seconds())
            interval = await database_sync_to_async(reality_check_minutes)(player_id=player_id)
            if interval:
                message = await database_sync_to_async(reality_check_message)(
                    player_id=player_id, started=started, minutes=int(due))
                await self.live_message({"text": json.dumps(message)})
            checked = due


class PlayerMeConsumer(ClientSessionSocket, MeConsumer):
    """/ws/v1/me: the user's bets, wallet and notifications (core.sockets.MeConsumer) and the player's
    reality checks."""
