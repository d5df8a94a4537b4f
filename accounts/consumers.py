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
from accounts.selectors import client_session_started
from core.sockets import MeConsumer
from risk.reality import reality_check_minutes, session_result


class TokenAuthMiddleware:
    """Lets API clients authenticate the handshake with ``Authorization: Token <key>``, read as the API
    reads it: the scope's ``user``, and ``session_started`` of the token's client session."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode()
        if header.startswith("Token "):
            user, started = await _token_client(header[6:].strip())
            scope = {**scope, "user": user, "session_started": started}
        return await self.inner(scope, receive, send)


@database_sync_to_async
def _token_client(key: str) -> tuple[Any, datetime | None]:
    try:
        user, token = TokenAuthentication().authenticate_credentials(key)
    except AuthenticationFailed:
        return AnonymousUser(), None
    return user, token.session_started


async def _session_started(scope: dict[str, Any]) -> datetime | None:
    """When the socket's client session started: the token's (read on the handshake), else the
    browser session's."""
    if "session_started" in scope:
        return scope["session_started"]
    key = getattr(scope.get("session"), "session_key", None)
    if key is None:
        return None
    return await database_sync_to_async(client_session_started)(user_id=scope["user"].pk, key=key)


def reality_check_message(*, player_id: int, started: datetime, minutes: int) -> dict[str, Any]:
    """``{"type": "reality_check", "minutes", "staked", "returned", "net"}``: the money staked and
    returned since the session started, as strings."""
    result = session_result(player_id=player_id, since=started)
    return {"type": "reality_check", "minutes": minutes, "staked": str(result.staked),
            "returned": str(result.returned), "net": str(result.net)}


class RealityChecks:
    """A logged-in socket's reality checks: every ``reality_check_minutes`` of the client's session
    (counted from its start, whenever the socket connected) a ``reality_check`` message, handed on
    like the socket's live messages. The interval is read when the socket connects and at each check,
    so a changed one applies from the next; with none set when it connects, the socket sends none
    (a page connects again on every page, an API client when it reconnects)."""

    async def connect(self):
        await super().connect()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:  # else the handshake was refused
            self.reality_checks = asyncio.ensure_future(self.reality_checks_send(user.pk))

    async def disconnect(self, code):
        if hasattr(self, "reality_checks"):
            self.reality_checks.cancel()
        await super().disconnect(code)

    async def reality_checks_send(self, player_id: int) -> None:
        interval = await database_sync_to_async(reality_check_minutes)(player_id=player_id)
        started = await _session_started(self.scope) if interval else None
        if started is None:
            return
        minute = settings.REALITY_CHECK_MINUTE_SECONDS

        def played() -> float:  # minutes since the session started
            return (timezone.now() - started).total_seconds() / minute

        checked = played()
        while interval:
            due = (checked // interval + 1) * interval  # the session's next whole interval
            await asyncio.sleep((due - played()) * minute)
            interval = await database_sync_to_async(reality_check_minutes)(player_id=player_id)
            if interval:
                message = await database_sync_to_async(reality_check_message)(
                    player_id=player_id, started=started, minutes=int(due))
                await self.live_message({"text": json.dumps(message)})
            checked = due


class PlayerMeConsumer(RealityChecks, MeConsumer):
    """/ws/v1/me: the user's bets, wallet and notifications (core.sockets.MeConsumer) and the player's
    reality checks."""
