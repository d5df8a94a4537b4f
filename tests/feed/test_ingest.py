"""The wire format and its ingestion: every message type applied, every bad line refused and skipped."""

import json
from decimal import Decimal

import pytest

from audit.context import Actor
from oddslab.events.models import Event, Market, OddsTick, Outcome
from oddslab.events.services import outcome_price_set
from oddslab.feed.ingest import Ingestor
from oddslab.feed.wire import Refused, parse

TS = "2026-11-22T10:00:00Z"


def msg(message_type, seq, event="f-1", **body):
    return json.dumps({"type": message_type, "source": "test", "event": event, "seq": seq, "ts": TS, **body})


CREATED = msg("event_created", 1, home="Reds", away="Blues", sport="football", competition="Feed Cup",
              start_time=TS, markets=[
                  {"market": "f-1:mr", "kind": "match_result",
                   "prices": {"home": "2.10", "draw": "3.30", "away": "3.40"}},
                  {"market": "f-1:ou", "kind": "over_under", "line": "2.5",
                   "prices": {"over": "1.90", "under": "1.90"}},
                  {"market": "f-1:btts", "kind": "both_teams_to_score", "prices": {"yes": "1.80", "no": "2.00"}}])


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
