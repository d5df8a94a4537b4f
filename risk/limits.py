"""Which limits apply to a slip: the most specific LimitProfile wins, field by field."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from django.db.models import Q

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


def limits_for(*, player: Any, sport_ids: set[int] = frozenset(),
               competition_ids: set[int] = frozenset(), restriction: Any = None) -> Limits:
    """The limits for this player betting on these sports and competitions.

    Where one scope holds several profiles (a multiple across two sports, a player in two groups)
    the strictest value of that scope applies. The player's own responsible-gambling stake limit
    stacks on top: the stricter wins (``restriction``: the player's ``PlayerRestriction`` when the
    caller has already read it, else it is read here).
    """
    profiles = list(LimitProfile.objects.filter(
        Q(scope=LimitProfile.Scope.GLOBAL)
        | Q(scope=LimitProfile.Scope.SPORT, sport_id__in=sport_ids)
        | Q(scope=LimitProfile.Scope.COMPETITION, competition_id__in=competition_ids)
        | Q(scope=LimitProfile.Scope.GROUP, group__in=player.groups.all())
        | Q(scope=LimitProfile.Scope.PLAYER, player=player)))
    chosen: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        for scope in _SCOPE_ORDER:
            values = [getattr(p, name) for p in profiles if p.scope == scope and getattr(p, name) is not None]
            if values:
                chosen[name] = max(values) if name in _LOWER_BOUNDS else min(values)
                break
    limits = replace(DEFAULTS, **chosen)
    restriction = restriction or PlayerRestriction.objects.filter(player=player).first()
    own = restriction.max_stake if restriction else None
    if own is not None and own < limits.max_stake:
        limits = replace(limits, max_stake=own)
    return limits
