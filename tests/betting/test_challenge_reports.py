"""P2P in the GGR report (its GGR is its fees), on the console's GGR page, and challenges.csv."""

import csv
import io
from decimal import Decimal

from django.utils import timezone

from audit.context import Actor
from betting.challenge_settlement import challenges_settle
from betting.challenges import challenge_accept, challenge_create
from betting.reports import CHALLENGE_COLUMNS, ggr_report
from betting.services import bet_place
from betting.settlement import markets_settle
from events.services import event_result_set
from tests.conftest import outcome_of, selection

D = Decimal


def test_p2p_staked_is_both_stakes_and_its_ggr_the_fees(client, make_user, make_event):
    # given a bet of 10.00 that won at 2.50, and two challenges settled (33.33 and 1.01 each) and one open
    alice, bob = make_user(balance="1000.00"), make_user(balance="1000.00")
    event = make_event(home="2.50")
    bet_place(player=alice, selections=[selection(event)], stake="10.00", bet_type="single", actor=Actor.of(alice))
    settled = []
    for stake in ("33.33", "1.01"):
        challenge = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake=stake,
                                     funding="internal", actor=Actor.of(alice))
        challenge_accept(challenge_id=challenge.pk, acceptor=bob, funding="internal", actor=Actor.of(bob))
        settled.append(challenge)
    challenge_create(creator=bob, event_id=event.pk, outcome_id=outcome_of(event, "away").pk, stake="5.00",
                     funding="internal", actor=Actor.of(bob))
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("test"))
    markets_settle(market_ids=list(event.markets.values_list("pk", flat=True)))
    assert challenges_settle(event_ids=[event.pk]) == 2
    # when the GGR report of today is read
    today = timezone.now().date().isoformat()
    report = ggr_report(start=today, end=today, viewer=None)
    # then sports keeps its figures and P2P adds both stakes, the payouts and the fees (3.34 + 0.11)
    assert (report["total_staked"], report["total_paid_out"], report["ggr"]) == (D("10.00"), D("25.00"), D("-15.00"))
    assert report["products"]["p2p"] == {"staked": D("68.68"), "paid_out": D("65.23"), "ggr": D("3.45"),
                                         "margin": D("0.0502")}
    assert report["products"]["casino"] == {"staked": D("0.00"), "paid_out": D("0.00"), "ggr": D("0.00"),
                                            "margin": None}
    assert report["total"] == {"ggr": D("-11.55"), "bonuses": D("0.00"), "commissions": D("0.00"),
                               "net_revenue": D("-11.55")}
    # and the API and the console page say the same
    regulator = make_user("regulator")
    client.force_login(regulator)
    body = client.get("/api/v1/reports/ggr", {"start": today, "end": today}).json()
    assert body["products"]["p2p"] == {"staked": "68.68", "paid_out": "65.23", "ggr": "3.45", "margin": "0.0502"}
    assert body["total"]["net_revenue"] == "-11.55" and body["ggr"] == "-15.00"
    page = client.get("/admin/console/reports/ggr/", {"start": today, "end": today}).content.decode()
    assert 'data-product="p2p"' in page and "3.45" in page and "/api/v1/exports/challenges.csv" in page
    # and challenges.csv lists all three
    response = client.get("/api/v1/exports/challenges.csv", {"start": today, "end": today})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0]) == CHALLENGE_COLUMNS
    assert [(r["status"], r["stake"], r["fee"], r["payout"]) for r in rows] == [
        ("settled", "33.33", "3.34", "63.32"), ("settled", "1.01", "0.11", "1.91"), ("open", "5.00", "", "")]
    assert rows[0]["selection"] == f"outcome:{outcome_of(event).pk}" and rows[0]["winner"] == alice.username
    assert sum(D(r["fee"]) for r in rows if r["fee"]) == report["products"]["p2p"]["ggr"]


def test_a_period_without_challenges_exports_the_header_only(client, make_user):
    client.force_login(make_user("compliance"))
    response = client.get("/api/v1/exports/challenges.csv", {"start": "2020-01-01", "end": "2020-01-31"})
    assert b"".join(response.streaming_content).decode().splitlines() == [",".join(CHALLENGE_COLUMNS)]
