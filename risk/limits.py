"""Reading the limits' inputs; which limits apply (the most specific LimitProfile wins, field by field)
is decided in the database, risk/sql.py's ``risk_limits``."""

from __future__ import annotations

from typing import Any

from django.db import connection

from core.db import first_row
from risk.models import DEFAULTS, LimitProfile, PlayerRestriction


def selections_bound() -> int:
    """The most legs any scope allows (the default or a profile's): a longer slip breaks every
    player's limit, so it is refused before anything about it is read or multiplied."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(max_selections) FROM {LimitProfile._meta.db_table}")
        (largest,) = cursor.fetchone()
    return max(DEFAULTS.max_selections, largest or 0)


def restriction_of(player: Any) -> PlayerRestriction | None:
    """The player's responsible-gambling settings, read once per slip or deposit."""
    return first_row(PlayerRestriction, player_id=player.pk)


def restriction_lock(*, player_id: int) -> PlayerRestriction:
    """The player's restriction row, created on first use and row-locked until the caller's transaction
    ends: what changes a player's KYC state takes this lock first, so two changes cannot interleave."""
    PlayerRestriction.objects.get_or_create(player_id=player_id)
    return PlayerRestriction.objects.select_for_update().get(player_id=player_id)
