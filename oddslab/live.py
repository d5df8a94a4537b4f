"""Live messages to sockets: published only after the change they describe has committed.

Groups: ``odds.all`` and ``odds.event.<id>`` for the public odds stream, ``user.<id>`` for one
player's bets, wallet and notifications, ``staff`` for traders' alerts.

Price changes are conflated per event: each change is written to a Redis hash (the latest price per
outcome wins) and the first change of a window arms a timer that sends the whole hash as one
``prices`` message ``LIVE_CONFLATION_MS`` later. The state lives in Redis, so any process may
publish; a process that dies before its timer fires leaves the prices in the hash for the next
change of that event to flush. Market and event messages are never conflated: they first flush
the event's pending prices, so no outcome's final price is lost or overtaken. Every message is
serialised once and carries ``seq``, rising by one per message of its event.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)
_redis_client = None
_lock = threading.Lock()


def _redis():
    global _redis_client
    with _lock:
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(settings.REDIS_URL)
        return _redis_client


def _send(groups: list[str], payload: dict[str, Any]) -> None:
    text = json.dumps(payload, separators=(",", ":"), default=str)
    layer = get_channel_layer()
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": "live.message", "text": text})
        except Exception:  # a socket message must never break the change that caused it
            logger.exception("live message to %s failed", group)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _send_event_message(event_id: int, payload: dict[str, Any]) -> None:
    payload = {**payload, "event_id": event_id, "seq": _redis().incr(f"live:seq:{event_id}"), "ts": _now()}
    _send([f"odds.event.{event_id}", "odds.all"], payload)


def _flush_prices(event_id: int) -> None:
    key = f"live:prices:{event_id}"
    pipe = _redis().pipeline()  # MULTI: read and clear the hash in one step
    pipe.hgetall(key)
    pipe.delete(key)
    pending, _ = pipe.execute()
    if pending:
        prices = sorted((json.loads(value) for value in pending.values()), key=lambda p: p["outcome_id"])
        _send_event_message(event_id, {"type": "prices", "prices": prices})


def _queue_prices(event_id: int, changes: list[dict[str, Any]]) -> None:
    redis = _redis()
    redis.hset(f"live:prices:{event_id}", mapping={str(c["outcome_id"]): json.dumps(c) for c in changes})
    window_ms = settings.LIVE_CONFLATION_MS
    if redis.set(f"live:flush:{event_id}", 1, nx=True, px=window_ms):
        timer = threading.Timer(window_ms / 1000, _flush_prices, args=(event_id,))
        timer.daemon = False  # a short-lived process (ingest_feed) still sends its last prices
        timer.start()


def prices_changed(*, event_id: int, changes: list[tuple[int, int, Any]]) -> None:
    """(market_id, outcome_id, price) changes of one event, sent conflated after commit."""
    rows = [{"market_id": m, "outcome_id": o, "price": str(p)} for m, o, p in changes]
    transaction.on_commit(lambda: _queue_prices(event_id, rows))


def market_changed(*, event_id: int, market_id: int, status: str) -> None:
    def send():
        _flush_prices(event_id)
        _send_event_message(event_id, {"type": "market", "market_id": market_id, "status": status})

    transaction.on_commit(send)


def event_changed(*, event_id: int, status: str, score: str | None, clock: str) -> None:
    def send():
        _flush_prices(event_id)
        _send_event_message(event_id, {"type": "event", "status": status, "score": score, "clock": clock})

    transaction.on_commit(send)


def to_user(user_id: int, payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send([f"user.{user_id}"], payload))


def to_staff(payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(["staff"], payload))
