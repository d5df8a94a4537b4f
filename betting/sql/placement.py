"""Placement in one statement: ``betting_slip_place``, a slip placed or checked (betting.slips calls it)."""

from __future__ import annotations

from audit.sql import AUDIT_WRITE
from core.db import sql_names
from ledger.sql import TRANSFER_WRITE
from risk.sql import LIMITS, PLAYER_GATE, PLAYER_LIMITS_CHECK

SLIP_FUNCTION = "betting_slip_place"
BOOK_LOCK = "betting_book_lock"
ODDS_TAKEN = f"{SLIP_FUNCTION}_takes"  # (policy, seen price, current price): the odds-change policy


def slip_function() -> str:
    """``CREATE OR REPLACE FUNCTION betting_slip_place``: the whole placement of a slip, or its dry run.

    One call reads the slip's outcomes, markets, events and sports (placing: share-locked events,
    then markets, then outcomes, each by id, the order the operator services lock them), the
    player's restriction, the geofence, the limit profiles of every scope and the exposure caps;
    applies every rule; placing, locks the wallet last, checks velocity, the player's own limits
    (losses per period, the session's time; risk/sql.py) and the balance under it, answers a
    replayed Idempotency-Key, reserves exposure (counters in outcome id order, each a conditional
    upsert) and writes the bet, its legs, the stake transfer, the wallet's balance and the audit row.
    It answers one jsonb: ``missing`` (unknown outcome ids), or ``replay``/``conflict`` (an earlier
    bet under the key), or ``violations`` (each ``[code, details]``; the caller rolls back) with the
    figures of the slip, or the placed ``bet``.
    Refusals are answers, not exceptions: no subtransaction per bet. The sentences a player reads
    are written in Python (betting/slips.py), from the codes and details.
    """
    from audit.models import AuditLog
    from betting.models import Bet, BetLeg
    from events.models import Event, Market, Outcome, Sport
    from ledger.models import Account, Transfer
    from risk.models import ExposureCap, OutcomeExposure

    values = {
        "fn": SLIP_FUNCTION, "book_lock": BOOK_LOCK, "gate": PLAYER_GATE, "limits": LIMITS, "own": PLAYER_LIMITS_CHECK,
        "audit": AUDIT_WRITE, "transfer": TRANSFER_WRITE,
        "active": Outcome.Status.ACTIVE, "open": Market.Status.OPEN, "scheduled": Event.Status.SCHEDULED,
        "live": Event.Status.LIVE, "any": Bet.OddsChange.ANY, "higher": Bet.OddsChange.HIGHER,
        "placed": Bet.Status.PLACED, "accepted": Bet.Status.ACCEPTED, "rejected": Bet.Status.REJECTED,
        "stakes_held": f"house:{Account.House.STAKES_HELD}", "bet_stake": Transfer.Kind.BET_STAKE,
        "betting": AuditLog.Category.BETTING,
        **sql_names(Bet, BetLeg, Event, Market, Outcome, Sport, Account, ExposureCap, OutcomeExposure),
    }
    return _SLIP_FUNCTION.format_map(values)


# Doubled braces are PL/pgSQL's; single ones are names filled in by slip_function().
_SLIP_FUNCTION = """
-- The book's one lock order: FOR SHARE on the events, then the markets, then the outcomes of these
-- outcomes, each by id, the order in which the operator services lock them (FOR UPDATE), so a bet
-- and a trader's change wait for each other without deadlock. Placement takes it before it reads the
-- book; acceptance after the in-play delay (betting.slips.book_share_lock) before it checks the legs.
CREATE OR REPLACE FUNCTION {book_lock}(p_outcomes bigint[]) RETURNS void
-- Generic plans, for the reason given at betting_slip_place below.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
    PERFORM 1 FROM {Event} e WHERE e.{Event.id} IN (
        SELECT m.{Market.event} FROM {Market} m JOIN {Outcome} o ON o.{Outcome.market} = m.{Market.id}
         WHERE o.{Outcome.id} = ANY(p_outcomes)) ORDER BY e.{Event.id} FOR SHARE;
    PERFORM 1 FROM {Market} m WHERE m.{Market.id} IN (
        SELECT o.{Outcome.market} FROM {Outcome} o WHERE o.{Outcome.id} = ANY(p_outcomes))
        ORDER BY m.{Market.id} FOR SHARE;
    PERFORM 1 FROM {Outcome} o WHERE o.{Outcome.id} = ANY(p_outcomes) ORDER BY o.{Outcome.id} FOR SHARE;
END
$fn$;

CREATE OR REPLACE FUNCTION {fn}(
    p_place boolean, p_player bigint, p_role text, p_country text, p_outcomes bigint[], p_prices numeric[],
    p_stake numeric, p_bet_type text, p_odds_change text, p_idempotency_key text, p_fingerprint text,
    p_now timestamptz, p_default_cap numeric, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text, p_session_started timestamptz) RETURNS jsonb
-- Generic plans, kept for the session: the statements take the slip as arrays, and a custom plan,
-- costed for this slip's length, always looks cheaper than the generic one, so PostgreSQL would plan
-- each of them again on every call (a third of the function's time, bench/RESULTS.md 2026-12-07).
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    n int := cardinality(p_outcomes);
    found int := 0;
    leg record;
    lim record;
    wallet record;
    earlier record;
    v jsonb := '[]';
    market_ids bigint[] := '{{}}';
    event_ids bigint[] := '{{}}';
    sport_ids bigint[] := '{{}}';
    competition_ids bigint[] := '{{}}';
    kinds text[] := '{{}}';
    prices numeric[] := '{{}}';
    unavailable bigint[] := '{{}}';
    price_list jsonb := '[]';
    changed boolean := false;
    delay int := 0;
    total_odds numeric := 1;
    potential numeric;
    headroom numeric;
    allowed numeric;
    caps numeric[] := '{{}}';
    repeated_events bigint[];
    repeated_outcomes bigint[];
    window_start timestamptz;
    recent_bets bigint;
    recent_stake numeric;
    v_balance numeric := 0.00;
    v_bet bigint;
    v_status text;
    reserved jsonb := '[]';
    after numeric;
    i int;
BEGIN
    IF p_place THEN
        PERFORM {book_lock}(p_outcomes);
    END IF;

    -- The book, as locked: each leg is struck at the current price; the policy says whether the
    -- player takes it when it is not the price they saw.
    FOR leg IN
        SELECT s.id, s.seen, o.{Outcome.price} AS price, o.{Outcome.status} AS o_status,
               m.{Market.id} AS market_id, m.{Market.status} AS m_status, m.{Market.kind} AS kind,
               e.{Event.id} AS event_id, e.{Event.status} AS e_status, e.{Event.sport} AS sport_id,
               e.{Event.competition} AS competition_id, sp.{Sport.inplay_delay_seconds} AS delay
          FROM unnest(p_outcomes, p_prices) WITH ORDINALITY AS s(id, seen, pos)
          JOIN {Outcome} o ON o.{Outcome.id} = s.id
          JOIN {Market} m ON m.{Market.id} = o.{Outcome.market}
          JOIN {Event} e ON e.{Event.id} = m.{Market.event}
          JOIN {Sport} sp ON sp.{Sport.id} = e.{Event.sport}
         ORDER BY s.pos
    LOOP
        changed := changed OR NOT {fn}_takes(p_odds_change, leg.seen, leg.price);
        IF NOT (leg.o_status = '{active}' AND leg.m_status = '{open}'
                AND leg.e_status IN ('{scheduled}', '{live}')) THEN
            unavailable := unavailable || leg.id;
        END IF;
        IF leg.e_status = '{live}' THEN
            delay := greatest(delay, leg.delay);
        END IF;
        prices := prices || leg.price;
        market_ids := market_ids || leg.market_id;
        event_ids := event_ids || leg.event_id;
        sport_ids := sport_ids || leg.sport_id;
        competition_ids := competition_ids || leg.competition_id;
        kinds := kinds || leg.kind;
        price_list := price_list || jsonb_build_object('outcome_id', leg.id, 'price', leg.price::text,
                                                       'seen_price', leg.seen::text);
        total_odds := total_odds * leg.price;
        found := found + 1;
    END LOOP;
    IF found < n THEN
        RETURN jsonb_build_object('missing', (SELECT jsonb_agg(DISTINCT x ORDER BY x) FROM unnest(p_outcomes) x
                                               WHERE NOT EXISTS (SELECT 1 FROM {Outcome} o WHERE o.{Outcome.id} = x)));
    END IF;
    potential := trunc(p_stake * total_odds, 2);

    -- The player's standing: role, self-exclusion, geofence (risk/sql.py).
    v := {gate}(p_player, p_role, p_country, p_now);
    IF cardinality(unavailable) > 0 THEN
        v := v || jsonb_build_array(jsonb_build_array('market_unavailable',
                                                      jsonb_build_object('outcome_ids', to_jsonb(unavailable))));
    END IF;
    IF n > 1 THEN
        SELECT array_agg(x ORDER BY x) INTO repeated_events
          FROM (SELECT x FROM unnest(event_ids) x GROUP BY x HAVING count(*) > 1) r;
    END IF;
    IF repeated_events IS NOT NULL THEN
        SELECT array_agg(x ORDER BY x) INTO repeated_outcomes
          FROM (SELECT x FROM unnest(p_outcomes) x GROUP BY x HAVING count(*) > 1) r;
        v := v || jsonb_build_array(jsonb_build_array('related_selections',
                                                      jsonb_build_object('event_ids', to_jsonb(repeated_events))
              || CASE WHEN repeated_outcomes IS NULL THEN '{{}}'::jsonb
                      ELSE jsonb_build_object('outcome_ids', to_jsonb(repeated_outcomes)) END));
    END IF;
    IF changed THEN
        v := v || jsonb_build_array(jsonb_build_array('odds_changed', jsonb_build_object('prices', price_list)));
    END IF;

    -- The limits of every scope that applies, the player's own stake limit on top (risk/sql.py).
    SELECT * INTO lim FROM {limits}(p_player, sport_ids, competition_ids);
    IF n > lim.max_selections THEN
        v := v || jsonb_build_array(jsonb_build_array('too_many_selections', jsonb_build_object(
            'selections', n, 'max_selections', lim.max_selections)));
    END IF;
    FOR i IN 1 .. n LOOP
        IF prices[i] < lim.min_price THEN
            v := v || jsonb_build_array(jsonb_build_array('odds_below_min', jsonb_build_object(
                'selection', i - 1, 'price', prices[i]::text, 'min_price', lim.min_price::text)));
        END IF;
        IF prices[i] > lim.max_price THEN
            v := v || jsonb_build_array(jsonb_build_array('odds_above_max', jsonb_build_object(
                'selection', i - 1, 'price', prices[i]::text, 'max_price', lim.max_price::text)));
        END IF;
    END LOOP;
    IF n > 1 AND total_odds > lim.max_combined_odds THEN
        v := v || jsonb_build_array(jsonb_build_array('combined_odds_above_max', jsonb_build_object(
            'total_odds', total_odds::text, 'max_combined_odds', lim.max_combined_odds::text)));
    END IF;
    IF p_stake < lim.min_stake THEN
        v := v || jsonb_build_array(jsonb_build_array('stake_below_min',
                                                      jsonb_build_object('min_stake', lim.min_stake::text)));
    END IF;
    IF p_stake > lim.max_stake THEN
        v := v || jsonb_build_array(jsonb_build_array('stake_above_max',
                                                      jsonb_build_object('max_stake', lim.max_stake::text)));
    END IF;
    IF potential > lim.max_winning THEN
        v := v || jsonb_build_array(jsonb_build_array('max_winning_exceeded', jsonb_build_object(
            'potential_return', potential::text, 'max_winning', lim.max_winning::text,
            'max_allowed_stake', {fn}_largest_stake(lim.max_winning, total_odds)::text)));
    END IF;

    -- Exposure: each outcome's cap (sport and kind > kind > sport > default) less its liability.
    SELECT array_agg(c.cap ORDER BY c.pos), min(c.cap - coalesce(x.{OutcomeExposure.worst_case_payout}, 0))
      INTO caps, headroom
      FROM (SELECT s.id, s.pos, coalesce((
                SELECT e.{ExposureCap.cap} FROM {ExposureCap} e
                 WHERE (e.{ExposureCap.sport} = sport_ids[s.pos] OR e.{ExposureCap.sport} IS NULL)
                   AND e.{ExposureCap.market_kind} IN (kinds[s.pos], '')
                 ORDER BY e.{ExposureCap.market_kind} = '', e.{ExposureCap.sport} IS NULL LIMIT 1),
                p_default_cap) AS cap
              FROM unnest(p_outcomes) WITH ORDINALITY AS s(id, pos)) c
      LEFT JOIN {OutcomeExposure} x ON x.{OutcomeExposure.outcome} = c.id;
    allowed := least(lim.max_stake, {fn}_largest_stake(lim.max_winning, total_odds),
                     {fn}_largest_stake(headroom, total_odds));
    IF potential > headroom THEN
        v := v || jsonb_build_array(jsonb_build_array('exposure_limit',
                                                      jsonb_build_object('max_allowed_stake', allowed::text)));
    END IF;

    -- The account, locked last when placing: a twin sent at the same time is seen once it has
    -- committed, and two bets of one player cannot both pass on the same room.
    IF p_place THEN
        SELECT a.{Account.id} AS id, a.{Account.balance} AS balance INTO wallet
          FROM {Account} a WHERE a.{Account.owner} = p_player FOR UPDATE;
        IF p_idempotency_key IS NOT NULL THEN
            SELECT b.{Bet.id} AS id, b.{Bet.request_fingerprint} AS fingerprint INTO earlier FROM {Bet} b
             WHERE b.{Bet.player} = p_player AND b.{Bet.idempotency_key} = p_idempotency_key;
            IF earlier.id IS NOT NULL THEN
                -- Before any violation: a replay is answered as first placed, whatever the book says now.
                RETURN jsonb_build_object(
                    CASE WHEN earlier.fingerprint = p_fingerprint THEN 'replay' ELSE 'conflict' END, earlier.id);
            END IF;
        END IF;
    ELSE
        SELECT a.{Account.id} AS id, a.{Account.balance} AS balance INTO wallet
          FROM {Account} a WHERE a.{Account.owner} = p_player;
    END IF;
    window_start := p_now - make_interval(secs => lim.velocity_window_seconds);
    SELECT count(*), coalesce(sum(b.{Bet.stake}), 0.00) INTO recent_bets, recent_stake
      FROM {Bet} b WHERE b.{Bet.player} = p_player AND b.{Bet.placed_at} >= window_start;
    IF recent_bets + 1 > lim.velocity_max_bets THEN
        v := v || jsonb_build_array(jsonb_build_array('velocity_limit', jsonb_build_object(
            'max_bets', lim.velocity_max_bets, 'window_seconds', lim.velocity_window_seconds)));
    ELSIF recent_stake + p_stake > lim.velocity_max_stake THEN
        v := v || jsonb_build_array(jsonb_build_array('velocity_limit', jsonb_build_object(
            'max_stake', lim.velocity_max_stake::text, 'window_seconds', lim.velocity_window_seconds,
            'staked_in_window', recent_stake::text)));
    END IF;
    -- The player's own limits under the wallet's lock: the session time and the losses of each period
    -- (risk/sql.py), so that bets of one player at once cannot both pass on the same room.
    v := v || {own}(p_player, wallet.id, false, p_stake, p_now, p_session_started);
    v_balance := coalesce(wallet.balance, 0.00);
    IF v_balance < p_stake THEN
        v := v || jsonb_build_array(jsonb_build_array('insufficient_funds', jsonb_build_object(
            'balance', v_balance::text, 'stake', p_stake::text)));
    END IF;
    IF jsonb_array_length(v) > 0 OR NOT p_place THEN
        RETURN jsonb_build_object('violations', v, 'total_odds', total_odds::text, 'potential_return', potential::text,
                                  'max_allowed_stake', allowed::text, 'delay', delay);
    END IF;

    -- The writes. Exposure first, one conditional upsert per outcome in id order (the lock order):
    -- another bet may have taken the headroom since it was read.
    FOR leg IN SELECT c.id, c.cap FROM unnest(p_outcomes, caps) AS c(id, cap) ORDER BY c.id LOOP
        after := NULL;
        INSERT INTO {OutcomeExposure} AS x ({OutcomeExposure.outcome}, {OutcomeExposure.stakes},
                                            {OutcomeExposure.worst_case_payout}, {OutcomeExposure.bets})
        SELECT leg.id, p_stake, potential, 1 WHERE potential <= leg.cap
        ON CONFLICT ({OutcomeExposure.outcome}) DO UPDATE
            SET {OutcomeExposure.stakes} = x.{OutcomeExposure.stakes} + EXCLUDED.{OutcomeExposure.stakes},
                {OutcomeExposure.worst_case_payout} = x.{OutcomeExposure.worst_case_payout}
                                                      + EXCLUDED.{OutcomeExposure.worst_case_payout},
                {OutcomeExposure.bets} = x.{OutcomeExposure.bets} + 1
            WHERE x.{OutcomeExposure.worst_case_payout} + EXCLUDED.{OutcomeExposure.worst_case_payout} <= leg.cap
        RETURNING x.{OutcomeExposure.worst_case_payout} INTO after;
        IF after IS NULL THEN
            SELECT min(c.cap - coalesce(x.{OutcomeExposure.worst_case_payout}, 0)) INTO headroom
              FROM unnest(p_outcomes, caps) AS c(id, cap)
              LEFT JOIN {OutcomeExposure} x ON x.{OutcomeExposure.outcome} = c.id;
            allowed := least(lim.max_stake, {fn}_largest_stake(lim.max_winning, total_odds),
                             {fn}_largest_stake(headroom, total_odds));
            RETURN jsonb_build_object('violations', jsonb_build_array(jsonb_build_array('exposure_limit',
                                          jsonb_build_object('max_allowed_stake', allowed::text))),
                                      'total_odds', total_odds::text, 'potential_return', potential::text,
                                      'max_allowed_stake', allowed::text, 'delay', delay);
        END IF;
        reserved := reserved || jsonb_build_array(jsonb_build_array(leg.id, after::text, leg.cap::text));
    END LOOP;

    v_status := CASE WHEN delay > 0 THEN '{placed}' ELSE '{accepted}' END;
    INSERT INTO {Bet} ({Bet.player}, {Bet.bet_type}, {Bet.status}, {Bet.stake}, {Bet.total_odds},
                       {Bet.potential_return}, {Bet.odds_change}, {Bet.in_play}, {Bet.accept_after},
                       {Bet.placed_at}, {Bet.accepted_at}, {Bet.rejection_reason}, {Bet.idempotency_key},
                       {Bet.request_fingerprint})
    VALUES (p_player, p_bet_type, v_status, p_stake, total_odds, potential, p_odds_change, delay > 0,
            CASE WHEN delay > 0 THEN p_now + make_interval(secs => delay) END, p_now,
            CASE WHEN delay = 0 THEN p_now END, '', p_idempotency_key, p_fingerprint)
    RETURNING {Bet.id} INTO v_bet;
    INSERT INTO {BetLeg} ({BetLeg.bet}, {BetLeg.position}, {BetLeg.outcome}, {BetLeg.market},
                          {BetLeg.event}, {BetLeg.price})
    SELECT v_bet, s.pos - 1, s.id, market_ids[s.pos], event_ids[s.pos], prices[s.pos]
      FROM unnest(p_outcomes) WITH ORDINALITY AS s(id, pos);

    -- Held stakes by code: a missing house account (the ledger migrations create it) breaks the NOT NULL.
    PERFORM {transfer}(wallet.id, v_balance,
                       (SELECT a.{Account.id} FROM {Account} a WHERE a.{Account.code} = '{stakes_held}'), NULL,
                       p_stake, '{bet_stake}', 'bet', v_bet::text, 'bet:' || v_bet || ':stake', p_actor_id, p_now);
    PERFORM {audit}(p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, 'bet.place', '{betting}', 'bet',
                    v_bet::text,
                    -- betting.models.format_ticket_number: BET- and the id, at least nine digits
                    'BET-' || lpad(v_bet::text, greatest(9, length(v_bet::text)), '0'),
                    jsonb_build_object('status', v_status, 'stake', p_stake::text,
                                       'total_odds', {fn}_odds_text(total_odds), 'potential_return', potential::text,
                                       'legs', (SELECT jsonb_agg(jsonb_build_object('outcome_id', s.id,
                                                                                    'price', prices[s.pos]::text)
                                                                 ORDER BY s.pos)
                                                  FROM unnest(p_outcomes) WITH ORDINALITY AS s(id, pos))),
                    p_now);
    RETURN jsonb_build_object('bet', v_bet, 'total_odds', total_odds::text, 'potential_return', potential::text,
                              'delay', delay, 'prices', to_jsonb(prices::text[]), 'market_ids', to_jsonb(market_ids),
                              'event_ids', to_jsonb(event_ids), 'balance', (v_balance - p_stake)::text,
                              'reserved', reserved);
END
$fn$;

-- ledger.money.largest_stake_within: the largest stake in cents whose payout at these odds is at
-- most the limit, i.e. the largest cent below (limit + 0.01) / odds. The division may round its
-- last digit up onto a cent, so the candidate is checked by exact multiplication. One expression with
-- no FROM, so the planner inlines it into the caller's cached plan (else its body is planned per call).
CREATE OR REPLACE FUNCTION {fn}_largest_stake(p_limit numeric, p_odds numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN p_limit < 0 THEN 0.00
                WHEN trunc((p_limit + 0.01) / p_odds, 2) * p_odds >= p_limit + 0.01
                THEN greatest(trunc((p_limit + 0.01) / p_odds, 2) - 0.01, 0.00)
                ELSE trunc((p_limit + 0.01) / p_odds, 2) END
$fn$;

-- The player's odds-change policy: whether a bet seen at one price takes the current one (placement
-- strikes it; acceptance after the in-play delay asks it again, betting.services.bet_decide).
CREATE OR REPLACE FUNCTION {fn}_takes(p_policy text, p_seen numeric, p_current numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT p_current = p_seen OR p_policy = '{any}' OR (p_policy = '{higher}' AND p_current > p_seen)
$fn$;

-- betting.slips.odds_text: exact odds without trailing zeros, at least two decimals.
CREATE OR REPLACE FUNCTION {fn}_odds_text(p_odds numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN scale(trim_scale(p_odds)) >= 2 THEN trim_scale(p_odds)::text
                ELSE round(p_odds, 2)::text END
$fn$;
"""

# The arguments of betting_slip_place: the previous ones (before the session's start) are dropped first.
SLIP_ARGUMENTS_BEFORE_SESSIONS = """boolean, bigint, text, text, bigint[], numeric[], numeric, text, text, text, text,
                                 timestamptz, numeric, bigint, text, text, inet, text"""
SLIP_ARGUMENTS = f"{SLIP_ARGUMENTS_BEFORE_SESSIONS}, timestamptz"

SLIP_FUNCTION_DROP = f"""
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}({SLIP_ARGUMENTS});
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_largest_stake(numeric, numeric);
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_odds_text(numeric);
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_takes(text, numeric, numeric);
DROP FUNCTION IF EXISTS {BOOK_LOCK}(bigint[]);
"""
