"""The feed's wire format: JSON lines, one message per line (docs/feed.md has an example of each).

``parse`` checks a line's shape (JSON, type, fields and their types, prices as exact decimal strings)
and returns a ``Message``; it knows nothing of the database. ``Refused`` carries the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oddslab.errors import DomainError
from oddslab.events.services import price_validate


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
    "market_result": {"market": str, "winners": list},
    "result": {"home_score": int, "away_score": int},
}


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
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise Refused("invalid_json", str(exc)) from None
    if not isinstance(data, dict):
        raise Refused("invalid_message", "a message is a JSON object")
    kind = data.get("type")
    if kind not in FIELDS:
        raise Refused("unknown_type", repr(kind))
    required = {"source": str, "event": str, "seq": int, "ts": str, **FIELDS[kind]}
    for name, expected in required.items():
        value = data.get(name)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise Refused("invalid_field", f"{name} must be {getattr(expected, '__name__', expected)}")
    if data["seq"] <= 0:
        raise Refused("invalid_field", "seq must be positive")
    try:
        datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
    except ValueError:
        raise Refused("invalid_field", "ts must be ISO 8601") from None
    if kind in ("prices",):
        for item in data["prices"]:
            if not isinstance(item, dict) or not isinstance(item.get("market"), str) \
                    or not isinstance(item.get("outcome"), str):
                raise Refused("invalid_field", "each price names its market and outcome")
            _price(item.get("price"))
    if kind in ("market_created",):
        for price in data["prices"].values():
            _price(price)
    if kind == "event_created":
        for market in data["markets"]:
            if not isinstance(market, dict) or not isinstance(market.get("market"), str) \
                    or not isinstance(market.get("kind"), str) or not isinstance(market.get("prices"), dict):
                raise Refused("invalid_field", "each market has market, kind and prices")
            for price in market["prices"].values():
                _price(price)
    if kind == "market_result" and not all(isinstance(w, str) for w in data["winners"]):
        raise Refused("invalid_field", "winners are outcome keys")
    common = {"type", "source", "event", "seq", "ts"}
    return Message(kind, data["source"], data["event"], data["seq"], data["ts"],
                   {k: v for k, v in data.items() if k not in common})


def _price(value: Any) -> None:
    try:
        price_validate(value)
    except DomainError as refusal:
        raise Refused("invalid_price", f"{value!r}: {refusal.message}") from None


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
