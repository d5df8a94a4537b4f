"""Live messages to sockets: published only after the change they describe has committed.

Groups: ``odds.all`` and ``odds.event.<id>`` for the public odds stream, ``challenges.all`` and
``challenges.event.<id>`` for challenges opening and closing, ``user.<id>`` for one player's bets,
wallet and notifications, ``staff`` for traders' alerts.

Messages are published straight to Redis in the wire format of the Channels pub/sub layer, on one
long-lived connection per process, with every message of a commit in one script call. (Going through
``async_to_sync(layer.group_send)`` from synchronous code starts an event loop and opens a Redis
connection per message: most of the time of a settlement batch went there.)

Price changes are conflated per event, on the leading edge: the first change of a quiet event is
sent at once; changes arriving in the next ``LIVE_CONFLATION_MS`` go to a Redis hash (the latest
price per outcome wins) and are sent together when the window ends, which opens another window
while changes keep coming. So a steady event sends at most one ``prices`` message per window and a
quiet one adds no delay. The state lives in Redis, so any process may publish; a process that dies
with a window open leaves its prices in the hash, and the window key expires so the next change of
that event sends them. Market and event messages are never conflated: they first flush the
event's pending prices, so no outcome's final price is lost or overtaken. Every message is
serialised once and carries ``seq``, rising by one per message of its event.

The batched stream (``/ws/v1/odds?batch=1``, groups ``odds.batch.all`` and ``odds.batch.event.<id>``)
carries the same messages, several to a frame: every message of ``odds.all`` and ``odds.event.<id>``
is also appended to a Redis list per stream (``live:batch:all``, ``live:batch:event.<id>``), and the
list goes out as one ``{"type": "batch", "messages": [...]}`` frame on a leading-edge window of
``LIVE_BATCH_MS``: a message finding no window open goes at once (a one-message batch) and opens
one; messages arriving during the window go together when it ends, which opens another while they
keep coming. The frame is built once, from the messages' own texts, so both streams carry the same
bytes per message. Numbering a message, publishing it and appending it to the batch streams is one
Lua script, and so is taking a list and publishing its frame at a window's end: each is atomic in
Redis, so the messages of an event go out in the order of their seq whichever processes send them.
A process that dies with a window open leaves its messages in the list; the window key expires
after two windows, and the next message of that stream takes them along, in order.

A message goes out after its change has committed, so a failure to send it (Redis down, a timeout,
a bug here) must not reach the caller: the request, the feed line or the task has succeeded, and
the on-commit callbacks after this one still have to run. Every way in, the on-commit callbacks
and the windows' timers, goes through ``_guarded``: a failure is logged with its exception and
counted by kind in ``failures`` (for a metrics endpoint), and the message is lost.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)
_redis_client = None
_lock = threading.Lock()
# Live messages lost after their change committed, per kind: prices, market, event, challenges, user,
# staff, batch.
failures: Counter[str] = Counter()
_failures_lock = threading.Lock()
# A Redis that hangs must not hold a request that has committed for longer than this (seconds).
REDIS_TIMEOUT = 2

# Take the pending prices of an event; keep its window open only if there were any.
_TAKE_PENDING = """
local pending = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
if #pending == 0 then redis.call('DEL', KEYS[2]) else redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return pending
"""

# Event messages and batch frames are numbered and published by scripts, each atomic in Redis, so
# every process's messages of an event go out in the order of their seq. (Numbering, then
# publishing, as two steps let another process publish in between: a client saw seq 7 before 6.)
# The scripts wrap each text as the pub/sub layer's msgpack serializer would: {type, text}.
_PUBLISH_BATCH = """
local function publish_batch(list, channel)
  local batch = redis.call('LRANGE', list, 0, -1)
  redis.call('DEL', list)
  if #batch > 0 then
    local frame = '{"type":"batch","messages":[' .. table.concat(batch, ',') .. ']}'
    redis.call('PUBLISH', channel, cmsgpack.pack({type = 'live.message', text = frame}))
  end
  return #batch
end
"""

# Number an event message (ARGV 1 and 2: its text before and after seq) and publish it to its
# groups (ARGV 4, 5); append it to both batch streams (KEYS 2-5: list and window of each, ARGV 6, 7:
# their groups). A stream with no window open gets one, and its list (this message, and any a dead
# process left behind) goes out at once. Returns the streams (1, 2) whose window it opened.
_SEND_EVENT_MESSAGE = _PUBLISH_BATCH + """
local text = ARGV[1] .. redis.call('INCR', KEYS[1]) .. ARGV[2]
local body = cmsgpack.pack({type = 'live.message', text = text})
redis.call('PUBLISH', ARGV[4], body)
redis.call('PUBLISH', ARGV[5], body)
local opened = {}
for stream = 1, 2 do
  local list, window = KEYS[2 * stream], KEYS[2 * stream + 1]
  redis.call('RPUSH', list, text)
  if redis.call('SET', window, 1, 'NX', 'PX', ARGV[3]) then
    publish_batch(list, ARGV[5 + stream])
    opened[#opened + 1] = stream
  end
end
return opened
"""

# At a window's end: send what the stream gathered; keep the window open only if there was anything.
_FLUSH_BATCH = _PUBLISH_BATCH + """
local sent = publish_batch(KEYS[1], ARGV[2])
if sent == 0 then redis.call('DEL', KEYS[2]) else redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return sent
"""

# Publish each line of ARGV 1, "<channel>\t<text>", the text to its channel, wrapped as the event scripts
# wrap theirs. One argument for the whole batch: packing ~10,000 arguments (two per message of a
# settlement batch) one by one cost the publisher more than the rest of its work. A JSON text never
# holds a raw newline or tab (json.dumps escapes them), nor does a channel name.
_PUBLISH_ALL = """
local sent = 0
for line in string.gmatch(ARGV[1], "[^\\n]+") do
  local tab = string.find(line, "\\t", 1, true)
  redis.call('PUBLISH', string.sub(line, 1, tab - 1),
             cmsgpack.pack({type = 'live.message', text = string.sub(line, tab + 1)}))
  sent = sent + 1
end
return sent
"""

Message = tuple[Iterable[str], dict[str, Any]]  # (groups, payload)


def _redis():
    global _redis_client
    with _lock:
        if _redis_client is None:
            _redis_client = _connect(settings.REDIS_URL)
        return _redis_client


def _connect(url: str):
    """The publisher's client. One immediate retry reopens a connection Redis closed (a restart); no
    backoff and short timeouts, because whoever publishes has committed and is waiting to go on."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                                retry=Retry(NoBackoff(), 1))


def _guarded(kind: str, send: Callable[[], Any], failed: Any = None) -> Callable[[], Any]:
    """``send``, made safe to call after commit: a failure is logged, counted and returns ``failed``."""
    def call() -> Any:
        try:
            return send()
        except Exception:
            with _failures_lock:
                failures[kind] += 1
            logger.exception("live %s message failed after its change committed", kind)
            return failed

    return call


def _after_commit(kind: str, send: Callable[[], None]) -> None:
    transaction.on_commit(_guarded(kind, send))


# One encoder for every message: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _text(payload: dict[str, Any]) -> str:
    return _encode(payload)


def _publish(messages: list[Message]) -> None:
    """Send each payload to its groups, as the pub/sub channel layer's ``group_send`` would: one script
    call publishes them all (a settlement batch sends ~5,000; a PUBLISH each, packed and answered one
    by one, cost it a fifth of its time), and a payload sent to several users is serialised once."""
    texts: dict[int, str] = {}
    lines = []
    prefix = _channel("")
    for groups, payload in messages:
        text = texts.get(id(payload))
        if text is None:
            text = texts[id(payload)] = _text(payload)
        for group in groups:
            lines.append(f"{prefix}{group}\t{text}")
    _script(_PUBLISH_ALL)(args=["\n".join(lines)], client=_redis())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _send_event_message(event_id: int, payload: dict[str, Any]) -> None:
    """To ``odds.event.<id>`` and ``odds.all`` at once, and to the batch streams ``all`` and ``event.<id>``."""
    streams = ("all", f"event.{event_id}")
    # The text around its seq, which the script fills in: seq follows event_id, ts comes last.
    head = _text({**payload, "event_id": event_id})[:-1] + ',"seq":'
    tail = ',"ts":' + json.dumps(_now()) + "}"
    opened = _script(_SEND_EVENT_MESSAGE)(
        keys=[_key(f"seq:{event_id}"), *(key for stream in streams for key in _batch_keys(stream))],
        args=[head, tail, 2 * settings.LIVE_BATCH_MS, _channel(f"odds.event.{event_id}"), _channel("odds.all"),
              *(_channel(f"odds.batch.{stream}") for stream in streams)], client=_redis())
    for index in opened:  # a quiet stream: the message went at once, and opened a window
        stream = streams[index - 1]
        _window(settings.LIVE_BATCH_MS, _guarded("batch", lambda stream=stream: _flush_batch(stream), failed=False))


def _batch_keys(stream: str) -> tuple[str, str]:
    return _key(f"batch:{stream}"), _key(f"batch-window:{stream}")


def _key(name: str) -> str:
    return f"{settings.REDIS_PREFIX}live:{name}"


def _channel(group: str) -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}__group__{group}"


@functools.cache
def _script(source: str):
    """A Lua script, loaded into Redis once and then called by its hash (on the client it is given)."""
    return _redis().register_script(source)


def _flush_batch(stream: str) -> bool:
    """At a window's end: send what the stream gathered; whether there was anything."""
    return bool(_script(_FLUSH_BATCH)(keys=_batch_keys(stream), args=[2 * settings.LIVE_BATCH_MS,
                                                                     _channel(f"odds.batch.{stream}")],
                                      client=_redis()))


def _window(ms: int, flush: Callable[[], bool]) -> None:
    """Call ``flush`` (guarded) when a window of ``ms`` ends; while it finds something to send, open
    another. (The per-event price window and the batch window work alike.) A failed flush closes
    the window: its key expires, and the next message takes along what is left."""
    def end() -> None:
        if flush():
            _window(ms, flush)

    timer = threading.Timer(ms / 1000, end)
    timer.daemon = False  # a short-lived process (ingest_feed) still sends what its last window gathered
    timer.start()


def _flush_prices(event_id: int) -> bool:
    pending = _script(_TAKE_PENDING)(keys=[_key(f"prices:{event_id}"), _key(f"window:{event_id}")],
                                     args=[2 * settings.LIVE_CONFLATION_MS], client=_redis())
    if not pending:
        return False
    prices = sorted((json.loads(value) for value in pending[1::2]), key=lambda p: p["outcome_id"])
    _send_event_message(event_id, {"type": "prices", "prices": prices})
    return True


def _queue_prices(event_id: int, changes: list[dict[str, Any]]) -> None:
    redis = _redis()
    redis.hset(_key(f"prices:{event_id}"), mapping={str(c["outcome_id"]): json.dumps(c) for c in changes})
    # The window key outlives its timer by a window, so a dead process cannot hold prices back for long.
    if redis.set(_key(f"window:{event_id}"), 1, nx=True, px=2 * settings.LIVE_CONFLATION_MS):
        _flush_prices(event_id)  # a quiet event: no reason to wait
        _window(settings.LIVE_CONFLATION_MS, _guarded("prices", lambda: _flush_prices(event_id), failed=False))


def prices_changed(*, event_id: int, changes: list[tuple[int, int, Any]]) -> None:
    """(market_id, outcome_id, price) changes of one event, sent conflated after commit."""
    rows = [{"market_id": m, "outcome_id": o, "price": str(p)} for m, o, p in changes]
    _after_commit("prices", lambda: _queue_prices(event_id, rows))


def market_changed(*, event_id: int, market_id: int, status: str) -> None:
    def send():
        _flush_prices(event_id)
        _send_event_message(event_id, {"type": "market", "market_id": market_id, "status": status})

    _after_commit("market", send)


def event_changed(*, event_id: int, status: str, score: str | None, clock: str,
                  players: list[dict[str, Any]] | None = None) -> None:
    """``players``: the stat lines ``[{player_id, name, team, stats}]`` of an event with a roster."""
    payload = {"type": "event", "status": status, "score": score, "clock": clock,
               **({"players": players} if players is not None else {})}

    def send():
        _flush_prices(event_id)
        _send_event_message(event_id, payload)

    _after_commit("event", send)


def challenges_changed(messages: list[dict[str, Any]], *, users: Sequence[tuple[int, dict[str, Any]]] = ()) -> None:
    """``challenge_open`` / ``challenge_closed`` messages (each with its ``event_id``), to everyone
    watching challenges, of all events or of that one, after commit; and ``users``' (user_id, payload)
    messages in the same publish (one Redis round trip for a challenge's parties and its board)."""
    if messages or users:
        _after_commit("challenges", lambda: _publish([
            *(([f"user.{user_id}"], payload) for user_id, payload in users),
            *((["challenges.all", f"challenges.event.{m['event_id']}"], {**m, "ts": _now()}) for m in messages)]))


def to_users(messages: list[tuple[int, dict[str, Any]]]) -> None:
    """(user_id, payload) messages, sent together after commit (a settlement batch has thousands)."""
    if messages:
        _after_commit("user", lambda: _publish([([f"user.{user_id}"], payload) for user_id, payload in messages]))


def to_user(user_id: int, payload: dict[str, Any]) -> None:
    to_users([(user_id, payload)])


def to_staff(payload: dict[str, Any]) -> None:
    _after_commit("staff", lambda: _publish([(["staff"], payload)]))
