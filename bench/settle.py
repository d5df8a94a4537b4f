"""Benchmark of settlement (not a test): bets settled per second with 1 and 2 workers, each against the
same book settled by hand-written set-based SQL with as many processes (the baseline, in the same run),
on one book of accepted bets (80 % singles, 20 % doubles). Target: the worker >= 40 % of the SQL.

    .venv/bin/python bench/settle.py                  # 100,000 bets
    .venv/bin/python bench/settle.py --quick          # 20,000 bets
    .venv/bin/python bench/settle.py --profile /tmp/oddslab-settle-profile   # + two profiled runs
    .venv/bin/python bench/settle.py --celery         # + 2 real `celery -A oddslab worker` processes

The book is built once in its own database ``oddslab_bench_settle`` (dropped, re-created and
migrated each run) on the server DATABASE_URL points at, or on the embedded one under var/ when it
is unset: 1,000 funded players and two football events, event A (match result 2.10 / 3.30 / 3.60)
and event B (1.80 / 3.40 / 4.20). Bet i is a double (A, B) when i % 5 == 4 — covering all nine
outcome pairs — else a single on A's home / draw / away in turn; stakes 5, 10 or 20. The bets are
written as placement leaves them (accepted, stake moved wallet → house stakes held, exposure
counted), in bulk, like ``accepted_bets`` in tests/betting/test_settlement_workers.py.

Every measurement runs in a fresh copy of that database (``CREATE DATABASE ... TEMPLATE``), so each
settles the same book from scratch. Untimed: A is resulted 2-1 and B 1-1 with ``event_result_set``
(the settle tasks it sends go to a queue of the benchmark's own and are purged), and the worker
processes start, run ``django.setup()`` and connect. Timed, from one start signal until the last
worker returned, each at most ``--max-seconds`` (a capped run reports the rate over what it settled):

- SQL baseline, 1 and 2 processes (``job_sql``, just before the worker with as many): per batch of
  ``SETTLEMENT_BATCH_SIZE``, five statements in one transaction — the worker's claim, grading in the
  database from the outcomes' results with the bets and legs written; the paid wallets locked; the
  transfers stake → revenue and revenue → wallet with the running before/after balances, and the
  stored balances; the exposure counters locked; their release, audit rows, notifications and the
  weekly stats — then ``markets_settle`` as the worker ends. The same rows the worker writes, no live
  messages. It replaces the naive per-bet ORM loop of earlier runs as the baseline: that one measured
  the ORM, not what the work itself costs;
- set-based, 1 and 2 workers: each process runs ``betting.settlement.markets_settle`` on the same
  market ids — its loop of ``settlement_batch`` (batches of ``SETTLEMENT_BATCH_SIZE`` claimed with
  FOR UPDATE SKIP LOCKED), with the time cap checked between batches, then ``markets_settle`` itself,
  which marks the markets settled — what ``settle_markets_task`` does in a Celery worker;
- diagnostic (skip with ``--no-diagnostic``): the workers with ``core.live._publish`` replaced by a
  no-op in their processes, to show what everything but the after-commit socket messages costs
  (the like-for-like comparison with the SQL, which sends none);
- ``--celery``: two ``celery -A oddslab worker`` processes on the benchmark's queue; the clock
  starts before ``event_result_set`` and stops when every settle task has finished (fan-out and
  task round trips included).

Meanwhile it samples pg_stat_activity (where the backends wait) and CPU. After each run it checks:
every bet settled (unless capped) with the result and payout computed here independently, a result
on each of their legs, exactly one ``bet_stake_revenue`` transfer and at most one ``bet_payout``
(equal to the payout) per settled bet, one audit row and one notification each, the weekly stats
equal to the settled bets, exposure counters equal to the legs still open, markets settled when
nothing is left, and ``ledger_verify()``. Before each timed part it waits while
``bench/place_bets.py`` runs (2 cores: benchmarks distort each other), then up to a minute for the
machine to go quiet, and prints the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import multiprocessing as mp
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import common

sys.path.insert(0, str(common.ROOT))

BASE_DATABASE = "oddslab_bench_settle"  # common.recreate_database accepts only oddslab_bench*
QUEUE = "bench-settle"  # the Celery queue event_result_set's settle tasks go to (never the dev one)
PLAYERS = 1000
FUNDS = Decimal("5000.00")  # 100 bets of at most 20.00 each per player
STAKES = (Decimal("5.00"), Decimal("10.00"), Decimal("20.00"))
PRICES_A = {"home": "2.10", "draw": "3.30", "away": "3.60"}
PRICES_B = {"home": "1.80", "draw": "3.40", "away": "4.20"}
SCORES = {"A": (2, 1), "B": (1, 1)}  # A: home wins; B: draw
KEYS = ("home", "draw", "away")
BUILD_CHUNK = 10_000
QUIET_WAIT_LIMIT = 15 * 60  # seconds to wait at most for another benchmark to finish
OTHER_BENCHMARK = "bench/place_bets.py"
# A Python process running it; not a `flock /tmp/bench.lock sh -c "... place_bets.py"` queued behind this
# run, which would otherwise make it wait out QUIET_WAIT_LIMIT for a benchmark waiting for it.
OTHER_BENCHMARK_RUNNING = r"^[^ ]*python[^ ]* ([^ ]*/)?bench/place_bets\.py"
QUIET_CPU_WAIT = 60  # then seconds to wait at most for the machine to go nearly idle
QUIET_CPU_PERCENT = 30  # of one core


# --- child processes: Django set up once, one job, the result through a queue -----------------


def child_main(env: dict[str, str], job: str, kwargs: dict, out: Any, go: Any, release: Any) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    try:
        import django

        django.setup()
        result = job_named(job)(out=out, go=go, **kwargs)
        out.put(("ok", os.getpid(), result))
    except BaseException:  # reported to the parent, which stops the run
        out.put(("error", os.getpid(), traceback.format_exc()))
        return
    if release is not None:  # stay connected until the parent has read the CPU counters
        release.wait(600)


def job_named(name: str) -> Any:
    """A job of this file by name, or another benchmark's as ``module:function`` (bench/challenges.py
    runs its challenge jobs in these children too)."""
    if ":" not in name:
        return JOBS[name]
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


class Children:
    """k processes running one job each; they may wait for a common start signal."""

    def __init__(self, env: dict[str, str], job: str, kwargs_list: list[dict], *, gated: bool = False):
        ctx = mp.get_context("spawn")
        self.out, self.go, self.release = ctx.Queue(), ctx.Event(), ctx.Event()
        self.procs = [ctx.Process(target=child_main, args=(env, job, kwargs, self.out,
                                                           self.go if gated else None, self.release))
                      for kwargs in kwargs_list]
        for proc in self.procs:
            proc.start()

    def _get(self, timeout: float) -> tuple[str, int, Any]:
        kind, pid, value = self.out.get(timeout=timeout)
        if kind == "error":
            self.stop()
            raise SystemExit(f"child {pid} failed:\n{value}")
        return kind, pid, value

    def wait_ready(self, timeout: float = 300) -> list[int]:
        return [self._get(timeout)[1] for _ in self.procs]

    def results(self, timeout: float = 3600) -> list[Any]:
        return [self._get(timeout)[2] for _ in self.procs]

    def stop(self) -> None:
        self.release.set()
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def call(env: dict[str, str], job: str, **kwargs: Any) -> Any:
    """Run one job in a fresh Django process and return its result."""
    children = Children(env, job, [kwargs])
    try:
        return children.results()[0]
    finally:
        children.stop()


def _ready(out: Any, go: Any) -> float:
    """Tell the parent this child is set up and connected, wait for the start signal."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if go is None:
        return time.monotonic()
    out.put(("ready", os.getpid(), None))
    go.wait()
    return time.monotonic()


# --- jobs ---------------------------------------------------------------------------------------


def slip_keys(i: int) -> tuple[tuple[str, str], ...]:
    """Bet i's selections as (event, outcome key): every fifth bet a double over both events."""
    if i % 5 == 4:
        return (("A", KEYS[(i // 5) % 3]), ("B", KEYS[(i // 15) % 3]))
    return (("A", KEYS[i % 3]),)


def job_build(*, bets: int, out: Any, go: Any) -> dict:
    """Players, two events and ``bets`` accepted bets, written in bulk."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.services import user_with_role
    from audit.context import Actor
    from betting.models import Bet, BetLeg
    from core.db import insert_rows
    from events.models import Outcome
    from events.services import MarketSpec, event_create
    from ledger.models import Account, Transfer
    from ledger.money import exact_product, payout
    from ledger.services import TransferSpec, house_account, transfers_create
    from risk.models import OutcomeExposure
    from wallet.services import wallet_deposit

    # Nobody signs in as these players: a fast hasher keeps 1,000 accounts from taking minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    actor = Actor.system("bench")
    t0 = time.monotonic()
    players = []
    for n in range(PLAYERS):
        user, _ = user_with_role(username=f"settle{n:04d}", password="bench-settle-password", role="player")
        wallet_deposit(user=user, amount=FUNDS, actor=actor)
        players.append(user.pk)
    wallets = {a.owner_id: a for a in Account.objects.filter(owner_id__in=players)}
    t_players = time.monotonic() - t0

    start = timezone.now() + timedelta(days=1)
    events = {
        name: event_create(home_team=f"Settle {name} Home", away_team=f"Settle {name} Away", sport="football",
                           competition="Bench League", start_time=start,
                           markets=[MarketSpec(kind="match_result", prices=prices)], actor=actor)
        for name, prices in (("A", PRICES_A), ("B", PRICES_B))}
    outcomes = {(name, o.key): o for name, event in events.items()
                for o in Outcome.objects.filter(market__event=event).select_related("market")}

    held = house_account(Account.House.STAKES_HELD)
    exposure: dict[int, list] = {}
    now = timezone.now()
    for lo in range(0, bets, BUILD_CHUNK):
        with transaction.atomic():
            rows, slips = [], []
            for i in range(lo, min(bets, lo + BUILD_CHUNK)):
                slip = [outcomes[key] for key in slip_keys(i)]
                stake = STAKES[(i // 7) % 3]
                odds = exact_product(o.price for o in slip)
                rows.append(Bet(player_id=players[i % PLAYERS], bet_type="single" if len(slip) == 1 else "multiple",
                                status="accepted", stake=stake, total_odds=odds,
                                potential_return=payout(stake, odds), odds_change="none", accepted_at=now))
                slips.append(slip)
            insert_rows(rows)  # a column array each: bulk_create would pass a parameter per value
            insert_rows([
                BetLeg(bet_id=bet.pk, position=p, outcome_id=o.pk, market_id=o.market_id,
                       event_id=o.market.event_id, price=o.price)
                for bet, slip in zip(rows, slips, strict=True) for p, o in enumerate(slip)])
            transfers_create([
                TransferSpec(debit=wallets[bet.player_id], credit=held, amount=bet.stake, kind=Transfer.Kind.BET_STAKE,
                             reference_type="bet", reference_id=bet.pk, idempotency_key=f"bet:{bet.pk}:stake")
                for bet in rows])
            for bet, slip in zip(rows, slips, strict=True):
                for o in slip:
                    total = exposure.setdefault(o.pk, [Decimal(0), Decimal(0), 0])
                    total[0] += bet.stake
                    total[1] += bet.potential_return
                    total[2] += 1
    OutcomeExposure.objects.bulk_create([OutcomeExposure(outcome_id=k, stakes=v[0], worst_case_payout=v[1], bets=v[2])
                                         for k, v in exposure.items()])
    with connection.cursor() as cursor:  # autocommit: the statistics a long-lived database would have
        cursor.execute("VACUUM ANALYZE")
    return {
        "events": {name: event.pk for name, event in events.items()},
        "markets": sorted({o.market_id for o in outcomes.values()}),
        "bets": Bet.objects.count(),
        "singles": Bet.objects.filter(bet_type="single").count(),
        "doubles": Bet.objects.filter(bet_type="multiple").count(),
        "seconds_players": t_players,
        "seconds_total": time.monotonic() - t0,
    }


def job_result(*, events: dict[str, int], purge: bool, out: Any, go: Any) -> dict:
    """Result both events (untimed unless gated); drop the settle tasks it sent unless Celery runs."""
    from audit.context import Actor
    from events.services import event_result_set
    from oddslab.celery import app

    t0 = _ready(out, go)
    for name, event_id in sorted(events.items()):
        home, away = SCORES[name]
        event_result_set(event_id=event_id, home_score=home, away_score=away, actor=Actor.system("bench"))
    if purge:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
    return {"started": t0, "seconds": time.monotonic() - t0}


def _batches_timed(batch: Callable[[], int], *, market_ids: list[int], t0: float, max_seconds: float) -> dict:
    """A measurement's loop: ``batch()`` (the number it settled) until it settles nothing or
    ``max_seconds`` from ``t0`` have passed, then ``markets_settle`` (which finds nothing more and marks
    the markets settled), as a worker does; the counts, times and CPU the report prints."""
    from betting.settlement import markets_settle

    cpu0 = time.process_time()
    settled, batches, capped = 0, [], True
    while time.monotonic() - t0 < max_seconds:
        b0 = time.monotonic()
        n = batch()
        if not n:
            capped = False
            break
        settled += n
        batches.append(time.monotonic() - b0)
    if not capped:
        settled += markets_settle(market_ids=market_ids)
    return {"settled": settled, "started": t0, "finished": time.monotonic(), "capped": capped,
            "batches": batches, "cpu": time.process_time() - cpu0}


def _stub_live() -> None:
    """Diagnostic only: drop the after-commit socket messages (``core.live._publish``) in this process."""
    from core import live

    live._publish = lambda messages: None


def job_settle(*, market_ids: list[int], max_seconds: float, stub_live: bool = False, profile: str = "",
               max_batches: int = 0, out: Any, go: Any) -> dict:
    """What a settlement worker does: ``markets_settle``'s loop of ``settlement_batch`` until nothing
    is left, then ``markets_settle`` itself (which finds nothing more and marks the markets settled).
    The loop also stops at ``max_seconds``, so a slow path cannot stretch the run past its budget.
    Profiled: ``max_batches`` batches under pyinstrument, with the time of every SQL statement."""
    from django.db import connection

    from betting.settlement import settlement_batch

    if stub_live:
        _stub_live()
    if not profile:
        return _batches_timed(lambda: settlement_batch(market_ids=market_ids), market_ids=market_ids,
                              t0=_ready(out, go), max_seconds=max_seconds)

    from pyinstrument import Profiler

    sql: dict[str, list] = {}

    def timed(execute, statement, params, many, context):
        label = " ".join(statement.split()[:6])[:70]
        s0 = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            entry = sql.setdefault(label, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - s0

    _ready(out, go)
    profiler = Profiler(interval=0.001)
    settled = 0
    t0 = time.monotonic()
    with connection.execute_wrapper(timed):
        profiler.start()
        for _ in range(max_batches):
            settled += settlement_batch(market_ids=market_ids)
        profiler.stop()
    seconds = time.monotonic() - t0
    name = "settle-1-worker" + ("-live-stubbed" if stub_live else "")
    Path(profile).mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (Path(profile) / f"{name}.txt").write_text(text)
    (Path(profile) / f"{name}.html").write_text(profiler.output_html())
    return {"settled": settled, "seconds": seconds, "file": str(Path(profile) / f"{name}.txt"), "text": text,
            "sql": sorted(([k, n, s] for k, (n, s) in sql.items()), key=lambda r: -r[2])}


# --- the baseline: the same settlement in hand-written set-based SQL, graded in the database ----------


def sql_settlement() -> tuple[list[str], str]:
    """The hand-written settlement of one batch: the statements, run in this order in one transaction,
    and the session setup they need. Built in the child (table and column names from the models' _meta,
    values from the enums, passed as parameters).

    The batch's graded bets go to a temporary table, so nothing travels back to Python: the claim
    (``betting.settlement``'s own, so both claim alike), grading from the outcomes' results, the bets
    and legs written — one statement; the paid players' wallets locked in id order; the transfers with
    the wallets' running balances, the balances — one statement; the exposure counters locked in
    outcome order; their release, audit rows, notifications and the weekly stats — one statement.
    The same rows the worker writes, in the same lock order (bets, wallets, exposure, stats); no live
    messages (they are no rows: compare with the worker's runs with the live messages stubbed too)."""
    from audit.models import AuditLog, Notification
    from betting.models import Bet, BetLeg, BettorStats
    from betting.settlement import _CLAIM
    from betting.sql import stats as stats_sql
    from events.models import Market, Outcome
    from ledger.models import Account, Transfer
    from risk.models import OutcomeExposure

    def table(model: Any) -> str:
        return model._meta.db_table

    def col(model: Any, *names: str) -> str:
        return ", ".join(model._meta.get_field(name).column for name in names)

    bet, leg, account, transfer = table(Bet), table(BetLeg), table(Account), table(Transfer)
    b = {n: col(Bet, n) for n in ("player", "status", "result", "stake", "potential_return", "payout", "settled_at")}
    lg = {n: col(BetLeg, n) for n in ("bet", "outcome", "market", "price", "result")}
    owner, balance = col(Account, "owner"), col(Account, "balance")
    exposure = {n: col(OutcomeExposure, n) for n in ("outcome", "stakes", "worst_case_payout", "bets")}
    ticket = "'BET-' || lpad(g.bet_id::text, greatest(9, length(g.bet_id::text)), '0')"  # format_ticket_number
    payout_text = "g.payout::text"  # NUMERIC(18,2) prints as str() of the worker's Decimal does
    setup = """
        CREATE TEMPORARY TABLE bench_graded (bet_id bigint PRIMARY KEY, player_id bigint, stake numeric,
                                             potential_return numeric, result text, payout numeric)
            ON COMMIT DELETE ROWS;
        -- numeric × numeric is exact: the product of the won legs' prices, like ledger.money.exact_product
        CREATE AGGREGATE pg_temp.product(numeric) (sfunc = numeric_mul, stype = numeric, initcond = '1')"""
    grade = f"""
        WITH claimed AS ({_CLAIM}),
        legs AS (
            SELECT l.id, l.{lg['bet']} AS bet_id, l.{lg['price']} AS price,
                   CASE WHEN m.{col(Market, 'status')} = %(cancelled)s THEN %(void)s
                        WHEN m.{col(Market, 'status')} = ANY(%(decided)s) THEN o.{col(Outcome, 'status')} END AS result
            FROM {leg} l JOIN claimed c ON c.id = l.{lg['bet']}
                 JOIN {table(Outcome)} o ON o.id = l.{lg['outcome']} JOIN {table(Market)} m ON m.id = l.{lg['market']}),
        graded AS (
            SELECT x.*, CASE x.result WHEN %(lost)s THEN 0.00 WHEN %(void)s THEN x.stake
                                      ELSE trunc(x.stake * x.odds, 2) END AS payout
            FROM (SELECT bb.id, bb.{b['player']} AS player_id, bb.{b['stake']} AS stake,
                         bb.{b['potential_return']} AS potential_return,
                         CASE WHEN bool_or(g.result = %(lost)s) THEN %(lost)s
                              WHEN bool_or(g.result = %(won)s) THEN %(won)s ELSE %(void)s END AS result,
                         pg_temp.product(g.price) FILTER (WHERE g.result = %(won)s) AS odds
                  FROM {bet} bb JOIN legs g ON g.bet_id = bb.id GROUP BY bb.id) x),
        bets AS (
            UPDATE {bet} bb SET {b['status']} = %(settled)s, {b['result']} = g.result, {b['payout']} = g.payout,
                                {b['settled_at']} = %(now)s
            FROM graded g WHERE bb.id = g.id),
        leg_results AS (
            UPDATE {leg} l SET {lg['result']} = g.result FROM legs g WHERE l.id = g.id AND g.result IS NOT NULL)
        INSERT INTO bench_graded SELECT id, player_id, stake, potential_return, result, payout FROM graded"""
    lock_wallets = f"""
        SELECT 1 FROM {account} WHERE {owner} IN (SELECT player_id FROM bench_graded WHERE payout > 0)
        ORDER BY id FOR UPDATE"""
    t = col(Transfer, "debit_account", "credit_account", "amount", "kind", "reference_type", "reference_id",
            "idempotency_key", "debit_balance_before", "debit_balance_after", "credit_balance_before",
            "credit_balance_after", "created_by", "created_at", "metadata")
    money = f"""
        WITH paid AS (
            SELECT g.bet_id, g.payout, a.id AS wallet,
                   a.{balance} + sum(g.payout) OVER (PARTITION BY a.id ORDER BY g.bet_id) - g.payout AS before
            FROM bench_graded g JOIN {account} a ON a.{owner} = g.player_id WHERE g.payout > 0),
        balances AS (
            UPDATE {account} a SET {balance} = a.{balance} + p.total
            FROM (SELECT wallet, sum(payout) AS total FROM paid GROUP BY wallet) p WHERE a.id = p.wallet)
        INSERT INTO {transfer} ({t})
        SELECT debit, credit, amount, kind, 'bet', bet_id::text, 'bet:' || bet_id || key, NULL, NULL, before,
               before + amount, NULL, %(now)s::timestamptz, '{{}}'::jsonb
        FROM (SELECT bet_id, 0 AS n, %(held)s::bigint AS debit, %(revenue)s::bigint AS credit, stake AS amount,
                     %(stake_kind)s::text AS kind, ':settle:stake' AS key, NULL::numeric AS before FROM bench_graded
              UNION ALL
              SELECT bet_id, 1, %(revenue)s::bigint, wallet, payout, %(payout_kind)s::text, ':settle:payout', before
              FROM paid) m
        ORDER BY m.bet_id, m.n"""
    lock_exposure = f"""
        SELECT 1 FROM {table(OutcomeExposure)}
        WHERE {exposure['outcome']} IN (SELECT l.{lg['outcome']} FROM {leg} l
                                        JOIN bench_graded g ON g.bet_id = l.{lg['bet']})
        ORDER BY {exposure['outcome']} FOR UPDATE"""
    a = col(AuditLog, "actor", "actor_label", "actor_role", "ip_address", "user_agent", "action", "resource_type",
            "resource_id", "resource_label", "details", "severity", "category", "outcome", "created_at", "expires_at")
    n = col(Notification, "user", "audience", "kind", "message", "data", "created_at")
    week = stats_sql.WEEK.format("%(now)s::timestamptz")
    rest = f"""
        WITH released AS (
            UPDATE {table(OutcomeExposure)} e
            SET {exposure['stakes']} = e.{exposure['stakes']} - v.stakes,
                {exposure['worst_case_payout']} = e.{exposure['worst_case_payout']} - v.payout,
                {exposure['bets']} = e.{exposure['bets']} - v.bets
            FROM (SELECT l.{lg['outcome']} AS outcome_id, sum(g.stake) AS stakes, sum(g.potential_return) AS payout,
                         count(*) AS bets
                  FROM bench_graded g JOIN {leg} l ON l.{lg['bet']} = g.bet_id GROUP BY 1) v
            WHERE e.{exposure['outcome']} = v.outcome_id),
        audit_rows AS (
            INSERT INTO {table(AuditLog)} ({a})
            SELECT NULL, %(actor_label)s, %(actor_role)s, %(ip)s::inet, %(user_agent)s, %(action)s, 'bet',
                   g.bet_id::text, {ticket},
                   jsonb_build_object('before', %(accepted)s::text, 'result', g.result, 'payout', {payout_text}),
                   %(severity)s, %(category)s, %(outcome)s, %(now)s, %(expires_at)s
            FROM bench_graded g ORDER BY g.bet_id),
        notifications AS (
            INSERT INTO {table(Notification)} ({n})
            SELECT g.player_id, %(audience)s, 'bet_settled',
                   'Your bet ' || {ticket} || CASE g.result
                       WHEN %(won)s THEN ' won: ' || {payout_text} || ' paid to your wallet.'
                       WHEN %(void)s THEN ' was void: your stake of ' || {payout_text} || ' was returned.'
                       ELSE ' lost.' END,
                   jsonb_build_object('bet_id', g.bet_id, 'result', g.result, 'payout', {payout_text}), %(now)s
            FROM bench_graded g ORDER BY g.bet_id)
        {stats_sql.stats_upsert(BettorStats, f'''
            SELECT g.player_id, %(sports)s, {week}, count(*), {stats_sql.counted("g.result")}, sum(g.stake),
                   sum(g.payout)
            FROM bench_graded g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3''')}"""
    return [grade, lock_wallets, money, lock_exposure, rest], setup


def job_sql(*, market_ids: list[int], max_seconds: float, out: Any, go: Any) -> dict:
    """The baseline: ``sql_settlement``'s statements per batch of ``SETTLEMENT_BATCH_SIZE``, until
    nothing is left (or ``max_seconds``), then ``markets_settle`` as the worker ends (its claim finds
    nothing; it marks the markets settled)."""
    from django.conf import settings
    from django.db import connection, transaction

    from audit.context import Actor
    from audit.models import AuditLog, Notification
    from audit.services import audit_entry
    from betting.models import Bet, BettorStats
    from betting.settlement import DECIDED
    from events.models import Market
    from ledger.models import Account, Transfer
    from ledger.services import house_account

    statements, setup = sql_settlement()
    with connection.cursor() as cursor:
        cursor.execute(setup)
    actor = Actor.system("settlement")  # the worker's actor
    params = {
        "markets": market_ids, "size": settings.SETTLEMENT_BATCH_SIZE, "decided": [str(s) for s in DECIDED],
        "cancelled": Market.Status.CANCELLED, "won": Bet.Result.WON, "lost": Bet.Result.LOST, "void": Bet.Result.VOID,
        "accepted": Bet.Status.ACCEPTED, "settled": Bet.Status.SETTLED,
        "held": house_account(Account.House.STAKES_HELD).pk, "revenue": house_account(Account.House.REVENUE).pk,
        "stake_kind": Transfer.Kind.BET_STAKE_WON,
        "payout_kind": Transfer.Kind.BET_PAYOUT, "action": "bet.settle", "audience": Notification.Audience.PLAYER,
        "sports": BettorStats.Product.SPORTS}
    def batch() -> int:
        # What the worker's audit rows hold besides the bet: its actor, severity, retention, the time.
        entry = audit_entry(actor=actor, action="bet.settle", category=AuditLog.Category.BETTING)
        values = {**params, **{name: entry[column] for name, column in (
            ("now", "created_at"), ("expires_at", "expires_at"), ("actor_label", "actor_label"),
            ("actor_role", "actor_role"), ("ip", "ip_address"), ("user_agent", "user_agent"),
            ("severity", "severity"), ("category", "category"), ("outcome", "outcome"))}}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statements[0], values)
            n = cursor.rowcount
            if n:
                for statement in statements[1:]:
                    cursor.execute(statement, values)
        return n

    return _batches_timed(batch, market_ids=market_ids, t0=_ready(out, go), max_seconds=max_seconds)


def job_verify(*, market_ids: list[int], capped: bool = False, out: Any, go: Any) -> dict:
    """The checks: results and payouts computed here independently, a result on every settled bet's
    legs, one stake transfer and at most one payout per settled bet, one audit row and one
    notification each, the weekly stats equal to the settled bets, exposure equal to the legs still
    open, ``ledger_verify()``. Every bet must be settled unless the run hit its time cap."""
    from django.db import connection
    from django.db.models import Count, Q, Sum

    from audit.models import AuditLog, Notification
    from betting.models import Bet, BetLeg, BettorStats
    from events.models import Market
    from ledger.models import Transfer
    from ledger.selectors import ledger_verify
    from risk.models import OutcomeExposure

    rows = {pk: (stake, status, result, paid) for pk, stake, status, result, paid
            in Bet.objects.values_list("pk", "stake", "status", "result", "payout")}
    legs: dict[int, list] = {}
    for bet_id, price, outcome_status in BetLeg.objects.values_list("bet_id", "price", "outcome__status"):
        legs.setdefault(bet_id, []).append((price, outcome_status))
    wrong, unsettled = 0, 0
    for pk, (stake, status, result, paid) in rows.items():
        if status != "settled":
            unsettled += 1
            continue
        if any(s == "lost" for _, s in legs[pk]):
            expected = ("lost", Decimal("0.00"))
        else:  # no voids in this book: every leg won
            product = Decimal(1)
            for price, _ in legs[pk]:
                product *= price  # at most 2 legs of 3 decimals: exact in the default context
            expected = ("won", (stake * product).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
        if (result, paid) != expected:
            wrong += 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE stake_moves <> 1), count(*) FILTER (WHERE payouts > 1),
                       count(*) FILTER (WHERE paid IS DISTINCT FROM CASE WHEN payout > 0 THEN payout END),
                       coalesce(sum(stake_moves + payouts), 0)
                FROM (SELECT b.id, b.payout,
                             count(t.entry_number) FILTER (WHERE t.kind = 'bet_stake_revenue') stake_moves,
                             count(t.entry_number) FILTER (WHERE t.kind = 'bet_payout') payouts,
                             sum(t.amount) FILTER (WHERE t.kind = 'bet_payout') paid
                      FROM {Bet._meta.db_table} b
                      LEFT JOIN {Transfer._meta.db_table} t ON t.reference_type = 'bet' AND t.reference_id = b.id::text
                           AND t.kind IN ('bet_stake_revenue', 'bet_payout')
                      WHERE b.status = 'settled' GROUP BY b.id) per_bet""")
        settled_all, bad_stake_moves, double_payouts, payout_mismatch, matched = cursor.fetchone()
    # settlement transfers that belong to no settled bet
    orphans = Transfer.objects.filter(kind__in=["bet_stake_revenue", "bet_payout"]).count() - matched
    paid_transfers = Transfer.objects.filter(kind="bet_payout").aggregate(total=Sum("amount"))["total"] or Decimal(0)
    paid_bets = Bet.objects.filter(status="settled").aggregate(total=Sum("payout"))["total"] or Decimal(0)
    exposure_left = sum(OutcomeExposure.objects.filter(outcome__market_id__in=market_ids)
                        .values_list("bets", flat=True))
    open_legs = BetLeg.objects.filter(market_id__in=market_ids, bet__status="accepted").count()
    markets_settled = Market.objects.filter(pk__in=market_ids, status="settled").count()
    audit_rows = AuditLog.objects.filter(action="bet.settle").count()
    notifications = Notification.objects.filter(kind="bet_settled").count()
    legs_unresulted = BetLeg.objects.filter(bet__status="settled", result__isnull=True).count()
    settled = Bet.objects.filter(status="settled")
    totals = ("bets", "won", "lost", "staked", "returned")
    by_bets = settled.aggregate(bets=Count("pk"), won=Count("pk", filter=Q(result="won")),
                                lost=Count("pk", filter=Q(result="lost")), staked=Sum("stake"), returned=Sum("payout"))
    by_stats = BettorStats.objects.filter(product=BettorStats.Product.SPORTS).aggregate(
        **{name: Sum(name) for name in totals})
    stats_agree = all((by_bets[name] or 0) == (by_stats[name] or 0) for name in totals)
    report = ledger_verify()
    checks = {
        "bets": len(rows),
        "settled": by_bets["bets"],
        "left unsettled": unsettled if not capped else f"{unsettled} (time cap reached)",
        "won / lost": f"{by_bets['won']} / {by_bets['lost']}",
        "wrong result or payout": wrong,
        "legs of settled bets without a result": legs_unresulted,
        "settled bets without exactly one bet_stake_revenue": bad_stake_moves,
        "settled bets with more than one bet_payout": double_payouts,
        "settled bets whose bet_payout differs from their payout": payout_mismatch,
        "settlement transfers of bets not settled": orphans,
        "sum of bet_payout transfers == sum of payouts": paid_transfers == paid_bets,
        "audit rows bet.settle == bets settled": audit_rows == settled_all,
        "notifications bet_settled == bets settled": notifications == settled_all,
        "weekly stats (bets, won, lost, staked, returned) == settled bets'": stats_agree,
        "exposure counters == legs still open": f"{exposure_left} == {open_legs}",
        "markets settled": f"{markets_settled} of {len(market_ids)}",
        "ledger_verify().ok": report.ok,
    }
    if not report.ok:
        checks["ledger problems"] = report.problems[:5]
    ok = ((capped or unsettled == 0) and wrong == 0 and legs_unresulted == 0 and bad_stake_moves == 0
          and double_payouts == 0 and payout_mismatch == 0 and orphans == 0 and paid_transfers == paid_bets
          and audit_rows == settled_all and notifications == settled_all and stats_agree
          and exposure_left == open_legs and report.ok
          # a worker stopped by the time cap never reached markets_settle's last step
          and (capped or markets_settled == len(market_ids)))
    return {"ok": ok, "checks": checks}


def job_purge(*, out: Any, go: Any) -> int:
    """Empty the benchmark's Celery queue (a task cut short by the time cap is re-queued)."""
    from oddslab.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(QUEUE) or 0


JOBS = {"purge": job_purge, "build": job_build, "result": job_result, "settle": job_settle, "sql": job_sql,
        "verify": job_verify}


# --- the parent: databases, the wait for a quiet machine, CPU counters, the report ------------------


def admin_execute(server_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(common.libpq_url(common.with_database(server_url, "postgres")), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def clone(server_url: str, name: str) -> str:
    """A fresh copy of the built book; refuses any name that is not this benchmark's."""
    if not name.startswith(BASE_DATABASE + "_") or name in common.PROTECTED_DATABASES:
        raise SystemExit(f"refusing to recreate database {name!r}")
    admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                  f'CREATE DATABASE "{name}" TEMPLATE "{BASE_DATABASE}" STRATEGY FILE_COPY')
    return common.with_database(server_url, name)


def drop(server_url: str, name: str) -> None:
    if name.startswith(BASE_DATABASE):
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends_gone(database_url: str, database: str, timeout: float = 60) -> None:
    """Wait until no other session is connected to the database (killed workers' backends end)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(common.libpq_url(database_url), autocommit=True) as conn:
        while time.monotonic() < deadline and conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database]).fetchone()[0]:
            time.sleep(0.2)


def checkpoint(database_url: str) -> None:
    """Flush dirty pages now, not in the middle of a measurement."""
    import psycopg

    # Not a superuser: no checkpoint, and the measurement may carry that noise.
    with psycopg.connect(common.libpq_url(database_url), autocommit=True) as conn, contextlib.suppress(psycopg.Error):
        conn.execute("CHECKPOINT")


def quiet_wait() -> float:
    """Wait while the other benchmark runs (at most QUIET_WAIT_LIMIT s), then up to QUIET_CPU_WAIT s
    for the machine to be nearly idle (someone's test suite); return the seconds waited."""
    t0 = time.monotonic()
    announced = False
    while time.monotonic() - t0 < QUIET_WAIT_LIMIT:
        found = subprocess.run(["pgrep", "-f", OTHER_BENCHMARK_RUNNING], capture_output=True, text=True).stdout.split()
        if not found:
            break
        if not announced:
            print(f"  waiting: {OTHER_BENCHMARK} is running (pid {', '.join(found)})", flush=True)
            announced = True
        time.sleep(5)
    t1 = time.monotonic()
    while time.monotonic() - t1 < QUIET_CPU_WAIT:
        busy0, total0 = Cpu.machine()
        time.sleep(1.0)
        busy1, total1 = Cpu.machine()
        if 100 * (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0) < QUIET_CPU_PERCENT:
            break
    return time.monotonic() - t0


class Sampler:
    """What this database's backends are doing, sampled from pg_stat_activity 10 times a second:
    running, waiting for a row lock (and in which statement), waiting for the client (Python)..."""

    def __init__(self, database_url: str, database: str):
        import threading

        self.url, self.database = common.libpq_url(database_url), database
        self.counts: dict[str, int] = {}
        self.samples = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(0.1):
                rows = conn.execute(
                    """SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity
                       WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                         AND state <> 'idle'""", [self.database]).fetchall()
                self.samples += 1
                for state, wait_type, wait_event, query in rows:
                    words = " ".join(query.split()[:4])[:40]
                    if state == "idle in transaction":
                        key = "idle in transaction (Python works)"
                    elif wait_type == "Lock":
                        key = f"waits for a {wait_event} lock: {words}"
                    elif wait_type:
                        key = f"{wait_type}:{wait_event}: {words}"
                    else:
                        key = f"running: {words}"
                    self.counts[key] = self.counts.get(key, 0) + 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> list[tuple[str, float]]:
        """(state, average number of backends in it) over the run, largest first."""
        self.stopping.set()
        self.thread.join()
        return sorted(((k, n / max(1, self.samples)) for k, n in self.counts.items()), key=lambda kv: -kv[1])


class Cpu:
    """CPU seconds of the whole machine and of given PostgreSQL backends over a measurement."""

    @staticmethod
    def machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)

    @staticmethod
    def ticks(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return int(parts[11]) + int(parts[12])
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def backends(database: str) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        words = f.read().replace(b"\0", b" ").decode(errors="replace").split()
                except OSError:
                    continue
                if words[:1] == ["postgres:"] and database in words:
                    pids.append(int(entry))
        return pids

    def __init__(self, database: str):
        self.database = database

    def start(self) -> None:
        self.machine0 = self.machine()
        self.backends0 = {pid: self.ticks(pid) for pid in self.backends(self.database)}

    def stop(self, wall: float) -> dict[str, float]:
        """Percent of one core: machine (200 = both cores busy) and this database's backends."""
        busy1, total1 = self.machine()
        busy0, total0 = self.machine0
        hz = os.sysconf("SC_CLK_TCK")
        backends = sum(self.ticks(p) - self.backends0.get(p, 0) for p in self.backends(self.database))
        return {"machine": 100 * (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0),
                "postgres": 100 * backends / hz / wall}


def measure(ctx: dict, name: str, label: str, kind: str, workers: int, job: str, job_kwargs: dict) -> dict:
    """One timed run in a fresh copy of the book; ``kind`` is shipped, diagnostic or sql."""
    database = f"{BASE_DATABASE}_{name}"
    t_setup = time.monotonic()
    url = clone(ctx["server_url"], database)
    env = common.bench_env(url, ctx["redis_url"], **ctx["env_extra"])
    call(env, "result", events=ctx["book"]["events"], purge=True)
    checkpoint(url)
    children = Children(env, job, [job_kwargs] * workers, gated=True)
    try:
        children.wait_ready()
        setup = time.monotonic() - t_setup
        waited = quiet_wait()
        load = os.getloadavg()
        print(f"  {label}: setup {setup:.0f} s; waited {waited:.0f} s for other benchmarks; "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; start", flush=True)
        cpu, sampler = Cpu(database), Sampler(url, database)
        cpu.start()
        sampler.start()
        t0 = time.monotonic()
        children.go.set()
        results = children.results()
        wall = max(r["finished"] for r in results) - t0
        usage = cpu.stop(wall)
        states = sampler.stop()
    finally:
        children.stop()
    settled = sum(r["settled"] for r in results)
    capped = any(r["capped"] for r in results)
    usage["workers"] = 100 * sum(r["cpu"] for r in results) / wall
    usage["other"] = max(0.0, usage["machine"] - usage["workers"] - usage["postgres"])
    batches = [b for r in results for b in r["batches"]]
    verify = call(env, "verify", market_ids=ctx["book"]["markets"], capped=capped)
    drop(ctx["server_url"], database)
    run = {"label": label, "kind": kind, "workers": workers, "settled": settled, "seconds": wall,
           "rate": settled / wall, "load": load, "waited": waited, "cpu": usage, "capped": capped,
           "per_worker": [r["settled"] for r in results], "verify": verify, "states": states,
           "batch_first": sum(batches[:10]) / len(batches[:10]) if batches else None,
           "batch_last": sum(batches[-10:]) / len(batches[-10:]) if batches else None}
    print(f"  {label}: {settled:,} bets in {wall:.2f} s = {settled / wall:,.0f} bets/s"
          f"{' (time cap reached)' if capped else ''} (per worker {', '.join(f'{n:,}' for n in run['per_worker'])});"
          f" CPU % of one core: workers {usage['workers']:.0f}, postgres {usage['postgres']:.0f}, "
          f"other {usage['other']:.0f}" + (f"; batch {run['batch_first']:.2f} s at first, {run['batch_last']:.2f} s "
                                          "at the end" if batches else ""), flush=True)
    print_states(states)
    print_checks(verify)
    return run


def measure_celery(ctx: dict, workers: int, max_seconds: float) -> dict:
    """Real ``celery -A oddslab worker`` processes on the benchmark's queue: the clock runs from
    ``event_result_set`` (which sends the settle tasks on commit) until every task has finished."""
    database = f"{BASE_DATABASE}_celery"
    t_setup = time.monotonic()
    url = clone(ctx["server_url"], database)
    env = common.bench_env(url, ctx["redis_url"], **ctx["env_extra"])
    celery = str(Path(sys.executable).with_name("celery"))
    expected_tasks = len(ctx["book"]["events"]) * int(ctx["env_extra"]["SETTLEMENT_FANOUT"])
    logs, procs = [], []
    capped = False
    call(env, "purge")
    try:
        for n in range(workers):
            log = ctx["log_dir"] / f"settle-celery-{n}.log"
            logs.append(log)
            with open(log, "w") as handle:
                procs.append(subprocess.Popen(
                    [celery, "-A", "oddslab", "worker", "-Q", QUEUE, "-c", "1", "-P", "prefork", "-l", "INFO",
                     "-n", f"bench-settle-{n}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                    cwd=common.ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 120
        while not all(" ready." in log.read_text() for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"celery workers did not start; see {ctx['log_dir']}")
            time.sleep(0.2)
        checkpoint(url)
        children = Children(env, "result", [{"events": ctx["book"]["events"], "purge": False}], gated=True)
        try:
            children.wait_ready()
            setup = time.monotonic() - t_setup
            waited = quiet_wait()
            load = os.getloadavg()
            print(f"  celery, {workers} workers: setup {setup:.0f} s; waited {waited:.0f} s for other benchmarks; "
                  f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; start", flush=True)
            cpu, sampler = Cpu(database), Sampler(url, database)
            cpu.start()
            sampler.start()
            t0 = time.monotonic()
            children.go.set()
            children.results()
            while sum(log.read_text().count("] succeeded in ") for log in logs) < expected_tasks:
                if any(" raised " in log.read_text() for log in logs):
                    raise SystemExit(f"a settle task failed; see {ctx['log_dir']}")
                if time.monotonic() - t0 > max_seconds:
                    capped = True
                    break
                time.sleep(0.1)
            wall = time.monotonic() - t0
            usage = cpu.stop(wall)
            states = sampler.stop()
        finally:
            children.stop()
    finally:
        # The workers and their pool processes (each worker its own session): SIGKILL when the cap cut
        # a task short (its batch rolls back), else a warm shutdown of idle workers.
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL if capped else signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        backends_gone(url, database)
        call(env, "purge")
    verify = call(env, "verify", market_ids=ctx["book"]["markets"], capped=capped)
    drop(ctx["server_url"], database)
    settled = verify["checks"]["settled"]
    usage["workers"] = float("nan")
    usage["other"] = max(0.0, usage["machine"] - usage["postgres"])
    label = f"celery, {workers} workers (shipped)"
    print(f"  {label}: {settled:,} bets in {wall:.2f} s = {settled / wall:,.0f} bets/s"
          f"{' (time cap reached)' if capped else ''}; CPU % of one core: postgres {usage['postgres']:.0f}, "
          f"workers and the rest {usage['other']:.0f}", flush=True)
    print_states(states)
    print_checks(verify)
    return {"label": label, "kind": "shipped", "workers": workers, "settled": settled, "seconds": wall,
            "rate": settled / wall, "load": load, "waited": waited, "cpu": usage, "capped": capped,
            "per_worker": [], "verify": verify, "states": states, "batch_first": None, "batch_last": None}


def profile_run(ctx: dict, path: Path, batches: int, stub_live: bool) -> dict:
    database = f"{BASE_DATABASE}_profile"
    url = clone(ctx["server_url"], database)
    env = common.bench_env(url, ctx["redis_url"], **ctx["env_extra"])
    call(env, "result", events=ctx["book"]["events"], purge=True)
    checkpoint(url)
    waited = quiet_wait()
    load = os.getloadavg()
    label = "profile, 1 worker" + (", live messages stubbed" if stub_live else "")
    print(f"  {label}: waited {waited:.0f} s; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    profile = call(env, "settle", market_ids=ctx["book"]["markets"], max_seconds=0, stub_live=stub_live,
                   profile=str(path), max_batches=batches)
    drop(ctx["server_url"], database)
    profile["label"] = label
    print(f"  {label}: {profile['settled']:,} bets in {profile['seconds']:.2f} s under the profiler "
          f"({profile['settled'] / profile['seconds']:,.0f} bets/s); {profile['file']}", flush=True)
    print("\n".join("    " + line for line in profile["text"].splitlines()[:40]))
    return profile


def print_states(states: list[tuple[str, float]]) -> None:
    print("    database backends, average number in each state: "
          + "; ".join(f"{k} {v:.2f}" for k, v in states[:5] if v >= 0.01))


def print_checks(verify: dict) -> None:
    print("    checks: " + ("all passed" if verify["ok"] else "FAILED"))
    for key, value in verify["checks"].items():
        print(f"      {key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bets", type=int, help="accepted bets in the book (default 100,000; --quick 20,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 bets, 60 s cap")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                        help="worker counts (and SQL baseline processes), comma-separated (default 1,2)")
    parser.add_argument("--batch-size", type=int, help="SETTLEMENT_BATCH_SIZE for the workers (default: the "
                        "environment's, else the settings' 500)")
    parser.add_argument("--max-seconds", type=float, help="time cap of each measurement (default 120; --quick 60): "
                        "a run that reaches it reports the rate over the bets it settled")
    parser.add_argument("--no-diagnostic", action="store_true", help="skip the runs with the after-commit live "
                        "messages stubbed out (they show what the rest of the path costs)")
    parser.add_argument("--celery", action="store_true", help="also 2 real `celery -A oddslab worker` processes")
    parser.add_argument("--profile", type=Path, help="also profile one worker (pyinstrument, plus the time of "
                        "every SQL statement) over --profile-batches batches, shipped and live-stubbed")
    parser.add_argument("--profile-batches", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help=f"keep the {BASE_DATABASE} database afterwards")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    bets = args.bets or (20_000 if args.quick else 100_000)
    batch = args.batch_size or int(os.environ.get("SETTLEMENT_BATCH_SIZE", "1000"))
    cap = args.max_seconds or (60.0 if args.quick else 120.0)

    shown_env = " ".join(f"{k}={os.environ[k]}" for k in ("DATABASE_URL", "REDIS_URL", "SETTLEMENT_BATCH_SIZE")
                         if os.environ.get(k))
    command = (shown_env + " " if shown_env else "") + shlex.join([".venv/bin/python", *sys.argv])
    print(f"$ {command}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")

    t_run = time.monotonic()
    server_url, redis_url = common.server_urls()
    env_extra = {"CELERY_TASK_DEFAULT_QUEUE": QUEUE, "SETTLEMENT_BATCH_SIZE": str(batch),
                 "SETTLEMENT_FANOUT": "2", "DATABASE_POOL_MIN_SIZE": "1"}
    base_url = common.recreate_database(server_url, BASE_DATABASE)
    base_env = common.bench_env(base_url, redis_url, **env_extra)
    import psycopg

    with psycopg.connect(common.libpq_url(base_url)) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        server_settings = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                           for k in ("shared_buffers", "synchronous_commit", "max_wal_size")}
    print(f"server: PostgreSQL {server} at {common.with_database(server_url, '')} "
          f"({', '.join(f'{k} {v}' for k, v in server_settings.items())}); Redis {redis_url}")
    t0 = time.monotonic()
    common.migrate(base_env)
    print(f"database {BASE_DATABASE} re-created and migrated in {time.monotonic() - t0:.0f} s", flush=True)
    book = call(base_env, "build", bets=bets)
    print(f"book: {book['bets']:,} accepted bets ({book['singles']:,} singles on event A's match result, "
          f"{book['doubles']:,} doubles A x B), {PLAYERS:,} players, built in {book['seconds_total']:.0f} s "
          f"(players {book['seconds_players']:.0f} s)", flush=True)
    print(f"results: A {SCORES['A'][0]}-{SCORES['A'][1]} (home wins), B {SCORES['B'][0]}-{SCORES['B'][1]} (draw); "
          f"batch size {batch}; time cap per measurement {cap:.0f} s", flush=True)
    ctx = {"server_url": server_url, "redis_url": redis_url, "env_extra": env_extra, "book": book,
           "log_dir": Path("/tmp")}
    markets = book["markets"]

    runs = []
    for workers in args.workers:  # the baseline just before the worker, so both meet the same machine
        plural = "es" if workers > 1 else ""
        runs.append(measure(ctx, f"sql{workers}", f"hand-written SQL, {workers} process{plural} (baseline)", "sql",
                            workers, "sql", {"market_ids": markets, "max_seconds": cap}))
        for stub in (False,) if args.no_diagnostic else (False, True):
            runs.append(measure(ctx, f"w{workers}{'_stub' if stub else ''}",
                                f"set-based, {workers} worker{'s' if workers > 1 else ''}"
                                f"{', live messages stubbed' if stub else ''}", "diagnostic" if stub else "shipped",
                                workers, "settle", {"market_ids": markets, "max_seconds": cap, "stub_live": stub}))
    if args.celery:
        runs.append(measure_celery(ctx, 2, cap))

    profiles = []
    if args.profile:
        for stub in (False,) if args.no_diagnostic else (False, True):
            profiles.append(profile_run(ctx, args.profile, args.profile_batches, stub))

    if not args.keep:
        drop(server_url, BASE_DATABASE)
    print()
    print(report(runs, bets, batch, cap, profiles))
    print(f"\nwhole run {time.monotonic() - t_run:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "bets": bets, "batch": batch, "runs": runs,
                                         "profiles": profiles}, indent=2, default=str))
    if not all(r["verify"]["ok"] for r in runs):
        raise SystemExit("a correctness check failed (see above)")


def report(runs: list[dict], bets: int, batch: int, cap: float, profiles: list[dict]) -> str:
    sql = {r["workers"]: r for r in runs if r["kind"] == "sql"}
    rows = []
    for r in runs:
        reference = sql.get(r["workers"])
        batches = (f"{r['batch_first']:.2f} / {r['batch_last']:.2f}" if r["batch_first"] is not None else "")
        rows.append([r["label"], f"{r['settled']:,}" + (" (cap)" if r["capped"] else ""), f"{r['seconds']:.1f}",
                     f"{r['rate']:,.0f}", f"{r['rate'] / reference['rate']:.2f}" if reference else "",
                     f"{r['load'][0]:.2f}",
                     f"{r['cpu']['workers']:.0f} / {r['cpu']['postgres']:.0f} / {r['cpu']['other']:.0f}",
                     batches, "pass" if r["verify"]["ok"] else "FAIL"])
    lines = [common.table(["run", "bets settled", "s", "bets/s", "vs SQL (as many processes)", "load avg at start",
                           "CPU % workers / postgres / other", "batch s first / last", "checks"], rows)]
    lines.append("")
    for kind, what in (("shipped", "shipped code"), ("diagnostic", "live messages stubbed; the SQL sends none")):
        ratios = [(r["workers"], r["rate"] / sql[r["workers"]]["rate"]) for r in runs
                  if r["kind"] == kind and r["workers"] in sql]
        if not ratios:
            continue
        line = f"worker / SQL baseline ({what}): " + ", ".join(
            f"{w} worker{'s' if w > 1 else ''} {ratio:.2f}" for w, ratio in ratios)
        if kind == "shipped":
            line += f"; target >= 0.40: {'met' if all(ratio >= 0.4 for _, ratio in ratios) else 'NOT met'}"
        lines.append(line)
    lines.append(f"book: {bets:,} bets (80 % singles, 20 % doubles), batch size {batch}, time cap {cap:.0f} s per "
                 "measurement; issue 15 expected ~12,000 bets/s of the SQL baseline on a normal day on the 2-core box")
    lines.append("\nwhere the database backends were (average number in each state, sampled 10/s):")
    for r in runs:
        lines.append(f"- {r['label']}: " + "; ".join(f"{k} {v:.2f}" for k, v in r["states"][:4] if v >= 0.01))
    for profile in profiles:
        lines.append(f"\n{profile['label']}: {profile['settled']:,} bets in {profile['seconds']:.2f} s; "
                     "time per SQL statement:")
        lines.append(common.table(["statement", "count", "seconds", "share of wall"],
                                  [[s, n, f"{t:.2f}", f"{100 * t / profile['seconds']:.0f} %"]
                                   for s, n, t in profile["sql"][:10]]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
