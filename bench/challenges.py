"""Benchmark of peer-to-peer challenges (not a test), each figure beside a baseline of the same run.

    .venv/bin/python bench/challenges.py                # about 8 minutes
    .venv/bin/python bench/challenges.py --quick        # 3 s HTTP windows, 10,000 to settle
    .venv/bin/python bench/challenges.py --only settle  # or http

1. **Matching over HTTP.** 200 funded players with API tokens on the web server as ``make run``
   starts it (``python -m oddslab.serve``, ``--web-processes`` Daphne processes). Each of 200 keep-alive
   connections (one per player) loops: ``POST /api/v1/challenges`` (a match-result outcome of one of 50
   events, stake 10.00, ``funding: internal``) as its player, then ``POST /api/v1/challenges/{id}/accept``
   as the next player. A pair counts when the challenge was created (201) and matched (200,
   ``"status":"matched"``). Baseline, in the same run on the same server and players:
   ``POST /api/v1/bets`` (a single at 10.00) from the same 200 connections, as ``bench/place_bets.py``'s
   HTTP layer does. The two alternate ``--rounds`` times (2), each after the machine went quiet.
   Target: challenges created and matched per second >= 50% of bets placed per second.
2. **Settlement.** A book of ``--settle`` (50,000) matched challenges, internal on both sides, on one
   football event (creators on home / draw / away in turn, stake 10.00, among 1,000 players), written in
   bulk as acceptance leaves them: the challenge rows, then both stakes into escrow through the internal
   gateway's set-based ``transfer``. Beside it, in the same database, ``bench/settle.py``'s book of as
   many accepted bets (80 % singles, 20 % doubles) with its players. Each measurement runs in a fresh
   copy of that database; untimed, the event is resulted (``event_result_set``; the settle tasks it
   sends are purged). Timed, in a fresh worker process (``--settle-workers``, 1 and 2): the loop of
   ``betting.challenge_settlement.challenge_settlement_batch`` until nothing is left, what
   ``challenges_settle`` does in a Celery worker (the liquidity audit before every batch included).
   Baseline: ``bench/settle.py``'s set-based bet settlement of the same count with as many workers,
   measured just before each challenge run.
   Checks after each run: every challenge settled, payouts and fees as API.md computes them, one payout
   and one fee movement each, escrow empty, the audit rows, the stats rows, ``ledger_verify()``.
   Target: >= 5,000 challenges settled per second.

Everything runs in databases of its own, ``oddslab_bench_challenges`` (HTTP) and
``oddslab_bench_challenges_settle`` with its copies ``oddslab_bench_challenges_settle_*`` (dropped,
re-created and migrated each run), on the server DATABASE_URL points at, or on the embedded server
under var/ when it is unset. The CPU of everything that is not the benchmark ("other") is printed
beside each figure: check it before trusting one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import common
import place_bets
import settle
from place_bets import CpuMeter, http_request

sys.path.insert(0, str(common.ROOT))  # this checkout's apps, whatever the venv was installed from

DATABASE = "oddslab_bench_challenges"
PLAYERS = 200
EVENTS = 50
STAKE = "10.00"
FUNDS = Decimal("500000.00")  # under the KYC deposit threshold (1,000,000)
PRICES = {"home": "2.50", "draw": "3.20", "away": "2.80"}
REQUEST_TIMEOUT = 60.0
SETTLE_DATABASE = "oddslab_bench_challenges_settle"
SETTLE_PRICES = {"home": "2.10", "draw": "3.30", "away": "3.60"}
SETTLE_SCORE = (2, 1)  # home wins: a third of the creators win, two thirds of the acceptors
SETTLE_STAKE = Decimal("10.00")
BUILD_CHUNK = 5_000


# --- setup (in this process, Django set up on the benchmark's database) ----------------------------


def setup_players() -> dict:
    """200 funded players with tokens, 50 scheduled events, and limits that do not refuse a benchmark."""
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from accounts.services import user_with_role
    from audit.context import Actor
    from events.models import Outcome
    from events.services import MarketSpec, event_create
    from risk.models import ExposureCap, LimitProfile
    from wallet.services import wallet_deposit

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # nobody logs in
    system = Actor.system("bench")
    LimitProfile.objects.update_or_create(scope="global", defaults={
        "velocity_max_bets": 10**9, "velocity_max_stake": Decimal("1000000000000000.00"),
        "note": "bench: velocity must not refuse"})
    ExposureCap.objects.update_or_create(sport=None, market_kind="", defaults={"cap": Decimal("1e15")})
    start = datetime.now(UTC) + timedelta(days=7)
    for i in range(EVENTS):
        event_create(home_team=f"P2P Home {i}", away_team=f"P2P Away {i}", sport="football",
                     competition="Bench League", start_time=start + timedelta(minutes=i),
                     markets=[MarketSpec(kind="match_result", prices=PRICES)], actor=system)
    outcomes = list(Outcome.objects.order_by("pk").values_list("pk", "price", "market__event_id"))
    users = []
    for n in range(PLAYERS):
        user, _ = user_with_role(username=f"p2p{n:03d}", password="bench-not-a-password", role="player")
        wallet_deposit(user=user, amount=FUNDS, actor=system)
        users.append(user)
    Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    tokens = dict(Token.objects.filter(user__in=users).values_list("user_id", "key"))
    return {"players": [tokens[u.pk] for u in users], "statements": statements_per_operation(users[-2:], outcomes),
            "outcomes": [(pk, str(price), event_id) for pk, price, event_id in outcomes]}


def statements_per_operation(players: list, outcomes: list) -> dict[str, int]:
    """SQL statements one placement, one challenge creation and one acceptance send through the API
    (Django's test client, token authentication; each done once untimed first), for reading the HTTP
    figures."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    creator, acceptor = (APIClient() for _ in players)
    for client, user in zip((creator, acceptor), players, strict=True):
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    counts = {}
    for n in range(2):
        outcome_id, price, event_id = outcomes[n]
        with CaptureQueriesContext(connection) as placed:
            creator.post("/api/v1/bets", {"selections": [{"outcome_id": outcome_id, "price": str(price)}],
                                          "stake": STAKE, "bet_type": "single", "odds_change": "any"}, format="json")
        with CaptureQueriesContext(connection) as created:
            challenge = creator.post("/api/v1/challenges", {"event_id": event_id, "outcome_id": outcome_id,
                                                            "stake": STAKE, "funding": "internal"}, format="json")
        with CaptureQueriesContext(connection) as accepted:
            acceptor.post(f"/api/v1/challenges/{challenge.json()['id']}/accept", {"funding": "internal"},
                          format="json")
        counts = {"POST bets": len(placed), "POST challenges": len(created), "POST accept": len(accepted)}
    return counts

# --- the challenge load generator (its own process: create, then accept, per connection) ----------


def _json(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _pairs(port: int, g: int, data: dict, window: dict, out: dict) -> None:
    """Connection g: create as player g, accept as player g + 1, over and over."""
    creator, acceptor = data["players"][g], data["players"][(g + 1) % len(data["players"])]
    outcomes = data["outcomes"][g % len(data["outcomes"]):] + data["outcomes"][:g % len(data["outcomes"])]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send(request: bytes) -> tuple[int, bytes]:
        nonlocal reader, writer
        writer.write(request)
        await writer.drain()
        status, body, close = await place_bets._http_read(reader)
        if close:
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return status, body

    async def pair(k: int) -> tuple[bool, str]:
        outcome_id, _, event_id = outcomes[k % len(outcomes)]
        status, body = await send(http_request("POST", "/api/v1/challenges", port, creator, _json(
            {"event_id": event_id, "outcome_id": outcome_id, "stake": STAKE, "funding": "internal"})))
        if status != 201:
            return False, f"create {status}:{_error(body)}"
        challenge_id = json.loads(body)["id"]
        status, body = await send(http_request("POST", f"/api/v1/challenges/{challenge_id}/accept", port,
                                               acceptor, _json({"funding": "internal"})))
        if status != 200 or b'"status":"matched"' not in body:
            return False, f"accept {status}:{_error(body)}"
        return True, ""

    k = 0
    await pair(k)  # warm-up
    window["ready"].release()
    await window["go"].wait()
    await asyncio.sleep(max(0.0, window["go_at"] - time.time()))
    while (began := time.time()) < window["deadline"]:
        k += 1
        try:
            matched, error = await asyncio.wait_for(pair(k), timeout=REQUEST_TIMEOUT)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, TimeoutError) as exc:
            matched, error = False, type(exc).__name__
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ended = time.time()
        if matched and window["start"] <= began:
            out["latencies"].append((ended - began) * 1000)
        if window["start"] <= ended <= window["deadline"]:
            if matched:
                out["ok"] += 1
            else:
                out["errors"][error] = out["errors"].get(error, 0) + 1
    writer.close()


def _error(body: bytes) -> str:
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return "?"


def pairs_main(port: int, data: dict, duration: float, warmup: float, results: mp.Queue) -> None:
    async def main() -> dict:
        out = {"ok": 0, "latencies": [], "errors": {}}
        window = {"ready": asyncio.Semaphore(0), "go": asyncio.Event()}
        tasks = [asyncio.create_task(_pairs(port, g, data, window, out)) for g in range(len(data["players"]))]
        for _ in tasks:
            await window["ready"].acquire()
        window["go_at"] = time.time() + 0.3
        window["start"] = window["go_at"] + warmup
        window["deadline"] = window["start"] + duration
        results.put(("start", window["start"]))
        window["go"].set()
        await asyncio.gather(*tasks)
        return out

    results.put(("done", asyncio.run(main())))


def placement_connections(data: dict, port: int) -> list[list[bytes]]:
    """The baseline's requests: connection g places singles as player g, cycling through the outcomes."""
    outcomes = data["outcomes"]
    return [[http_request("POST", "/api/v1/bets", port, token,
                          place_bets.bet_body(*outcomes[(g + k) % len(outcomes)][:2]))
             for k in range(len(outcomes))] for g, token in enumerate(data["players"])]


def http_window(target, args: tuple, duration: float, meter: CpuMeter) -> tuple[dict, dict]:
    """Run a load generator process over one window; its counts and the CPU meanwhile."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, results), daemon=True)
    proc.start()
    meter.pids["loadgen"] = [proc.pid]
    _, start = place_bets._from_loadgen(proc, results, 300)
    time.sleep(max(0.0, start - time.time()))
    meter.start()
    time.sleep(max(0.0, start + duration - time.time()))
    cpu = meter.stop()
    _, out = place_bets._from_loadgen(proc, results, duration + REQUEST_TIMEOUT + 120)
    proc.join(timeout=30)
    return out, cpu


SERVER_LOG = Path("/tmp/oddslab-bench-challenges-daphne.log")


def server_trouble() -> dict[str, int]:
    """What the server's log says went wrong: a request answered 5xx (a stuck one never shows in a
    window's counts), or PostgreSQL out of connections (a shared server's max_connections)."""
    text = SERVER_LOG.read_text(errors="replace")
    return {"5xx answers": len(re.findall(r'^\S+ - - \[[^]]+\] "[^"]*" 5\d\d ', text, re.M)),
            "database refused a connection": text.count("too many clients already")}


def http_part(env: dict[str, str], database: str, data: dict, args: argparse.Namespace) -> dict:
    port = common.free_port()
    server = common.daphne_start(env, port, SERVER_LOG, args.web_processes)
    runs: list[dict] = []
    budget = {"seconds": args.quiet_budget}
    try:
        daphne = common.daphne_pids(server)
        for round_ in range(1, args.rounds + 1):
            for layer in ("placement", "challenges"):
                waited = place_bets.quiet_wait(budget)
                meter = CpuMeter(database, {"daphne": daphne})
                if layer == "placement":
                    out, cpu = http_window(place_bets.loadgen_main, (port, placement_connections(data, port), 201,
                                                                     args.duration, args.warmup),
                                           args.duration, meter)
                else:
                    out, cpu = http_window(pairs_main, (port, data, args.duration, args.warmup), args.duration, meter)
                latencies = sorted(out["latencies"])
                run = {"layer": layer, "round": round_, "rate": out["ok"] / args.duration, "ok": out["ok"],
                       "p50": common.percentile(latencies, 50), "p99": common.percentile(latencies, 99),
                       "errors": out["errors"], "cpu": cpu, "waited": waited}
                runs.append(run)
                unit = "bets" if layer == "placement" else "challenges created and matched"
                print(f"  round {round_} {layer:10}: {run['rate']:7,.1f} {unit}/s  p50 {run['p50']:6.0f} ms  "
                      f"p99 {run['p99']:6.0f} ms  CPU % of one core: daphne {cpu['daphne']:.0f}, postgres "
                      f"{cpu['postgres']:.0f}, loadgen {cpu['loadgen']:.0f}, other {cpu['other']:.0f}"
                      f"{'  errors ' + str(out['errors']) if out['errors'] else ''}", flush=True)
    finally:
        common.daphne_stop(server)
    trouble = {k: v for k, v in server_trouble().items() if v}
    if trouble:
        print(f"  WARNING, the figures above are not to be trusted: {trouble} (see {SERVER_LOG})", flush=True)
    placed = sum(r["ok"] for r in runs if r["layer"] == "placement")
    matched = sum(r["ok"] for r in runs if r["layer"] == "challenges")
    ratio = matched / placed if placed else float("nan")
    return {"runs": runs, "ratio": ratio, "met": ratio >= 0.5, "statements": data["statements"],
            "trouble": trouble}


def http_report(result: dict, args: argparse.Namespace) -> str:
    rows = [[r["round"], r["layer"], f"{r['rate']:,.1f}", f"{r['p50']:.0f} / {r['p99']:.0f}",
             f"{r['cpu']['daphne']:.0f} / {r['cpu']['postgres']:.0f} / {r['cpu']['loadgen']:.0f} / "
             f"{r['cpu']['other']:.0f}", sum(r["errors"].values())] for r in result["runs"]]
    return "\n".join([
        f"HTTP, {PLAYERS} players on {args.web_processes} Daphne processes, {args.duration:g} s windows:",
        common.table(["round", "layer", "per s (bets; challenges created and matched)", "p50 / p99 ms",
                      "CPU % daphne / postgres / loadgen / other", "errors"], rows),
        f"ratio challenges created and matched / bets placed: {result['ratio']:.2f} "
        f"(target >= 0.50: {'met' if result['met'] else 'NOT met'}); a pair is two requests, a bet one"
        + f"; SQL statements per request: {', '.join(f'{k} {v}' for k, v in result['statements'].items())}"
        + (f"\nNOT TO BE TRUSTED: {result['trouble']} in the server's log" if result["trouble"] else "")])


# --- settlement: jobs run in bench/settle.py's worker processes ("challenges:job_...") -------------


def job_build_challenges(*, count: int, out: Any, go: Any) -> dict:
    """``count`` matched challenges among bench/settle.py's 1,000 players on one new event, written
    in bulk: the rows, then both stakes into escrow through the internal gateway."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from audit.context import Actor
    from betting.models import Challenge
    from core.db import insert_rows
    from events.models import Outcome
    from events.services import MarketSpec, event_create
    from wallet.gateways import Movement, wallet_gateway
    from wallet.models import Gateway, GatewayTransfer

    actor = Actor.system("bench")
    t0 = time.monotonic()
    players = list(get_user_model().objects.filter(username__startswith="settle").order_by("pk"))
    event = event_create(home_team="P2P Settle Home", away_team="P2P Settle Away", sport="football",
                         competition="Bench League", start_time=timezone.now() + timedelta(days=1),
                         markets=[MarketSpec(kind="match_result", prices=SETTLE_PRICES)], actor=actor)
    outcomes = list(Outcome.objects.filter(market__event=event).order_by("pk"))
    internal, now = wallet_gateway(Gateway.INTERNAL), timezone.now()
    for lo in range(0, count, BUILD_CHUNK):
        with transaction.atomic():
            rows = [Challenge(event=event, creator=players[i % len(players)],
                              acceptor=players[(i * 7 + 1 + i // len(players)) % len(players)],
                              outcome=outcomes[i % 3], stake=SETTLE_STAKE, creator_funding=Gateway.INTERNAL,
                              acceptor_funding=Gateway.INTERNAL, status=Challenge.Status.MATCHED, matched_at=now)
                    for i in range(lo, min(count, lo + BUILD_CHUNK))]
            for c in rows:  # an acceptor is never its creator
                if c.acceptor == c.creator:
                    c.acceptor = players[(players.index(c.creator) + 1) % len(players)]
            insert_rows(rows)
            internal.transfer([Movement(user_id=user.pk, direction=GatewayTransfer.Direction.IN, amount=c.stake,
                                        purpose="stake", reference_type="challenge", reference_id=c.pk,
                                        idempotency_key=key)
                               for c in rows for user, key in (
                                   (c.creator, f"challenge:{c.pk}:stake:creator"),
                                   (c.acceptor, f"challenge:{c.pk}:stake:acceptor:{c.acceptor.pk}:1"))],
                              actor=actor)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"event": event.pk, "challenges": Challenge.objects.filter(event=event).count(),
            "seconds": time.monotonic() - t0}


def job_result_challenges(*, event_id: int, out: Any, go: Any) -> dict:
    """Result the challenges' event and drop the settle tasks it sent (the timed worker does their work)."""
    from audit.context import Actor
    from events.services import event_result_set
    from oddslab.celery import app

    event_result_set(event_id=event_id, home_score=SETTLE_SCORE[0], away_score=SETTLE_SCORE[1],
                     actor=Actor.system("bench"))
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settle.QUEUE)
    return {}


def job_settle_challenges(*, event_ids: list[int], max_seconds: float, out: Any, go: Any) -> dict:
    """What a settlement worker does: ``challenge_settlement_batch`` until nothing is left (or the cap)."""
    from betting.challenge_settlement import challenge_settlement_batch

    t0 = settle._ready(out, go)
    cpu0 = time.process_time()
    settled, batches, capped = 0, [], True
    while time.monotonic() - t0 < max_seconds:
        b0 = time.monotonic()
        n = challenge_settlement_batch(event_ids=event_ids)
        if not n:
            capped = False
            break
        settled += n
        batches.append(time.monotonic() - b0)
    return {"settled": settled, "started": t0, "finished": time.monotonic(), "capped": capped,
            "batches": batches, "cpu": time.process_time() - cpu0}


def job_verify_challenges(*, event_id: int, capped: bool, out: Any, go: Any) -> dict:
    """Every challenge settled (unless capped) with the result, payout and fee computed here, one payout
    and one fee movement each, escrow holding exactly the stakes still matched, the audit and stats rows."""
    from django.db.models import Count, Q, Sum

    from audit.models import AuditLog
    from betting.models import BettorStats, Challenge
    from events.models import Outcome
    from ledger.selectors import ledger_verify
    from ledger.services import escrow_vault_balance
    from wallet.models import GatewayTransfer

    rows = Challenge.objects.filter(event_id=event_id)
    won = dict(Outcome.objects.filter(market__event_id=event_id).values_list("pk", "status"))
    pot = 2 * SETTLE_STAKE
    payout = (pot * (1 - Decimal(str(_fee_rate())))).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    wrong = 0
    for c in rows.filter(status=Challenge.Status.SETTLED).only("outcome_id", "result", "winner_id", "creator_id",
                                                              "acceptor_id", "payout", "fee"):
        creator_won = won[c.outcome_id] == "won"
        expected = ("won" if creator_won else "lost", c.creator_id if creator_won else c.acceptor_id, payout,
                    pot - payout)
        wrong += (c.result, c.winner_id, c.payout, c.fee) != expected
    settled = rows.filter(status=Challenge.Status.SETTLED).count()
    moves = GatewayTransfer.objects.filter(reference_type="challenge", direction="out").values("reference_id") \
        .annotate(payouts=Count("pk", filter=Q(purpose="payout")), fees=Count("pk", filter=Q(purpose="fee")))
    bad_moves = sum(1 for m in moves if (m["payouts"], m["fees"]) != (1, 1))
    held = rows.filter(status__in=Challenge.HELD).aggregate(total=Sum("stake"))["total"] or Decimal("0.00")
    escrow = escrow_vault_balance()
    audits = AuditLog.objects.filter(action="challenge.settle").count()
    stats = BettorStats.objects.filter(product=BettorStats.Product.P2P).aggregate(n=Sum("bets"))["n"] or 0
    report = ledger_verify()
    checks = {"challenges": rows.count(), "settled": settled,
              "left": rows.exclude(status=Challenge.Status.SETTLED).count(),
              "wrong result, winner, payout or fee": wrong,
              "settled without exactly one payout and one fee movement": bad_moves + settled - len(moves),
              "escrow balance == 2 x stakes still matched": f"{escrow} == {2 * held}",
              "audit rows challenge.settle == settled": audits == settled,
              "stats lines (p2p) == 2 x settled": f"{stats} == {2 * settled}",
              "ledger_verify().ok": report.ok}
    ok = ((capped or settled == rows.count()) and wrong == 0 and bad_moves + settled - len(moves) == 0
          and escrow == 2 * held and audits == settled and stats == 2 * settled and report.ok)
    return {"ok": ok, "checks": checks}


def _fee_rate() -> Decimal:
    from django.conf import settings

    return Decimal(str(settings.P2P_FEE_RATE))


def measure_challenges(ctx: dict, workers: int, cap: float) -> dict:
    """One timed run of challenge settlement in a fresh copy of the book."""
    name = f"{SETTLE_DATABASE}_p2p{workers}"
    url = settle.clone(ctx["server_url"], name)
    env = common.bench_env(url, ctx["redis_url"], **ctx["env_extra"])
    settle.call(env, "challenges:job_result_challenges", event_id=ctx["p2p"]["event"])
    settle.checkpoint(url)
    children = settle.Children(env, "challenges:job_settle_challenges",
                               [{"event_ids": [ctx["p2p"]["event"]], "max_seconds": cap}] * workers, gated=True)
    try:
        children.wait_ready()
        waited = settle.quiet_wait()
        load = os.getloadavg()
        cpu = settle.Cpu(name)
        cpu.start()
        t0 = time.monotonic()
        children.go.set()
        results = children.results()
        wall = max(r["finished"] for r in results) - t0
        usage = cpu.stop(wall)
    finally:
        children.stop()
    done = sum(r["settled"] for r in results)
    capped = any(r["capped"] for r in results)
    usage["workers"] = 100 * sum(r["cpu"] for r in results) / wall
    usage["other"] = max(0.0, usage["machine"] - usage["workers"] - usage["postgres"])
    verify = settle.call(env, "challenges:job_verify_challenges", event_id=ctx["p2p"]["event"], capped=capped)
    settle.drop(ctx["server_url"], name)
    label = f"challenges, {workers} worker{'s' if workers > 1 else ''}"
    batches = [b for r in results for b in r["batches"]]
    print(f"  {label}: {done:,} in {wall:.2f} s = {done / wall:,.0f}/s{' (time cap reached)' if capped else ''}; "
          f"waited {waited:.0f} s; load {load[0]:.2f}; CPU % of one core: workers {usage['workers']:.0f}, "
          f"postgres {usage['postgres']:.0f}, other {usage['other']:.0f}"
          + (f"; batch {batches[0]:.2f} s first, {batches[-1]:.2f} s last" if batches else ""), flush=True)
    settle.print_checks(verify)
    return {"label": label, "kind": "challenges", "workers": workers, "settled": done, "seconds": wall,
            "rate": done / wall, "capped": capped, "cpu": usage, "load": load, "verify": verify}


def settle_part(server_url: str, redis_url: str, args: argparse.Namespace) -> dict:
    # bench/settle.py's helpers (clone, drop, measure) work on its BASE_DATABASE: point them at ours.
    settle.BASE_DATABASE = SETTLE_DATABASE
    env_extra = {"CELERY_TASK_DEFAULT_QUEUE": settle.QUEUE, "SETTLEMENT_FANOUT": "2", "DATABASE_POOL_MIN_SIZE": "1",
                 "SETTLEMENT_BATCH_SIZE": os.environ.get("SETTLEMENT_BATCH_SIZE", "1000")}
    base_env = common.bench_env(common.recreate_database(server_url, SETTLE_DATABASE), redis_url, **env_extra)
    common.migrate(base_env)
    t = time.monotonic()
    book = settle.call(base_env, "build", bets=args.settle)
    p2p = settle.call(base_env, "challenges:job_build_challenges", count=args.settle)
    print(f"settlement book: {book['bets']:,} accepted bets and {p2p['challenges']:,} matched challenges "
          f"(internal) among {settle.PLAYERS:,} players, built in {time.monotonic() - t:.0f} s; batch size "
          f"{env_extra['SETTLEMENT_BATCH_SIZE']}", flush=True)
    ctx = {"server_url": server_url, "redis_url": redis_url, "env_extra": env_extra, "book": book, "p2p": p2p,
           "log_dir": Path("/tmp")}
    cap = 60.0 if args.quick else 180.0
    runs = []
    for workers in args.settle_workers:  # the baseline just before each, so both meet the same machine
        runs.append(settle.measure(ctx, f"bets{workers}", f"bets, {workers} worker{'s' if workers > 1 else ''} "
                                   "(baseline)", "shipped", workers, "settle",
                                   {"market_ids": book["markets"], "max_seconds": cap, "stub_live": False}))
        runs.append(measure_challenges(ctx, workers, cap))
    settle.drop(server_url, SETTLE_DATABASE)
    return {"runs": runs, "count": args.settle}


def settle_report(result: dict) -> str:
    runs = result["runs"]
    baseline = {r["workers"]: r for r in runs if r["kind"] == "shipped"}
    rows = [[r["label"], f"{r['settled']:,}" + (" (cap)" if r["capped"] else ""), f"{r['seconds']:.1f}",
             f"{r['rate']:,.0f}", f"{r['rate'] / baseline[r['workers']]['rate']:.2f}",
             f"{r['cpu']['workers']:.0f} / {r['cpu']['postgres']:.0f} / {r['cpu']['other']:.0f}",
             "pass" if r["verify"]["ok"] else "FAIL"] for r in runs]
    best = max((r for r in runs if r["kind"] == "challenges"), key=lambda r: r["rate"], default=None)
    lines = [f"settlement of {result['count']:,}:",
             common.table(["run", "settled", "s", "per s", "vs bets, same workers",
                           "CPU % workers / postgres / other", "checks"], rows)]
    if best:
        lines.append(f"target >= 5,000 challenges settled/s: {'met' if best['rate'] >= 5000 else 'NOT met'} "
                     f"(best {best['rate']:,.0f}/s, {best['label']}; bets with as many workers "
                     f"{baseline[best['workers']]['rate']:,.0f}/s)")
    return "\n".join(lines)

# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s HTTP windows, 10,000 to settle")
    parser.add_argument("--only", default="http,settle", help="parts to run: http, settle (default both)")
    parser.add_argument("--settle", type=int, help="matched challenges (and bets) to settle (default 50,000; "
                        "--quick 10,000)")
    parser.add_argument("--settle-workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2],
                        help="challenge settlement worker counts, comma-separated (default 1,2)")
    parser.add_argument("--duration", type=float, help="seconds per HTTP window (default 6; --quick 3)")
    parser.add_argument("--rounds", type=int, default=2, help="HTTP rounds, placement then challenges (default 2)")
    parser.add_argument("--web-processes", type=int, default=2, help="Daphne processes (default 2, as make run)")
    parser.add_argument("--quiet-budget", type=float, default=120.0, help="seconds the run may wait in all "
                        "for a quiet machine before the HTTP windows (default 120)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    args.duration = args.duration or (3.0 if args.quick else 6.0)
    # At 200 connections a pair takes a few seconds: count only once every connection is past its first.
    args.warmup = 2.0 if args.quick else 3.0
    args.settle = args.settle or (10_000 if args.quick else 50_000)
    parts = set(args.only.split(","))

    command = shlex.join([os.path.relpath(sys.executable, common.ROOT), *sys.argv])
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True,
                              text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=common.ROOT,
                           capture_output=True, text=True).stdout.splitlines()
    print(f"$ {command}\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, code {revision}"
          + (f" + uncommitted changes in {len(dirty)} files" if dirty else ""))
    server_url, redis_url = common.server_urls()
    figures: dict[str, Any] = {"command": command}
    if "http" in parts:
        database_url = common.recreate_database(server_url, DATABASE)
        env = common.bench_env(database_url, redis_url, DATABASE_POOL_MIN_SIZE="2")
        host = urlsplit(database_url)
        print(f"database {DATABASE} on {host.hostname or 'the embedded server'} (dropped and re-created), "
              "migrating ...")
        common.migrate(env)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        t = time.monotonic()
        data = setup_players()
        connection.close()
        connection.close_pool()
        print(f"setup: {PLAYERS} players, {EVENTS} events in {time.monotonic() - t:.0f} s; SQL statements per "
              f"request: {', '.join(f'{k} {v}' for k, v in data['statements'].items())}")
        figures["http"] = http_part(env, DATABASE, data, args)
        print("\n" + http_report(figures["http"], args) + "\n")
    if "settle" in parts:
        figures["settle"] = settle_part(server_url, redis_url, args)
        print("\n" + settle_report(figures["settle"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
