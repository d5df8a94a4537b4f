"""Separation of duties: staff and agents are not players, and nobody settles by hand a bet they placed."""

import pytest
from django.contrib.auth.models import Group

from audit.context import Actor
from betting.services import bet_place
from tests.conftest import audit_rows, bets_snapshot, selection

NOT_PLAYERS = ["trader", "compliance", "regulator", "admin", "agent"]


@pytest.mark.parametrize("role", NOT_PLAYERS)
def test_a_staff_or_agent_account_cannot_deposit(api, make_user, role):
    # given
    user = make_user(role)
    before = bets_snapshot()
    # when
    response = api(user).post("/api/v1/wallet/deposits", {"amount": "100.00"}, format="json")
    # then
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "not_a_player"
    assert response.json()["details"]["role"] == role
    assert bets_snapshot() == before
    assert audit_rows("wallet.deposit", "refused").get().details["error"] == "not_a_player"


@pytest.mark.parametrize("role", NOT_PLAYERS)
@pytest.mark.parametrize("path", ["/api/v1/bets", "/api/v1/bets/validate"])
def test_a_staff_or_agent_account_cannot_bet(api, make_user, make_event, role, path):
    # given
    user = make_user(role)
    body = {"selections": [selection(make_event())], "stake": "10.00", "bet_type": "single"}
    before = bets_snapshot()
    # when
    response = api(user).post(path, body, format="json")
    # then
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "not_a_player"
    assert bets_snapshot() == before


def test_the_slip_page_refuses_a_staff_account(client, make_user, make_event):
    # given a trader logged in to the player pages, with a selection on the slip
    trader = make_user("trader")
    client.force_login(trader)
    outcome_id = selection(make_event())["outcome_id"]
    client.post(f"/slip/outcomes/{outcome_id}", HTTP_HX_REQUEST="true")
    before = bets_snapshot()
    # when
    response = client.post("/slip/place", {"stake": "10.00"}, HTTP_HX_REQUEST="true")
    # then the slip shows the refusal in words and nothing was placed
    assert response.status_code == 200
    assert "only player accounts deposit, bet" in response.content.decode()
    assert bets_snapshot() == before


def test_nobody_settles_by_hand_a_bet_they_placed(api, player, make_event):
    # given a player's bet, and the same account later made a trader
    bet = bet_place(player=player, selections=[selection(make_event())], stake="10.00", bet_type="single",
                    actor=Actor.of(player))
    player.groups.add(Group.objects.get(name="trader"))
    before = bets_snapshot()
    # when the account settles its own bet
    response = api(player).post(f"/api/v1/bets/{bet.pk}/settle", {"result": "won", "reason": "mine"}, format="json")
    # then it is refused, changes nothing, and the refusal is audited
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "own_bet"
    assert bets_snapshot() == before
    assert audit_rows("bet.settle", "refused").get().details["error"] == "own_bet"
