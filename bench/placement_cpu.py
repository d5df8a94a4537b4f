"""CPU per placement, one bet at a time (not a test): where ``place_bets.py`` says how fast, this
says what one bet costs, without queueing or GIL contention in the figures.

    .venv/bin/python bench/placement_cpu.py               # about a minute
    .venv/bin/python bench/placement_cpu.py --profile     # + cProfile's top frames per layer

In one process and one thread, on a fresh ``oddslab_bench`` database set up as ``place_bets.py``
sets it up (1,000 funded wallets, 50 events), it places ``--bets`` singles each way and prints, per
bet, the Python CPU of this process and the CPU of the bench database's PostgreSQL backends:

- service: ``bet_place`` with a fresh copy of the player each time (as a request loads its user
  with its group names, so nothing cached on the user object carries over), the connection returned
  to the pool after each bet;
- api: ``POST /api/v1/bets`` through Django's test client (token authentication, DRF, the
  middleware; no server and no HTTP parsing: ``place_bets.py``'s HTTP layer adds those);
- healthz: ``GET /healthz`` through the same client, the one-query baseline of the api layer;
- challenge pair: ``POST /api/v1/challenges`` (a single outcome, stake as a bet's, internal
  funding) as one player, then ``POST /api/v1/challenges/{id}/accept`` as the next, through the same
  client: what ``bench/challenges.py`` counts as one pair, here per pair (two requests);
- raw: ``place_bets.py``'s hand-written psycopg transaction of the same shape, the baseline of
  the service layer.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import itertools
import json
import os
import pstats
import sys
import time
from pathlib import Path

import common
import place_bets


def measure(name: str, op, bets: int, meter: place_bets.CpuMeter, profile: bool) -> dict:
    for _ in range(min(50, bets)):  # warm: pooled connections, prepared statements, caches
        op()
    profiler = cProfile.Profile(time.process_time) if profile else None  # this process's CPU, not waits on the database
    meter.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(bets):
        op()
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    postgres = meter.stop()["postgres"] / 100 * wall
    row = {"layer": name, "per_second": bets / wall, "python_ms": 1000 * cpu / bets,
           "postgres_ms": 1000 * postgres / bets}
    print(f"  {name:8} {row['per_second']:7.0f}/s   Python {row['python_ms']:5.2f} ms   "
          f"PostgreSQL {row['postgres_ms']:5.2f} ms per operation")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumtime").print_stats(40)
        print("\n".join(out.getvalue().splitlines()[4:]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bets", type=int, default=1000, help="placements per layer (default 1,000)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top frames (slows every layer)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()

    server_url, redis_url = common.server_urls()
    database_url = common.recreate_database(server_url)
    env = common.bench_env(database_url, redis_url)
    print(f"database {common.database_name(database_url)} (dropped and re-created), migrating ...")
    common.migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    import psycopg_pool
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from audit.context import Actor
    from betting.services import bet_place

    data = place_bets.setup_data([])
    print(f"one bet_place sends {len(data['statements'])} SQL statements")
    players = list(get_user_model().objects.filter(pk__in=data["wallets"]).order_by("pk"))
    for player in players:  # read with the user, as token authentication reads them (accounts.authentication)
        player.group_names = frozenset(player.groups.values_list("name", flat=True))
    connection.close()
    outcomes = data["outcomes"]
    meter = place_bets.CpuMeter(common.database_name(database_url), {})
    rows = []

    pristine, selection = itertools.cycle(players), itertools.cycle(outcomes)

    def service() -> None:
        player = copy.copy(next(pristine))
        outcome_id, price = next(selection)
        bet_place(player=player, selections=[{"outcome_id": outcome_id, "price": price}],
                  stake=place_bets.STAKE, bet_type="single", odds_change="none", actor=Actor.of(player))
        connection.close()

    client, tokens = Client(), itertools.cycle([data["tokens"][pk] for pk in data["wallets"]])

    def api() -> None:
        outcome_id, price = next(selection)
        body = json.dumps({"selections": [{"outcome_id": outcome_id, "price": price}],
                           "stake": place_bets.STAKE, "bet_type": "single"})
        response = client.post("/api/v1/bets", body, content_type="application/json",
                               headers={"Authorization": f"Token {next(tokens)}"})
        assert response.status_code == 201, response.content

    def healthz() -> None:
        assert client.get("/healthz").status_code == 200

    from events.models import Outcome

    event_of = dict(Outcome.objects.values_list("pk", "market__event_id"))
    connection.close()
    pairs = itertools.cycle(itertools.pairwise([data["tokens"][pk] for pk in data["wallets"]]))

    def challenge_pair() -> None:
        outcome_id, _ = next(selection)
        creator, acceptor = next(pairs)
        body = json.dumps({"event_id": event_of[outcome_id], "outcome_id": outcome_id, "stake": place_bets.STAKE,
                           "funding": "internal"})
        created = client.post("/api/v1/challenges", body, content_type="application/json",
                              headers={"Authorization": f"Token {creator}"})
        assert created.status_code == 201, created.content
        accepted = client.post(f"/api/v1/challenges/{created.json()['id']}/accept", '{"funding": "internal"}',
                               content_type="application/json", headers={"Authorization": f"Token {acceptor}"})
        assert accepted.status_code == 200 and accepted.json()["status"] == "matched", accepted.content

    print(f"{args.bets} operations per layer, one at a time:")
    for name, op in (("service", service), ("api", api), ("healthz", healthz), ("pair", challenge_pair)):
        rows.append(measure(name, op, args.bets, meter, args.profile))
    with psycopg_pool.ConnectionPool(common.libpq_url(database_url), min_size=1, max_size=1) as pool:
        job = {"house_account": data["stakes_held"], "house_stores_balance": False}
        spec = {"wallets": [(pk, data["accounts"][pk]) for pk in data["wallets"]], "outcomes": outcomes}
        raw = place_bets.raw_op(pool, spec, job)

        def raw_placed() -> None:
            refused = raw()
            assert refused is None, refused

        rows.append(measure("raw", raw_placed, args.bets, meter, args.profile))
    service_row, api_row, healthz_row, pair_row, raw_row = rows
    print(f"\nservice / raw: {service_row['python_ms'] / raw_row['python_ms']:.1f}x the Python CPU, "
          f"{service_row['postgres_ms'] / raw_row['postgres_ms']:.1f}x the PostgreSQL CPU; "
          f"api - service: {api_row['python_ms'] - service_row['python_ms']:.2f} ms of Python per bet "
          f"(healthz: {healthz_row['python_ms']:.2f} ms); a challenge pair (two requests) / a bet over the api: "
          f"{pair_row['python_ms'] / api_row['python_ms']:.2f}x the Python, "
          f"{pair_row['postgres_ms'] / api_row['postgres_ms']:.2f}x the PostgreSQL CPU")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
