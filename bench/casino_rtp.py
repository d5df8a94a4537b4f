"""The casino's return to player, measured, and its rounds per second over HTTP (not a test; issue 18).

    .venv/bin/python bench/casino_rtp.py                 # RTP of 1,000,000 rounds a game, then HTTP
    .venv/bin/python bench/casino_rtp.py --only rtp      # the simulation alone (no database)
    .venv/bin/python bench/casino_rtp.py --rounds 200000 --only rtp

RTP: rounds drawn through the outcome functions players are paid by (casino.fairness: the HMAC draw,
the dice multiplier, the roulette pay table; not the HTTP path), one fresh server seed per game and
nonces 0..n-1 as a player's rounds would be. Dice: under 49.50 (win chance 49.50%, multiplier 2.0000,
theoretical RTP 99.00%); roulette: one unit on each of a straight number (rotating 0..36), red, a dozen
and a column per spin (each 36/37 = 97.30% theoretical). It prints the measured RTP with a 99%
confidence interval (the normal approximation over per-round returns) and whether the theoretical
value lies inside it; and, as its baseline of the same run, the draws per second of the bare
HMAC-SHA256 next to those of the whole outcome-and-payout function.

HTTP: ``POST /api/v1/casino/rounds`` (a dice round of 1.00) from 32 keep-alive connections, one player
each, on the web server as ``make run`` starts it, beside ``GET /healthz`` (one ``SELECT 1``) on the same
server: rounds per second, p50/p99, and the ratio rounds/healthz. Runs in its own database
``oddslab_bench_casino`` (dropped and re-created), as the other benchmarks do.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import common
import place_bets
from place_bets import CpuMeter, http_request

sys.path.insert(0, str(common.ROOT))

DATABASE = "oddslab_bench_casino"
PLAYERS = 32
SERVER_LOG = Path("/tmp/oddslab-bench-casino-daphne.log")
Z99 = Decimal("2.5758")  # two-sided 99% normal quantile


# --- return to player ------------------------------------------------------------------------------

def _interval(returns_sum: Decimal, squares_sum: Decimal, staked: Decimal, n: int) -> tuple[Decimal, Decimal]:
    """RTP (returned / staked) and the half-width of its 99% interval, from per-round returns per unit staked."""
    mean = returns_sum / staked
    per_round_stake = staked / n
    # per-round return ratios r_i = returned_i / stake_i; all rounds of a game stake the same
    variance = (squares_sum / n - (returns_sum / n) ** 2) / per_round_stake ** 2
    return mean, Z99 * (variance / n).sqrt()


def rtp_dice(rounds: int) -> dict:
    from casino import fairness

    seed, client = secrets.token_hex(32), "bench"
    target, direction, stake = Decimal("49.50"), fairness.UNDER, Decimal("1.00")
    multiplier = fairness.dice_multiplier(fairness.dice_win_chance(target, direction))
    returned = squares = Decimal(0)
    start = time.perf_counter()
    for nonce in range(rounds):
        roll = fairness.dice_roll(seed, client, nonce)
        paid = fairness.dice_payout(stake, multiplier, fairness.dice_wins(roll, target, direction))
        returned += paid
        squares += paid * paid
    seconds = time.perf_counter() - start
    rtp, half = _interval(returned, squares, stake * rounds, rounds)
    theory = fairness.dice_win_chance(target, direction) / 100 * multiplier
    return {"game": "dice (under 49.50)", "rounds": rounds, "rtp": rtp, "half": half, "theory": theory,
            "per_second": rounds / seconds}


def rtp_roulette(rounds: int) -> dict:
    from casino import fairness

    seed, client = secrets.token_hex(32), "bench"
    unit = Decimal("1.00")
    returned = squares = Decimal(0)
    start = time.perf_counter()
    for nonce in range(rounds):
        number = fairness.roulette_number(seed, client, nonce)
        bets = [fairness.RouletteBet("straight", nonce % 37, unit), fairness.RouletteBet("red", None, unit),
                fairness.RouletteBet("dozen", nonce % 3 + 1, unit), fairness.RouletteBet("column", 2, unit)]
        paid = sum((fairness.roulette_bet_payout(bet, number) for bet in bets), Decimal(0))
        returned += paid
        squares += paid * paid
    seconds = time.perf_counter() - start
    rtp, half = _interval(returned, squares, unit * 4 * rounds, rounds)
    return {"game": "roulette (straight, red, dozen, column)", "rounds": rounds, "rtp": rtp, "half": half,
            "theory": Decimal(36) / Decimal(37), "per_second": rounds / seconds}


def hmac_baseline(rounds: int) -> float:
    """Draws per second of the bare HMAC-SHA256 (the draw's floor): the baseline of this run."""
    from casino import fairness

    seed = secrets.token_hex(32)
    start = time.perf_counter()
    for nonce in range(rounds):
        fairness.outcome_hex(seed, "bench", nonce)
    return rounds / (time.perf_counter() - start)


def rtp_report(results: list[dict], baseline: float) -> str:
    rows = []
    for r in results:
        low, high = r["rtp"] - r["half"], r["rtp"] + r["half"]
        inside = low <= r["theory"] <= high
        rows.append([r["game"], f"{r['rounds']:,}", f"{r['rtp'] * 100:.3f}%",
                     f"{low * 100:.3f}% .. {high * 100:.3f}%", f"{r['theory'] * 100:.3f}%",
                     "yes" if inside else "NO", f"{r['per_second']:,.0f}", f"{r['per_second'] / baseline:.2f}"])
    return "\n".join([
        "Return to player (outcome functions, not HTTP):",
        common.table(["game", "rounds", "measured RTP", "99% interval", "theoretical", "inside",
                      "rounds/s", "ratio to bare HMAC"], rows),
        f"baseline: bare HMAC-SHA256 draws {baseline:,.0f}/s in the same run"])


# --- rounds over HTTP beside /healthz ------------------------------------------------------------

def setup_players() -> list[str]:
    from rest_framework.authtoken.models import Token

    from accounts.services import user_with_role
    from audit.context import Actor
    from wallet.services import wallet_deposit

    tokens = []
    for i in range(PLAYERS):
        user, _ = user_with_role(username=f"casino-bench-{i}", password=secrets.token_hex(16), role="player")
        wallet_deposit(user=user, amount=Decimal("100000.00"), actor=Actor.system("bench"))
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


def round_body() -> bytes:
    return json.dumps({"game": "dice", "stake": "1.00", "target": "49.50", "direction": "under"},
                      separators=(",", ":")).encode()


def http_part(env: dict[str, str], tokens: list[str], args: argparse.Namespace) -> list[dict]:
    port = common.free_port()
    server = common.daphne_start(env, port, SERVER_LOG, args.web_processes)
    runs = []
    budget = {"seconds": args.quiet_budget}
    try:
        daphne = common.daphne_pids(server)
        layers = {
            "casino rounds": ([[http_request("POST", "/api/v1/casino/rounds", port, token, round_body())]
                               for token in tokens], (201, b'"game":"dice"')),
            "healthz": ([[http_request("GET", "/healthz", port)] for _ in tokens], 200),
        }
        for repeat in range(1, args.repeats + 1):
            for layer, (connections, expect) in layers.items():
                waited = place_bets.quiet_wait(budget)
                meter = CpuMeter(DATABASE, {"daphne": daphne})
                out, cpu = place_bets.http_measure(port, connections, expect, args.duration, 1.0, meter)
                latencies = sorted(out["latencies"])
                run = {"layer": layer, "repeat": repeat, "rate": out["ok"] / args.duration,
                       "p50": common.percentile(latencies, 50), "p99": common.percentile(latencies, 99),
                       "errors": out["errors"], "cpu": cpu, "waited": waited}
                runs.append(run)
                print(f"  {repeat} {layer:13}: {run['rate']:8,.1f}/s  p50 {run['p50']:6.1f} ms  "
                      f"p99 {run['p99']:6.1f} ms"
                      f"  CPU % daphne {cpu['daphne']:.0f} postgres {cpu['postgres']:.0f} other {cpu['other']:.0f}"
                      f"{'  errors ' + str(out['errors']) if out['errors'] else ''}", flush=True)
    finally:
        common.daphne_stop(server)
    return runs


def http_report(runs: list[dict]) -> str:
    best = {layer: max(r["rate"] for r in runs if r["layer"] == layer) for layer in ("casino rounds", "healthz")}
    rows = [[r["repeat"], r["layer"], f"{r['rate']:,.1f}", f"{r['p50']:.1f} / {r['p99']:.1f}",
             f"{r['cpu']['daphne']:.0f} / {r['cpu']['postgres']:.0f} / {r['cpu']['other']:.0f}",
             sum(r["errors"].values())] for r in runs]
    return "\n".join([
        f"HTTP, {PLAYERS} connections (one player each):",
        common.table(["repeat", "layer", "per s", "p50 / p99 ms", "CPU % daphne / postgres / other", "errors"], rows),
        f"ratio casino rounds / healthz (best of each): {best['casino rounds'] / best['healthz']:.2f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="rtp,http", help="rtp, http or both (default rtp,http)")
    parser.add_argument("--rounds", type=int, default=1_000_000, help="simulated rounds per game (default 1,000,000)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per HTTP window (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="HTTP windows per layer (default 2)")
    parser.add_argument("--web-processes", type=int, default=2, help="Daphne processes (default 2, as make run)")
    parser.add_argument("--quiet-budget", type=float, default=60.0, help="seconds to wait in all for a quiet box")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    command = shlex.join([os.path.relpath(sys.executable, common.ROOT), *sys.argv])
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True,
                              text=True).stdout.strip()
    print(f"$ {command}\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, code {revision}")
    if "rtp" in parts:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oddslab.settings")
        baseline = hmac_baseline(min(args.rounds, 200_000))
        print(rtp_report([rtp_dice(args.rounds), rtp_roulette(args.rounds)], baseline) + "\n", flush=True)
    if "http" in parts:
        server_url, redis_url = common.server_urls()
        database_url = common.recreate_database(server_url, DATABASE)
        env = common.bench_env(database_url, redis_url, DATABASE_POOL_MIN_SIZE="2")
        print(f"database {DATABASE} on {urlsplit(database_url).hostname or 'the embedded server'} "
              "(dropped and re-created), migrating ...", flush=True)
        common.migrate(env)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        tokens = setup_players()
        connection.close()
        connection.close_pool()
        print(http_report(http_part(env, tokens, args)))


if __name__ == "__main__":
    main()
