"""cProfile of create+accept pairs beside bet placements through DRF's APIClient (token auth), in one
process on the test database: where a challenge request's Python time goes (bench/RESULTS.md,
2026-12-04). Not a test (no test_ prefix: the suite never collects it); run it explicitly:

    DATABASE_URL=... REDIS_URL=... PROFILE_N=200 PROFILE_OUT=/tmp/challenge-profile \\
      .venv/bin/python -m pytest tests/profile_challenge_requests.py -q -s

Prints statements per bet and per pair and milliseconds each (profiler off), and writes
``bet.txt`` / ``pair.txt`` (cumulative and own time, top entries) and ``.prof`` dumps to PROFILE_OUT.
"""

import cProfile
import io
import os
import pstats
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import outcome_of

N = int(os.environ.get("PROFILE_N", "200"))
OUT = Path(os.environ.get("PROFILE_OUT", "/tmp/challenge-profile"))


@pytest.mark.django_db
def test_profile(api, make_user, make_event):
    outcomes = [outcome_of(make_event()) for _ in range(5)]
    clients = [api(make_user(balance="100000.00")) for _ in range(10)]

    def bet(i: int) -> None:
        outcome = outcomes[i % 5]
        response = clients[i % 10].post("/api/v1/bets", {
            "selections": [{"outcome_id": outcome.pk, "price": str(outcome.price)}], "stake": "10.00",
            "bet_type": "single"}, format="json")
        assert response.status_code == 201, response.content

    def pair(i: int) -> None:
        outcome = outcomes[i % 5]
        response = clients[i % 10].post("/api/v1/challenges", {
            "event_id": outcome.market.event_id, "outcome_id": outcome.pk, "stake": "10.00",
            "funding": "internal"}, format="json")
        assert response.status_code == 201, response.content
        response = clients[(i + 1) % 10].post(f"/api/v1/challenges/{response.json()['id']}/accept",
                                              {"funding": "internal"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "matched", response.content

    for run in (bet, pair):  # warm up
        for i in range(10):
            run(i)
    OUT.mkdir(parents=True, exist_ok=True)
    statements, seconds = {}, {"bet": 0.0, "pair": 0.0}
    for name, run in (("bet", bet), ("pair", pair)):
        with CaptureQueriesContext(connection) as queries:
            run(3)
        statements[name] = len(queries.captured_queries)  # now: each request clears the log it reads
    for _ in range(4):  # alternating, so that the shared machine's load falls on both alike
        for name, run in (("bet", bet), ("pair", pair)):
            started = time.perf_counter()
            for i in range(N // 4):
                run(i)
            seconds[name] += time.perf_counter() - started
    for name in seconds:
        print(f"\n{name}: {statements[name]} statements, {seconds[name] / (N // 4 * 4) * 1000:.2f} ms each")
    for name, run in (("bet", bet), ("pair", pair)):
        profile = cProfile.Profile()
        profile.enable()
        for i in range(N):
            run(i)
        profile.disable()
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("cumulative").print_stats(70)
        stats.sort_stats("tottime").print_stats(30)
        (OUT / f"{name}.txt").write_text(text.getvalue())
        profile.dump_stats(OUT / f"{name}.prof")
