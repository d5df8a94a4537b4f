"""The CSV exports of a seeded day agree with the ledger and the GGR report."""

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from betting.reports import BET_COLUMNS, LEDGER_COLUMNS, SETTLEMENT_COLUMNS, ggr_report
from ledger.models import Transfer
from tests.conftest import outcome_of

D = Decimal


def download(client, name: str, **params) -> tuple[list[str], list[dict[str, str]]]:
    response = client.get(f"/api/v1/exports/{name}.csv", params)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{name}.csv"'
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return reader.fieldnames, rows


def test_the_ledger_csv_of_a_day_matches_the_ledger_totals_per_kind(client, make_user, seeded_day):
    # given a day of deposits, a withdrawal, bets placed and settled, downloaded from a console link
    today = timezone.now().date().isoformat()
    client.force_login(make_user("regulator"))
    # when the ledger export of today is downloaded with the session
    header, rows = download(client, "ledger", start=today, end=today)
    # then one row per transfer, and per kind the same count and amount as the ledger itself
    assert header == LEDGER_COLUMNS
    exported: dict[str, list] = defaultdict(lambda: [0, D("0.00")])
    for row in rows:
        exported[row["kind"]][0] += 1
        exported[row["kind"]][1] += D(row["amount"])
    in_db = {r["kind"]: [r["n"], r["total"]] for r in Transfer.objects.values("kind").annotate(
        n=Count("entry_number"), total=Sum("amount")).order_by()}
    assert dict(exported) == in_db
    # which for this day is: three deposits, one withdrawal, five stakes, two payouts, three stakes kept
    assert in_db["deposit"] == [3, D("1000.00")] and in_db["withdrawal"] == [1, D("50.00")]
    assert in_db["bet_stake"] == [5, D("115.00")] and in_db["bet_payout"][1] == D("145.00")
    # and each row's entry is unique and in order
    assert [r["entry_number"] for r in rows] == sorted(r["entry_number"] for r in rows)


def test_the_bets_and_settlements_csv_agree_with_the_ggr_report(client, make_user, seeded_day):
    today = timezone.now().date().isoformat()
    client.force_login(make_user("compliance"))
    report = ggr_report(start=today, end=today, viewer=None)
    header, bets = download(client, "bets", start=today, end=today)
    assert header == BET_COLUMNS and len(bets) == 5
    settled = [b for b in bets if b["status"] == "settled"]
    # the settled bets' stakes and payouts are the GGR report's staked and paid out
    assert sum(D(b["stake"]) for b in settled) == report["total_staked"] == D("75.00")
    assert sum(D(b["payout"]) for b in settled) == report["total_paid_out"] == D("145.00")
    # the open bet is exported too, with an empty payout; the double lists both legs
    assert [(b["status"], b["payout"]) for b in bets if b["status"] != "settled"] == [("accepted", "")]
    one, two, _ = seeded_day["events"]
    double = next(b for b in bets if b["bet_type"] == "multiple")
    assert double["legs"] == (f"{outcome_of(one, 'home').pk}@2.500=won;{outcome_of(two, 'draw').pk}@3.200=won")
    header, settlements = download(client, "settlements", start=today, end=today)
    assert header == SETTLEMENT_COLUMNS and len(settlements) == 4
    assert sum(D(s["house_result"]) for s in settlements) == report["ggr"] == D("-70.00")


def test_a_period_without_activity_exports_the_header_only(client, make_user, seeded_day):
    client.force_login(make_user("regulator"))
    for name, columns in (("bets", BET_COLUMNS), ("ledger", LEDGER_COLUMNS), ("settlements", SETTLEMENT_COLUMNS)):
        header, rows = download(client, name, start="2020-01-01", end="2020-01-31")
        assert (header, rows) == (columns, [])


def test_exports_need_the_export_permission(client, make_user, player):
    for user, status in ((player, 403), (make_user("trader"), 403), (make_user("regulator"), 200)):
        client.force_login(user)
        assert client.get("/api/v1/exports/ledger.csv").status_code == status
        assert client.get("/api/v1/exports/audit-logs.csv").status_code == status


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_exports_stream_through_a_real_daphne(daphne_server, client, make_user):
    """Under Daphne the export body is asynchronous; its cursor must survive between pulls."""
    import urllib.request

    from tests.console.test_export_memory import insert_transfers

    # given 5,000 committed transfers and a logged-in regulator's session cookie
    insert_transfers(5_000)
    client.force_login(make_user("regulator"))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    # when the ledger export is downloaded from the running server
    request = urllib.request.Request(f"{daphne_server}/api/v1/exports/ledger.csv", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        assert response.headers.get("Content-Length") is None  # streamed, not sized up front
        rows = list(csv.DictReader(io.TextIOWrapper(response, encoding="utf-8")))
    # then every row arrives, in order, and the money adds up to the ledger's
    assert len(rows) == 5_000
    assert sum(D(r["amount"]) for r in rows) == Transfer.objects.aggregate(total=Sum("amount"))["total"]


def test_cells_that_would_run_as_formulas_are_neutralised(client, make_user, make_event, seeded_day):
    # given a player whose username and an audit row whose user agent a spreadsheet would run
    from audit.context import Actor
    from betting.services import bet_place
    from tests.conftest import selection
    from wallet.services import wallet_deposit

    player = make_user("player", "=HYPERLINK(evil)")
    for agent in ("+SUM(1,2)", "@cmd", "\tTAB", "\rCR", "-2+3"):
        wallet_deposit(user=player, amount=D("10.00"), actor=Actor(user=player, label=player.username,
                                                                    user_agent=agent))
    bet_place(player=player, selections=[selection(make_event())], stake="10.00", bet_type="single",
              actor=Actor.of(player))
    today = timezone.now().date().isoformat()
    client.force_login(make_user("admin"))
    # when the exports are downloaded
    _, bets = download(client, "bets", start=today, end=today)
    _, audit = download(client, "audit-logs", start=today, end=today)
    _, settlements = download(client, "settlements", start=today, end=today)
    # then those cells start with an apostrophe, and plain negative numbers stay numbers
    assert "'=HYPERLINK(evil)" in {row["player"] for row in bets}
    agents = {row["user_agent"] for row in audit}
    assert {"'+SUM(1,2)", "'@cmd", "'\tTAB", "'\rCR", "'-2+3"} <= agents
    house = [row["house_result"] for row in settlements if row["house_result"].startswith(("-", "'"))]
    assert house and all(D(value) < 0 for value in house)  # -70.00-style figures, untouched
