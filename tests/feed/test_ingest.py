"""The wire format and its ingestion: every message type applied, every bad line refused and skipped."""

import json
import logging
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit.context import Actor
from events.models import Competition, Event, Market, OddsTick, Outcome
from events.services import outcome_price_set
from feed import ingest
from feed.ingest import Ingestor
from feed.wire import COMPETITION_MAX, NAME_MAX, REF_MAX, SEQ_MAX, Refused, parse

TS = "2026-11-22T10:00:00Z"


def msg(message_type, seq, event="f-1", **body):
    return json.dumps({"type": message_type, "source": "test", "event": event, "seq": seq, "ts": TS, **body})


def created(event="f-1", seq=1, **overrides):
    return msg("event_created", seq, event=event, **{
        "home": "Reds", "away": "Blues", "sport": "football", "competition": "Feed Cup", "start_time": TS,
        "markets": [
            {"market": f"{event}:mr", "kind": "match_result",
             "prices": {"home": "2.10", "draw": "3.30", "away": "3.40"}},
            {"market": f"{event}:ou", "kind": "over_under", "line": "2.5", "prices": {"over": "1.90", "under": "1.90"}},
            {"market": f"{event}:btts", "kind": "both_teams_to_score", "prices": {"yes": "1.80", "no": "2.00"}}],
        **overrides})


CREATED = created()
MATCH = {"market": "f-1:mr", "kind": "match_result", "prices": {"home": "2.10", "draw": "3.30", "away": "3.40"}}
HOME = {"market": "f-1:mr", "outcome": "home", "price": "2.10"}


@pytest.fixture
def ingestor(db):
    return Ingestor()


def test_every_message_type_is_applied(ingestor):
    lines = [
        CREATED,
        msg("event_started", 2),
        msg("market_created", 3, market="f-1:ng5", kind="next_goal_window", line="5",
            prices={"yes": "4.00", "no": "1.20"}),
        msg("prices", 4, prices=[{"market": "f-1:mr", "outcome": "home", "price": "2.04"},
                                 {"market": "f-1:mr", "outcome": "away", "price": "3.60"}]),
        msg("market_suspended", 5, market="f-1:mr", reason="goal"),
        msg("game_event", 6, kind="goal", team="home", minute=3, score="1-0"),
        msg("market_resumed", 7, market="f-1:mr"),
        msg("market_closed", 8, market="f-1:ng5"),
        msg("market_result", 9, market="f-1:ng5", winners=["yes"]),
        msg("market_cancelled", 10, market="f-1:btts", reason="provider outage"),
        msg("event_finished", 11),
        msg("result", 12, home_score=2, away_score=1),
    ]
    ingestor.ingest(lines)
    assert not ingestor.refused, ingestor.refused
    assert sum(ingestor.applied.values()) == len(lines)
    event = Event.objects.get(external_ref="f-1")
    assert (event.status, event.score, event.live_score, event.clock, event.feed_seq) == (
        "finished", "2-1", "1-0", "3'", 12)
    statuses = dict(Market.objects.filter(event=event).values_list("external_ref", "status"))
    assert statuses == {"f-1:mr": "resulted", "f-1:ou": "resulted", "f-1:btts": "cancelled", "f-1:ng5": "resulted"}
    home = Outcome.objects.get(market__external_ref="f-1:mr", key="home")
    assert (home.price, home.status) == (Decimal("2.040"), "won")
    assert Outcome.objects.get(market__external_ref="f-1:ng5", key="yes").status == "won"
    assert OddsTick.objects.filter(outcome=home, source="feed").count() == 1


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    (json.dumps({"type": "teleport", "source": "x", "event": "f-1", "seq": 9, "ts": TS}), "unknown_type"),
    (json.dumps({"type": ["prices"], "source": "x", "event": "f-1", "seq": 9, "ts": TS}), "unknown_type"),
    (msg("prices", "9", prices=[]), "invalid_field"),
    (msg("prices", 0, prices=[]), "invalid_field"),
    (msg("prices", 9, prices="2.10"), "invalid_field"),
    (json.dumps({"type": "prices", "source": "x", "event": "f-1", "seq": 9, "ts": "yesterday", "prices": []}),
     "invalid_field"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "outcome": "home", "price": 2.1}]), "invalid_price"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "outcome": "home", "price": "-2.10"}]), "invalid_price"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "outcome": "home", "price": "2.1234"}]), "invalid_price"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "outcome": "home", "price": "1.00"}]), "invalid_price"),
    (msg("prices", 9, event="f-404", prices=[]), "unknown_event"),
    (msg("prices", 9, prices=[{"market": "f-1:zz", "outcome": "home", "price": "2.10"}]), "unknown_market"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "outcome": "nobody", "price": "2.10"}]), "unknown_outcome"),
    (msg("prices", 1, prices=[{"market": "f-1:mr", "outcome": "home", "price": "2.20"}]), "stale_seq"),
    (msg("market_resumed", 9, market="f-1:mr"), "rejected_by_service"),  # it is open: illegal transition
    (msg("result", 9, home_score=-1, away_score=0), "rejected_by_service"),
    (msg("game_event", 9, kind="goal", minute="12", score="1-0"), "invalid_field"),
    # numbers beyond what the database stores, and JSON that is not strict
    (msg("prices", SEQ_MAX + 1, prices=[]), "invalid_field"),
    (msg("game_event", 9, kind="goal", minute=2**64, score="1-0"), "invalid_field"),
    (msg("prices", 9, prices=[]).replace('"seq": 9', '"seq": NaN'), "invalid_json"),
    ("[" * 100_000, "invalid_json"),
    (msg("prices", 9, prices=[], padding="x" * 1_000_001), "line_too_long"),
    # refs and names longer than their columns, empty refs
    (msg("prices", 9, event="e" * (REF_MAX + 1), prices=[]), "invalid_field"),
    (msg("prices", 9, prices=[{**HOME, "market": "m" * (REF_MAX + 1)}]), "invalid_field"),
    (msg("prices", 9, prices=[{**HOME, "market": ""}]), "invalid_field"),
    (msg("market_suspended", 9, market="m" * (REF_MAX + 1)), "invalid_field"),
    (created("f-2", markets=[{**MATCH, "market": "m" * (REF_MAX + 1)}]), "invalid_field"),
    (created("f-2", home="H" * (NAME_MAX + 1)), "invalid_field"),
    (created("f-2", competition="C" * (COMPETITION_MAX + 1)), "invalid_field"),
    (msg("market_suspended", 9, market="f-1:mr", reason="r" * 201), "invalid_field"),
    # refs taken twice
    (created("f-2", markets=[{**MATCH, "market": "f-2:x"}, {**MATCH, "market": "f-2:x"}]), "duplicate_ref"),
    (created("f-2", markets=[MATCH]), "duplicate_ref"),  # f-1:mr is f-1's
    # fields nobody defined, at the top and inside
    (msg("prices", 9, prices=[], colour="red"), "unknown_field"),
    (msg("prices", 9, prices=[{**HOME, "stake": "10"}]), "unknown_field"),
    (created("f-2", markets=[{**MATCH, "market": "f-2:mr", "boost": True}]), "unknown_field"),
    (msg("event_started", 9, home="Reds"), "unknown_field"),
    # prices of odd shapes
    (msg("prices", 9, prices=[["f-1:mr", "home", "2.10"]]), "invalid_field"),
    (msg("prices", 9, prices=[{"market": "f-1:mr", "price": "2.10"}]), "invalid_field"),
    (msg("prices", 9, prices=[{**HOME, "outcome": ["home"]}]), "invalid_field"),
    (msg("prices", 9, prices=[{**HOME, "price": {"value": "2.10"}}]), "invalid_price"),
    (msg("prices", 9, prices=[{**HOME, "price": "2.10", "market": None}]), "invalid_field"),
    (msg("market_created", 9, market="f-1:x", kind="next_goal_window", line=["5"], prices={"yes": "2", "no": "2"}),
     "invalid_field"),
    (msg("market_created", 9, market="f-1:x", kind="next_goal_window", line="5", prices={"yes": ["4.00"]}),
     "invalid_price"),
    (msg("market_created", 9, market="f-1:x", kind="next_goal_window", line="5", prices={}), "rejected_by_service"),
    (msg("market_created", 9, market="f-1:x", kind="teleport", prices={}), "rejected_by_service"),
    # text no database column takes
    (msg("prices", 9, prices=[{**HOME, "outcome": "ho\x00me"}]), "invalid_text"),
    (msg("market_suspended", 9, market="f-1:mr", reason="goal\x00"), "invalid_text"),
    (msg("market_suspended", 9, market="f-1:mr", reason="\ud800"), "invalid_text"),
    (msg("prices", 9, prices=[], **{"\udfff": 1}), "invalid_text"),
    # times without an offset or out of range
    (created("f-2", start_time="2026-11-22T10:00:00"), "invalid_field"),
    (created("f-2", start_time="0001-01-01T00:00:00+01:00"), "invalid_field"),
])
def test_bad_lines_are_refused_with_their_reason_and_ingestion_goes_on(ingestor, line, reason):
    ingestor.line(CREATED)
    before = list(Outcome.objects.order_by("pk").values_list("price", "status"))
    # when the bad line comes, followed by a good one
    assert ingestor.line(line) is False
    good = msg("prices", 50, prices=[{"market": "f-1:mr", "outcome": "draw", "price": "3.25"}])
    assert ingestor.line(good) is True
    # then the bad line changed nothing and the good one applied
    assert ingestor.refused == {reason: 1}
    after = dict(Outcome.objects.filter(market__external_ref="f-1:mr").values_list("key", "price"))
    assert after["draw"] == Decimal("3.250") and after["home"] == before[0][0]


def test_the_highest_seq_a_bigint_holds_is_applied(ingestor):
    # given
    ingestor.line(CREATED)
    # when
    applied = ingestor.line(msg("prices", SEQ_MAX, prices=[HOME]))
    # then
    assert applied and Event.objects.get(external_ref="f-1").feed_seq == SEQ_MAX


def test_the_wire_bounds_fit_the_columns():
    ref_columns = {model._meta.get_field("external_ref").max_length for model in (Event, Market)}
    assert ref_columns == {REF_MAX}
    assert Competition._meta.get_field("name").max_length == COMPETITION_MAX
    assert len(f"{'h' * NAME_MAX} or {'a' * NAME_MAX}") <= Outcome._meta.get_field("name").max_length
    assert SEQ_MAX == 2**63 - 1  # Event.feed_seq is a BigIntegerField


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_error_on_one_line_is_refused_and_the_next_line_applies(caplog):
    # given an event whose row an operator's transaction holds locked, and a short lock timeout
    ingestor = Ingestor()
    ingestor.ingest([CREATED, created("f-2")])
    locked, release = threading.Event(), threading.Event()

    def operator():
        with transaction.atomic():
            Event.objects.select_for_update().get(external_ref="f-1")
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=operator)
    holder.start()
    locked.wait(10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        # when a line for the locked event times out, and a line for the other comes next
        refused = ingestor.line(msg("prices", 2, prices=[HOME]))
        applied = ingestor.line(msg("prices", 2, event="f-2", prices=[{**HOME, "market": "f-2:mr", "price": "2.30"}]))
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    # then
    assert (refused, applied) == (False, True)
    assert ingestor.refused == {"database_error": 1}
    assert Outcome.objects.get(market__external_ref="f-2:mr", key="home").price == Decimal("2.300")
    assert Event.objects.get(external_ref="f-1").feed_seq == 1
    [record] = [r for r in caplog.records if r.name == "feed" and r.levelno == logging.ERROR]
    assert "database_error" in record.getMessage() and record.exc_info


def test_a_bug_in_a_handler_is_logged_with_its_traceback_and_the_feed_goes_on(ingestor, monkeypatch, caplog):
    # given a handler that fails as a bug would (the one stand-in here: a bug cannot be had for real)
    ingestor.line(CREATED)
    monkeypatch.setitem(ingest.HANDLERS, "game_event", lambda *args: {}["minute"])
    # when
    refused = ingestor.line(msg("game_event", 2, kind="goal", minute=3, score="1-0"))
    applied = ingestor.line(msg("prices", 3, prices=[{**HOME, "price": "2.20"}]))
    # then
    assert (refused, applied) == (False, True)
    assert ingestor.refused == {"internal_error": 1}
    assert Event.objects.get(external_ref="f-1").feed_seq == 3
    [record] = [r for r in caplog.records if r.name == "feed" and r.levelno == logging.ERROR]
    assert "KeyError" in record.getMessage() and record.exc_info


def test_ingest_feed_refuses_a_line_that_is_not_utf8_and_goes_on(db, tmp_path, capsys, caplog):
    # given
    recording = tmp_path / "feed.jsonl"
    not_utf8 = msg("market_suspended", 2, market="f-1:mr", reason="BYTE").encode().replace(b"BYTE", b"\xff")
    good = msg("market_suspended", 3, market="f-1:ou").encode()
    recording.write_bytes(b"\n".join([CREATED.encode(), not_utf8, good]))
    # when
    call_command("ingest_feed", str(recording))
    # then
    assert Market.objects.get(external_ref="f-1:mr").status == "open"
    assert Market.objects.get(external_ref="f-1:ou").status == "suspended"
    assert "'invalid_text': 1" in capsys.readouterr().out
    [logged] = [r.getMessage() for r in caplog.records if r.name == "feed"]
    assert "\\udcff" in logged.encode("utf-8").decode()  # escaped, so any log handler can write it


def test_duplicates_are_dropped_by_seq(ingestor):
    price = msg("prices", 2, prices=[{"market": "f-1:mr", "outcome": "home", "price": "2.02"}])
    ingestor.ingest([CREATED, price, price, CREATED])
    assert ingestor.refused == {"stale_seq": 2}
    assert Event.objects.filter(external_ref="f-1").count() == 1


def test_a_pinned_price_records_the_feed_tick_without_applying_it(ingestor):
    ingestor.line(CREATED)
    home = Outcome.objects.get(market__external_ref="f-1:mr", key="home")
    outcome_price_set(outcome_id=home.pk, price="2.00", reason="trader view", actor=Actor.system("t"))
    ingestor.line(msg("prices", 2, prices=[{"market": "f-1:mr", "outcome": "home", "price": "2.30"}]))
    home.refresh_from_db()
    assert home.price == Decimal("2.000")
    assert home.ticks.filter(source="feed").get().applied is False


def test_parse_returns_the_body():
    message = parse(msg("game_event", 3, kind="goal", team="away", minute=41, score="0-1"))
    assert (message.type, message.seq, message.get("minute")) == ("game_event", 3, 41)
    with pytest.raises(Refused):
        parse('{"type": "result"}')
