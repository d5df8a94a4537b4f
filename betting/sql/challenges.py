"""A challenge offered and taken, each in one statement: ``betting_challenge_offer`` and
``betting_challenge_take`` (betting.challenges calls them)."""

from __future__ import annotations

from audit.sql import AUDIT_WRITE
from core.db import sql_names
from risk.sql import LIMITS, PLAYER_GATE, PLAYER_LIMITS_CHECK

CHALLENGE = "betting_challenge"
CHALLENGE_OFFER = f"{CHALLENGE}_offer"
CHALLENGE_TAKE = f"{CHALLENGE}_take"


def challenge_functions() -> str:
    """``CREATE OR REPLACE`` of ``betting_challenge_offer`` and ``betting_challenge_take``: a
    challenge's creation and its acceptance, each one call (the challenge services in
    betting/challenges.py word the answers and send the news), and their helpers.

    Each checks the player (risk_player_gate), then the challenge's own rules and the limits
    (risk_limits), locks the accounts the stake moves between (the wallet and the challenge's escrow
    shard, by id; when taking, the challenge row before them), answers a replayed Idempotency-Key and
    writes the challenge; on the internal gateway it also moves the stake (wallet_internal_hold) and
    writes the audit row. The external gateway's stake is asked for by the caller, in the same
    transaction, under the answer's ``stake_key``: the external service is reached only through its
    gateway. Refusals are answers (``refused``: ``[code, details]``; ``missing``: the unknown id's
    field; ``replay`` or ``conflict``; ``started``: an open challenge taken after its event began),
    written nowhere: the caller rolls back and audits them.
    """
    from audit.models import AuditLog
    from betting.models import Challenge
    from events.models import Event, Market, Outcome, Player
    from ledger.models import Account
    from ledger.sql import ACCOUNTS_LOCK, ESCROW_SHARD
    from wallet.models import PURPOSES, Gateway, GatewayTransfer
    from wallet.sql import INTERNAL_HOLD

    return _CHALLENGE_FUNCTIONS.format_map({
        "ch": CHALLENGE, "offer": CHALLENGE_OFFER, "take": CHALLENGE_TAKE, "gate": PLAYER_GATE, "limits": LIMITS,
        "own": PLAYER_LIMITS_CHECK,
        "lock": ACCOUNTS_LOCK, "shard": ESCROW_SHARD, "hold": INTERNAL_HOLD, "audit": AUDIT_WRITE,
        "internal": Gateway.INTERNAL, "stake": PURPOSES[0], "betting": AuditLog.Category.BETTING,
        "scheduled": Event.Status.SCHEDULED, "active": Outcome.Status.ACTIVE, "market_open": Market.Status.OPEN,
        "escrow_pending": Challenge.Status.ESCROW_PENDING, "open": Challenge.Status.OPEN,
        "matching": Challenge.Status.MATCHING, "matched": Challenge.Status.MATCHED,
        **sql_names(Account, Challenge, Event, GatewayTransfer, Market, Outcome, Player),
    })


# Doubled braces are PL/pgSQL's; single ones are names filled in by challenge_functions().
_CHALLENGE_FUNCTIONS = """
-- What an answer shows of a challenge: the row, its gateway transfers in order, and what it backs
-- (its outcome and market, or its player). The functions here are PL/pgSQL, but for one-expression
-- helpers: a PL/pgSQL function's plans are kept for the session, an SQL function's body is planned on
-- every call.
CREATE OR REPLACE FUNCTION {ch}_answer(p_challenge bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN (SELECT jsonb_build_object(
        'challenge', to_jsonb(c),
        'transfers', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.{GatewayTransfer.id}), '[]')
                        FROM {GatewayTransfer} t
                       WHERE t.{GatewayTransfer.reference_type} = 'challenge'
                         AND t.{GatewayTransfer.reference_id} = c.{Challenge.id}::text),
        'outcome', (SELECT to_jsonb(o) FROM {Outcome} o WHERE o.{Outcome.id} = c.{Challenge.outcome}),
        'market', (SELECT to_jsonb(m) FROM {Outcome} o JOIN {Market} m ON m.{Market.id} = o.{Outcome.market}
                    WHERE o.{Outcome.id} = c.{Challenge.outcome}),
        'player', (SELECT to_jsonb(p) FROM {Player} p WHERE p.{Player.id} = c.{Challenge.player}))
      FROM {Challenge} c WHERE c.{Challenge.id} = p_challenge);
END
$fn$;

-- The accounts a stake into escrow moves between, locked by id ({lock}): the player's wallet (a
-- twin request waits on it) and, on the internal gateway, the escrow shard of the challenge; with
-- their balances (the wallet's 0.00 when it has none).
CREATE OR REPLACE FUNCTION {ch}_accounts(p_player bigint, p_challenge bigint, p_internal boolean,
    OUT wallet_id bigint, OUT wallet_before numeric, OUT shard_id bigint, OUT shard_before numeric)
LANGUAGE plpgsql AS $fn$
DECLARE
    held record;
BEGIN
    SELECT a.{Account.id} INTO wallet_id FROM {Account} a WHERE a.{Account.owner} = p_player;
    IF p_internal THEN
        SELECT a.{Account.id} INTO shard_id
          FROM {Account} a WHERE a.{Account.code} = 'house:' || {shard}(p_challenge);
    END IF;
    wallet_before := 0.00;
    FOR held IN SELECT * FROM {lock}(ARRAY[wallet_id, shard_id]) LOOP
        IF held.id = wallet_id THEN
            wallet_before := held.balance;
        ELSE
            shard_before := held.balance;
        END IF;
    END LOOP;
END
$fn$;

-- The stake against the limits and, internal, the wallet's balance: the first refusal, or NULL.
CREATE OR REPLACE FUNCTION {ch}_stake_refused(p_stake numeric, p_min numeric, p_max numeric, p_internal boolean,
    p_balance numeric) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE
        WHEN p_stake < p_min THEN jsonb_build_array('stake_below_min', jsonb_build_object('min_stake', p_min::text))
        WHEN p_stake > p_max THEN jsonb_build_array('stake_above_max', jsonb_build_object('max_stake', p_max::text))
        WHEN p_internal AND p_balance < p_stake THEN jsonb_build_array('insufficient_funds', jsonb_build_object(
            'balance', p_balance::text, 'stake', p_stake::text))
    END
$fn$;

-- A party's stake through the internal gateway, from the accounts {ch}_accounts locked, and the
-- audit row of the change it makes (p_action, p_before → p_after).
CREATE OR REPLACE FUNCTION {ch}_hold(p_challenge bigint, p_player bigint, p_wallet bigint, p_wallet_before numeric,
    p_shard bigint, p_shard_before numeric, p_stake numeric, p_key text, p_action text, p_before text, p_after text,
    p_funding text, p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    moved jsonb;
BEGIN
    moved := {hold}(p_player, p_wallet, p_wallet_before, p_shard, p_shard_before, p_stake, 'challenge',
                    p_challenge::text, p_key, p_actor_id, p_now);
    PERFORM {audit}(p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, p_action, '{betting}', 'challenge',
                    p_challenge::text, 'CH-' || p_challenge,
                    jsonb_build_object('before', p_before, 'after', p_after, 'stake', p_stake::text,
                                       'funding', p_funding, 'tx_id', moved ->> '{GatewayTransfer.tx_id}'),
                    p_now);
END
$fn$;

-- A challenge offered on an outcome of the event (p_outcome) or on a player's stat line (p_player,
-- p_stat, p_line, p_side), the stake from p_funding's gateway.
CREATE OR REPLACE FUNCTION {offer}(
    p_creator bigint, p_role text, p_country text, p_event bigint, p_outcome bigint, p_player bigint, p_stat text,
    p_line numeric, p_side text, p_stake numeric, p_funding text, p_idempotency_key text, p_fingerprint text,
    p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet, p_user_agent text,
    p_session_started timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    internal boolean := p_funding = '{internal}';
    refused jsonb;
    ev record;
    backed record;
    lim record;
    earlier record;
    wallet_id bigint;
    wallet_before numeric;
    shard_id bigint;
    shard_before numeric;
    v_id bigint;
    v_status text;
    v_key text;
BEGIN
    refused := {gate}(p_creator, p_role, p_country, p_now);
    IF jsonb_array_length(refused) > 0 THEN
        RETURN jsonb_build_object('refused', refused -> 0);
    END IF;
    SELECT e.{Event.status} AS status, e.{Event.start_time} AS start_time, e.{Event.sport} AS sport_id,
           e.{Event.competition} AS competition_id INTO ev FROM {Event} e WHERE e.{Event.id} = p_event;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('missing', 'event_id');
    END IF;

    -- The accounts first, when the stake is internal or the request carries a key: a twin sent at the
    -- same time waits on the wallet, then finds the first.
    v_id := nextval(pg_get_serial_sequence('{Challenge}', '{Challenge.id}'));
    IF internal OR p_idempotency_key IS NOT NULL THEN
        SELECT * INTO wallet_id, wallet_before, shard_id, shard_before FROM {ch}_accounts(p_creator, v_id, internal);
    END IF;
    IF p_idempotency_key IS NOT NULL THEN
        SELECT c.{Challenge.id} AS id, c.{Challenge.request_fingerprint} AS fingerprint INTO earlier
          FROM {Challenge} c
         WHERE c.{Challenge.creator} = p_creator AND c.{Challenge.idempotency_key} = p_idempotency_key;
        IF FOUND THEN
            RETURN jsonb_build_object(CASE WHEN earlier.fingerprint = p_fingerprint THEN 'replay' ELSE 'conflict' END,
                                      earlier.id);
        END IF;
    END IF;

    IF ev.status <> '{scheduled}' OR ev.start_time <= p_now THEN
        RETURN jsonb_build_object('refused', jsonb_build_array('event_started', jsonb_build_object(
            'event_id', p_event, 'status', ev.status)));
    END IF;
    IF p_outcome IS NOT NULL THEN
        SELECT o.{Outcome.status} AS status, m.{Market.status} AS market_status, m.{Market.event} AS event_id
          INTO backed FROM {Outcome} o JOIN {Market} m ON m.{Market.id} = o.{Outcome.market}
         WHERE o.{Outcome.id} = p_outcome;
        IF NOT FOUND OR backed.event_id <> p_event THEN
            RETURN jsonb_build_object('refused', jsonb_build_array('invalid_selection',
                                                                   jsonb_build_object('field', 'outcome_id')));
        END IF;
        IF backed.status <> '{active}' OR backed.market_status <> '{market_open}' THEN
            RETURN jsonb_build_object('refused', jsonb_build_array('market_unavailable', jsonb_build_object(
                'outcome_ids', jsonb_build_array(p_outcome))));
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM {Player} p WHERE p.{Player.id} = p_player AND p.{Player.event} = p_event) THEN
        RETURN jsonb_build_object('refused', jsonb_build_array('invalid_selection',
                                                               jsonb_build_object('field', 'proposition.player_id')));
    END IF;

    SELECT * INTO lim FROM {limits}(p_creator, ARRAY[ev.sport_id], ARRAY[ev.competition_id]);
    refused := {ch}_stake_refused(p_stake, lim.min_stake, lim.max_stake, internal, wallet_before);
    IF refused IS NOT NULL THEN
        RETURN jsonb_build_object('refused', refused);
    END IF;
    refused := {own}(p_creator, wallet_id, false, p_stake, p_now, p_session_started);
    IF jsonb_array_length(refused) > 0 THEN
        RETURN jsonb_build_object('refused', refused -> 0);
    END IF;

    -- Written with the status the stake gives it, so that nothing but the audit row follows the
    -- stake's lock on the escrow shard until commit.
    v_status := CASE WHEN internal THEN '{open}' ELSE '{escrow_pending}' END;
    INSERT INTO {Challenge} ({Challenge.id}, {Challenge.event}, {Challenge.creator}, {Challenge.outcome},
                             {Challenge.player}, {Challenge.stat}, {Challenge.line}, {Challenge.side},
                             {Challenge.stake}, {Challenge.creator_funding}, {Challenge.acceptor_funding},
                             {Challenge.status}, {Challenge.status_reason}, {Challenge.money_waiting},
                             {Challenge.idempotency_key}, {Challenge.request_fingerprint},
                             {Challenge.acceptor_fingerprint}, {Challenge.created_at})
    VALUES (v_id, p_event, p_creator, p_outcome, p_player, coalesce(p_stat, ''), p_line, coalesce(p_side, ''), p_stake,
            p_funding, '', v_status, '', '', p_idempotency_key, p_fingerprint, '', p_now);
    v_key := 'challenge:' || v_id || ':stake:creator';
    IF internal THEN
        PERFORM {ch}_hold(v_id, p_creator, wallet_id, wallet_before, shard_id, shard_before, p_stake, v_key,
                          'challenge.create', NULL, v_status, p_funding, p_now, p_actor_id, p_actor_label,
                          p_actor_role, p_ip, p_user_agent);
    END IF;
    RETURN {ch}_answer(v_id) || jsonb_build_object(
        'stake_key', v_key, 'balance', CASE WHEN internal THEN (wallet_before - p_stake)::text END);
END
$fn$;

-- An open challenge taken by p_acceptor with an equal stake from p_funding's gateway. The challenge
-- row is locked first, so of many takers at once exactly one finds it open. The taker's
-- Idempotency-Key is kept with the acceptance: asked again with it, the same body gets the challenge
-- back, another body is a conflict.
CREATE OR REPLACE FUNCTION {take}(
    p_challenge bigint, p_acceptor bigint, p_role text, p_country text, p_funding text, p_idempotency_key text,
    p_fingerprint text, p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text, p_session_started timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    internal boolean := p_funding = '{internal}';
    refused jsonb;
    c record;
    ev record;
    lim record;
    wallet_id bigint;
    wallet_before numeric;
    shard_id bigint;
    shard_before numeric;
    tried int;
    v_status text;
    v_key text;
BEGIN
    refused := {gate}(p_acceptor, p_role, p_country, p_now);
    IF jsonb_array_length(refused) > 0 THEN
        RETURN jsonb_build_object('refused', refused -> 0);
    END IF;
    SELECT ch.{Challenge.id} AS id, ch.{Challenge.status} AS status, ch.{Challenge.creator} AS creator_id,
           ch.{Challenge.acceptor} AS acceptor_id, ch.{Challenge.stake} AS stake, ch.{Challenge.event} AS event_id,
           ch.{Challenge.acceptor_idempotency_key} AS taken_with, ch.{Challenge.acceptor_fingerprint} AS fingerprint
      INTO c FROM {Challenge} ch WHERE ch.{Challenge.id} = p_challenge FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('missing', 'challenge_id');
    END IF;
    SELECT e.{Event.status} AS status, e.{Event.start_time} AS start_time, e.{Event.sport} AS sport_id,
           e.{Event.competition} AS competition_id INTO ev FROM {Event} e WHERE e.{Event.id} = c.event_id;
    IF c.status = '{open}' AND (ev.status <> '{scheduled}' OR ev.start_time <= p_now) THEN
        RETURN jsonb_build_object('started', c.id);
    END IF;
    IF c.creator_id = p_acceptor THEN
        RETURN jsonb_build_object('refused', jsonb_build_array('own_challenge',
                                                               jsonb_build_object('challenge_id', c.id)));
    END IF;
    IF c.acceptor_id = p_acceptor AND c.taken_with = p_idempotency_key THEN
        IF c.fingerprint <> p_fingerprint THEN
            RETURN jsonb_build_object('conflict', c.id);
        END IF;
        RETURN {ch}_answer(c.id) || jsonb_build_object('replay', c.id);
    END IF;
    IF c.status <> '{open}' THEN
        RETURN jsonb_build_object('refused', jsonb_build_array('challenge_unavailable', jsonb_build_object(
            'challenge_id', c.id, 'status', c.status)));
    END IF;

    SELECT * INTO lim FROM {limits}(p_acceptor, ARRAY[ev.sport_id], ARRAY[ev.competition_id]);
    IF internal THEN
        SELECT * INTO wallet_id, wallet_before, shard_id, shard_before FROM {ch}_accounts(p_acceptor, c.id, true);
    END IF;
    refused := {ch}_stake_refused(c.stake, lim.min_stake, lim.max_stake, internal, wallet_before);
    IF refused IS NOT NULL THEN
        RETURN jsonb_build_object('refused', refused);
    END IF;
    refused := {own}(p_acceptor, wallet_id, false, c.stake, p_now, p_session_started);
    IF jsonb_array_length(refused) > 0 THEN
        RETURN jsonb_build_object('refused', refused -> 0);
    END IF;

    -- After a failed external stake the challenge is open again for anyone, this taker included: each
    -- attempt's key carries the taker and its number.
    SELECT count(*) INTO tried FROM {GatewayTransfer} t
     WHERE t.{GatewayTransfer.reference_type} = 'challenge' AND t.{GatewayTransfer.reference_id} = c.id::text
       AND t.{GatewayTransfer.purpose} = '{stake}' AND t.{GatewayTransfer.user} = p_acceptor;
    v_key := 'challenge:' || c.id || ':stake:acceptor:' || p_acceptor || ':' || (tried + 1);
    v_status := CASE WHEN internal THEN '{matched}' ELSE '{matching}' END;
    -- Written before the stake, as the stake leaves it, so that only the audit row follows the stake's
    -- lock on the escrow shard (as when offered).
    UPDATE {Challenge} SET {Challenge.acceptor} = p_acceptor, {Challenge.acceptor_funding} = p_funding,
                           {Challenge.acceptor_idempotency_key} = p_idempotency_key,
                           {Challenge.acceptor_fingerprint} = coalesce(p_fingerprint, ''),
                           {Challenge.status} = v_status, {Challenge.matched_at} = CASE WHEN internal THEN p_now END
     WHERE {Challenge.id} = c.id;
    IF internal THEN
        PERFORM {ch}_hold(c.id, p_acceptor, wallet_id, wallet_before, shard_id, shard_before, c.stake, v_key,
                          'challenge.accept', c.status, v_status, p_funding, p_now, p_actor_id, p_actor_label,
                          p_actor_role, p_ip, p_user_agent);
    END IF;
    RETURN {ch}_answer(c.id) || jsonb_build_object(
        'stake_key', v_key, 'balance', CASE WHEN internal THEN (wallet_before - c.stake)::text END);
END
$fn$;
"""

# The arguments of the offer and the take before the session's start came in (dropped first, by the
# migration that installs these).
TAKE_ARGUMENTS_BEFORE_SESSIONS = ("bigint, bigint, text, text, text, text, text, timestamptz, bigint, text, text, "
                                  "inet, text")
OFFER_ARGUMENTS_BEFORE_SESSIONS = ("bigint, text, text, bigint, bigint, bigint, text, numeric, text, numeric, text, "
                                   "text, text, timestamptz, bigint, text, text, inet, text")

CHALLENGE_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {CHALLENGE_TAKE}({TAKE_ARGUMENTS_BEFORE_SESSIONS}, timestamptz);
DROP FUNCTION IF EXISTS {CHALLENGE_OFFER}({OFFER_ARGUMENTS_BEFORE_SESSIONS}, timestamptz);
DROP FUNCTION IF EXISTS {CHALLENGE}_hold(bigint, bigint, bigint, numeric, bigint, numeric, numeric, text, text, text,
                                         text, text, timestamptz, bigint, text, text, inet, text);
DROP FUNCTION IF EXISTS {CHALLENGE}_stake_refused(numeric, numeric, numeric, boolean, numeric);
DROP FUNCTION IF EXISTS {CHALLENGE}_accounts(bigint, bigint, boolean);
DROP FUNCTION IF EXISTS {CHALLENGE}_answer(bigint);
"""
