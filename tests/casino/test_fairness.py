"""The outcome function and the pay tables (casino.fairness), against an independent computation."""

import hashlib
from decimal import Decimal

import pytest

from casino import fairness
from casino.fairness import RouletteBet
from tests.casino.helpers import CLIENT_SEED, SERVER_SEED, reference_chunk, reference_number, reference_roll


def test_known_answers_of_a_fixed_seed_pair():
    # given: server seed "a" x 64, client seed "lucky"; by hand, nonce 0's HMAC starts b4e78 = 740,984
    # when / then
    assert fairness.outcome_hex(SERVER_SEED, CLIENT_SEED, 0).startswith("b4e782ac59")
    assert fairness.dice_roll(SERVER_SEED, CLIENT_SEED, 0) == Decimal("9.84")  # 740,984 mod 10,000 / 100
    assert fairness.roulette_number(SERVER_SEED, CLIENT_SEED, 0) == 22  # 740,984 mod 37
    assert [fairness.dice_roll(SERVER_SEED, CLIENT_SEED, n) for n in range(1, 4)] == [
        Decimal("2.90"), Decimal("80.66"), Decimal("63.56")]


def test_a_first_chunk_of_a_million_or_more_is_skipped():
    # given: nonce 41's HMAC starts f5d27 (1,006,887), so its second chunk decides
    digest = fairness.outcome_hex(SERVER_SEED, CLIENT_SEED, 41)
    assert int(digest[:5], 16) >= 1_000_000
    # then
    assert fairness.outcome_chunk(digest) == int(digest[5:10], 16) == reference_chunk(SERVER_SEED, CLIENT_SEED, 41)
    assert fairness.dice_roll(SERVER_SEED, CLIENT_SEED, 41) == Decimal(int(digest[5:10], 16) % 10_000) / 100


@pytest.mark.parametrize("seeds", [(SERVER_SEED, CLIENT_SEED), ("0123456789abcdef" * 4, "player chosen seed ~!"),
                                   ("f" * 64, "x")])
def test_rolls_and_numbers_are_the_independent_computation(seeds):
    server, client = seeds
    for nonce in [*range(300), 10**12]:
        assert fairness.dice_roll(server, client, nonce) == reference_roll(server, client, nonce)
        assert fairness.roulette_number(server, client, nonce) == reference_number(server, client, nonce)


def test_when_every_full_chunk_is_a_million_or_more_the_last_four_digits_decide():
    assert fairness.outcome_chunk("f" * 60 + "abcd") == 0xABCD
    assert fairness.outcome_chunk("fffff" + "00001" + "f" * 54) == 1


def test_the_server_seed_hash_is_sha256_of_its_ascii_text():
    assert fairness.server_seed_hash(SERVER_SEED) == hashlib.sha256(b"a" * 64).hexdigest()


# --- dice -----------------------------------------------------------------------------------------

ROLLS = [Decimal(n) / 100 for n in range(10_000)]


@pytest.mark.parametrize(("direction", "target"), [("under", "0.01"), ("under", "49.50"), ("under", "98.00"),
                                                    ("over", "1.99"), ("over", "50.49"), ("over", "99.98")])
def test_the_win_chance_is_the_share_of_the_10000_rolls_that_win(direction, target):
    target = Decimal(target)
    winners = sum(fairness.dice_wins(roll, target, direction) for roll in ROLLS)
    assert fairness.dice_win_chance(target, direction) == Decimal(winners) / 100


@pytest.mark.parametrize(("direction", "target", "multiplier"), [
    ("under", "0.01", "9900.0000"), ("over", "99.98", "9900.0000"),  # 0.01%: the least chance
    ("under", "98.00", "1.0102"), ("over", "1.99", "1.0102"),        # 98%: 99 / 98 = 1.010204.. floored
    ("under", "50.00", "1.9800"), ("under", "33.33", "2.9702"),      # 99 / 33.33 = 2.970297..
])
def test_dice_multipliers_at_the_edges(direction, target, multiplier):
    chance = fairness.dice_win_chance(Decimal(target), direction)
    assert fairness.dice_multiplier(chance) == Decimal(multiplier)


def test_a_dice_payout_is_rounded_down_to_the_cent():
    assert fairness.dice_payout(Decimal("3.33"), Decimal("1.9800"), True) == Decimal("6.59")  # 6.5934
    assert fairness.dice_payout(Decimal("1.00"), Decimal("1.0102"), True) == Decimal("1.01")
    assert fairness.dice_payout(Decimal("3.33"), Decimal("1.9800"), False) == Decimal("0.00")


# --- roulette -------------------------------------------------------------------------------------

RED = {1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36}
WINS = {  # (type, value) -> the numbers it wins on, written out
    ("straight", 0): {0}, ("straight", 17): {17}, ("straight", 36): {36},
    ("red", None): RED, ("black", None): set(range(1, 37)) - RED,
    ("odd", None): set(range(1, 37, 2)), ("even", None): set(range(2, 37, 2)),
    ("low", None): set(range(1, 19)), ("high", None): set(range(19, 37)),
    ("dozen", 1): set(range(1, 13)), ("dozen", 2): set(range(13, 25)), ("dozen", 3): set(range(25, 37)),
    ("column", 1): set(range(1, 37, 3)), ("column", 2): set(range(2, 37, 3)), ("column", 3): set(range(3, 37, 3)),
}
PAYS = {"straight": 36, "red": 2, "black": 2, "odd": 2, "even": 2, "low": 2, "high": 2, "dozen": 3, "column": 3}


@pytest.mark.parametrize(("kind", "value"), sorted(WINS, key=str))
def test_the_payout_table_of_every_roulette_bet(kind, value):
    bet = RouletteBet(type=kind, value=value, stake=Decimal("2.50"))
    for number in range(37):
        paid = fairness.roulette_bet_payout(bet, number)
        assert paid == (Decimal("2.50") * PAYS[kind] if number in WINS[kind, value] else Decimal("0.00")), number


def test_zero_loses_every_bet_but_a_straight_zero():
    bets = [RouletteBet(type=kind, value=value, stake=Decimal("1.00")) for kind, value in WINS]
    assert fairness.roulette_payout(bets, 0) == Decimal("36.00")


def test_the_red_numbers_are_europes():
    assert fairness.RED == RED and len(fairness.BLACK) == 18


def test_the_most_a_spin_can_pay_is_its_best_number():
    bets = [RouletteBet("straight", 7, Decimal("1.00")), RouletteBet("red", None, Decimal("10.00")),
            RouletteBet("straight", 8, Decimal("2.00"))]
    # 7 is red: 36 + 20; 8 is black: 72
    assert fairness.roulette_max_payout(bets) == Decimal("72.00")
