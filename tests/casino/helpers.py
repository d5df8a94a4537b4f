"""An independent statement of API.md's outcome algorithm (Python's hmac and hashlib, nothing from
casino.fairness), and a seed pair set to known seeds so a test knows the rolls to come."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from casino.models import SeedPair
from casino.services import casino_seed_get

SERVER_SEED = "a" * 64
CLIENT_SEED = "lucky"


def reference_chunk(server_seed: str, client_seed: str, nonce: int) -> int:
    digest = hmac.new(server_seed.encode(), f"{client_seed}:{nonce}".encode(), hashlib.sha256).hexdigest()
    chunks = [int(digest[i:i + 5], 16) for i in range(0, 64, 5)]  # twelve of five digits, one of four
    return next(chunk for chunk in chunks if chunk < 1_000_000)


def reference_roll(server_seed: str, client_seed: str, nonce: int) -> Decimal:
    return Decimal(reference_chunk(server_seed, client_seed, nonce) % 10_000) / 100


def reference_number(server_seed: str, client_seed: str, nonce: int) -> int:
    return reference_chunk(server_seed, client_seed, nonce) % 37


def known_seeds(player, server_seed: str = SERVER_SEED, client_seed: str = CLIENT_SEED) -> SeedPair:
    """The player's current seed pair, its seeds replaced by known ones (as if the house drew them)."""
    pair = casino_seed_get(player=player)
    SeedPair.objects.filter(pk=pair.pk).update(
        server_seed=server_seed, server_seed_hash=hashlib.sha256(server_seed.encode()).hexdigest(),
        client_seed=client_seed)
    pair.refresh_from_db()
    return pair


def roll_of(nonce: int) -> Decimal:
    return reference_roll(SERVER_SEED, CLIENT_SEED, nonce)


def winning_dice(roll: Decimal) -> tuple[str, str]:
    """A (direction, target) that wins on ``roll`` with a win chance within 0.01%-98%."""
    if roll <= Decimal("97.99"):
        return "under", str(roll + Decimal("0.01"))
    return "over", str(roll - Decimal("0.01"))


def losing_dice(roll: Decimal) -> tuple[str, str]:
    return ("under", "50.00") if roll >= 50 else ("over", "50.00")
