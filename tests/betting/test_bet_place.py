"""Placement: the worked examples of DESIGN.md and the limits that bound a slip."""

from decimal import Decimal, localcontext

import pytest

from audit.context import Actor
from audit.models import AuditLog
from betting.models import Bet
from betting.services import bet_place
from core.errors import DomainError
from events.services import market_suspend
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from tests.conftest import audit_rows, bets_snapshot, selection, wallet_of

FIVE_PRICES = ["2.50", "2.20", "1.90", "1.70", "2.00"]


@pytest.fixture
def five_events(make_event):
    return [make_event(home=price) for price in FIVE_PRICES]


def place(client, selections, stake, bet_type="multiple", odds_change="none", **headers):
    return client.post("/api/v1/bets", {"selections": selections, "stake": stake, "bet_type": bet_type,
                                        "odds_change": odds_change}, format="json", **headers)


def test_a_single_is_accepted_at_once_before_the_match(api, player, make_event):
    # given
    event = make_event(home="2.50")
    # when
    response = place(api(player), [selection(event)], "100.00", bet_type="single")
    # then
    assert response.status_code == 201, response.json()
    bet = response.json()
    assert (bet["status"], bet["total_odds"], bet["potential_return"]) == ("accepted", "2.50", "250.00")
    assert bet["ticket_number"] == f"BET-{bet['id']:09d}"
    assert bet["legs"] == [{"outcome_id": selection(event)["outcome_id"], "market_id": event.markets.get().pk,
                            "event_id": event.pk, "price": "2.500", "result": None}]
    # the answer is built from the bet as written; reading it back gives the same
    assert api(player).get(f"/api/v1/bets/{bet['id']}").json() == bet
    assert wallet_of(player).balance == Decimal("900.00")
    stake = Transfer.objects.get(kind="bet_stake")
    assert (stake.amount, stake.reference_type, stake.reference_id) == (Decimal("100.00"), "bet", str(bet["id"]))
    assert stake.credit_account.code == "house:stakes_held"
    assert audit_rows("bet.place", "success").get().resource_id == str(bet["id"])
    assert ledger_verify().ok


def test_the_worked_max_winning_example(api, make_user, five_events):
    # given legs at 2.50, 2.20, 1.90, 1.70, 2.00 (total odds 35.53)
    player = make_user(balance="20000.00")
    selections = [selection(e) for e in five_events]
    before = bets_snapshot()
    # when staking 20,000
    refused = place(api(player), selections, "20000.00")
    # then it is refused with the figures a player needs
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "max_winning_exceeded"
    assert (body["details"]["potential_return"], body["details"]["max_winning"],
            body["details"]["max_allowed_stake"]) == ("710600.00", "500000.00", "14072.61")
    assert body["details"]["total_odds"] == "35.53"
    assert bets_snapshot() == before
    assert audit_rows("bet.place", "refused").get().details["error"] == "max_winning_exceeded"
    # and staking the suggested maximum is accepted
    accepted = place(api(player), selections, "14072.61")
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["potential_return"] == "499999.83"


def test_three_to_the_fifth(api, make_user, make_event):
    # given five legs at 3.00: total odds 243
    player = make_user(balance="5000.00")
    selections = [selection(make_event(home="3.00")) for _ in range(5)]
    # when / then
    refused = place(api(player), selections, "3000.00")
    assert refused.status_code == 422
    assert refused.json()["details"]["max_allowed_stake"] == "2057.61"
    assert refused.json()["details"]["potential_return"] == "729000.00"
    accepted = place(api(player), selections, "2057.61")
    assert accepted.status_code == 201
    assert accepted.json()["potential_return"] == "499999.23"


def test_a_100_leg_multiple_within_the_cap_is_placed_and_101_is_refused(api, make_user, make_event):
    # given 101 events priced 1.07 (1.07^100 = 867.7, inside the 1,000 combined-odds cap)
    player = make_user(balance="100.00")
    selections = [selection(make_event(home="1.07")) for _ in range(101)]
    # when
    placed = place(api(player), selections[:100], "1.00")
    before = bets_snapshot()
    refused = place(api(player), selections, "1.00")
    # then
    assert placed.status_code == 201, placed.json()
    bet = Bet.objects.get(pk=placed.json()["id"])
    assert bet.legs.count() == 100
    with localcontext(prec=1000):
        assert bet.total_odds == Decimal("1.07") ** 100  # exact, all 300 decimals
    assert placed.json()["potential_return"] == "867.71"
    assert api(player).get(f"/api/v1/bets/{bet.pk}").json() == placed.json()  # legs in position order
    assert refused.status_code == 422
    assert refused.json()["error"] == "too_many_selections"
    assert bets_snapshot() == before


def test_total_odds_are_the_exact_product_and_the_return_is_rounded_down(api, player, make_event):
    selections = [selection(make_event(home=p)) for p in ("1.333", "1.777", "2.111")]
    response = place(api(player), selections, "3.33")
    assert response.status_code == 201
    exact = Decimal("1.333") * Decimal("1.777") * Decimal("2.111")
    assert response.json()["total_odds"] == f"{exact.normalize():f}" == "5.000412251"
    assert response.json()["potential_return"] == "16.65"  # 16.6513..., rounded down


def test_validate_reports_without_placing(api, player, five_events):
    before = bets_snapshot()
    response = api(player).post("/api/v1/bets/validate", {
        "selections": [selection(e) for e in five_events], "stake": "20000.00", "bet_type": "multiple"},
        format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["total_odds"], body["potential_return"], body["max_allowed_stake"]) == (
        False, "35.53", "710600.00", "14072.61")
    assert [v["error"] for v in body["violations"]] == ["max_winning_exceeded", "insufficient_funds"]
    assert bets_snapshot() == before
    ok = api(player).post("/api/v1/bets/validate", {
        "selections": [selection(five_events[0])], "stake": "10.00", "bet_type": "single"}, format="json")
    assert ok.json()["valid"] is True and ok.json()["violations"] == []


def test_placing_twice_with_one_idempotency_key_makes_one_bet(api, player, make_event):
    event = make_event()
    first = place(api(player), [selection(event)], "10.00", bet_type="single", HTTP_IDEMPOTENCY_KEY="slip-1")
    again = place(api(player), [selection(event)], "10.00", bet_type="single", HTTP_IDEMPOTENCY_KEY="slip-1")
    other = place(api(player), [selection(event)], "11.00", bet_type="single", HTTP_IDEMPOTENCY_KEY="slip-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"
    assert Bet.objects.count() == 1 and wallet_of(player).balance == Decimal("990.00")


def test_a_replay_is_answered_as_first_placed_though_the_balance_and_market_have_changed(api, make_user,
                                                                                         make_event):
    # given a bet that took the whole balance, and its market suspended since
    player = make_user(balance="10.00")
    event = make_event()
    first = place(api(player), [selection(event)], "10.00", bet_type="single", HTTP_IDEMPOTENCY_KEY="all-in")
    market_suspend(market_id=event.markets.get().pk, actor=Actor.system("test"))
    # when the same request comes again
    again = place(api(player), [selection(event)], "10.00", bet_type="single", HTTP_IDEMPOTENCY_KEY="all-in")
    # then it gets the first answer: no insufficient_funds, no market_unavailable, nothing moved
    assert first.status_code == again.status_code == 201, again.json()
    assert again.json() == first.json()
    assert Bet.objects.count() == 1 and wallet_of(player).balance == Decimal("0.00")


def test_players_see_only_their_own_bets(api, player, make_user, make_event):
    other = make_user(balance="100.00")
    event = make_event()
    mine = place(api(player), [selection(event)], "10.00", bet_type="single").json()
    theirs = place(api(other), [selection(event)], "10.00", bet_type="single").json()
    assert [b["id"] for b in api(player).get("/api/v1/bets").json()["results"]] == [mine["id"]]
    assert api(player).get(f"/api/v1/bets/{theirs['id']}").status_code == 404
    assert api(player).get(f"/api/v1/bets/{mine['id']}").json()["stake"] == "10.00"
    regulator = api(make_user("regulator"))
    assert regulator.get("/api/v1/bets").json()["count"] == 2
    assert regulator.get(f"/api/v1/bets/{theirs['id']}").json()["id"] == theirs["id"]
    assert regulator.get("/api/v1/bets", {"status": "accepted"}).json()["count"] == 2
    assert regulator.get("/api/v1/bets", {"status": "nonsense"}).status_code == 400


def test_the_service_refuses_with_every_violation_listed(player, make_event):
    event = make_event(home="150.00")
    with pytest.raises(DomainError) as refusal:
        bet_place(player=player, selections=[selection(event)], stake="0.50", bet_type="single",
                  actor=Actor.of(player))
    errors = [v["error"] for v in refusal.value.details["violations"]]
    assert errors == ["odds_above_max", "stake_below_min"]
    assert refusal.value.code == "odds_above_max"
    assert AuditLog.objects.filter(action="bet.place", outcome="refused").count() == 1
