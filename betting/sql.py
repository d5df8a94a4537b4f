"""The betting app's hand-written SQL (DESIGN.md "Layout"): statements where the ORM would cost more,
with table and column names from the models' ``_meta`` and values from the model enums."""

from __future__ import annotations

import functools
from typing import Any

from django.db import models

from audit.sql import AUDIT_WRITE
from core.db import sql_names
from ledger.sql import TRANSFER_WRITE
from risk.sql import LIMITS, PLAYER_GATE

# The week a settlement counts in: its Monday, in UTC (PostgreSQL's weeks are ISO weeks).
_WEEK = "date_trunc('week', {} AT TIME ZONE 'UTC')::date"


def _column(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).column


def _stats_upsert(stats: type[models.Model], select: str) -> str:
    """INSERT the (user, product, week) sums that ``select`` yields, adding them to any row already
    there. ``select`` groups by the key (one statement may not touch a row twice) and orders by it,
    so two batches take the rows' locks in the same order."""
    c = {name: _column(stats, name) for name in
         ("user", "product", "week", "bets", "won", "lost", "void", "staked", "returned")}
    key = ", ".join(c[name] for name in ("user", "product", "week"))
    added = ", ".join(f"{c[name]} = s.{c[name]} + EXCLUDED.{c[name]}"
                      for name in ("bets", "won", "lost", "void", "staked", "returned"))
    return (f"INSERT INTO {stats._meta.db_table} AS s ({', '.join(c.values())}) {select} "
            f"ON CONFLICT ({key}) DO UPDATE SET {added}")


def _counted(result: str) -> str:
    return f"count(*) FILTER (WHERE {result} = %(won)s), count(*) FILTER (WHERE {result} = %(lost)s), " \
           f"count(*) FILTER (WHERE {result} = %(void)s)"


def stats_record(stats: type[models.Model]) -> str:
    """Add settled lines, passed as arrays (users, products, results, staked, returned, settled_at),
    to the weekly stats."""
    week = _WEEK.format("v.settled_at")
    return _stats_upsert(stats, f"""
        SELECT v.user_id, v.product, {week}, count(*), {_counted("v.result")}, sum(v.staked), sum(v.returned)
        FROM unnest(%(users)s::bigint[], %(products)s::text[], %(results)s::text[], %(staked)s::numeric[],
                    %(returned)s::numeric[], %(settled_at)s::timestamptz[])
             AS v(user_id, product, result, staked, returned, settled_at)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")


def stats_backfill(bet: type[models.Model], stats: type[models.Model]) -> str:
    """The weekly stats of every settled bet, added to the stats table (the models may be a
    migration's historical ones). Takes %(sports)s, %(settled)s and the result values."""
    b = {name: _column(bet, name) for name in ("player", "status", "result", "stake", "payout", "settled_at")}
    week = _WEEK.format(f"b.{b['settled_at']}")
    return _stats_upsert(stats, f"""
        SELECT b.{b['player']}, %(sports)s, {week}, count(*), {_counted(f"b.{b['result']}")},
               sum(b.{b['stake']}), sum(coalesce(b.{b['payout']}, 0))
        FROM {bet._meta.db_table} b WHERE b.{b['status']} = %(settled)s
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")


# --- challenge settlement in the database ---------------------------------------------------------

CHALLENGES_FUNCTION = "betting_challenges_settle"
CHALLENGE_GRADE = f"{CHALLENGES_FUNCTION}_grade"  # how the event decides one challenge
CHALLENGE_PAYOUT = f"{CHALLENGES_FUNCTION}_payout"  # (stake, fee rate): the winner's payout
CHALLENGE_MOVE = f"{CHALLENGES_FUNCTION}_move"  # the composite type of one movement of a batch


def _challenge_values() -> dict[str, Any]:
    """The names and enum values the challenge settlement's SQL is written with."""
    from audit.models import AuditLog, Notification
    from betting.models import Bet, BettorStats, Challenge
    from events.models import Event, Market, Outcome, Player
    from ledger.models import Account, Transfer
    from wallet.gateways import KIND
    from wallet.models import Gateway, GatewayTransfer

    S = Challenge.Status
    names = sql_names(Challenge, Event, Market, Outcome, Player, Account, Transfer, GatewayTransfer, AuditLog,
                      Notification)
    c = names["Challenge"]
    player_stat = " ".join(f"WHEN '{stat}' THEN p.{_column(Player, stat)}" for stat in Challenge.Stat.values)
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
        "betting": AuditLog.Category.BETTING, "info": AuditLog.Severity.INFO, "success": AuditLog.Outcome.SUCCESS,
        "audience": Notification.Audience.PLAYER,
        "stats": _stats_upsert(BettorStats, f"""
            SELECT l.user_id, '{BettorStats.Product.P2P}', {_WEEK.format("p_now")}, count(*), {
                _counted("l.result") % {r: f"'{r}'" for r in ("won", "lost", "void")}},
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
                                            %s::timestamptz, %s::bigint, %s::text, %s::text, %s::inet, %s::text,
                                            %s::timestamptz)"""


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
    p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet, p_user_agent text,
    p_expires_at timestamptz) RETURNS jsonb
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
    -- until commit, so another worker's batch waits on them): the audit rows, as audit.services.audit_entry
    -- builds them, and one notification per party; the parties and the stats lines kept for later.
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
         WHERE p.user_id IS NOT NULL),
    audits AS (
        INSERT INTO {AuditLog} ({AuditLog.actor}, {AuditLog.actor_label}, {AuditLog.actor_role}, {AuditLog.ip_address},
                                {AuditLog.user_agent}, {AuditLog.action}, {AuditLog.resource_type},
                                {AuditLog.resource_id}, {AuditLog.resource_label}, {AuditLog.details},
                                {AuditLog.severity}, {AuditLog.category}, {AuditLog.outcome}, {AuditLog.created_at},
                                {AuditLog.expires_at})
        SELECT p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent,
               CASE WHEN d.result IS NULL THEN 'challenge.void' ELSE 'challenge.settle' END, 'challenge', d.id::text,
               'CH-' || d.id,
               CASE WHEN d.result IS NULL
                    THEN jsonb_build_object('before', d.before, 'result', NULL, 'reason', d.reason, 'refunds',
                                            coalesce((SELECT jsonb_object_agg(r.party, r.amount::text) FROM refunds r
                                                       WHERE r.challenge_id = d.id), '{{}}'::jsonb))
                    ELSE jsonb_build_object('before', d.before, 'result', d.result, 'winner_id', d.winner_id,
                                            'payout', d.payout::text, 'fee', d.fee::text) END,
               '{info}', '{betting}', '{success}', p_now, p_expires_at
          FROM d ORDER BY d.id),
    notes AS (
        INSERT INTO {Notification} ({Notification.user}, {Notification.audience}, {Notification.kind},
                                    {Notification.message}, {Notification.data}, {Notification.created_at})
        SELECT p.user_id, '{audience}', 'challenge_settled', p.text, p.data, p_now FROM parties p ORDER BY p.id, p.n)
    SELECT coalesce(jsonb_agg(jsonb_build_array(p.id, p.user_id, p.before, p.text, p.data) ORDER BY p.id, p.n),
                    '[]'::jsonb),
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
      INTO v_parties, v_line_users, v_line_results, v_line_staked, v_line_returned, v_external
      FROM parties p;

    -- The money: the balance-storing accounts locked in id order, then each internal movement's
    -- ledger transfer with each side's balance before and after, in order (ledger.services.
    -- transfers_create), its confirmed gateway transfer (tx_id: ledger.models.format_entry_number),
    -- and the accounts' new balances.
    PERFORM 1 FROM {Account} a
      WHERE a.{Account.id} IN (SELECT s.id FROM unnest(v_moves) m, LATERAL (VALUES (m.debit_id), (m.credit_id)) s(id)
                                WHERE m.amount > 0 AND m.ledger_key IS NOT NULL)
        AND NOT a.{Account.may_go_negative}
      ORDER BY a.{Account.id} FOR UPDATE;
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
                                              text, inet, text, timestamptz);
DROP FUNCTION IF EXISTS {CHALLENGE_PAYOUT}(numeric, numeric);
DROP FUNCTION IF EXISTS {CHALLENGE_GRADE}(text, bigint, numeric, text, text, text, text, int);
DROP TYPE IF EXISTS {CHALLENGE_MOVE};
"""


# --- placement in one statement -------------------------------------------------------------------

SLIP_FUNCTION = "betting_slip_place"
ODDS_TAKEN = f"{SLIP_FUNCTION}_takes"  # (policy, seen price, current price): the odds-change policy


def slip_function() -> str:
    """``CREATE OR REPLACE FUNCTION betting_slip_place``: the whole placement of a slip, or its dry run.

    One call reads the slip's outcomes, markets, events and sports (placing: share-locked events,
    then markets, then outcomes, each by id, the order the operator services lock them), the
    player's restriction, the geofence, the limit profiles of every scope and the exposure caps;
    applies every rule; placing, locks the wallet last, checks velocity, today's loss and the
    balance under it, answers a replayed Idempotency-Key, reserves exposure (counters in outcome id
    order, each a conditional upsert) and writes the bet, its legs, the stake transfer, the wallet's
    balance and the audit row. It answers one jsonb: ``missing`` (unknown outcome ids), or
    ``replay``/``conflict`` (an earlier bet under the key), or ``violations`` (each ``[code,
    details]``; the caller rolls back) with the figures of the slip, or the placed ``bet``.
    Refusals are answers, not exceptions: no subtransaction per bet. The sentences a player reads
    are written in Python (betting/slips.py), from the codes and details.
    """
    from audit.models import AuditLog
    from betting.models import Bet, BetLeg
    from events.models import Event, Market, Outcome, Sport
    from ledger.models import Account, Transfer
    from risk.models import ExposureCap, OutcomeExposure, PlayerRestriction

    values = {
        "fn": SLIP_FUNCTION, "gate": PLAYER_GATE, "limits": LIMITS, "audit": AUDIT_WRITE, "transfer": TRANSFER_WRITE,
        "active": Outcome.Status.ACTIVE, "open": Market.Status.OPEN, "scheduled": Event.Status.SCHEDULED,
        "live": Event.Status.LIVE, "any": Bet.OddsChange.ANY, "higher": Bet.OddsChange.HIGHER,
        "placed": Bet.Status.PLACED, "accepted": Bet.Status.ACCEPTED, "rejected": Bet.Status.REJECTED,
        "stakes_held": f"house:{Account.House.STAKES_HELD}", "bet_stake": Transfer.Kind.BET_STAKE,
        "betting": AuditLog.Category.BETTING,
        **sql_names(Bet, BetLeg, Event, Market, Outcome, Sport, Account, ExposureCap, OutcomeExposure,
                    PlayerRestriction),
    }
    return _SLIP_FUNCTION.format_map(values)


# Doubled braces are PL/pgSQL's; single ones are names filled in by slip_function().
_SLIP_FUNCTION = """
CREATE OR REPLACE FUNCTION {fn}(
    p_place boolean, p_player bigint, p_role text, p_country text, p_outcomes bigint[], p_prices numeric[],
    p_stake numeric, p_bet_type text, p_odds_change text, p_idempotency_key text, p_fingerprint text,
    p_now timestamptz, p_default_cap numeric, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    n int := cardinality(p_outcomes);
    found int := 0;
    leg record;
    lim record;
    loss_limit numeric;
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
    midnight timestamptz := date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    window_start timestamptz;
    recent_bets bigint;
    recent_stake numeric;
    staked numeric;
    paid numeric;
    v_balance numeric := 0.00;
    v_bet bigint;
    v_status text;
    reserved jsonb := '[]';
    after numeric;
    i int;
BEGIN
    IF p_place THEN
        PERFORM 1 FROM {Event} e WHERE e.{Event.id} IN (
            SELECT m.{Market.event} FROM {Market} m JOIN {Outcome} o ON o.{Outcome.market} = m.{Market.id}
             WHERE o.{Outcome.id} = ANY(p_outcomes)) ORDER BY e.{Event.id} FOR SHARE;
        PERFORM 1 FROM {Market} m WHERE m.{Market.id} IN (
            SELECT o.{Outcome.market} FROM {Outcome} o WHERE o.{Outcome.id} = ANY(p_outcomes))
            ORDER BY m.{Market.id} FOR SHARE;
        PERFORM 1 FROM {Outcome} o WHERE o.{Outcome.id} = ANY(p_outcomes) ORDER BY o.{Outcome.id} FOR SHARE;
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
    SELECT count(*) FILTER (WHERE b.{Bet.placed_at} >= window_start),
           coalesce(sum(b.{Bet.stake}) FILTER (WHERE b.{Bet.placed_at} >= window_start), 0.00),
           coalesce(sum(b.{Bet.stake}) FILTER (WHERE b.{Bet.placed_at} >= midnight
                                                 AND b.{Bet.status} <> '{rejected}'), 0.00),
           coalesce(sum(b.{Bet.payout}) FILTER (WHERE b.{Bet.settled_at} >= midnight), 0.00)
      INTO recent_bets, recent_stake, staked, paid
      FROM {Bet} b
     WHERE b.{Bet.player} = p_player
       AND (b.{Bet.placed_at} >= least(midnight, window_start)
            OR b.{Bet.settled_at} >= midnight);
    IF recent_bets + 1 > lim.velocity_max_bets THEN
        v := v || jsonb_build_array(jsonb_build_array('velocity_limit', jsonb_build_object(
            'max_bets', lim.velocity_max_bets, 'window_seconds', lim.velocity_window_seconds)));
    ELSIF recent_stake + p_stake > lim.velocity_max_stake THEN
        v := v || jsonb_build_array(jsonb_build_array('velocity_limit', jsonb_build_object(
            'max_stake', lim.velocity_max_stake::text, 'window_seconds', lim.velocity_window_seconds,
            'staked_in_window', recent_stake::text)));
    END IF;
    SELECT r.{PlayerRestriction.daily_loss_limit} INTO loss_limit
      FROM {PlayerRestriction} r WHERE r.{PlayerRestriction.player} = p_player;
    IF staked - paid + p_stake > loss_limit THEN
        v := v || jsonb_build_array(jsonb_build_array('loss_limit', jsonb_build_object(
            'daily_loss_limit', loss_limit::text, 'lost_today', (staked - paid)::text,
            'max_allowed_stake', greatest(loss_limit - (staked - paid), 0.00)::text)));
    END IF;
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

SLIP_FUNCTION_DROP = f"""
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}(boolean, bigint, text, text, bigint[], numeric[], numeric, text, text, text,
                                        text, timestamptz, numeric, bigint, text, text, inet, text);
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_largest_stake(numeric, numeric);
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_odds_text(numeric);
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}_takes(text, numeric, numeric);
"""


# --- a challenge offered and taken, each in one statement ------------------------------------------

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
    p_now timestamptz, p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet, p_user_agent text)
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
    p_user_agent text)
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

CHALLENGE_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {CHALLENGE_TAKE}(bigint, bigint, text, text, text, text, text, timestamptz, bigint, text,
                                         text, inet, text);
DROP FUNCTION IF EXISTS {CHALLENGE_OFFER}(bigint, text, text, bigint, bigint, bigint, text, numeric, text, numeric,
                                          text, text, text, timestamptz, bigint, text, text, inet, text);
DROP FUNCTION IF EXISTS {CHALLENGE}_hold(bigint, bigint, bigint, numeric, bigint, numeric, numeric, text, text, text,
                                         text, text, timestamptz, bigint, text, text, inet, text);
DROP FUNCTION IF EXISTS {CHALLENGE}_stake_refused(numeric, numeric, numeric, boolean, numeric);
DROP FUNCTION IF EXISTS {CHALLENGE}_accounts(bigint, bigint, boolean);
DROP FUNCTION IF EXISTS {CHALLENGE}_answer(bigint);
"""
