"""What batching placements could give at most (not a test; issue 15, "batching where bets queue").

    .venv/bin/python bench/batching.py            # about 3 minutes

An in-process batcher would hand the placements queued in one web process to one transaction, sorted
by wallet, so that the bets of a hot wallet share one lock and one commit. Before building one, this
measures the most it could win, in the database and the service's own Python. Eight placements are
always in flight (8 players), as ``C`` client processes that each run ``betting.slips.slip_run`` (the
whole placement's one call to the database) for ``B = 8 / C`` bets in one transaction and commit, over
and over: C = 8, B = 1 is today (one bet, one transaction; the baseline of the same run); C = 2, B = 4
is two web processes whose batchers each found 4 placements queued; C = 1, B = 8 one batcher taking
all. Scenarios: every bet on one hot wallet, and bets spread over 1,000 wallets. It prints bets/s, its
ratio to the baseline, and the p50/p99 of a transaction (a batched bet answers when its batch
commits). The web path around it (HTTP, authentication, the answer) is not batched by a batcher and
is not measured here: bench/place_bets.py measures that.

Runs in its own database ``oddslab_bench`` (dropped and re-created), as place_bets.py does.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import common
import place_bets

IN_FLIGHT = 8
BATCHES = (1, 2, 4, 8)  # bets per transaction; IN_FLIGHT // B clients


def client_main(env: dict[str, str], players: list[int], outcomes: list[tuple[int, str]], batch: int,
                duration: float, go: Any, results: Any) -> None:
    """One client: ``batch`` placements per transaction, cycling over its players and the outcomes."""
    os.environ.update(env)
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from audit.context import Actor
    from betting.slips import Selection, Slip, slip_run

    users = list(get_user_model().objects.filter(pk__in=players))
    slips = [Slip(selections=[Selection(outcome_id, Decimal(price))], stake=Decimal(place_bets.STAKE),
                  bet_type="single", odds_change="none") for outcome_id, price in outcomes]
    k, placed, refused, latencies = 0, 0, 0, []

    def one_transaction(record: bool) -> None:
        nonlocal k, placed, refused
        began = time.perf_counter()
        with transaction.atomic():
            for _ in range(batch):
                user, slip = users[k % len(users)], slips[k % len(slips)]
                k += 1
                answer = slip_run(place=True, player=user, slip=slip, actor=Actor.of(user))
                if record:
                    placed, refused = placed + (not answer.violations), refused + bool(answer.violations)
        if record:
            latencies.append((time.perf_counter() - began) * 1000)

    for _ in range(5):  # warm: the connection, prepared statements
        one_transaction(record=False)
    go.wait()
    deadline = time.time() + duration
    while time.time() < deadline:
        one_transaction(record=True)
    connection.close()
    results.put({"placed": placed, "refused": refused, "latencies": latencies})


def measure(env: dict[str, str], groups: list[list[int]], outcomes: list[tuple[int, str]], batch: int,
            duration: float) -> dict:
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=client_main, args=(env, players, outcomes[g::len(groups)] or outcomes, batch,
                                                   duration, go, results), daemon=True)
             for g, players in enumerate(groups)]
    for proc in procs:
        proc.start()
    time.sleep(8)  # every client set up (django.setup, its users) before the window opens
    go.set()
    outs = [results.get(timeout=duration + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    latencies = sorted(x for out in outs for x in out["latencies"])
    return {"rate": sum(o["placed"] for o in outs) / duration, "refused": sum(o["refused"] for o in outs),
            "p50": common.percentile(latencies, 50), "p99": common.percentile(latencies, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="each measurement this many times, interleaved")
    args = parser.parse_args()

    server_url, redis_url = common.server_urls()
    database_url = common.recreate_database(server_url)
    env = common.bench_env(database_url, redis_url)
    print(f"database {common.database_name(database_url)} (dropped and re-created), migrating ...", flush=True)
    common.migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    data = place_bets.setup_data(["batch"])
    connection.close()
    scenarios = {"hot wallet": lambda clients: [[data["hot"]["batch"]]] * clients,
                 "1,000 wallets": lambda clients: [data["wallets"][g::clients] for g in range(clients)]}
    rows = []
    for scenario, groups in scenarios.items():
        figures: dict[int, list[dict]] = {b: [] for b in BATCHES}
        for _ in range(args.rounds):
            for batch in BATCHES:
                run = measure(env, groups(IN_FLIGHT // batch), data["outcomes"], batch, args.duration)
                figures[batch].append(run)
                print(f"  {scenario:13} {IN_FLIGHT // batch} clients x {batch} bets per transaction: "
                      f"{run['rate']:8,.1f} bets/s  transaction p50 "
                      f"{run['p50']:6.1f} ms  p99 {run['p99']:6.1f} ms  refused {run['refused']}", flush=True)
        base = sum(r["rate"] for r in figures[1]) / args.rounds
        for batch in BATCHES:
            rate = sum(r["rate"] for r in figures[batch]) / args.rounds
            worst = {q: max(r[q] for r in figures[batch]) for q in ("p50", "p99")}
            rows.append([scenario, f"{IN_FLIGHT // batch} x {batch}", f"{rate:,.1f}", f"{rate / base:.2f}",
                         f"{worst['p50']:.1f}", f"{worst['p99']:.1f}"])
    print(f"\n{IN_FLIGHT} bets in flight, {args.duration:.0f} s windows, {args.rounds} rounds "
          "(mean rate, worst p50/p99):")
    print(common.table(["scenario", "clients x bets per transaction", "bets/s", "vs 1 (same run)", "p50 ms",
                        "p99 ms"], rows))


if __name__ == "__main__":
    sys.exit(main())
