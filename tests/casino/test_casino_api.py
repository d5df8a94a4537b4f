"""The casino's HTTP contract (API.md "Casino sandbox"): fields, who sees what, and bad input as 400s."""

import json

import pytest

from casino.models import Round
from tests.casino.helpers import CLIENT_SEED, SERVER_SEED, known_seeds, reference_roll
from tests.conftest import ledger_snapshot

DICE = {"game": "dice", "stake": "10.00", "target": "49.50", "direction": "under"}


def post(client, body, **headers):
    return client.post("/api/v1/casino/rounds", data=json.dumps(body), content_type="application/json", **headers)


def test_the_seed_is_its_hash_client_seed_and_nonce(api, player):
    client = api(player)
    shown = client.get("/api/v1/casino/seed").json()
    assert set(shown) == {"server_seed_hash", "client_seed", "nonce"} and shown["nonce"] == 0
    assert len(shown["server_seed_hash"]) == 64
    changed = client.put("/api/v1/casino/seed", {"client_seed": "mine"}, format="json")
    assert changed.status_code == 200 and changed.json() == {**shown, "client_seed": "mine"}


def test_a_dice_round_answers_its_fields(api, player):
    known_seeds(player)
    response = post(api(player), DICE)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"id", "game", "stake", "roll", "won", "multiplier", "payout", "server_seed_hash", "client_seed",
            "nonce", "target", "direction", "balance"} <= set(body)
    assert (body["roll"], body["won"], body["multiplier"], body["payout"], body["nonce"], body["client_seed"]) == (
        str(reference_roll(SERVER_SEED, CLIENT_SEED, 0)), True, "2.0000", "20.00", 0, CLIENT_SEED)  # 9.84 < 49.50
    assert body["server_seed"] is None and body["balance"] == "1010.00"


def test_a_roulette_round_answers_its_number_and_bets(api, player):
    known_seeds(player)
    response = post(api(player), {"game": "roulette", "bets": [{"type": "straight", "value": 22, "stake": "1.00"},
                                                               {"type": "black", "stake": "1.00"}]})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["number"], body["payout"], body["stake"]) == (22, "38.00", "2.00")
    assert [b["payout"] for b in body["bets"]] == ["36.00", "2.00"]


def test_rotate_then_verify(api, player, make_user):
    client = api(player)
    played = post(client, DICE).json()
    verify = f"/api/v1/casino/rounds/{played['id']}/verify"
    assert client.get(verify).json()["error"] == "seed_not_revealed"
    assert client.get(verify).status_code == 409
    rotated = client.post("/api/v1/casino/seed/rotate")
    assert rotated.status_code == 200
    previous = rotated.json()["previous"]
    assert previous["server_seed_hash"] == played["server_seed_hash"] and previous["last_nonce"] == 0
    assert rotated.json()["current"]["nonce"] == 0
    checked = client.get(verify).json()
    assert checked["matches"] and checked["hash_matches"] and checked["roll"] == played["roll"]
    assert checked["server_seed"] == previous["server_seed"]
    assert reference_roll(previous["server_seed"], played["client_seed"], 0) == round_roll(played)
    # another player does not see it; staff who may view rounds do
    assert api(make_user("player")).get(verify).status_code == 404
    assert api(make_user("compliance")).get(verify).status_code == 200
    assert api(make_user("agent")).get(verify).status_code == 404


def round_roll(played):
    from decimal import Decimal
    return Decimal(played["roll"])


def test_players_list_their_own_rounds_and_staff_their_tenants(api, player, make_user):
    other = make_user("player", balance="100.00")
    post(api(player), DICE)
    post(api(other), DICE)
    mine = api(player).get("/api/v1/casino/rounds").json()
    assert mine["count"] == 1 and mine["results"][0]["game"] == "dice"
    assert api(make_user("trader")).get("/api/v1/casino/rounds").json()["count"] == 2
    assert api(make_user("trader")).get("/api/v1/casino/rounds?game=roulette").json()["count"] == 0
    assert api(player).get("/api/v1/casino/rounds?game=poker").json()["error"] == "invalid_game"


def test_staff_do_not_play(api, make_user):
    response = post(api(make_user("trader")), DICE)
    assert (response.status_code, response.json()["error"]) == (403, "not_a_player")
    assert api(make_user("admin")).get("/api/v1/casino/seed").json()["error"] == "not_a_player"


def test_an_idempotency_key_replays_the_first_round(api, player):
    client = api(player)
    first = post(client, DICE, HTTP_IDEMPOTENCY_KEY="casino-1")
    again = post(client, DICE, HTTP_IDEMPOTENCY_KEY="casino-1")
    assert (first.status_code, again.status_code) == (201, 201) and again.json()["id"] == first.json()["id"]
    other = post(client, {**DICE, "stake": "11.00"}, HTTP_IDEMPOTENCY_KEY="casino-1")
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_conflict")


BAD = [
    ({**DICE, "game": "poker"}, "invalid_game"),
    ({**DICE, "game": ["dice"]}, "invalid_game"),
    ({**DICE, "target": "٤٩.٥٠"}, "invalid_target"),   # Arabic-Indic digits
    ({**DICE, "target": "1e999999"}, "invalid_target"),
    ({**DICE, "target": 49.5}, "invalid_target"),        # a float
    ({**DICE, "target": "NaN"}, "invalid_target"),
    ({**DICE, "target": "49.555"}, "invalid_target"),
    ({**DICE, "target": None}, "invalid_target"),
    ({**DICE, "direction": "sideways"}, "invalid_direction"),
    ({**DICE, "direction": {"a": 1}}, "invalid_direction"),
    ({**DICE, "stake": "abc"}, "invalid_amount"),
    ({**DICE, "stake": "1" + "0" * 40}, "invalid_amount"),
    ({**DICE, "stake": 10.0}, "invalid_amount"),
    ({**DICE, "stake": "-1.00"}, "invalid_amount"),
    ({"game": "roulette"}, "invalid_bets"),
    ({"game": "roulette", "bets": []}, "invalid_bets"),
    ({"game": "roulette", "bets": [{"type": "red", "stake": "1.00"}] * 21}, "invalid_bets"),
    ({"game": "roulette", "bets": ["red"]}, "invalid_bets"),
    ({"game": "roulette", "bets": [{"type": "corner", "value": 1, "stake": "1.00"}]}, "invalid_bet_type"),
    ({"game": "roulette", "bets": [{"type": ["red"], "stake": "1.00"}]}, "invalid_bet_type"),
    ({"game": "roulette", "bets": [{"type": "straight", "value": 37, "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "straight", "value": "٣", "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "straight", "value": True, "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "straight", "value": 10**100, "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "straight", "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "dozen", "value": 0, "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "red", "value": 1, "stake": "1.00"}]}, "invalid_bet_value"),
    ({"game": "roulette", "bets": [{"type": "red", "stake": "x"}]}, "invalid_amount"),
    ({**DICE, "game": "dice\u0000"}, "invalid_request"),  # the parser refuses NUL
]


@pytest.mark.parametrize(("body", "code"), BAD)
def test_bad_input_is_a_400_with_its_code_and_writes_nothing(api, player, body, code):
    before = ledger_snapshot()
    response = post(api(player), body)
    assert (response.status_code, response.json()["error"]) == (400, code), response.json()
    assert ledger_snapshot() == before and not Round.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api, player):
    response = api(player).post("/api/v1/casino/rounds", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("seed", ["", "x" * 65, "ça", 7])
def test_a_bad_client_seed_is_a_400(api, player, seed):
    response = api(player).put("/api/v1/casino/seed", {"client_seed": seed}, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client_seed")


def test_a_nul_in_the_client_seed_is_refused_by_the_parser(api, player):
    response = api(player).put("/api/v1/casino/seed", data='{"client_seed": "a\\u0000b"}',
                               content_type="application/json")
    assert response.status_code == 400
