"""Challenge settlement in the database: ``betting_challenges_settle`` and its helpers (betting.challenge_settlement
calls it once per batch)."""

from __future__ import annotations

import functools
from typing import Any

from audit.sql import AUDIT_WRITE_MANY, NOTIFICATIONS_WRITE
from betting.sql.stats import WEEK, column, counted, stats_upsert
from core.db import sql_names
from ledger.sql import ACCOUNTS_LOCK

CHALLENGES_FUNCTION = "betting_challenges_settle"
CHALLENGE_GRADE = f"{CHALLENGES_FUNCTION}_grade"  # how the event decides one challenge
CHALLENGE_PAYOUT = f"{CHALLENGES_FUNCTION}_payout"  # (stake, fee rate): the winner's payout
CHALLENGE_MOVE = f"{CHALLENGES_FUNCTION}_move"  # the composite type of one movement of a batch


def _challenge_values() -> dict[str, Any]:
    """The names and enum values the challenge settlement's SQL is written with."""
    from audit.models import AuditLog
    from betting.models import Bet, BettorStats, Challenge
    from events.models import Event, Market, Outcome, Player
    from ledger.models import Account, Transfer
    from wallet.gateways import KIND
    from wallet.models import Gateway, GatewayTransfer

    S = Challenge.Status
    names = sql_names(Challenge, Event, Market, Outcome, Player, Account, Transfer, GatewayTransfer)
    c = names["Challenge"]
    player_stat = " ".join(f"WHEN '{stat}' THEN p.{column(Player, stat)}" for stat in Challenge.Stat.values)
    voidable = _quoted(Challenge.VOIDABLE)
    decided_market = _quoted([Market.Status.RESULTED, Market.Status.SETTLED])
    e, o, m = names["Event"], names["Outcome"], names["Market"]
    # A challenge the event has decided: matched, and its outcome's market resulted, settled or
    # cancelled, or its proposition's event finished with a result (the final stats come with it); or
    # any challenge still holding or awaiting a stake on a cancelled event. A condition on the
    # challenge row alone (its event, outcome and market in subqueries), so the claim walks
    # challenge_pending_idx in order and stops at the batch size: as a join, the planner could not
    # tell how many rows pass and sorted every pending challenge of the event for each batch.
    decidable = f"""c.{c.status} IN ({voidable}) AND (
        (c.{c.status} = '{S.MATCHED}' AND EXISTS (
            SELECT 1 FROM {o} o JOIN {m} m ON m.{m.id} = o.{o.market}
             WHERE o.{o.id} = c.{c.outcome} AND m.{m.status} IN ({decided_market}, '{Market.Status.CANCELLED}')))
        OR EXISTS (
            SELECT 1 FROM {e} e
             WHERE e.{e.id} = c.{c.event}
               AND (e.{e.status} = '{Event.Status.CANCELLED}'
                    OR (c.{c.status} = '{S.MATCHED}' AND c.{c.player} IS NOT NULL
                        AND e.{e.status} = '{Event.Status.FINISHED}' AND e.{e.home_score} IS NOT NULL))))"""
    shard = Account.escrow_shard  # the SQL below is Account.escrow_shard(challenge id)
    return {
        **names, "fn": CHALLENGES_FUNCTION, "grade": CHALLENGE_GRADE, "payout": CHALLENGE_PAYOUT,
        "move": CHALLENGE_MOVE, "decidable": decidable, "voidable": voidable, "decided_market": decided_market,
        "player_stat": f"CASE k.stat {player_stat} END",
        "shards": Account.ESCROW_SHARDS, "shard0": f"house:{shard(0)}", "shard_n": f"house:{Account.House.ESCROW}.",
        "matched": S.MATCHED, "open": S.OPEN, "matching": S.MATCHING, "settled": S.SETTLED, "void": S.VOID,
        "won": Challenge.Result.WON, "lost": Challenge.Result.LOST, "over": Challenge.Side.OVER,
        "outcome_won": Outcome.Status.WON, "outcome_lost": Outcome.Status.LOST,
        "event_cancelled": Event.Status.CANCELLED, "market_cancelled": Market.Status.CANCELLED,
        "internal": Gateway.INTERNAL, "external": Gateway.EXTERNAL,
        "in": GatewayTransfer.Direction.IN, "out": GatewayTransfer.Direction.OUT,
        "confirmed": GatewayTransfer.Status.CONFIRMED,
        "kind": "CASE m.purpose " + " ".join(f"WHEN '{p}' THEN '{k}'" for p, k in KIND.items()) + " END",
        "fees": Account.House.FEES, "clearing": Account.House.EXTERNAL_CLEARING,
        "player_account": Account.Kind.PLAYER,
        "betting": AuditLog.Category.BETTING, "audit_many": AUDIT_WRITE_MANY, "notify": NOTIFICATIONS_WRITE,
        "lock": ACCOUNTS_LOCK,
        "stats": stats_upsert(BettorStats, f"""
            SELECT l.user_id, '{BettorStats.Product.P2P}', {WEEK.format("p_now")}, count(*), {
                counted("l.result") % {r: f"'{r}'" for r in ("won", "lost", "void")}},
                   sum(l.staked), sum(l.returned)
              FROM unnest(v_line_users, v_line_results, v_line_staked, v_line_returned)
                   AS l(user_id, result, staked, returned)
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""),
        "bet_won": Bet.Result.WON, "bet_lost": Bet.Result.LOST, "bet_void": Bet.Result.VOID,
    }


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


@functools.cache
def challenge_events_pending() -> str:
    """The events that have a challenge decided but not settled (the settlement sweep's)."""
    return "SELECT DISTINCT c.{Challenge.event} FROM {Challenge} c WHERE {decidable} ORDER BY 1" \
        .format_map(_challenge_values())


@functools.cache
def challenges_any_pending() -> str:
    """1 when one of the events %s (an array of ids) has a challenge decided but not settled."""
    return "SELECT 1 FROM {Challenge} c WHERE c.{Challenge.event} = ANY(%s) AND {decidable} LIMIT 1" \
        .format_map(_challenge_values())


@functools.cache
def challenges_call() -> str:
    """The call of the settlement function, its arguments in order (see ``challenges_function``)."""
    return f"""SELECT {CHALLENGES_FUNCTION}(%s::bigint[], %s::int, %s::bigint, %s::text, %s::numeric, %s::numeric,
                                            %s::timestamptz, %s::bigint, %s::text, %s::text, %s::inet,
                                            %s::text)"""


def challenge_move_type() -> str:
    """``CREATE TYPE``: one movement of a batch, as the settlement function passes them from one of
    its statements to the next (``gateway`` NULL: a ledger transfer between house accounts only)."""
    return f"""CREATE TYPE {CHALLENGE_MOVE} AS (
        challenge_id bigint, seq int, party text, gateway text, user_id bigint, direction text, amount numeric,
        purpose text, key text, platform_account text, kind text, ledger_key text, debit_id bigint,
        credit_id bigint)"""


def challenges_function() -> str:
    """``CREATE OR REPLACE FUNCTION betting_challenges_settle`` and its helpers: one batch of challenge
    settlement (or one operator void), decided and written in the database.

    One call claims up to ``p_size`` decided challenges of the events ``p_events`` (``FOR UPDATE SKIP
    LOCKED``, in (event, id) order along ``challenge_pending_idx``: several workers share an event, and
    a batch reads no further than it claims), or, with ``p_void``, that one challenge (its
    caller holds its row lock and has checked it may be voided) made void for ``p_reason``. It grades
    each (``betting_challenges_settle_grade``), updates the challenges, works out every movement with
    the keys the gateways know (``challenge:{id}:payout``, ``:fee``, ``:sweep:out``, ``:sweep:in``,
    ``:fee:external``, ``challenge:{id}:{party}:refund``, ``:sweep``), writes the audit rows and the
    notifications, then locks the balance-storing accounts its internal movements touch (by id), writes
    their ledger transfers (balances before and after, in order; never below zero) and confirmed gateway
    transfers, the accounts' balances, and last the weekly stats (rows in key order). Lock order:
    challenges, accounts, stats rows.

    It answers one jsonb: ``count`` (challenges written), ``parties`` (``[challenge_id, user_id, before,
    notification text, notification data]`` per party), ``wallets`` (``[user_id, balance]`` per wallet
    it changed) and ``external`` (``[challenge_id, user_id, direction, amount, purpose, key,
    platform_account]``: the movements on the external gateway, which its caller hands to
    ``ExternalGateway.transfer`` in the same transaction). Money is text in it, never a JSON number.
    """
    return _CHALLENGES_FUNCTION.format_map(_challenge_values())


# Doubled braces are SQL's; single ones are names filled in by challenges_function().
_CHALLENGES_FUNCTION = """
-- How the event decides one challenge (the settlement function's grading): result won or lost (from
-- the creator's side), or void with a reason; neither while it is not decided yet. An outcome: won →
-- the creator wins, lost → the acceptor, void or a cancelled market → void (a market resulted before
-- its event was cancelled stands, as for bets). A proposition: over wins above the line, under below
-- it, a stat exactly on the line is void.
CREATE OR REPLACE FUNCTION {grade}(p_status text, p_outcome bigint, p_line numeric, p_side text, p_event text,
                                   p_outcome_status text, p_market text, p_stat int)
RETURNS TABLE (result text, reason text)
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN f.by_outcome THEN CASE p_outcome_status WHEN '{outcome_won}' THEN '{won}'
                                                             WHEN '{outcome_lost}' THEN '{lost}' END
                WHEN p_event = '{event_cancelled}' OR f.market_cancelled OR f.undecided OR p_stat = p_line THEN NULL
                WHEN (p_stat > p_line) = (p_side = '{over}') THEN '{won}'
                ELSE '{lost}' END,
           CASE WHEN f.by_outcome THEN CASE WHEN p_outcome_status IN ('{outcome_won}', '{outcome_lost}') THEN NULL
                                            ELSE 'the selection was made void' END
                WHEN p_event = '{event_cancelled}' THEN 'the event was cancelled'
                WHEN f.market_cancelled THEN 'the market was cancelled'
                WHEN f.undecided THEN NULL
                WHEN p_stat = p_line THEN 'the stat landed exactly on the line' END
      FROM (SELECT coalesce(p_status = '{matched}' AND p_outcome IS NOT NULL AND p_market IN ({decided_market}),
                            false) AS by_outcome,
                   coalesce(p_outcome IS NOT NULL AND p_market = '{market_cancelled}', false) AS market_cancelled,
                   p_stat IS NULL OR p_status <> '{matched}' OR p_line IS NULL AS undecided) f
$fn$;

-- betting.challenge_money.challenge_payout: pot = 2 × stake, the winner's payout = pot × (1 − fee rate)
-- rounded down to the cent (the fee is pot − payout).
CREATE OR REPLACE FUNCTION {payout}(p_stake numeric, p_rate numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT trunc(2 * p_stake * (1 - p_rate), 2)
$fn$;

CREATE OR REPLACE FUNCTION {fn}(
    p_events bigint[], p_size int, p_void bigint, p_reason text, p_fee_rate numeric, p_network_fee numeric,
    p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet, p_user_agent text)
    RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    v_ids bigint[];
    v_before text[];
    v_results text[];
    v_reasons text[];
    v_moves {move}[];
    v_missing bigint;
    v_parties jsonb;
    v_external jsonb;
    v_wallets jsonb;
    v_lowest numeric;
    v_line_users bigint[];
    v_line_results text[];
    v_line_staked numeric[];
    v_line_returned numeric[];
    v_note_users bigint[];
    v_note_texts text[];
    v_note_data jsonb[];
    v_actions text[];
    v_resource_ids text[];
    v_labels text[];
    v_details jsonb[];
BEGIN
    -- The claim: each challenge locked with what decides it, read in the statement that locks it.
    IF p_void IS NULL THEN
        SELECT array_agg(k.id ORDER BY k.id), array_agg(k.status ORDER BY k.id), array_agg(g.result ORDER BY k.id),
               array_agg(g.reason ORDER BY k.id)
          INTO v_ids, v_before, v_results, v_reasons
          FROM (SELECT c.{Challenge.id} AS id, c.{Challenge.event} AS event_id, c.{Challenge.status} AS status,
                       c.{Challenge.outcome} AS outcome_id, c.{Challenge.player} AS player_id,
                       c.{Challenge.stat} AS stat, c.{Challenge.line} AS line, c.{Challenge.side} AS side
                  FROM {Challenge} c
                 WHERE c.{Challenge.event} = ANY(p_events) AND {decidable}
                 ORDER BY c.{Challenge.event}, c.{Challenge.id} LIMIT p_size
                   FOR UPDATE SKIP LOCKED) k
          JOIN {Event} e ON e.{Event.id} = k.event_id
          LEFT JOIN {Outcome} o ON o.{Outcome.id} = k.outcome_id
          LEFT JOIN {Market} m ON m.{Market.id} = o.{Outcome.market}
          LEFT JOIN {Player} p ON p.{Player.id} = k.player_id
         CROSS JOIN LATERAL {grade}(k.status, k.outcome_id, k.line, k.side, e.{Event.status}, o.{Outcome.status},
                                    m.{Market.status}, {player_stat}) g;
    ELSE
        SELECT ARRAY[c.{Challenge.id}], ARRAY[c.{Challenge.status}], ARRAY[NULL::text], ARRAY[p_reason]
          INTO v_ids, v_before, v_results, v_reasons
          FROM {Challenge} c WHERE c.{Challenge.id} = p_void AND c.{Challenge.status} IN ({voidable}) FOR UPDATE;
    END IF;
    IF v_ids IS NULL THEN
        RETURN jsonb_build_object('count', 0, 'parties', '[]'::jsonb, 'wallets', '[]'::jsonb,
                                  'external', '[]'::jsonb);
    END IF;
    SELECT d.id INTO v_missing FROM unnest(v_ids, v_results, v_reasons) AS d(id, result, reason)
     WHERE d.result IS NULL AND d.reason IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'challenge % is not decided yet', v_missing;
    END IF;

    UPDATE {Challenge} c
       SET {Challenge.status} = CASE WHEN d.result IS NULL THEN '{void}' ELSE '{settled}' END,
           {Challenge.result} = d.result,
           {Challenge.winner} = CASE d.result WHEN '{won}' THEN c.{Challenge.creator}
                                              WHEN '{lost}' THEN c.{Challenge.acceptor} END,
           {Challenge.payout} = CASE WHEN d.result IS NULL THEN c.{Challenge.payout}
                                     ELSE {payout}(c.{Challenge.stake}, p_fee_rate) END,
           {Challenge.fee} = CASE WHEN d.result IS NULL THEN c.{Challenge.fee}
                                  ELSE 2 * c.{Challenge.stake} - {payout}(c.{Challenge.stake}, p_fee_rate) END,
           {Challenge.status_reason} = CASE WHEN d.result IS NULL THEN left(d.reason, 200)
                                            ELSE c.{Challenge.status_reason} END,
           {Challenge.settled_at} = p_now
      FROM unnest(v_ids, v_results, v_reasons) AS d(id, result, reason)
     WHERE c.{Challenge.id} = d.id;

    -- The movements, in challenge order. Settled: across gateways the loser's stake leaves its vault
    -- to that side's platform pocket (internal: external_clearing; external: the treasury) and the
    -- winner's side pocket pays it into the winner's vault; the winner's vault pays the payout and the
    -- fee, unless it is external and the pot is not all there yet (it pays once the treasury's part
    -- has confirmed: betting.challenge_settlement.pot_top_up_decided); a fee taken on the external side
    -- is booked external_clearing → fees. Void: each party whose stake escrow holds gets its latest
    -- confirmed stake back less the network fees of its transfers in and out, the rest of it to the
    -- platform (betting.challenge_money.refund_movements); a zero refund is kept here (the audit row,
    -- the notification and the stats show it) but moves nothing.
    SELECT array_agg(ROW(x.challenge_id, x.seq, x.party, x.gateway, x.user_id, x.direction, x.amount, x.purpose,
                         'challenge:' || x.challenge_id || x.suffix, x.platform_account, x.kind,
                         CASE WHEN x.gateway = '{internal}' THEN 'gateway:challenge:' || x.challenge_id || x.suffix
                              WHEN x.gateway IS NULL THEN 'challenge:' || x.challenge_id || x.suffix END,
                         x.debit_id, x.credit_id)::{move} ORDER BY x.challenge_id, x.seq)
      INTO v_moves
      FROM (
        WITH d AS (
            SELECT c.{Challenge.id} AS id, c.{Challenge.creator} AS creator_id, c.{Challenge.acceptor} AS acceptor_id,
                   c.{Challenge.stake} AS stake, c.{Challenge.result} AS result, c.{Challenge.winner} AS winner_id,
                   c.{Challenge.payout} AS payout, c.{Challenge.fee} AS fee, b.before,
                   CASE WHEN c.{Challenge.winner} = c.{Challenge.creator} THEN c.{Challenge.creator_funding}
                        ELSE c.{Challenge.acceptor_funding} END AS win_side,
                   CASE WHEN c.{Challenge.winner} = c.{Challenge.creator} THEN c.{Challenge.acceptor_funding}
                        ELSE c.{Challenge.creator_funding} END AS lose_side
              FROM unnest(v_ids, v_before) AS b(id, before) JOIN {Challenge} c ON c.{Challenge.id} = b.id),
        held AS (
            SELECT d.id, h.party, h.user_id, h.n
              FROM d CROSS JOIN LATERAL (VALUES ('creator', d.creator_id, 0), ('acceptor', d.acceptor_id, 1))
                                        AS h(party, user_id, n)
             WHERE d.result IS NULL
               AND (d.before = '{matched}' OR (h.party = 'creator' AND d.before IN ('{open}', '{matching}')))),
        stakes AS (
            SELECT DISTINCT ON (t.{GatewayTransfer.reference_id}, t.{GatewayTransfer.user})
                   t.{GatewayTransfer.reference_id} AS reference_id, t.{GatewayTransfer.user} AS user_id,
                   t.{GatewayTransfer.gateway} AS gateway, t.{GatewayTransfer.amount} AS amount,
                   t.{GatewayTransfer.network_fee} AS network_fee
              FROM {GatewayTransfer} t
             WHERE t.{GatewayTransfer.reference_type} = 'challenge'
               AND t.{GatewayTransfer.reference_id} IN (SELECT held.id::text FROM held)
               AND t.{GatewayTransfer.purpose} = 'stake' AND t.{GatewayTransfer.direction} = '{in}'
               AND t.{GatewayTransfer.status} = '{confirmed}'
             ORDER BY t.{GatewayTransfer.reference_id}, t.{GatewayTransfer.user}, t.{GatewayTransfer.id} DESC),
        refunds AS (
            SELECT h.id, h.party, h.user_id, h.n, s.gateway, s.amount AS stake_in,
                   CASE WHEN s.amount IS NOT NULL THEN greatest(
                       s.amount - s.network_fee - CASE WHEN s.gateway = '{external}' THEN p_network_fee ELSE 0.00 END,
                       0.00) END AS refund
              FROM held h LEFT JOIN stakes s ON s.reference_id = h.id::text AND s.user_id = h.user_id),
        moves (challenge_id, seq, party, gateway, user_id, direction, amount, purpose, suffix, platform_account) AS (
            SELECT id, 1, NULL, lose_side, NULL::bigint, '{out}', stake, 'sweep', ':sweep:out',
                   CASE WHEN lose_side = '{internal}' THEN '{clearing}' ELSE '' END
              FROM d WHERE result IS NOT NULL AND win_side <> lose_side
            UNION ALL
            SELECT id, 2, NULL, win_side, NULL, '{in}', stake, 'sweep', ':sweep:in',
                   CASE WHEN win_side = '{internal}' THEN '{clearing}' ELSE '' END
              FROM d WHERE result IS NOT NULL AND win_side <> lose_side
            UNION ALL
            SELECT id, 3, NULL, win_side, winner_id, '{out}', payout, 'payout', ':payout', ''
              FROM d WHERE result IS NOT NULL AND (win_side = lose_side OR win_side = '{internal}')
            UNION ALL
            SELECT id, 4, NULL, win_side, NULL, '{out}', fee, 'fee', ':fee',
                   CASE WHEN win_side = '{internal}' THEN '{fees}' ELSE '' END
              FROM d WHERE result IS NOT NULL AND (win_side = lose_side OR win_side = '{internal}')
            UNION ALL
            SELECT id, 5, NULL, NULL, NULL, NULL, fee, 'fee', ':fee:external', ''
              FROM d WHERE result IS NOT NULL AND win_side = '{external}'
            UNION ALL
            SELECT id, 6 + 2 * n, party, gateway, user_id, '{out}', refund, 'refund', ':' || party || ':refund', ''
              FROM refunds
            UNION ALL
            SELECT id, 7 + 2 * n, party, gateway, NULL, '{out}', stake_in - refund, 'sweep', ':' || party || ':sweep',
                   '{fees}'
              FROM refunds)
        -- The ledger's accounts of the internal movements: the challenge's escrow shard
        -- (ledger.models.Account.escrow_shard) and the player's wallet or the house pocket.
        SELECT m.*, {kind} AS kind,
               CASE WHEN m.gateway IS NULL THEN clearing.{Account.id} WHEN m.direction = '{in}' THEN other.id
                    ELSE shard.{Account.id} END AS debit_id,
               CASE WHEN m.gateway IS NULL THEN fees.{Account.id} WHEN m.direction = '{in}' THEN shard.{Account.id}
                    ELSE other.id END AS credit_id
          FROM moves m
          LEFT JOIN {Account} shard
                 ON m.gateway = '{internal}'
                AND shard.{Account.code} = CASE WHEN m.challenge_id % {shards} = 0 THEN '{shard0}'
                                                ELSE '{shard_n}' || m.challenge_id % {shards} END
          LEFT JOIN {Account} wallet
                 ON m.gateway = '{internal}' AND wallet.{Account.owner} = m.user_id
                AND wallet.{Account.kind} = '{player_account}'
          LEFT JOIN {Account} pocket
                 ON m.gateway = '{internal}' AND m.user_id IS NULL
                AND pocket.{Account.code} = 'house:' || m.platform_account
          CROSS JOIN LATERAL (SELECT coalesce(wallet.{Account.id}, pocket.{Account.id}) AS id) other
          LEFT JOIN {Account} clearing ON m.gateway IS NULL AND clearing.{Account.code} = 'house:{clearing}'
          LEFT JOIN {Account} fees ON m.gateway IS NULL AND fees.{Account.code} = 'house:{fees}') x;
    SELECT m.challenge_id INTO v_missing FROM unnest(v_moves) m
     WHERE m.amount IS NULL
        OR (m.amount > 0 AND m.gateway IS DISTINCT FROM '{external}' AND (m.debit_id IS NULL OR m.credit_id IS NULL))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'challenge %: a stake escrow holds has no confirmed transfer in, or an account is missing',
            v_missing;
    END IF;

    -- Before the money (from its first lock every batch holds the escrow shards' and the wallets' rows
    -- until commit, so another worker's batch waits on them): the audit rows and one notification per
    -- party, through the audit app's own writers; the parties and the stats lines kept for later.
    WITH d AS (
        SELECT c.{Challenge.id} AS id, c.{Challenge.creator} AS creator_id, c.{Challenge.acceptor} AS acceptor_id,
               c.{Challenge.stake} AS stake, c.{Challenge.status} AS status, c.{Challenge.result} AS result,
               c.{Challenge.winner} AS winner_id, c.{Challenge.payout} AS payout, c.{Challenge.fee} AS fee,
               c.{Challenge.status_reason} AS reason, b.before
          FROM unnest(v_ids, v_before) AS b(id, before) JOIN {Challenge} c ON c.{Challenge.id} = b.id),
    refunds AS (SELECT m.challenge_id, m.party, m.amount FROM unnest(v_moves) m WHERE m.purpose = 'refund'),
    parties AS (
        SELECT d.*, p.user_id, p.n, r.amount AS refund,
               CASE WHEN d.result IS NULL THEN 'Your challenge CH-' || d.id || ' is void: ' || d.reason || '.'
                                               || coalesce(' ' || r.amount || ' is on its way back to your wallet.', '')
                    WHEN p.user_id = d.winner_id
                    THEN 'You won challenge CH-' || d.id || ': ' || d.payout || ' is on its way to your wallet.'
                    ELSE 'You lost challenge CH-' || d.id || '.' END AS text,
               jsonb_build_object('challenge_id', d.id, 'status', d.status, 'result', d.result) AS data
          FROM d CROSS JOIN LATERAL (VALUES ('creator', d.creator_id, 0), ('acceptor', d.acceptor_id, 1))
                                    AS p(party, user_id, n)
          LEFT JOIN refunds r ON r.challenge_id = d.id AND r.party = p.party
         WHERE p.user_id IS NOT NULL)
    SELECT coalesce(jsonb_agg(jsonb_build_array(p.id, p.user_id, p.before, p.text, p.data) ORDER BY p.id, p.n),
                    '[]'::jsonb),
           array_agg(p.user_id ORDER BY p.id, p.n), array_agg(p.text ORDER BY p.id, p.n),
           array_agg(p.data ORDER BY p.id, p.n),
           -- A settled challenge counts for both parties (the winner returned the payout, the loser
           -- nothing); a void one for each party whose stake escrow held (returned: the refund).
           array_agg(p.user_id ORDER BY p.id, p.n) FILTER (WHERE p.result IS NOT NULL OR p.refund IS NOT NULL),
           array_agg(CASE WHEN p.result IS NULL THEN '{bet_void}' WHEN p.user_id = p.winner_id THEN '{bet_won}'
                          ELSE '{bet_lost}' END ORDER BY p.id, p.n)
               FILTER (WHERE p.result IS NOT NULL OR p.refund IS NOT NULL),
           array_agg(p.stake ORDER BY p.id, p.n) FILTER (WHERE p.result IS NOT NULL OR p.refund IS NOT NULL),
           array_agg(CASE WHEN p.result IS NULL THEN p.refund WHEN p.user_id = p.winner_id THEN p.payout
                          ELSE 0.00 END ORDER BY p.id, p.n)
               FILTER (WHERE p.result IS NOT NULL OR p.refund IS NOT NULL),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(m.challenge_id, m.user_id, m.direction, m.amount::text,
                                                        m.purpose, m.key, m.platform_account)
                                      ORDER BY m.challenge_id, m.seq), '[]'::jsonb)
              FROM unnest(v_moves) m WHERE m.gateway = '{external}' AND m.amount > 0)
      INTO v_parties, v_note_users, v_note_texts, v_note_data, v_line_users, v_line_results, v_line_staked,
           v_line_returned, v_external
      FROM parties p;
    SELECT array_agg(CASE WHEN c.{Challenge.result} IS NULL THEN 'challenge.void' ELSE 'challenge.settle' END
                     ORDER BY c.{Challenge.id}),
           array_agg(c.{Challenge.id}::text ORDER BY c.{Challenge.id}),
           array_agg('CH-' || c.{Challenge.id} ORDER BY c.{Challenge.id}),
           array_agg(CASE WHEN c.{Challenge.result} IS NULL
                          THEN jsonb_build_object(
                              'before', b.before, 'result', NULL, 'reason', c.{Challenge.status_reason},
                              'refunds', coalesce((SELECT jsonb_object_agg(m.party, m.amount::text)
                                                     FROM unnest(v_moves) m
                                                    WHERE m.challenge_id = c.{Challenge.id} AND m.purpose = 'refund'),
                                                  '{{}}'::jsonb))
                          ELSE jsonb_build_object(
                              'before', b.before, 'result', c.{Challenge.result}, 'winner_id', c.{Challenge.winner},
                              'payout', c.{Challenge.payout}::text, 'fee', c.{Challenge.fee}::text) END
                     ORDER BY c.{Challenge.id})
      INTO v_actions, v_resource_ids, v_labels, v_details
      FROM unnest(v_ids, v_before) AS b(id, before) JOIN {Challenge} c ON c.{Challenge.id} = b.id;
    PERFORM {audit_many}(p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, '{betting}', 'challenge',
                         v_actions, v_resource_ids, v_labels, v_details, p_now);
    PERFORM {notify}('challenge_settled', v_note_users, v_note_texts, v_note_data, p_now);

    -- The money: the balance-storing accounts locked in id order, then each internal movement's
    -- ledger transfer with each side's balance before and after, in order (ledger.services.
    -- transfers_create), its confirmed gateway transfer (tx_id: ledger.models.format_entry_number),
    -- and the accounts' new balances.
    PERFORM 1 FROM {lock}(ARRAY(SELECT s.id FROM unnest(v_moves) m, LATERAL (VALUES (m.debit_id), (m.credit_id)) s(id)
                                 WHERE m.amount > 0 AND m.ledger_key IS NOT NULL));
    WITH m AS (SELECT * FROM unnest(v_moves) m WHERE m.amount > 0 AND m.ledger_key IS NOT NULL),
    sides AS (SELECT m.challenge_id, m.seq, m.debit_id AS account_id, -m.amount AS delta FROM m
              UNION ALL
              SELECT m.challenge_id, m.seq, m.credit_id, m.amount FROM m),
    running AS (
        SELECT s.challenge_id, s.seq, s.account_id,
               a.{Account.balance} + sum(s.delta) OVER (PARTITION BY s.account_id ORDER BY s.challenge_id, s.seq)
                   AS after
          FROM sides s JOIN {Account} a ON a.{Account.id} = s.account_id AND NOT a.{Account.may_go_negative}),
    ledger AS (
        INSERT INTO {Transfer} ({Transfer.debit_account}, {Transfer.credit_account}, {Transfer.amount},
                                {Transfer.kind}, {Transfer.reference_type}, {Transfer.reference_id},
                                {Transfer.idempotency_key}, {Transfer.debit_balance_before},
                                {Transfer.debit_balance_after}, {Transfer.credit_balance_before},
                                {Transfer.credit_balance_after}, {Transfer.created_by}, {Transfer.created_at},
                                {Transfer.metadata})
        SELECT m.debit_id, m.credit_id, m.amount, m.kind, 'challenge', m.challenge_id::text, m.ledger_key,
               debit.after + m.amount, debit.after, credit.after - m.amount, credit.after,
               CASE WHEN m.gateway IS NOT NULL THEN p_actor_id END, p_now, '{{}}'::jsonb
          FROM m
          LEFT JOIN running debit
                 ON (debit.challenge_id, debit.seq, debit.account_id) = (m.challenge_id, m.seq, m.debit_id)
          LEFT JOIN running credit
                 ON (credit.challenge_id, credit.seq, credit.account_id) = (m.challenge_id, m.seq, m.credit_id)
         ORDER BY m.challenge_id, m.seq
        RETURNING {Transfer.entry_number} AS entry_number, {Transfer.idempotency_key} AS ledger_key),
    gateway AS (
        INSERT INTO {GatewayTransfer} ({GatewayTransfer.gateway}, {GatewayTransfer.direction}, {GatewayTransfer.user},
                                       {GatewayTransfer.platform_account}, {GatewayTransfer.amount},
                                       {GatewayTransfer.network_fee}, {GatewayTransfer.status}, {GatewayTransfer.tx_id},
                                       {GatewayTransfer.reference_type}, {GatewayTransfer.reference_id},
                                       {GatewayTransfer.purpose}, {GatewayTransfer.idempotency_key},
                                       {GatewayTransfer.failure_reason}, {GatewayTransfer.created_at},
                                       {GatewayTransfer.confirmed_at})
        SELECT m.gateway, m.direction, m.user_id, m.platform_account, m.amount, 0.00, '{confirmed}',
               'LDG-' || lpad(l.entry_number::text, greatest(9, length(l.entry_number::text)), '0'),
               'challenge', m.challenge_id::text, m.purpose, m.key, '', p_now, p_now
          FROM m JOIN ledger l ON l.ledger_key = m.ledger_key
         WHERE m.gateway = '{internal}'
         ORDER BY m.challenge_id, m.seq),
    balances AS (
        UPDATE {Account} a SET {Account.balance} = f.after
          FROM (SELECT DISTINCT ON (r.account_id) r.account_id, r.after FROM running r
                 ORDER BY r.account_id, r.challenge_id DESC, r.seq DESC) f
         WHERE a.{Account.id} = f.account_id
        RETURNING a.{Account.owner} AS owner_id, a.{Account.balance} AS balance)
    SELECT coalesce((SELECT jsonb_agg(jsonb_build_array(b.owner_id, b.balance::text) ORDER BY b.owner_id)
                       FROM balances b WHERE b.owner_id IS NOT NULL), '[]'::jsonb),
           (SELECT min(r.after) FROM running r)
      INTO v_wallets, v_lowest;
    IF v_lowest < 0 THEN
        RAISE EXCEPTION 'challenge settlement would take an account below zero (%)', v_lowest
            USING ERRCODE = 'check_violation';
    END IF;

    -- Last, the weekly stats (their rows are the players' too), in (user, product, week) order.
    IF v_line_users IS NOT NULL THEN
        {stats};
    END IF;
    RETURN jsonb_build_object('count', cardinality(v_ids), 'parties', v_parties, 'wallets', v_wallets,
                              'external', v_external);
END
$fn$;
"""

CHALLENGES_FUNCTION_DROP = f"""
DROP FUNCTION IF EXISTS {CHALLENGES_FUNCTION}(bigint[], int, bigint, text, numeric, numeric, timestamptz, bigint, text,
                                              text, inet, text);
DROP FUNCTION IF EXISTS {CHALLENGE_PAYOUT}(numeric, numeric);
DROP FUNCTION IF EXISTS {CHALLENGE_GRADE}(text, bigint, numeric, text, text, text, text, int);
DROP TYPE IF EXISTS {CHALLENGE_MOVE};
"""
