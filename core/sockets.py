"""WebSocket consumers: /ws/v1/odds and /ws/v1/challenges (public), /ws/v1/me (the logged-in user).

Messages arrive already serialised (core/live.py), so a broadcast is encoded once, not once per
client. Each connection sends a heartbeat every LIVE_HEARTBEAT_SECONDS so clients notice a dead
connection; a client that sees a gap in an event's ``seq`` refetches the event over HTTP.

A process subscribes to a group once, however many of its sockets are in it (``Fanout``): a
broadcast is taken off the channel layer and decoded once per process, then handed to each socket
in one loop. (Through each socket's own channel, every message was queued, decoded and dispatched
once per socket: a third of the process's time at 1,000 clients, bench/RESULTS.md.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger(__name__)


class Fanout:
    """The sockets of one process in one group, fed by one subscription of the channel layer."""

    _open: dict[tuple, Fanout] = {}  # (event loop, layer, group) -> its fan-out, while it has members

    def __init__(self, key: tuple):
        self.key = key
        _, self.layer, self.group = key
        self.members: set[LiveConsumer] = set()
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        self.subscribed = asyncio.ensure_future(self.subscribe())

    @classmethod
    async def join(cls, layer, group: str, consumer: LiveConsumer) -> None:
        """Returns once the group's messages reach ``consumer``."""
        key = (asyncio.get_running_loop(), layer, group)
        fanout = cls._open.get(key) or cls._open.setdefault(key, cls(key))
        fanout.members.add(consumer)
        try:
            await asyncio.shield(fanout.subscribed)
        except BaseException:
            await cls.leave(layer, group, consumer)
            raise

    @classmethod
    async def leave(cls, layer, group: str, consumer: LiveConsumer) -> None:
        fanout = cls._open.get((asyncio.get_running_loop(), layer, group))
        if fanout is None:
            return
        fanout.members.discard(consumer)
        if not fanout.members:
            del cls._open[fanout.key]
            await fanout.close()

    async def subscribe(self) -> None:
        self.channel = await self.layer.new_channel(prefix="fanout.")
        await self.layer.group_add(self.group, self.channel)
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            for consumer in list(self.members):
                try:
                    await consumer.live_message(message)
                except Exception:  # one socket's failure must not stop the others' messages
                    logger.exception("live message to a socket of %s failed", self.group)

    async def close(self) -> None:
        self.subscribed.cancel()
        if self.reader:
            self.reader.cancel()  # the layer drops the reader's channel
        if self.channel:
            await self.layer.group_discard(self.group, self.channel)


class LiveConsumer(AsyncWebsocketConsumer):
    # No channel of its own (``get_channel_layer(None)`` is None): a socket hears its groups through
    # its process's Fanout, and nothing is ever sent to one socket's channel. Otherwise Channels
    # subscribes a Redis channel per socket, and 1,000 sockets closing at once queue 1,000
    # UNSUBSCRIBEs on one connection.
    channel_layer_alias = None
    groups_joined: set[str]

    async def connect(self):
        self.groups_joined = set()
        groups = await self.initial_groups()
        if groups is None:
            await self.close(code=4401)
            return
        for group in groups:  # subscribed before the client hears "accepted", so it misses nothing
            await self.join(group)
        await self.accept()
        self.heartbeat = asyncio.ensure_future(self.beat())

    async def initial_groups(self) -> list[str] | None:
        raise NotImplementedError

    async def join(self, group: str) -> None:
        if group not in self.groups_joined:
            self.groups_joined.add(group)
            await Fanout.join(get_channel_layer(), group, self)

    async def leave(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            await Fanout.leave(get_channel_layer(), group, self)

    async def disconnect(self, code):
        if hasattr(self, "heartbeat"):
            self.heartbeat.cancel()
        for group in list(getattr(self, "groups_joined", ())):
            await self.leave(group)

    async def beat(self):
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(settings.LIVE_HEARTBEAT_SECONDS)
                await self.send(text_data=json.dumps({"type": "heartbeat", "ts": datetime.now(UTC).isoformat()}))

    async def live_message(self, message):
        """A message of a group this socket is in, from its ``Fanout``: sent as it is."""
        await self.base_send({"type": "websocket.send", "text": message["text"]})

    async def receive(self, text_data=None, bytes_data=None):
        try:
            request = json.loads(text_data or "")
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))
            return
        await self.handle(request)

    async def handle(self, request) -> None:
        await self.error("unknown_message", "Send {\"type\": \"ping\"}.")

    async def error(self, code: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "error": code, "message": message}))


def _event_ids(values) -> list[int] | None:
    try:
        ids = [int(v) for v in values]
    except (TypeError, ValueError):
        return None
    return ids if all(i > 0 for i in ids) and len(ids) <= 500 else None


def _query(scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode())


def _named_events(query: dict[str, list[str]]) -> list[int] | None:
    """The events of ``?events=12,15``; None without it, or when it is not a list of at most 500 ids
    (the socket then follows every event)."""
    return _event_ids(",".join(query["events"]).split(",")) if "events" in query else None


class OddsConsumer(LiveConsumer):
    """Every public change, for all events or only those named (``?events=12,15``). A client may
    then send ``{"type": "subscribe"|"unsubscribe", "events": [ids]}`` (or ``"events": "all"``).

    ``?batch=1`` asks for the batched stream: the same messages, in frames of
    ``{"type": "batch", "messages": [...]}`` (one per ``LIVE_BATCH_MS`` window, core/live.py), from
    the groups ``odds.batch.all`` / ``odds.batch.event.<id>``; subscribe and unsubscribe work on it
    the same way, and their answers (like pong and errors) are plain frames."""

    allow_batch = True  # the page sockets render messages one by one and ignore ``batch``
    batch = False

    def group(self, name: str) -> str:
        """The group of ``all`` or ``event.<id>`` on this connection's stream."""
        return f"odds.batch.{name}" if self.batch else f"odds.{name}"

    async def initial_groups(self):
        query = _query(self.scope)
        self.batch = self.allow_batch and query.get("batch", [""])[-1].lower() in ("1", "true", "yes")
        ids = _named_events(query)
        return [self.group(f"event.{i}") for i in ids] if ids else [self.group("all")]

    async def handle(self, request):
        kind = request.get("type") if isinstance(request, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            return await super().handle(request)
        events = request.get("events")
        every = self.group("all")
        groups = [every] if events == "all" else [self.group(f"event.{i}") for i in (_event_ids(events or []) or [])]
        if not groups:
            return await self.error("invalid_events", "Name events by id, e.g. {\"events\": [12, 15]}.")
        if kind == "subscribe" and every not in groups:
            await self.leave(every)  # naming events narrows an all-events stream
        for group in groups:
            await (self.join(group) if kind == "subscribe" else self.leave(group))
        await self.send(text_data=json.dumps({"type": kind + "d", "events": events}))


class ChallengesConsumer(LiveConsumer):
    """Challenges entering or leaving ``open``, for all events or only those named
    (``?events=12,15``, read as on /ws/v1/odds): ``challenge_open`` / ``challenge_closed``."""

    async def initial_groups(self):
        ids = _named_events(_query(self.scope))
        return [f"challenges.event.{i}" for i in ids] if ids else ["challenges.all"]


class MeConsumer(LiveConsumer):
    """The user's own bets, wallet and notifications; staff also get exposure alerts."""

    async def initial_groups(self):
        user = self.scope.get("user") or AnonymousUser()
        if not user.is_authenticated:
            return None
        groups = [f"user.{user.pk}"]
        if user.is_staff:
            groups.append("staff")
        return groups


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin: it must be one of ALLOWED_HOSTS (no cross-site socket hijacking).
    API clients send none and authenticate with a token, so a missing Origin is let through."""

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)
