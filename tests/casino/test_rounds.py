"""A round through the service: its ledger, its nonce, the seed pair's rotation and verification, and
every refusal leaving the wallet, the ledger and the rounds as they were."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.context import Actor
from casino.models import Round, SeedPair
from casino.selectors import round_verify
from casino.services import casino_client_seed_set, casino_round_play, casino_seed_get, casino_seed_rotate
from core.errors import DomainError
from ledger.models import Account, Transfer
from risk.models import Geofence, PlayerRestriction
from tests.casino.helpers import (
    CLIENT_SEED,
    SERVER_SEED,
    known_seeds,
    losing_dice,
    reference_number,
    reference_roll,
    roll_of,
    winning_dice,
)
from tests.conftest import audit_rows, ledger_snapshot, wallet_of


def dice(player, stake="10.00", direction="under", target="50.00", **kw):
    return casino_round_play(player=player, game="dice", stake=stake, direction=direction, target=target,
                             actor=Actor.of(player), **kw)


def casino_snapshot():
    return {**ledger_snapshot(), "rounds": list(Round.objects.values_list("pk", flat=True)),
            "pairs": list(SeedPair.objects.values_list("pk", "next_nonce", "client_seed", "revealed_at"))}


def house_casino() -> Account:
    return Account.objects.get(code="house:casino")


def test_the_casino_house_account_may_go_negative_and_derives_its_balance(db):
    house = house_casino()
    assert (house.kind, house.may_go_negative, house.balance) == ("house", True, None)


def test_a_winning_dice_round_moves_the_stake_in_and_the_payout_out(player):
    # given: known seeds; nonce 0 rolls 9.84
    known_seeds(player)
    direction, target = winning_dice(roll_of(0))  # under 9.85: a 9.85% chance, 99 / 9.85 = 10.0507..
    # when
    played = dice(player, stake="10.00", direction=direction, target=target)
    # then
    r = played.round
    assert (r.roll, r.won, r.multiplier, r.payout, r.nonce) == (
        Decimal("9.84"), True, Decimal("10.0507"), Decimal("100.50"), 0)
    transfers = list(Transfer.objects.filter(reference_type="casino_round", reference_id=str(r.pk)))
    wallet, house = wallet_of(player), house_casino()
    assert [(t.kind, t.debit_account_id, t.credit_account_id, t.amount) for t in transfers] == [
        ("casino_stake", wallet.pk, house.pk, Decimal("10.00")),
        ("casino_payout", house.pk, wallet.pk, Decimal("100.50"))]
    assert wallet.balance == played.balance == Decimal("1090.50")
    assert audit_rows("casino.round_play", "success").count() == 1


def test_a_losing_round_moves_the_stake_alone(player):
    known_seeds(player)
    direction, target = losing_dice(roll_of(0))
    played = dice(player, stake="10.00", direction=direction, target=target)
    assert (played.round.won, played.round.payout) == (False, Decimal("0.00"))
    assert list(Transfer.objects.filter(reference_type="casino_round").values_list("kind", "amount")) == [
        ("casino_stake", Decimal("10.00"))]
    assert wallet_of(player).balance == Decimal("990.00")


def test_nonces_rise_by_one_per_round_of_a_seed_pair(player):
    known_seeds(player)
    rounds = [dice(player, stake="1.00").round for _ in range(3)]
    assert [r.nonce for r in rounds] == [0, 1, 2]
    assert [r.roll for r in rounds] == [roll_of(n) for n in range(3)]
    assert casino_seed_get(player=player).next_nonce == 3


def test_a_roulette_spin_pays_each_winning_bet(player):
    # given: nonce 0 spins 22 (black, even, low is 1-18 so no: high, dozen 2, column 1)
    known_seeds(player)
    assert reference_number(SERVER_SEED, CLIENT_SEED, 0) == 22
    bets = [{"type": "straight", "value": 22, "stake": "1.00"}, {"type": "red", "stake": "5.00"},
            {"type": "even", "value": None, "stake": "2.00"}, {"type": "dozen", "value": "2", "stake": "3.00"},
            {"type": "column", "value": 1, "stake": "1.50"}, {"type": "low", "stake": "1.00"}]
    # when
    played = casino_round_play(player=player, game="roulette", bets=bets, actor=Actor.of(player))
    # then: 36 + 0 + 4 + 9 + 4.50 + 0
    r = played.round
    assert (r.number, r.stake, r.payout, r.won) == (22, Decimal("13.50"), Decimal("53.50"), True)
    assert r.multiplier == Decimal("3.9629")  # 53.50 / 13.50 = 3.96296.. floored
    assert [line["payout"] for line in r.bets] == ["36.00", "0.00", "4.00", "9.00", "4.50", "0.00"]
    assert wallet_of(player).balance == Decimal("1040.00")


def test_rotation_reveals_the_server_seed_and_verify_recomputes_its_rounds(player):
    # given: two rounds on the first pair
    first = casino_seed_get(player=player)
    hash_shown = first.server_seed_hash
    rounds = [dice(player, stake="1.00").round, casino_round_play(
        player=player, game="roulette", bets=[{"type": "red", "stake": "1.00"}], actor=Actor.of(player)).round]
    # then: unrevealed, a round cannot be verified
    with pytest.raises(DomainError) as refused:
        round_verify(user=player, round_id=rounds[0].pk)
    assert (refused.value.status, refused.value.code) == (409, "seed_not_revealed")
    # when
    rotation = casino_seed_rotate(player=player, actor=Actor.of(player))
    # then: the old seed is shown, it hashes to what was shown before, the new pair starts at nonce 0
    assert rotation.previous.pk == first.pk and rotation.previous.revealed_at is not None
    assert rotation.previous.server_seed_hash == hash_shown
    assert rotation.current.next_nonce == 0 and rotation.current.client_seed == first.client_seed
    assert rotation.current.server_seed_hash != hash_shown
    checked = [round_verify(user=player, round_id=r.pk) for r in rounds]
    assert all(c.matches and c.hash_matches for c in checked)
    assert checked[0].outcome == reference_roll(first.server_seed, first.client_seed, 0) == rounds[0].roll
    assert checked[1].outcome == reference_number(first.server_seed, first.client_seed, 1) == rounds[1].number
    # and the next round is drawn from the new pair
    assert dice(player, stake="1.00").round.seed_pair_id == rotation.current.pk


def test_a_new_client_seed_draws_the_next_rounds_and_the_earlier_ones_still_verify(player):
    pair = known_seeds(player)
    before = dice(player, stake="1.00").round
    casino_client_seed_set(player=player, client_seed="my own seed 42!", actor=Actor.of(player))
    after = dice(player, stake="1.00").round
    assert (after.client_seed, after.nonce) == ("my own seed 42!", 1)
    assert after.roll == reference_roll(SERVER_SEED, "my own seed 42!", 1)
    casino_seed_rotate(player=player, actor=Actor.of(player))
    assert round_verify(user=player, round_id=before.pk).matches
    assert round_verify(user=player, round_id=after.pk).matches
    assert SeedPair.objects.get(pk=pair.pk).client_seed == "my own seed 42!"


@pytest.mark.parametrize("seed", ["", "x" * 65, "café", "tab\there", "nul\x00", 42, None])
def test_a_client_seed_is_1_to_64_printable_ascii_characters(player, seed):
    pair = casino_seed_get(player=player)
    with pytest.raises(DomainError) as refused:
        casino_client_seed_set(player=player, client_seed=seed, actor=Actor.of(player))
    assert (refused.value.status, refused.value.code) == (400, "invalid_client_seed")
    assert SeedPair.objects.get(pk=pair.pk).client_seed == pair.client_seed


def test_the_same_key_replays_the_round_and_another_body_conflicts(player):
    first = dice(player, stake="2.00", idempotency_key="k-1")
    again = dice(player, stake="2.00", idempotency_key="k-1")
    assert again.replayed and again.round.pk == first.round.pk
    assert Round.objects.count() == 1 and Transfer.objects.filter(kind="casino_stake").count() == 1
    with pytest.raises(DomainError) as refused:
        dice(player, stake="3.00", idempotency_key="k-1")
    assert refused.value.code == "idempotency_conflict"


def test_casino_losses_count_against_the_loss_limit_and_wins_give_room_back(player):
    # given: a day's loss limit of 15.00; a lost round of 10.00
    PlayerRestriction.objects.create(player=player, loss_day=Decimal("15.00"))
    known_seeds(player)
    dice(player, "10.00", *losing_dice(roll_of(0)))
    # when: 10.00 more would lose 20.00 in the day
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(player, "10.00")
    # then
    assert (refused.value.code, refused.value.details["remaining"]) == ("loss_limit", "5.00")
    assert casino_snapshot() == before
    # and a win gives room back: 5.00 under 2.91 on nonce 1's 2.90 pays 170.10, the day's loss is now -155.10
    assert dice(player, "5.00", *winning_dice(roll_of(1))).round.payout == Decimal("170.10")
    assert dice(player, "10.00").round.stake == Decimal("10.00")


# --- refusals ---------------------------------------------------------------------------------------

@pytest.fixture
def self_excluded(player):
    PlayerRestriction.objects.create(player=player, self_excluded_until=timezone.now() + timedelta(days=180))
    return player


REFUSED = [
    # (what is asked, the code, the status)
    ({"stake": "0.09"}, "stake_below_min", 422),
    ({"stake": "1000.01"}, "stake_above_max", 422),
    ({"stake": "10.00", "target": "0.01"}, "max_payout_exceeded", 422),  # could pay 99,000.00
    ({"stake": "5000000.00"}, "stake_above_max", 422),
    ({"stake": "10.001"}, "invalid_amount", 400),
    ({"stake": "10.00", "target": "98.01"}, "invalid_target", 400),  # 98.01%: one step past the most
    ({"stake": "10.00", "target": "0.00"}, "invalid_target", 400),   # 0%: one step below the least
    ({"stake": "10.00", "direction": "over", "target": "1.98"}, "invalid_target", 400),
    ({"stake": "10.00", "direction": "over", "target": "99.99"}, "invalid_target", 400),
    ({"stake": "10.00", "direction": "sideways"}, "invalid_direction", 400),
]


@pytest.mark.parametrize(("asked", "code", "status"), REFUSED)
def test_a_refused_round_changes_nothing(player, asked, code, status):
    casino_seed_get(player=player)
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(player, **asked)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert casino_snapshot() == before
    assert audit_rows("casino.round_play", "refused").get().details["error"] == code


def test_the_max_payout_refusal_says_the_largest_stake(player):
    with pytest.raises(DomainError) as refused:
        dice(player, stake="10.00", target="0.01")
    assert refused.value.details == {"max_payout": "50000.00", "potential_payout": "99000.00",
                                     "max_allowed_stake": "5.05"}
    assert dice(player, stake="5.05", target="0.01").round.multiplier == Decimal("9900.0000")  # 49,995.00 at most


def test_a_self_excluded_player_is_refused(self_excluded):
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(self_excluded)
    assert (refused.value.status, refused.value.code) == (403, "self_excluded")
    assert casino_snapshot() == before


def test_a_blocked_country_is_refused(player):
    Geofence.objects.update_or_create(pk=1, defaults={"enabled": True, "blocked_countries": ["GB"]})
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        casino_round_play(player=player, game="dice", stake="1.00", target="50.00", direction="under",
                          actor=Actor(user=player, label="p", country="GB"))
    assert (refused.value.status, refused.value.code) == (403, "geo_blocked")
    assert casino_snapshot() == before


def test_the_players_own_max_stake_applies(player):
    PlayerRestriction.objects.create(player=player, max_stake=Decimal("5.00"))
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(player, stake="5.01")
    assert (refused.value.code, refused.value.details["limit"], refused.value.details["max_stake"]) == (
        "stake_above_max", "player", "5.00")
    assert casino_snapshot() == before


def test_a_roulette_bet_below_the_minimum_is_refused(player):
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        casino_round_play(player=player, game="roulette", actor=Actor.of(player),
                          bets=[{"type": "red", "stake": "10.00"}, {"type": "black", "stake": "0.05"}])
    assert refused.value.code == "stake_below_min"
    assert casino_snapshot() == before


@override_settings(CASINO_MAX_PAYOUT="1000.00")
def test_a_spin_that_could_pay_past_the_maximum_is_refused(player):
    # given: 30.00 on 7 in two bets, and 5.00 on red (7 is red): 7 would pay 36 x 30 + 10 = 1,090.00
    bets = [{"type": "straight", "value": 7, "stake": "20.00"}, {"type": "straight", "value": "7", "stake": "10.00"},
            {"type": "red", "stake": "5.00"}]
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        casino_round_play(player=player, game="roulette", bets=bets, actor=Actor.of(player))
    assert refused.value.code == "max_payout_exceeded"
    assert refused.value.details == {"max_payout": "1000.00", "potential_payout": "1090.00"}
    assert casino_snapshot() == before


def test_insufficient_funds_change_nothing(make_user):
    poor = make_user("player", balance="5.00")
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(poor, stake="5.01")
    assert (refused.value.status, refused.value.code) == (422, "insufficient_funds")
    assert refused.value.details["shortfall"] == "0.01"
    assert casino_snapshot() == before


@pytest.mark.parametrize("role", ["trader", "compliance", "regulator", "admin", "agent"])
def test_staff_and_agents_do_not_play(make_user, role):
    staff = make_user(role)
    before = casino_snapshot()
    with pytest.raises(DomainError) as refused:
        dice(staff, stake="1.00")
    assert (refused.value.status, refused.value.code) == (403, "not_a_player")
    with pytest.raises(DomainError):
        casino_seed_get(player=staff)
    assert casino_snapshot() == before
    assert not Account.objects.filter(owner=staff).exists()


def test_ledger_check_proves_each_rounds_transfers(player):
    # given: rounds won and lost
    from ledger.selectors import ledger_verify
    from ledger.services import house_account, transfer_create

    known_seeds(player)
    dice(player, "10.00", *winning_dice(roll_of(0)))
    dice(player, "10.00", *losing_dice(roll_of(1)))
    assert ledger_verify().ok, ledger_verify().problems
    # when: a payout no round made
    from django.db import transaction
    with transaction.atomic():
        transfer_create(debit=house_account("casino"), credit=wallet_of(player), amount=Decimal("1.00"),
                        kind=Transfer.Kind.CASINO_PAYOUT, reference_type="casino_round", reference_id="999999")
    # then
    assert [p for p in ledger_verify().problems if p.startswith("casino round 999999")]
