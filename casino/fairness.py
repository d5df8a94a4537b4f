"""The provably fair outcome of a casino round, and the games' pay tables: pure functions, no database.

API.md "Casino sandbox" fixes the algorithm so that anyone can verify a round (docs/casino.md):

- ``outcome_hex``: HMAC-SHA256 with key = the server seed's 64-character hex text *as ASCII bytes* (not
  the 32 bytes it spells) and message = ``f"{client_seed}:{nonce}"`` as ASCII bytes (client seeds are
  printable ASCII), written as 64 lowercase hex digits.
- ``outcome_chunk``: read the hex five digits at a time from the left (digits 0-4, 5-9, ... 55-59: 12
  chunks of 0..1,048,575) and take the first chunk below 1,000,000. The hex does not divide into fives:
  what is left after the twelfth chunk is a thirteenth chunk of the last four digits (60-63), whose
  value is at most 65,535 and so always qualifies. That is the "remaining digits" rule of the well-known
  dice implementations (Primedice reads SHA-512 that way and falls back to a fixed roll; here the short
  last chunk is itself a fair draw). It only decides when all twelve full chunks are 1,000,000 or more,
  a chance of (48,576 / 1,048,576)^12, about 1e-16.
- A qualifying chunk is uniform on 0..999,999. Dice roll = (chunk mod 10,000) / 100: 00.00..99.99, each
  of the 10,000 rolls equally likely. Roulette number = chunk mod 37: 0..36 (1,000,000 = 37 x 27,027 + 1,
  so 0 is one value in a million more likely than the others: 27,028 vs 27,027 chunks).

Money is Decimal throughout, never float; a payout is rounded down to the cent once, at the end.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")
CHUNK_DIGITS = 5
CHUNK_LIMIT = 1_000_000

# --- the draw -------------------------------------------------------------------------------------


def server_seed_hash(server_seed: str) -> str:
    """SHA-256 of the server seed's text (its 64 hex characters as ASCII bytes), as lowercase hex."""
    return hashlib.sha256(server_seed.encode("ascii")).hexdigest()


def outcome_hex(server_seed: str, client_seed: str, nonce: int) -> str:
    """HMAC-SHA256(key = server seed text, message = "client_seed:nonce"), lowercase hex."""
    message = f"{client_seed}:{nonce}".encode("ascii")
    return hmac.new(server_seed.encode("ascii"), message, hashlib.sha256).hexdigest()


def outcome_chunk(digest_hex: str) -> int:
    """The first five-hex-digit chunk below 1,000,000; the short last chunk (four digits) always is."""
    for start in range(0, len(digest_hex), CHUNK_DIGITS):
        chunk = int(digest_hex[start:start + CHUNK_DIGITS], 16)
        if chunk < CHUNK_LIMIT:
            return chunk
    raise ValueError("no chunk below 1,000,000")  # unreachable for a 64-digit hex: its last chunk is short


def dice_roll(server_seed: str, client_seed: str, nonce: int) -> Decimal:
    """The dice roll of this nonce: 0.00 to 99.99."""
    return Decimal(outcome_chunk(outcome_hex(server_seed, client_seed, nonce)) % 10_000).scaleb(-2)


def roulette_number(server_seed: str, client_seed: str, nonce: int) -> int:
    """The roulette number of this nonce: 0 to 36 (European, a single zero)."""
    return outcome_chunk(outcome_hex(server_seed, client_seed, nonce)) % 37


def money_down(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_DOWN)


# --- dice -----------------------------------------------------------------------------------------

UNDER, OVER = "under", "over"
DICE_DIRECTIONS = (UNDER, OVER)
HOUSE_RETURN = Decimal(99)  # multiplier = 99 / win chance in percent: a 1% house edge
MIN_WIN_CHANCE = Decimal("0.01")
MAX_WIN_CHANCE = Decimal("98.00")
ROLL_MAX = Decimal("99.99")


def dice_win_chance(target: Decimal, direction: str) -> Decimal:
    """The chance in percent of winning, exactly: the share of the 10,000 equally likely rolls that win.

    "under" T wins on a roll strictly below T: the rolls 0.00 .. T - 0.01, T x 100 of them, so T %.
    "over" T wins on a roll strictly above T: T + 0.01 .. 99.99, (99.99 - T) x 100 of them, so
    (99.99 - T) %. The target itself loses either way."""
    return target if direction == UNDER else ROLL_MAX - target


def dice_multiplier(win_chance: Decimal) -> Decimal:
    """99 / win chance, floored to four decimals (0.01% pays 9900.0000, 98% 1.0102)."""
    return (HOUSE_RETURN / win_chance).quantize(FOUR_PLACES, rounding=ROUND_DOWN)


def dice_wins(roll: Decimal, target: Decimal, direction: str) -> bool:
    return roll < target if direction == UNDER else roll > target


def dice_payout(stake: Decimal, multiplier: Decimal, won: bool) -> Decimal:
    """What a dice round pays back (the stake included), rounded down to the cent; 0.00 on a loss."""
    return money_down(stake * multiplier) if won else Decimal("0.00")


# --- roulette -------------------------------------------------------------------------------------

RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})
BLACK = frozenset(range(1, 37)) - RED
# What a winning bet of each type returns per unit staked, the stake included.
ROULETTE_MULTIPLIERS: dict[str, int] = {
    "straight": 36,
    "red": 2, "black": 2, "odd": 2, "even": 2, "low": 2, "high": 2,
    "dozen": 3, "column": 3,
}
EVEN_CHANCES = ("red", "black", "odd", "even", "low", "high")
# Which bets take a value, and its range: a number, or the dozen / column (1, 2 or 3).
ROULETTE_VALUES: dict[str, tuple[int, int]] = {"straight": (0, 36), "dozen": (1, 3), "column": (1, 3)}


def roulette_covers(bet_type: str, value: int | None, number: int) -> bool:
    """Whether a bet of ``bet_type`` (``value`` for straight, dozen, column) wins on ``number``.
    Zero wins only a straight bet on zero: it loses every even chance, dozen and column."""
    if bet_type == "straight":
        return number == value
    if number == 0:
        return False
    return {
        "red": number in RED, "black": number in BLACK,
        "odd": number % 2 == 1, "even": number % 2 == 0,
        "low": number <= 18, "high": number >= 19,
        "dozen": value is not None and (number - 1) // 12 + 1 == value,
        # column 1: 1, 4, ... 34; column 2: 2, 5, ... 35; column 3: 3, 6, ... 36
        "column": value is not None and (number - 1) % 3 + 1 == value,
    }[bet_type]


@dataclass(frozen=True)
class RouletteBet:
    type: str
    value: int | None
    stake: Decimal


def roulette_bets_of(lines: list[dict]) -> list[RouletteBet]:
    """A round's stored bets (``Round.bets``: money as strings) as RouletteBets."""
    return [RouletteBet(type=line["type"], value=line["value"], stake=Decimal(line["stake"])) for line in lines]


def roulette_bet_payout(bet: RouletteBet, number: int) -> Decimal:
    """What one bet pays back on ``number`` (stake x multiplier, the stake included), or 0.00."""
    if not roulette_covers(bet.type, bet.value, number):
        return Decimal("0.00")
    return money_down(bet.stake * ROULETTE_MULTIPLIERS[bet.type])


def roulette_payout(bets: list[RouletteBet], number: int) -> Decimal:
    return sum((roulette_bet_payout(bet, number) for bet in bets), Decimal("0.00"))


def roulette_max_payout(bets: list[RouletteBet]) -> Decimal:
    """The most the bets can pay back together, over the 37 numbers (the max-payout limit's figure)."""
    return max(roulette_payout(bets, number) for number in range(37))
