"""Benchmark of peer-to-peer challenges (not a test), each figure beside a baseline of the same run.

    .venv/bin/python bench/challenges.py                # about 2 minutes
    .venv/bin/python bench/challenges.py --quick        # 3 s HTTP windows

1. **Matching over HTTP.** 200 funded players with API tokens on the web server as ``make run``
   starts it (``python -m oddslab.serve``, ``--web-processes`` Daphne processes). Each of 200 keep-alive
   connections (one per player) loops: ``POST /api/v1/challenges`` (a match-result outcome of one of 50
   events, stake 10.00, ``funding: internal``) as its player, then ``POST /api/v1/challenges/{id}/accept``
   as the next player. A pair counts when the challenge was created (201) and matched (200,
   ``"status":"matched"``). Baseline, in the same run on the same server and players:
   ``POST /api/v1/bets`` (a single at 10.00) from the same 200 connections, as ``bench/place_bets.py``'s
   HTTP layer does. The two alternate ``--rounds`` times (2), each after the machine went quiet.
   Target: challenges created and matched per second >= 50% of bets placed per second.

Everything runs in its own database ``oddslab_bench_challenges`` (dropped, re-created and migrated each
run) on the server DATABASE_URL points
at, or on the embedded server under var/ when it is unset. The CPU of everything that is not the
benchmark ("other") is printed beside each HTTP figure: check it before trusting one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
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
from place_bets import CpuMeter, http_request

sys.path.insert(0, str(common.ROOT))  # this checkout's apps, whatever the venv was installed from

DATABASE = "oddslab_bench_challenges"
PLAYERS = 200
EVENTS = 50
STAKE = "10.00"
FUNDS = Decimal("500000.00")  # under the KYC deposit threshold (1,000,000)
PRICES = {"home": "2.50", "draw": "3.20", "away": "2.80"}
REQUEST_TIMEOUT = 60.0


# --- setup (in this process, Django set up on the benchmark's database) ----------------------------


def setup_players() -> dict:
    """200 funded players with tokens, 50 scheduled events, and limits that do not refuse a benchmark."""
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from audit.context import Actor
    from oddslab.accounts.services import user_with_role
    from oddslab.events.models import Outcome
    from oddslab.events.services import MarketSpec, event_create
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
    return {"players": [tokens[u.pk] for u in users],
            "outcomes": [(pk, str(price), event_id) for pk, price, event_id in outcomes]}


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


def http_part(env: dict[str, str], database: str, data: dict, args: argparse.Namespace) -> dict:
    port = common.free_port()
    server = common.daphne_start(env, port, Path("/tmp/oddslab-bench-challenges-daphne.log"), args.web_processes)
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
    placed = sum(r["ok"] for r in runs if r["layer"] == "placement")
    matched = sum(r["ok"] for r in runs if r["layer"] == "challenges")
    ratio = matched / placed if placed else float("nan")
    return {"runs": runs, "ratio": ratio, "met": ratio >= 0.5}


def http_report(result: dict, args: argparse.Namespace) -> str:
    rows = [[r["round"], r["layer"], f"{r['rate']:,.1f}", f"{r['p50']:.0f} / {r['p99']:.0f}",
             f"{r['cpu']['daphne']:.0f} / {r['cpu']['postgres']:.0f} / {r['cpu']['loadgen']:.0f} / "
             f"{r['cpu']['other']:.0f}", sum(r["errors"].values())] for r in result["runs"]]
    return "\n".join([
        f"HTTP, {PLAYERS} players on {args.web_processes} Daphne processes, {args.duration:g} s windows:",
        common.table(["round", "layer", "per s (bets; challenges created and matched)", "p50 / p99 ms",
                      "CPU % daphne / postgres / loadgen / other", "errors"], rows),
        f"ratio challenges created and matched / bets placed: {result['ratio']:.2f} "
        f"(target >= 0.50: {'met' if result['met'] else 'NOT met'}); a pair is two requests, a bet one"])


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s HTTP windows")
    parser.add_argument("--only", default="http", help="parts to run: http (default)")
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
    parts = set(args.only.split(","))

    command = shlex.join([os.path.relpath(sys.executable, common.ROOT), *sys.argv])
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True,
                              text=True).stdout.strip()
    print(f"$ {command}\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, code {revision}")
    server_url, redis_url = common.server_urls()
    database_url = common.recreate_database(server_url, DATABASE)
    env = common.bench_env(database_url, redis_url, DATABASE_POOL_MIN_SIZE="2")
    host = urlsplit(database_url)
    print(f"database {DATABASE} on {host.hostname or 'the embedded server'} (dropped and re-created), migrating ...")
    common.migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    figures: dict[str, Any] = {"command": command}
    if "http" in parts:
        t = time.monotonic()
        data = setup_players()
        connection.close()
        connection.close_pool()
        print(f"setup: {PLAYERS} players, {EVENTS} events in {time.monotonic() - t:.0f} s")
        figures["http"] = http_part(env, DATABASE, data, args)
        print("\n" + http_report(figures["http"], args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
