"""The risk app's hand-written SQL (DESIGN.md "Layout"): the rules every stake is checked against, as
functions the one-call services (placement, a challenge's offer and acceptance) run inside the
database, and that ``risk.rules.player_gate`` asks for deposits, so each rule is written once.

Table and column names come from the models' ``_meta``, values from the model enums and defaults.
Installed by risk/migrations (a change ships as a new migration that runs ``risk_functions()``
again; tests/test_sql_functions.py checks the installed text against this file).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db import models

from core.db import SqlNames, sql_names
from risk.models import DEFAULTS, LIMIT_FIELDS, LOWER_BOUNDS, SCOPE_ORDER, Geofence, LimitProfile, PlayerRestriction

PLAYER_GATE = "risk_player_gate"
LIMITS = "risk_limits"


def _literal(value: Any) -> str:
    return f"{value}::numeric" if isinstance(value, Decimal) else str(int(value))


def _sql_type(name: str) -> str:
    return "numeric" if isinstance(LimitProfile._meta.get_field(name), models.DecimalField) else "integer"


def risk_functions() -> str:
    """``CREATE OR REPLACE`` of the player gate and the limits (see their comments below)."""
    profile = SqlNames(LimitProfile)
    # Each limit: the first scope (most specific first) that sets it decides; within a scope the
    # strictest value (the highest for lower bounds); else the default.
    chosen = {name: "coalesce({}, {})".format(
        ", ".join(f"{'max' if name in LOWER_BOUNDS else 'min'}(p.{getattr(profile, name)}) "
                  f"FILTER (WHERE p.{profile.scope} = '{scope}')" for scope in SCOPE_ORDER),
        _literal(getattr(DEFAULTS, name))) for name in LIMIT_FIELDS}
    restriction = SqlNames(PlayerRestriction)
    chosen["max_stake"] = (f"least({chosen['max_stake']}, (SELECT r.{restriction.max_stake} FROM {restriction} r "
                           f"WHERE r.{restriction.player} = p_player))")
    return _FUNCTIONS.format_map({
        "gate": PLAYER_GATE, "limits": LIMITS,
        "out": ", ".join(f"OUT {name} {_sql_type(name)}" for name in LIMIT_FIELDS),
        "names": ", ".join(LIMIT_FIELDS),
        "chosen": ",\n           ".join(f"{chosen[name]}" for name in LIMIT_FIELDS),
        "scope_global": LimitProfile.Scope.GLOBAL, "scope_sport": LimitProfile.Scope.SPORT,
        "scope_competition": LimitProfile.Scope.COMPETITION, "scope_group": LimitProfile.Scope.GROUP,
        "scope_player": LimitProfile.Scope.PLAYER,
        "Membership": SqlNames(Group.user_set.through),
        **sql_names(Geofence, LimitProfile, PlayerRestriction),
    })


# Doubled braces are PL/pgSQL's; single ones are names filled in by risk_functions().
_FUNCTIONS = """
-- risk.rules.player_gate: the refusals that come before any stake or deposit, each [code, details]:
-- the account is not a player's (staff and agents neither deposit nor bet), self-exclusion, geofencing.
CREATE OR REPLACE FUNCTION {gate}(p_player bigint, p_role text, p_country text, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v jsonb := '[]';
    until timestamptz;
    fence record;
BEGIN
    IF p_role <> 'player' THEN
        RETURN jsonb_build_array(jsonb_build_array('not_a_player', jsonb_build_object('role', p_role)));
    END IF;
    SELECT r.{PlayerRestriction.self_excluded_until} INTO until
      FROM {PlayerRestriction} r WHERE r.{PlayerRestriction.player} = p_player;
    IF until > p_now THEN
        v := v || jsonb_build_array(jsonb_build_array('self_excluded', jsonb_build_object('until', until)));
    END IF;
    SELECT g.{Geofence.enabled} AS enabled, g.{Geofence.blocked_countries} AS blocked INTO fence
      FROM {Geofence} g WHERE g.{Geofence.id} = 1;
    IF fence.enabled AND coalesce(p_country, '') <> '' AND upper(p_country) = ANY(fence.blocked) THEN
        v := v || jsonb_build_array(jsonb_build_array('geo_blocked', jsonb_build_object('country', upper(p_country))));
    END IF;
    RETURN v;
END
$fn$;

-- The limits for this player staking on these sports and competitions (risk.models.Limits). Each
-- from the most specific scope that sets it (within a scope, where several profiles apply, the
-- strictest), else the default; the player's own stake limit on top (the stricter wins).
-- PL/pgSQL, not SQL: its plan is kept for the session (an SQL function's body is planned on every call).
CREATE OR REPLACE FUNCTION {limits}(p_player bigint, p_sport_ids bigint[], p_competition_ids bigint[], {out})
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    SELECT {chosen}
      INTO {names}
      FROM {LimitProfile} p
     WHERE p.{LimitProfile.scope} = '{scope_global}'
        OR (p.{LimitProfile.scope} = '{scope_sport}' AND p.{LimitProfile.sport} = ANY(p_sport_ids))
        OR (p.{LimitProfile.scope} = '{scope_competition}' AND p.{LimitProfile.competition} = ANY(p_competition_ids))
        OR (p.{LimitProfile.scope} = '{scope_group}' AND p.{LimitProfile.group} IN (
                SELECT g.{Membership.group} FROM {Membership} g WHERE g.{Membership.user} = p_player))
        OR (p.{LimitProfile.scope} = '{scope_player}' AND p.{LimitProfile.player} = p_player);
END
$fn$;
"""

RISK_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {PLAYER_GATE}(bigint, text, text, timestamptz);
DROP FUNCTION IF EXISTS {LIMITS}(bigint, bigint[], bigint[]);
"""
