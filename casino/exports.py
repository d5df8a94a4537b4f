"""casino-rounds.csv (docs/exports.md): one row per casino round, read through ``visible_to`` (a tenant's
staff read their tenant's rounds only). A round names the seed pair it was drawn from by the server
seed's hash, never by the server seed: an unrevealed seed would let the reader predict the player's
next rounds, so the export does not even read that column."""

from __future__ import annotations

from typing import Any

from audit.selectors import day_bounds
from casino.models import Round

COLUMNS = ["round_id", "created_at", "player", "game", "stake", "payout", "won", "multiplier", "roll", "target",
           "direction", "number", "bets", "server_seed_hash", "client_seed", "nonce"]

# What the rows read: the round's own columns, the player's username and the seed pair's hash.
_READ = ["id", "created_at", "player", "player__username", "game", "stake", "payout", "won", "multiplier", "roll",
         "target", "direction", "number", "bets", "seed_pair", "seed_pair__server_seed_hash", "client_seed", "nonce"]


def round_export_rows(*, start: str | None, end: str | None, viewer: Any):
    """The rounds ``viewer`` may see played in [start, end] (UTC days, both inclusive), by id."""
    rounds = Round.objects.visible_to(viewer).select_related("player", "seed_pair").only(*_READ)
    first, after_last = day_bounds(start, end)
    if first:
        rounds = rounds.filter(created_at__gte=first)
    if after_last:
        rounds = rounds.filter(created_at__lt=after_last)
    return rounds.order_by("pk").iterator(chunk_size=2000)


def bets_text(bets: list[dict[str, Any]]) -> str:
    """A spin's bets as ``type[:value]@stake=payout`` joined by ``;``: ``straight:17@5.00=180.00;red@10.00=0.00``."""
    def one(bet: dict[str, Any]) -> str:
        value = bet.get("value")
        kind = bet["type"] if value in (None, "") else f"{bet['type']}:{value}"
        paid = bet.get("payout")
        return f"{kind}@{bet['stake']}" + ("" if paid is None else f"={paid}")

    return ";".join(one(bet) for bet in bets or [])


def round_row(r: Round) -> list[Any]:
    def blank(value: Any) -> Any:
        return "" if value is None else value

    return [r.pk, r.created_at.isoformat(), r.player.username, r.game, r.stake, r.payout, r.won, r.multiplier,
            blank(r.roll), blank(r.target), r.direction, blank(r.number), bets_text(r.bets),
            r.seed_pair.server_seed_hash, r.client_seed, r.nonce]
