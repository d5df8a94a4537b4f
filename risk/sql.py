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

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models

from core.db import SqlNames, sql_names
from ledger.models import Account, Transfer
from risk.models import (
    DEFAULTS,
    LIMIT_FIELDS,
    LOWER_BOUNDS,
    SCOPE_ORDER,
    Geofence,
    LimitProfile,
    PlayerRestriction,
)

PLAYER_GATE = "risk_player_gate"
LIMITS = "risk_limits"
WALLET_TOTALS = "risk_wallet_totals"
PLAYER_LIMITS_CHECK = "risk_player_limits"
COMMITMENT_GUARD = "risk_commitment_guard"

# What a wallet stakes (out) and what comes back to it (in), whatever the product: a player's loss
# over a period is the first less the second (API.md "Responsible gambling").
STAKE_KINDS = [Transfer.Kind.BET_STAKE, Transfer.Kind.ESCROW_HOLD, Transfer.Kind.CASINO_STAKE]
RETURN_KINDS = [Transfer.Kind.BET_PAYOUT, Transfer.Kind.BET_REFUND, Transfer.Kind.ESCROW_RELEASE,
                Transfer.Kind.P2P_PAYOUT, Transfer.Kind.P2P_REFUND, Transfer.Kind.CASINO_PAYOUT]


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
        "gate": PLAYER_GATE, "limits": LIMITS, "totals": WALLET_TOTALS, "own": PLAYER_LIMITS_CHECK,
        "guard": COMMITMENT_GUARD, "deposit": Transfer.Kind.DEPOSIT,
        "stake_kinds": ", ".join(f"'{kind}'" for kind in STAKE_KINDS),
        "return_kinds": ", ".join(f"'{kind}'" for kind in RETURN_KINDS),
        "out": ", ".join(f"OUT {name} {_sql_type(name)}" for name in LIMIT_FIELDS),
        "names": ", ".join(LIMIT_FIELDS),
        "chosen": ",\n           ".join(f"{chosen[name]}" for name in LIMIT_FIELDS),
        "scope_global": LimitProfile.Scope.GLOBAL, "scope_tenant": LimitProfile.Scope.TENANT,
        "scope_sport": LimitProfile.Scope.SPORT,
        "scope_competition": LimitProfile.Scope.COMPETITION, "scope_group": LimitProfile.Scope.GROUP,
        "scope_player": LimitProfile.Scope.PLAYER,
        "Membership": SqlNames(Group.user_set.through),
        "User": SqlNames(get_user_model()),
        **sql_names(Account, Geofence, LimitProfile, PlayerRestriction, Transfer),
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
    -- A time-out answers as a self-exclusion does (API.md): the later of the two ends it.
    SELECT greatest(r.{PlayerRestriction.self_excluded_until}, r.{PlayerRestriction.timed_out_until}) INTO until
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
        OR (p.{LimitProfile.scope} = '{scope_tenant}' AND p.{LimitProfile.tenant} = (
                SELECT u.{User.tenant} FROM {User} u WHERE u.{User.id} = p_player))
        OR (p.{LimitProfile.scope} = '{scope_sport}' AND p.{LimitProfile.sport} = ANY(p_sport_ids))
        OR (p.{LimitProfile.scope} = '{scope_competition}' AND p.{LimitProfile.competition} = ANY(p_competition_ids))
        OR (p.{LimitProfile.scope} = '{scope_group}' AND p.{LimitProfile.group} IN (
                SELECT g.{Membership.group} FROM {Membership} g WHERE g.{Membership.user} = p_player))
        OR (p.{LimitProfile.scope} = '{scope_player}' AND p.{LimitProfile.player} = p_player);
END
$fn$;

-- What the wallet deposited and lost (stakes less what came back, so a win lowers it) in the rolling
-- 24 h, 7 d and 30 d up to p_now, from its ledger rows: every product's stakes and returns pass the
-- wallet as transfers of these kinds. A row 24 h (7 d, 30 d) old or older no longer counts; none is
-- too new: a bet that waited on the wallet's lock counts the stake committed while it waited, though
-- that stake's time is later than the clock it read before it queued.
CREATE OR REPLACE FUNCTION {totals}(p_wallet bigint, p_now timestamptz,
    OUT deposit_day numeric, OUT deposit_week numeric, OUT deposit_month numeric,
    OUT loss_day numeric, OUT loss_week numeric, OUT loss_month numeric)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    SELECT coalesce(sum(t.amount) FILTER (WHERE t.deposit AND t.at > p_now - interval '24 hours'), 0.00),
           coalesce(sum(t.amount) FILTER (WHERE t.deposit AND t.at > p_now - interval '7 days'), 0.00),
           coalesce(sum(t.amount) FILTER (WHERE t.deposit), 0.00),
           coalesce(sum(t.sign * t.amount) FILTER (WHERE NOT t.deposit AND t.at > p_now - interval '24 hours'), 0.00),
           coalesce(sum(t.sign * t.amount) FILTER (WHERE NOT t.deposit AND t.at > p_now - interval '7 days'), 0.00),
           coalesce(sum(t.sign * t.amount) FILTER (WHERE NOT t.deposit), 0.00)
      INTO deposit_day, deposit_week, deposit_month, loss_day, loss_week, loss_month
      FROM (SELECT x.{Transfer.amount} AS amount, x.{Transfer.created_at} AS at, 1 AS sign, false AS deposit
              FROM {Transfer} x
             WHERE x.{Transfer.debit_account} = p_wallet AND x.{Transfer.kind} IN ({stake_kinds})
               AND x.{Transfer.created_at} > p_now - interval '30 days'
            UNION ALL
            SELECT x.{Transfer.amount}, x.{Transfer.created_at}, -1, x.{Transfer.kind} = '{deposit}'
              FROM {Transfer} x
             WHERE x.{Transfer.credit_account} = p_wallet AND x.{Transfer.kind} IN ('{deposit}', {return_kinds})
               AND x.{Transfer.created_at} > p_now - interval '30 days') t;
END
$fn$;

-- risk.safer: the player's own limits on a stake (p_deposit false) or a deposit of p_amount now, each
-- [code, details]: the session time limit (counted from p_session_started, the client's log-in), then
-- the deposit or loss limit of the period with the least room left. p_wallet may be NULL (read here).
CREATE OR REPLACE FUNCTION {own}(p_player bigint, p_wallet bigint, p_deposit boolean, p_amount numeric,
    p_now timestamptz, p_session_started timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r record;
    t record;
    worst record;
    v jsonb := '[]';
BEGIN
    SELECT * INTO r FROM {PlayerRestriction} x WHERE x.{PlayerRestriction.player} = p_player;
    IF NOT FOUND THEN
        RETURN v;
    END IF;
    IF NOT p_deposit AND r.{PlayerRestriction.session_minutes} IS NOT NULL AND p_session_started IS NOT NULL
       AND p_now >= p_session_started + make_interval(mins => r.{PlayerRestriction.session_minutes}) THEN
        v := v || jsonb_build_array(jsonb_build_array('session_limit', jsonb_build_object(
            'session_minutes', r.{PlayerRestriction.session_minutes}, 'started_at', p_session_started)));
    END IF;
    IF (p_deposit AND coalesce(r.{PlayerRestriction.deposit_day}, r.{PlayerRestriction.deposit_week},
                               r.{PlayerRestriction.deposit_month}) IS NULL)
       OR (NOT p_deposit AND coalesce(r.{PlayerRestriction.loss_day}, r.{PlayerRestriction.loss_week},
                                      r.{PlayerRestriction.loss_month}) IS NULL) THEN
        RETURN v;  -- most players set none: their ledger is not summed
    END IF;
    IF p_wallet IS NULL THEN
        SELECT a.{Account.id} INTO p_wallet FROM {Account} a WHERE a.{Account.owner} = p_player;
    END IF;
    SELECT * INTO t FROM {totals}(p_wallet, p_now);
    SELECT x.period, x.lim, x.used INTO worst
      FROM unnest(ARRAY['day', 'week', 'month'],
                  CASE WHEN p_deposit
                       THEN ARRAY[r.{PlayerRestriction.deposit_day}, r.{PlayerRestriction.deposit_week},
                                  r.{PlayerRestriction.deposit_month}]
                       ELSE ARRAY[r.{PlayerRestriction.loss_day}, r.{PlayerRestriction.loss_week},
                                  r.{PlayerRestriction.loss_month}] END,
                  CASE WHEN p_deposit THEN ARRAY[t.deposit_day, t.deposit_week, t.deposit_month]
                       ELSE ARRAY[t.loss_day, t.loss_week, t.loss_month] END) AS x(period, lim, used)
     WHERE x.lim IS NOT NULL AND x.used + p_amount > x.lim
     ORDER BY x.lim - x.used, x.period LIMIT 1;
    IF FOUND THEN
        v := v || jsonb_build_array(jsonb_build_array(CASE WHEN p_deposit THEN 'deposit_limit' ELSE 'loss_limit' END,
            jsonb_build_object('limit', worst.lim::text, 'period', worst.period,
                               'used', worst.used::text, 'remaining', greatest(worst.lim - worst.used, 0.00)::text)));
    END IF;
    RETURN v;
END
$fn$;

-- A time-out or a self-exclusion holds until its end: no one, player or staff, shortens or lifts it.
CREATE OR REPLACE FUNCTION {guard}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    names text[] := ARRAY['a self-exclusion', 'a time-out'];
    ends timestamptz[] := ARRAY[OLD.{PlayerRestriction.self_excluded_until}, OLD.{PlayerRestriction.timed_out_until}];
    asked timestamptz[] := CASE WHEN TG_OP = 'DELETE' THEN ARRAY[NULL, NULL]::timestamptz[]
                                ELSE ARRAY[NEW.{PlayerRestriction.self_excluded_until},
                                           NEW.{PlayerRestriction.timed_out_until}] END;
BEGIN
    FOR i IN 1 .. 2 LOOP
        IF ends[i] > now() AND (asked[i] IS NULL OR asked[i] < ends[i]) THEN
            RAISE EXCEPTION '% cannot be shortened before its end (player %)', names[i], OLD.{PlayerRestriction.player}
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$fn$;
DROP TRIGGER IF EXISTS {guard} ON {PlayerRestriction};
CREATE TRIGGER {guard} BEFORE UPDATE OR DELETE ON {PlayerRestriction} FOR EACH ROW EXECUTE FUNCTION {guard}();
"""

RISK_FUNCTIONS_DROP = f"""
DROP TRIGGER IF EXISTS {COMMITMENT_GUARD} ON {PlayerRestriction._meta.db_table};
DROP FUNCTION IF EXISTS {COMMITMENT_GUARD}();
DROP FUNCTION IF EXISTS {PLAYER_LIMITS_CHECK}(bigint, bigint, boolean, numeric, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS {WALLET_TOTALS}(bigint, timestamptz);
DROP FUNCTION IF EXISTS {PLAYER_GATE}(bigint, text, text, timestamptz);
DROP FUNCTION IF EXISTS {LIMITS}(bigint, bigint[], bigint[]);
"""
