"""Results, settlement and its reports, through the API and the settlement service."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog, Notification
from betting.models import Bet
from betting.settlement import markets_pending_settlement, markets_settle
from events.models import Market
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from risk.models import OutcomeExposure
from tests.conftest import audit_rows, bets_snapshot, outcome_of, selection, wallet_of

FIVE_PRICES = ["2.50", "2.20", "1.90", "1.70", "2.00"]


def settle_everything():
    """What the worker does after a result (the tasks call exactly this)."""
    return markets_settle(market_ids=markets_pending_settlement())


def test_the_regulator_scenario(api, make_user, make_event, django_capture_on_commit_callbacks):
    # given five events priced 2.50/2.20/1.90/1.70/2.00 for the home side and a new player
    trader, regulator = api(make_user("trader")), api(make_user("regulator"))
    events = [make_event(home=price) for price in FIVE_PRICES]
    alice = make_user("player", "alice_reg")
    client = api(alice)
    selections = [selection(e) for e in events]
    slip = {"selections": selections, "bet_type": "multiple", "odds_change": "none"}
    # the player deposits 10,000 and places a 1,000 multiple
    assert client.post("/api/v1/wallet/deposits", {"amount": "10000.00"}, format="json").status_code == 201
    first = client.post("/api/v1/bets", {**slip, "stake": "1000.00"}, format="json")
    assert first.status_code == 201 and first.json()["potential_return"] == "35530.00"
    assert first.json()["status"] == "accepted"
    # 20,000 is refused with the suggested maximum
    refused = client.post("/api/v1/bets", {**slip, "stake": "20000.00"}, format="json").json()
    assert (refused["error"], refused["details"]["max_allowed_stake"]) == ("max_winning_exceeded", "14072.61")
    # the suggested maximum is refused for funds (balance 9,000)
    broke = client.post("/api/v1/bets", {**slip, "stake": "14072.61"}, format="json").json()
    assert broke["error"] == "insufficient_funds" and broke["details"]["balance"] == "9000.00"
    # after depositing 10,000 more it is accepted
    client.post("/api/v1/wallet/deposits", {"amount": "10000.00"}, format="json")
    second = client.post("/api/v1/bets", {**slip, "stake": "14072.61"}, format="json")
    assert second.status_code == 201 and second.json()["potential_return"] == "499999.83"
    # when all five events end in home wins
    with django_capture_on_commit_callbacks(execute=False) as queued:
        for event in events:
            response = trader.post(f"/api/v1/events/{event.pk}/result", {"home_score": 2, "away_score": 0},
                                   format="json")
            assert response.status_code == 202, response.json()
    # one settlement request per result, sent after commit
    assert sum("_settlement_request" in callback.__qualname__ for callback in queued) == 5
    assert settle_everything() == 2
    # then both bets won exactly what they promised
    bets = {b["id"]: b for b in client.get("/api/v1/bets").json()["results"]}
    assert (bets[first.json()["id"]]["result"], bets[first.json()["id"]]["payout"]) == ("won", "35530.00")
    assert (bets[second.json()["id"]]["result"], bets[second.json()["id"]]["payout"]) == ("won", "499999.83")
    assert client.get("/api/v1/wallet").json()["balance"] == "540457.22"
    assert wallet_of(alice).balance == Decimal("19000.00") - Decimal("14072.61") + Decimal("535529.83")
    today = timezone.now().date().isoformat()
    ggr = regulator.get("/api/v1/reports/ggr", {"start": today, "end": today}).json()
    assert (ggr["total_staked"], ggr["total_paid_out"], ggr["ggr"]) == ("15072.61", "535529.83", "-520457.22")
    # an audit row for every step, both refusals included
    mine = AuditLog.objects.filter(actor=alice).values_list("action", "outcome")
    assert list(mine.order_by("id")) == [
        ("wallet.deposit", "success"), ("bet.place", "success"), ("bet.place", "refused"),
        ("bet.place", "refused"), ("wallet.deposit", "success"), ("bet.place", "success")]
    assert audit_rows("event.result").count() == 5 and audit_rows("bet.settle").count() == 2
    assert set(Market.objects.filter(event__in=events).values_list("status", flat=True)) == {"settled"}
    call_command("ledger_check")


def test_settlement_moves_stake_to_revenue_and_payout_to_the_player(player, make_event, make_user):
    # given a winning and a losing single
    loser = make_user(balance="100.00")
    event = make_event(home="2.50")
    from betting.services import bet_place

    won = bet_place(player=player, selections=[selection(event, "home")], stake="10.00", bet_type="single",
                    actor=Actor.of(player))
    lost = bet_place(player=loser, selections=[selection(event, "away")], stake="20.00", bet_type="single",
                     actor=Actor.of(loser))
    from events.services import event_result_set

    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("t"))
    # when
    assert settle_everything() == 2
    assert settle_everything() == 0  # a rerun finds nothing to do
    # then
    won.refresh_from_db(), lost.refresh_from_db()
    assert (won.result, won.payout, lost.result, lost.payout) == ("won", Decimal("25.00"), "lost", Decimal("0.00"))
    assert wallet_of(player).balance == Decimal("1015.00")
    kinds = Transfer.objects.filter(reference_type="bet", reference_id=str(won.pk)).values_list(
        "kind", "amount", "debit_account__code", "credit_account__code")
    assert sorted(kinds) == [("bet_payout", Decimal("25.00"), "house:revenue", f"player:{player.pk}"),
                             ("bet_stake", Decimal("10.00"), f"player:{player.pk}", "house:stakes_held"),
                             ("bet_stake_revenue", Decimal("10.00"), "house:stakes_held", "house:revenue")]
    assert set(OutcomeExposure.objects.values_list("worst_case_payout", flat=True)) == {Decimal("0.00")}
    assert Notification.objects.get(user=player, kind="bet_settled").message.endswith("25.00 paid to your wallet.")
    assert Market.objects.get(event=event).status == "settled"
    # through the events services, once, with its audit row (the rerun found it settled already)
    marked = audit_rows("market.settled").get()
    assert (marked.resource_id, marked.actor_label, marked.details) == (
        str(Market.objects.get(event=event).pk), "system:settlement", {"before": "resulted", "after": "settled"})
    assert ledger_verify().ok


def test_a_lost_leg_settles_a_multiple_at_once(player, make_event):
    from betting.services import bet_place
    from events.services import event_result_set

    first, second = make_event(), make_event()
    bet = bet_place(player=player, selections=[selection(first), selection(second)], stake="10.00",
                    bet_type="multiple", actor=Actor.of(player))
    event_result_set(event_id=first.pk, home_score=0, away_score=1, actor=Actor.system("t"))
    assert settle_everything() == 1
    bet.refresh_from_db()
    assert (bet.status, bet.result) == ("settled", "lost")
    assert list(bet.legs.values_list("result", flat=True)) == ["lost", None]


def test_cancelling_a_market_voids_its_legs(api, player, make_event, make_user):
    from betting.services import bet_place

    first, second = make_event(home="2.00"), make_event(home="3.00")
    single = bet_place(player=player, selections=[selection(first)], stake="10.00", bet_type="single",
                       actor=Actor.of(player))
    multiple = bet_place(player=player, selections=[selection(first), selection(second)], stake="10.00",
                         bet_type="multiple", actor=Actor.of(player))
    trader = api(make_user("trader"))
    response = trader.post(f"/api/v1/markets/{first.markets.get().pk}/cancel", {"reason": "abandoned"},
                           format="json")
    assert response.status_code == 200
    assert settle_everything() == 1  # the single; the multiple waits for its other leg
    single.refresh_from_db()
    assert (single.result, single.payout) == ("void", Decimal("10.00"))
    trader.post(f"/api/v1/events/{second.pk}/result", {"home_score": 3, "away_score": 1}, format="json")
    assert settle_everything() == 1
    multiple.refresh_from_db()
    assert (multiple.result, multiple.payout) == ("won", Decimal("30.00"))  # the void leg counts 1.00
    assert wallet_of(player).balance == Decimal("1020.00")
    assert ledger_verify().ok


def test_cancelling_an_event_voids_every_bet_on_it(api, player, make_event, make_user):
    from betting.services import bet_place

    event = make_event()
    bet = bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                    actor=Actor.of(player))
    response = api(make_user("trader")).post(f"/api/v1/events/{event.pk}/cancel", {"reason": "waterlogged"},
                                             format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    settle_everything()
    bet.refresh_from_db()
    assert (bet.result, bet.payout) == ("void", Decimal("10.00"))


def test_cancelling_an_event_leaves_markets_already_decided_as_they_stand(api, player, make_event, make_user):
    from betting.services import bet_place
    from events.services import MarketSpec, market_result_set

    # given a game with a goal-before-25' micro-market the feed resulted "yes" (its winning bet not yet
    # settled by the worker), and a bet on the match result
    event = make_event(extra_markets=[MarketSpec(kind="next_goal_window", line="25",
                                                 prices={"yes": "2.00", "no": "1.80"})])
    window = event.markets.get(kind="next_goal_window")
    on_window = bet_place(player=player, selections=[{"outcome_id": window.outcomes.get(key="yes").pk,
                                                      "price": "2.00"}],
                          stake="10.00", bet_type="single", actor=Actor.of(player))
    on_result = bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                          actor=Actor.of(player))
    market_result_set(market_id=window.pk, winners=["yes"], actor=Actor.system("feed"))
    # when the game is abandoned and the trader cancels the event
    response = api(make_user("trader")).post(f"/api/v1/events/{event.pk}/cancel", {"reason": "abandoned"},
                                             format="json")
    settle_everything()
    # then the decided market stands, its bet keeps its win, and only the open market is void
    assert response.status_code == 200, response.content
    window.refresh_from_db()
    assert window.status == Market.Status.SETTLED
    on_window.refresh_from_db()
    on_result.refresh_from_db()
    assert (on_window.result, on_window.payout) == ("won", Decimal("20.00"))
    assert (on_result.result, on_result.payout) == ("void", Decimal("10.00"))
    assert wallet_of(player).balance == Decimal("1010.00")
    details = audit_rows("event.cancel").get().details
    assert details["markets_cancelled"] == [event.markets.get(kind="match_result").pk]
    assert details["markets_standing"] == [{"market_id": window.pk, "status": "resulted"}]
    assert ledger_verify().ok


def test_the_database_refuses_to_move_a_decided_market_back(make_event):
    from tests.conftest import assert_database_refuses

    market = make_event().markets.get()
    Market.objects.filter(pk=market.pk).update(status=Market.Status.RESULTED)
    assert_database_refuses(f"UPDATE events_market SET status = 'cancelled' WHERE id = {market.pk}")
    Market.objects.filter(pk=market.pk).update(status=Market.Status.SETTLED)  # resulted → settled is the way on


@pytest.mark.parametrize(("body", "code"), [
    ({"home_score": -1, "away_score": 0}, "invalid_result"),
    ({"home_score": "2", "away_score": 0}, "invalid_result"),
    ({"home_score": 1.5, "away_score": 0}, "invalid_result"),
    ({"home_score": True, "away_score": 0}, "invalid_result"),
    ({"home_score": 1}, "invalid_request"),
])
def test_unknown_or_inconsistent_results_are_refused(api, make_user, make_event, body, code):
    event = make_event()
    response = api(make_user("trader")).post(f"/api/v1/events/{event.pk}/result", body, format="json")
    assert response.status_code == 400 and response.json()["error"] == code
    assert set(event.markets.values_list("status", flat=True)) == {"open"}


def test_a_result_is_recorded_once(api, make_user, make_event):
    event = make_event()
    trader = api(make_user("trader"))
    trader.post(f"/api/v1/events/{event.pk}/result", {"home_score": 1, "away_score": 0}, format="json")
    again = trader.post(f"/api/v1/events/{event.pk}/result", {"home_score": 0, "away_score": 1}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "already_resulted"
    assert outcome_of(event, "home").status == "won"


def test_manual_settlement_is_audited_with_before_and_after(api, player, make_event, make_user):
    from betting.services import bet_place

    bet = bet_place(player=player, selections=[selection(make_event(home="3.00"))], stake="10.00",
                    bet_type="single", actor=Actor.of(player))
    trader = make_user("trader")
    assert api(player).post(f"/api/v1/bets/{bet.pk}/settle", {"result": "won", "reason": "x"},
                            format="json").status_code == 403
    missing = api(trader).post(f"/api/v1/bets/{bet.pk}/settle", {"result": "won", "reason": ""}, format="json")
    assert missing.status_code == 400
    response = api(trader).post(f"/api/v1/bets/{bet.pk}/settle", {"result": "won", "reason": "feed outage"},
                                format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["result"], response.json()["payout"]) == ("won", "30.00")
    record = audit_rows("bet.settle").get()
    assert record.actor == trader and record.details == {"before": "accepted", "result": "won",
                                                         "payout": "30.00", "reason": "feed outage"}
    before = bets_snapshot()
    again = api(trader).post(f"/api/v1/bets/{bet.pk}/settle", {"result": "void", "reason": "oops"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "invalid_bet_state"
    assert bets_snapshot() == before
    assert wallet_of(player).balance == Decimal("1020.00")


def test_event_settlement_report_and_exports(api, player, make_event, make_user):
    from betting.services import bet_place
    from events.services import event_result_set

    event = make_event(home="2.00")
    for key in ("home", "away", "draw"):
        bet_place(player=player, selections=[selection(event, key)], stake="10.00", bet_type="single",
                  actor=Actor.of(player))
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("t"))
    settle_everything()
    regulator = api(make_user("regulator"))
    report = regulator.get(f"/api/v1/events/{event.pk}/settlement").json()
    assert report == {"event_id": event.pk, "bets_processed": 3, "total_staked": "30.00", "total_paid_out": "20.00",
                      "ggr": "10.00", "by_result": {"won": 1, "lost": 2, "void": 0}}
    assert api(player).get(f"/api/v1/events/{event.pk}/settlement").status_code == 403
    today = timezone.now().date().isoformat()
    for name, rows in (("bets", 3), ("settlements", 3), ("ledger", 1 + 3 + 3 + 1)):
        response = regulator.get(f"/api/v1/exports/{name}.csv", {"start": today, "end": today})
        assert response.status_code == 200 and response.streaming
        lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert len(lines) == rows, name
        if name == "ledger":
            # the export's money matches the ledger's own totals
            assert sum(Decimal(line["amount"]) for line in lines) == sum(t.amount for t in Transfer.objects.all())
    assert api(make_user("trader")).get("/api/v1/exports/bets.csv").status_code == 403
    assert Bet.objects.filter(status="settled").count() == 3
