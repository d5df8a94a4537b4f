"""The feed's wire format: JSON lines, one message per line (docs/feed.md has an example of each).

``parse`` checks a line's shape (strict JSON, type, fields and their types, no field it does not know,
prices as exact decimal strings, integers and strings within bounds the database can store, text
without NUL or lone surrogates) and returns a ``Message``; it knows nothing of the database beyond
those bounds (tests/feed check them against the columns). ``Refused`` carries the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import DomainError
from events.services import price_validate


class Refused(Exception):
    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


MARKET_STATUS_TYPES = {"market_suspended": "suspend", "market_resumed": "resume", "market_closed": "close",
                       "market_cancelled": "cancel"}
# Required fields of each message type beyond the common ones (type, source, event, seq, ts).
FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "event_created": {"home": str, "away": str, "sport": str, "competition": str, "start_time": str,
                      "markets": list},
    "event_started": {},
    "event_finished": {},
    "market_created": {"market": str, "kind": str, "prices": dict},
    **{kind: {"market": str} for kind in MARKET_STATUS_TYPES},
    "prices": {"prices": list},
    "game_event": {"kind": str, "minute": int, "score": str},
    "clock": {"clock": str, "score": str},
    "stats": {"players": list},
    "market_result": {"market": str, "winners": list},
    "result": {"home_score": int, "away_score": int},
}
COMMON = {"type": str, "source": str, "event": str, "seq": int, "ts": str}
# Optional fields of each message type; any other field is refused (``unknown_field``).
OPTIONAL: dict[str, dict[str, type | tuple[type, ...]]] = {
    "market_created": {"line": (str, int)},
    **{kind: {"reason": str} for kind in MARKET_STATUS_TYPES},
    "game_event": {"team": str},
    "event_created": {"players": list},
    "result": {"players": list},
}
STATS = ("points", "rebounds", "assists")

LINE_MAX = 1_000_000  # characters of one line
SEQ_MAX = 2**63 - 1  # every integer fits a PostgreSQL bigint (seq is stored in Event.feed_seq)
REF_MAX = 80  # event and market refs (Event.external_ref, Market.external_ref)
# Team names: the longest outcome name, "<home> or <away>", must fit Outcome.name (120).
NAME_MAX = 50
COMPETITION_MAX = 120  # Competition.name
CLOCK_MAX = 16  # Event.clock and Event.live_score
TEXT_MAX = 200  # any other string, keys included


@dataclass(frozen=True)
class Message:
    type: str
    source: str
    event: str
    seq: int
    ts: str
    body: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


def parse(line: str) -> Message:
    if len(line) > LINE_MAX:
        raise Refused("line_too_long", f"{len(line)} characters, at most {LINE_MAX}")
    try:
        data = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused("invalid_json", str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise Refused("invalid_message", "a message is a JSON object")
    _check_values(data)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise Refused("unknown_type", repr(kind)[:100])
    _check_fields(data, {**COMMON, **FIELDS[kind]}, OPTIONAL.get(kind, {}))
    if data["seq"] <= 0:
        raise Refused("invalid_field", "seq must be positive")
    timestamp(data["ts"], "ts")
    _ref(data["event"])
    if "market" in data:
        _ref(data["market"])
    if kind == "prices":
        for item in data["prices"]:
            _check_fields(item, {"market": str, "outcome": str}, {}, known=("price",), where="prices[].")
            _ref(item["market"])
            _price(item.get("price"))
    if kind == "market_created":
        for price in data["prices"].values():
            _price(price)
    if kind == "event_created":
        timestamp(data["start_time"], "start_time")
        for field, limit in (("home", NAME_MAX), ("away", NAME_MAX), ("competition", COMPETITION_MAX)):
            if len(data[field]) > limit:
                raise Refused("invalid_field", f"{field} has at most {limit} characters")
        for market in data["markets"]:
            _check_fields(market, {"market": str, "kind": str, "prices": dict}, {"line": (str, int)},
                          where="markets[].")
            _ref(market["market"])
            for price in market["prices"].values():
                _price(price)
        refs = [market["market"] for market in data["markets"]]
        if len(set(refs)) != len(refs):
            raise Refused("duplicate_ref", "each market of an event has a ref of its own")
    if kind == "event_created" and "players" in data:
        _roster(data["players"])
    if kind in ("stats", "result") and "players" in data:
        _stat_lines(data["players"])
    if kind == "clock":
        for field in ("clock", "score"):
            if len(data[field]) > CLOCK_MAX:
                raise Refused("invalid_field", f"{field} has at most {CLOCK_MAX} characters")
    if kind == "market_result" and not all(isinstance(w, str) for w in data["winners"]):
        raise Refused("invalid_field", "winners are outcome keys")
    return Message(kind, data["source"], data["event"], data["seq"], data["ts"],
                   {k: v for k, v in data.items() if k not in COMMON})


def timestamp(value: str, field: str) -> datetime:
    """An ISO 8601 time with its offset (``Z`` for UTC), as an aware datetime in UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Refused("invalid_field", f"{field} must be ISO 8601 with its offset") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _ref(value: str) -> None:
    if not 0 < len(value) <= REF_MAX:
        raise Refused("invalid_field", f"a ref has 1 to {REF_MAX} characters: {value[:100]!r}")


def _check_fields(data: Any, required: dict[str, Any], optional: dict[str, Any], *,
                  known: tuple[str, ...] = (), where: str = "") -> None:
    """``data`` is an object with the required fields, any of the optional ones and nothing else
    (``known`` fields are checked by the caller), each of its type."""
    if not isinstance(data, dict):
        raise Refused("invalid_field", f"each of {where.rstrip('.')} is an object")
    unknown = set(data) - set(known) - set(required) - set(optional)
    if unknown:
        raise Refused("unknown_field", f"{where}{', '.join(sorted(unknown))}"[:200])
    for name, expected in {**required, **{k: v for k, v in optional.items() if k in data}}.items():
        value = data.get(name)
        if not isinstance(value, expected) or isinstance(value, bool):
            names = expected if isinstance(expected, tuple) else (expected,)
            raise Refused("invalid_field", f"{where}{name} must be {' or '.join(t.__name__ for t in names)}")


def _check_values(data: Any) -> None:
    """Every string (keys too) at most TEXT_MAX long and free of NUL and lone surrogates, which no
    database text column takes; every integer within a bigint. Iterative: nesting is unbounded."""
    for key, value in _walk(data):
        for text in (key, value):
            if not isinstance(text, str):
                continue
            if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
                raise Refused("invalid_text", f"{str(key)[:50]!r} holds a NUL or a lone surrogate")
            if len(text) > TEXT_MAX:
                raise Refused("invalid_field", f"{str(key)[:50]!r} has more than {TEXT_MAX} characters")
        if isinstance(value, int) and not -SEQ_MAX - 1 <= value <= SEQ_MAX:
            raise Refused("invalid_field", f"{str(key)[:50]!r} is out of range (a 64-bit integer)")


def _walk(data: Any) -> Iterator[tuple[Any, Any]]:
    """(key or index, value) of every value inside ``data``."""
    stack: list[tuple[Any, Any]] = [("", data)]
    while stack:
        key, value = stack.pop()
        yield key, value
        if isinstance(value, dict):
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend(enumerate(value))


def _roster(players: list[Any]) -> None:
    """``[{player, name, team}]``: refs of their own; names and teams are the service's to judge."""
    for player in players:
        _check_fields(player, {"player": str, "name": str, "team": str}, {}, where="players[].")
        _ref(player["player"])
    refs = [player["player"] for player in players]
    if len(set(refs)) != len(refs):
        raise Refused("duplicate_ref", "each player of an event has a ref of its own")


def _stat_lines(lines: list[Any]) -> None:
    """``[{player, points?, rebounds?, assists?}]``, each player once; the bounds are the service's."""
    for line in lines:
        _check_fields(line, {"player": str}, dict.fromkeys(STATS, int), where="players[].")
        _ref(line["player"])
    refs = [line["player"] for line in lines]
    if len(set(refs)) != len(refs):
        raise Refused("duplicate_ref", "a player has one stat line per message")


def _price(value: Any) -> None:
    try:
        price_validate(value)
    except DomainError as refusal:
        raise Refused("invalid_price", f"{value!r}: {refusal.message}") from None


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
