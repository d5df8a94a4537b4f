"""Reads of the casino: rounds (a player's own; staff who may view rounds, their tenant's) and a
revealed round's verification, recomputed from its seeds (casino.fairness)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from casino import fairness
from casino.models import Round
from core.errors import Conflict, InvalidInput, NotFound

VIEW_ROUNDS = "casino.view_round"


def round_list(*, user: Any, game: str | None = None) -> QuerySet[Round]:
    """A player's own rounds, newest first; staff with ``casino.view_round`` see their tenant's (audit.tenancy)."""
    rounds = Round.objects.select_related("seed_pair")
    rounds = rounds.visible_to(user) if user.has_perm(VIEW_ROUNDS) else rounds.filter(player=user)
    if game:
        if game not in Round.Game.values:
            raise InvalidInput(f"game must be one of: {', '.join(Round.Game.values)}.", code="invalid_game",
                               details={"field": "game"})
        rounds = rounds.filter(game=game)
    return rounds.order_by("-id")


def round_get(*, user: Any, round_id: int) -> Round:
    """One round for its player or staff of its tenant who may view rounds; to anyone else it does not exist."""
    found = Round.objects.select_related("seed_pair").filter(pk=round_id).first()
    if found is None or (found.player_id != user.pk and not (
            user.has_perm(VIEW_ROUNDS) and Round.objects.visible_to(user).filter(pk=round_id).exists())):
        raise NotFound(f"No casino round with id {round_id}.", details={"resource": "casino_round", "id": round_id})
    return found


@dataclass(frozen=True)
class Verification:
    round: Round
    server_seed: str
    server_seed_hash: str
    hash_matches: bool  # SHA-256 of the revealed server seed is the hash shown before the round
    client_seed: str
    nonce: int
    hmac: str
    chunk: int
    outcome: Decimal | int  # recomputed: the dice roll or the roulette number
    payout: Decimal  # recomputed from the outcome and the round's stakes
    matches: bool  # the recomputed outcome and payout are the round's


def round_verify(*, user: Any, round_id: int) -> Verification:
    """Recompute a round from its revealed server seed, its client seed and nonce (API.md's algorithm).
    409 ``seed_not_revealed`` while its seed pair is the player's current one: rotate it first."""
    found = round_get(user=user, round_id=round_id)
    pair = found.seed_pair
    if not pair.revealed:
        raise Conflict("This round's server seed is still secret; rotate your seed pair to reveal it, then verify.",
                       code="seed_not_revealed", details={"round_id": found.pk, "seed_pair": pair.pk,
                                                          "server_seed_hash": pair.server_seed_hash})
    digest = fairness.outcome_hex(pair.server_seed, found.client_seed, found.nonce)
    chunk = fairness.outcome_chunk(digest)
    if found.game == Round.Game.DICE:
        outcome: Decimal | int = fairness.dice_roll(pair.server_seed, found.client_seed, found.nonce)
        won = fairness.dice_wins(outcome, found.target, found.direction)
        payout = fairness.dice_payout(found.stake, found.multiplier, won)
        recorded = found.roll
    else:
        outcome = fairness.roulette_number(pair.server_seed, found.client_seed, found.nonce)
        payout = fairness.roulette_payout(fairness.roulette_bets_of(found.bets), outcome)
        recorded = found.number
    return Verification(
        round=found, server_seed=pair.server_seed, server_seed_hash=pair.server_seed_hash,
        hash_matches=fairness.server_seed_hash(pair.server_seed) == pair.server_seed_hash,
        client_seed=found.client_seed, nonce=found.nonce, hmac=digest, chunk=chunk, outcome=outcome,
        payout=payout, matches=outcome == recorded and payout == found.payout)
