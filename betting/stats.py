"""Bettor stats: what each player staked and got back, per product and week, kept by settlement.

Settlement adds its batch's lines in the same transaction (``bettor_stats_record``; challenge
settlement's database function writes the same upsert itself, betting/sql/settlement.py), so the stats always
agree with the settled bets and challenges; the settlement's own audit rows record the
change. Corrections and resettlement do not exist yet: when they come, they must add the
difference (a negative line) here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from betting.models import Bet, BettorStats
from betting.sql import stats as stats_sql

RESULTS = (Bet.Result.WON, Bet.Result.LOST, Bet.Result.VOID)


@dataclass(frozen=True)
class SettledLine:
    """One settled bet or challenge from one player's side: ``returned`` is what the settlement paid
    that player (0.00 when lost, the stake back when void, less any fees)."""

    user_id: int
    product: str  # BettorStats.Product
    result: str  # won, lost or void
    staked: Decimal
    returned: Decimal
    settled_at: datetime


def bettor_stats_record(*, rows: list[SettledLine]) -> None:
    """Add a settlement batch's lines to their players' weekly stats, in one statement. Call it in the
    settlement's transaction; it locks the stats rows in (user, product, week) order."""
    if not rows:
        return
    for row in rows:
        if row.product not in BettorStats.Product.values or row.result not in RESULTS:
            raise ValueError(f"not a settled line: {row}")
    with connection.cursor() as cursor:
        cursor.execute(stats_sql.stats_record(BettorStats), {
            **_result_values(), "users": [r.user_id for r in rows], "products": [r.product for r in rows],
            "results": [r.result for r in rows], "staked": [r.staked for r in rows],
            "returned": [r.returned for r in rows], "settled_at": [r.settled_at for r in rows]})


def bettor_stats_backfill(*, bet_model: type[Any] = Bet, stats_model: type[Any] = BettorStats) -> None:
    """Add every settled bet to the stats (the migration that made the table runs it, with its
    historical models)."""
    with connection.cursor() as cursor:
        cursor.execute(stats_sql.stats_backfill(bet_model, stats_model), {
            **_result_values(), "sports": BettorStats.Product.SPORTS, "settled": Bet.Status.SETTLED})


def _result_values() -> dict[str, str]:
    return {"won": Bet.Result.WON, "lost": Bet.Result.LOST, "void": Bet.Result.VOID}
