"""Which limits apply to a slip: the most specific LimitProfile wins, field by field."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection

from core.db import first_row
from risk.models import LIMIT_FIELDS, LimitProfile, PlayerRestriction


@dataclass(frozen=True)
class Limits:
    min_stake: Decimal = Decimal("1.00")
    max_stake: Decimal = Decimal("100000.00")
    max_winning: Decimal = Decimal("500000.00")
    max_selections: int = 100
    min_price: Decimal = Decimal("1.01")
    max_price: Decimal = Decimal("100")
    max_combined_odds: Decimal = Decimal("1000")
    velocity_max_bets: int = 120
    velocity_max_stake: Decimal = Decimal("200000.00")
    velocity_window_seconds: int = 60


DEFAULTS = Limits()
assert [f.name for f in fields(Limits)] == LIMIT_FIELDS

# Most specific first; the first scope that sets a field decides it.
_SCOPE_ORDER = [LimitProfile.Scope.PLAYER, LimitProfile.Scope.GROUP, LimitProfile.Scope.COMPETITION,
                LimitProfile.Scope.SPORT, LimitProfile.Scope.GLOBAL]
# Lower bounds: the strictest is the highest; for every other limit it is the lowest.
_LOWER_BOUNDS = {"min_stake", "min_price"}


_UNREAD = object()


def selections_bound() -> int:
    """The most legs any scope allows (the default or a profile's): a longer slip breaks every
    player's limit, so it is refused before anything about it is read or multiplied."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(max_selections) FROM {LimitProfile._meta.db_table}")
        (largest,) = cursor.fetchone()
    return max(DEFAULTS.max_selections, largest or 0)


def restriction_of(player: Any) -> PlayerRestriction | None:
    """The player's responsible-gambling settings, read once per slip or deposit."""
    return first_row(PlayerRestriction, "player_id = %s", [player.pk])

# Written as SQL: it runs on every placement and validation, and building it with the ORM (five
# scopes, a group subquery) cost more than running it.
_PROFILES = f"""
SELECT scope, {", ".join(LIMIT_FIELDS)} FROM {LimitProfile._meta.db_table}
 WHERE scope = 'global'
    OR (scope = 'sport' AND sport_id = ANY(%(sports)s))
    OR (scope = 'competition' AND competition_id = ANY(%(competitions)s))
    OR (scope = 'group' AND group_id IN (SELECT group_id FROM {Group.user_set.through._meta.db_table}
                                         WHERE user_id = %(player)s))
    OR (scope = 'player' AND player_id = %(player)s)
"""


def limits_for(*, player: Any, sport_ids: set[int] = frozenset(),
               competition_ids: set[int] = frozenset(), restriction: Any = _UNREAD) -> Limits:
    """The limits for this player betting on these sports and competitions.

    Where one scope holds several profiles (a multiple across two sports, a player in two groups)
    the strictest value of that scope applies. The player's own responsible-gambling stake limit
    stacks on top: the stricter wins (``restriction``: the player's ``PlayerRestriction``, or None
    for none, when the caller has already read it; else it is read here).
    """
    with connection.cursor() as cursor:
        cursor.execute(_PROFILES, {"sports": sorted(sport_ids), "competitions": sorted(competition_ids),
                                   "player": player.pk})
        profiles = [(scope, dict(zip(LIMIT_FIELDS, values, strict=True))) for scope, *values in cursor.fetchall()]
    chosen: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        for scope in _SCOPE_ORDER:
            values = [limits[name] for of, limits in profiles if of == scope and limits[name] is not None]
            if values:
                chosen[name] = max(values) if name in _LOWER_BOUNDS else min(values)
                break
    limits = replace(DEFAULTS, **chosen)
    if restriction is _UNREAD:
        restriction = restriction_of(player)
    own = restriction.max_stake if restriction else None
    if own is not None and own < limits.max_stake:
        limits = replace(limits, max_stake=own)
    return limits
