"""Properties of the feed's parser and ingestion (hypothesis): whatever a line holds — random text,
random JSON, a message of the simulator's own run with a few parts changed — it is applied or refused
with a documented reason, nothing else escapes, and a good line still applies after it.

Every example runs in a savepoint of the test's transaction, rolled back at its end, so each starts
from the same book: the simulator's football and basketball games opened (created, started, the first
micro-market) and another event for the good line. Bounded and derandomized for CI."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from events.models import Event, Outcome
from feed.ingest import Ingestor
from feed.simulator import Simulator
from feed.wire import SEQ_MAX, Refused, dump, parse

START = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
RUN = list(Simulator(games=2, seed=5, start=START, minutes=30, sports=("football", "basketball")).messages())
GAME = [m for _, m in RUN]
OPENING = [dump(m) for at, m in RUN if at == 0]  # both games created and started, the first micro-market
GOOD = {"type": "event_created", "source": "prop", "event": "good-1", "seq": 1, "ts": "2026-11-22T15:00:00Z",
        "home": "Good Reds", "away": "Good Blues", "sport": "football", "competition": "Property Cup",
        "start_time": "2026-11-22T15:00:00Z", "markets": [
            {"market": "good-1:mr", "kind": "match_result",
             "prices": {"home": "2.10", "draw": "3.30", "away": "3.40"}}]}


def _documented_reasons() -> set[str]:
    """The refusal reasons of docs/feed.md's ingestion table."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "feed.md").read_text()
    table = docs.split("## Ingestion")[1].split("\n## ")[0]
    rows = re.findall(r"^\| (`.+?) \|", table, re.MULTILINE)
    return {reason for row in rows for reason in re.findall(r"`(\w+)`", row)}


REASONS = _documented_reasons()
# What a healthy parser never lets through to the database, nor raises on: finding one is a bug.
UNFORESEEN = {"database_error", "internal_error"}

KEYS = sorted({k for m in GAME for k in m} | {"market", "outcome", "price", "line", "kind", "prices", "player",
                                               "name", "team", "points", "rebounds", "assists"})
REFS = sorted({m["event"] for m in GAME} | {m["market"] for m in GAME if "market" in m}
              | {p["player"] for m in GAME for p in m.get("players", [])})
SPECIAL = st.sampled_from([
    0, -1, 1, SEQ_MAX, SEQ_MAX + 1, -SEQ_MAX - 2, 2**31, 10**30, 1.5, float("nan"), float("inf"), True, None,
    "", "x" * 81, "x" * 201, "\x00", "ab\x00", "\ud800", "\udfff tail", "2.10", "1.001", "1000", "1000.001",
    "2026-11-22T15:00:00", "2026-11-22T15:00:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
    "match_result", "over_under", "next_goal_window", "home", "draw", "yes", "football", "5", "2.5", [], {},
    "basketball", "match_winner", "total_points", "away", "Q3 07:12", "x" * 17, 999, 1000,
    *REFS])
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | SPECIAL
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=4), max_leaves=12)


@st.composite
def mutated(draw) -> str:
    """A message of the simulator's run with up to three parts replaced, removed or added, mostly by
    values of the right kind, so that many lines reach the services."""
    message = json.loads(dump(draw(st.sampled_from(GAME))))
    for _ in range(draw(st.integers(0, 3))):
        places = [(message, key) for key in message if key != "type"]  # a wrong type: the random lines' part
        stack = list(message.values())
        while stack:
            value = stack.pop()
            children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
            for key, child in children:
                places.append((value, key))
                stack.append(child)
        container, key = draw(st.sampled_from(places))
        change = draw(st.sampled_from(["replace", "remove", "add"]))
        value = draw(st.one_of(SPECIAL, SPECIAL, SPECIAL, JSON))
        if change == "replace":
            container[key] = value
        elif change == "remove":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(KEYS) | TEXT)] = value
        else:
            container.append(value)
    return json.dumps(message)


def truncated() -> st.SearchStrategy[str]:
    return st.sampled_from([dump(m) for m in GAME]).flatmap(lambda line: st.integers(0, len(line)).map(
        lambda cut: line[:cut]))


RANDOM = st.one_of(TEXT, JSON.map(json.dumps), st.dictionaries(st.sampled_from(KEYS), SCALARS).map(json.dumps),
                   truncated())
LINES = RANDOM | mutated()
PRICES = st.sampled_from(["3.25", "3.40", "4.00"])
EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def book(db):
    """The simulator's game opened and the good line's event, shared by every example."""
    ingestor = Ingestor().ingest([*OPENING, dump(GOOD)])
    assert not ingestor.refused, ingestor.refused


def _good_line(price: str) -> str:
    seq = Event.objects.get(external_ref="good-1").feed_seq + 1
    return dump({**{k: GOOD[k] for k in ("source", "event", "ts")}, "type": "prices", "seq": seq,
                 "prices": [{"market": "good-1:mr", "outcome": "draw", "price": price}]})


def test_the_documented_reasons_are_read():
    assert {"invalid_json", "unknown_field", "invalid_text", "duplicate_ref", "internal_error"} <= REASONS


@settings(EXAMPLES, max_examples=300)
@given(line=LINES)
def test_the_parser_returns_a_message_or_a_documented_refusal(line):
    try:
        parse(line)
    except Refused as refusal:
        assert refusal.reason in REASONS - UNFORESEEN, refusal


def _ingest_then_a_good_line(line: str, price: str) -> None:
    with transaction.atomic():
        # given
        ingestor = Ingestor()
        # when
        applied = ingestor.line(line)
        good_applied = ingestor.line(_good_line(price))
        # then
        event("applied" if applied else f"refused: {next(iter(ingestor.refused))}")  # --hypothesis-show-statistics
        assert applied or set(ingestor.refused) <= REASONS - UNFORESEEN, (ingestor.refused, line)
        assert good_applied, (ingestor.refused, line)
        assert str(Outcome.objects.get(market__external_ref="good-1:mr", key="draw").price) == f"{price}0"
        transaction.set_rollback(True)


@settings(EXAMPLES, max_examples=100)
@given(line=RANDOM, price=PRICES)
def test_no_random_line_stops_ingestion_and_a_good_line_applies_after_it(book, line, price):
    _ingest_then_a_good_line(line, price)


@EXAMPLES
@given(line=mutated(), price=PRICES)
def test_no_mutated_message_stops_ingestion_and_a_good_line_applies_after_it(book, line, price):
    _ingest_then_a_good_line(line, price)
