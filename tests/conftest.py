"""Shared fixtures. Every test runs against real PostgreSQL (the configured or embedded server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pgtrigger
import pytest
from django.core.management.commands import flush
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import user_with_role
from audit.context import Actor
from audit.models import AuditLog
from ledger.models import Account, Transfer
from wallet.services import wallet_deposit


def pytest_collection_modifyitems(items):
    """A transactional test must also be serialized_rollback: a plain one ends with a flush that
    re-creates content types and permissions under new ids, and the next serialized test's setup
    then fails on them (CI lost 44 tests that way to one unmarked test)."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: django_db(transaction=True) needs serialized_rollback=True")


# Transactional tests (threads need committed rows) end with Django's flush, a TRUNCATE of every
# table; the append-only triggers rightly refuse that, so the test teardown alone lifts them.
# pgtrigger.ignore() would prepend a set_config to each statement, and a statement of two commands
# cannot be prepared (the settings bind parameters on the server): set it for the session instead.
_flush_handle = flush.Command.handle


def _flush_ignoring_append_only(self, *args, **options):
    ignored = {id_ for model, trigger in pgtrigger.registered()
               for id_ in (trigger.get_pgid(model), f"{model._meta.db_table}:{trigger.get_pgid(model)}")}
    with connections[options["database"]].cursor() as cursor:
        cursor.execute("SELECT set_config('pgtrigger.ignore', %s, false)", ["{" + ",".join(sorted(ignored)) + "}"])
        try:
            return _flush_handle(self, *args, **options)
        finally:
            cursor.execute("SELECT set_config('pgtrigger.ignore', NULL, false)")


flush.Command.handle = _flush_ignoring_append_only


@pytest.fixture(scope="session", autouse=True)
def redis_namespace():
    """This run's Redis keys (settings.REDIS_PREFIX, named after the test database), cleared first:
    what another run, or ``make run`` on the same Redis, left behind never lands on this run's ids."""
    import redis
    from django.conf import settings

    assert settings.REDIS_PREFIX, "a test run keeps its Redis keys under a prefix of its own"
    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(match=f"{settings.REDIS_PREFIX}*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """Let the concurrency tests' threads (64 in the hot-wallet test) each hold a pooled connection."""
    from django.conf import settings

    settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = 80


@pytest.fixture
def make_user(db) -> Callable[..., Any]:
    counter = iter(range(1, 10_000))

    def make(role: str = "player", username: str | None = None, balance: Any = None):
        name = username or f"{role}{next(counter)}"
        user, _ = user_with_role(username=name, password="a-long-test-password", role=role,
                                 email=f"{name}@example.test")
        if balance is not None and Decimal(balance) > 0:
            wallet_deposit(user=user, amount=Decimal(balance), actor=Actor.system("test"))
        return user

    return make


@pytest.fixture
def player(make_user):
    return make_user("player", "patricia", balance="1000.00")


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    def client_for(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def make_event(db):
    """An event with a match_result market; ``home`` is the home price. Returns the event."""
    from datetime import timedelta

    from django.utils import timezone

    from events.services import MarketSpec, event_create

    counter = iter(range(1, 100_000))

    def make(home: str = "2.50", draw: str = "3.20", away: str = "2.80", *, sport: str = "football",
             competition: str = "Test League", extra_markets: list | None = None, start_in_hours: int = 24):
        n = next(counter)
        return event_create(
            home_team=f"Home {n}", away_team=f"Away {n}", sport=sport, competition=competition,
            start_time=timezone.now() + timedelta(hours=start_in_hours),
            markets=[MarketSpec(kind="match_result", prices={"home": home, "draw": draw, "away": away}),
                     *(extra_markets or [])],
            actor=Actor.system("test"))

    return make


def outcome_of(event, key: str = "home", kind: str = "match_result"):
    return event.markets.get(kind=kind).outcomes.get(key=key)


def selection(event, key: str = "home", price: str | None = None) -> dict:
    outcome = outcome_of(event, key)
    return {"outcome_id": outcome.pk, "price": price or str(outcome.price)}


def bets_snapshot() -> dict[str, Any]:
    """Balances, ledger and bets: what a refused slip must leave exactly as it was."""
    from betting.models import Bet, BetLeg
    from risk.models import OutcomeExposure

    return {**ledger_snapshot(), "bets": list(Bet.objects.values_list("pk", "status")),
            "legs": BetLeg.objects.count(),
            "exposure": list(OutcomeExposure.objects.values_list("outcome_id", "worst_case_payout"))}


def wallet_of(user) -> Account:
    return Account.objects.get(owner=user)


def ledger_snapshot() -> dict[str, Any]:
    """What a refusal must leave untouched: every stored balance and the set of transfers."""
    return {
        "balances": dict(Account.objects.values_list("code", "balance")),
        "transfers": list(Transfer.objects.values_list("entry_number", flat=True)),
    }


def assert_database_refuses(statement: str, match: str = "pgtrigger: Cannot") -> None:
    """The statement fails in PostgreSQL itself (a trigger or constraint), not in Python."""
    from django.db import DatabaseError, connection, transaction

    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        # Run the test transaction's deferred FK checks first, so a TRUNCATE meets the trigger.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)


def audit_rows(action: str, outcome: str | None = None):
    rows = AuditLog.objects.filter(action=action)
    return rows.filter(outcome=outcome) if outcome else rows


def run_concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; return results or exceptions.

    If the test is stopped while they run (pytest-timeout, Ctrl-C), the ``finally`` releases the
    barrier and cancels the threads' PostgreSQL statements, so a hung race ends with its test."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    backends: list[int] = []

    def target(i: int) -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backends.append(cursor.fetchone()[0])
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected for the test to inspect
            results[i] = exc
        finally:
            connections.close_all()  # hand the pooled connection back

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        threads_stop(threads, barrier=barrier, backends=backends)
    return results


def threads_stop(threads: list[threading.Thread], *, barrier: threading.Barrier | None = None,
                 backends: list[int] = ()) -> None:
    """Make sure a test's threads have ended: release their barrier, cancel their statements."""
    if not any(thread.is_alive() for thread in threads):
        return
    if barrier is not None:
        barrier.abort()
    if backends:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_cancel_backend(pid) FROM unnest(%s::int[]) AS pid", [list(backends)])
    for thread in threads:
        if thread.is_alive():
            thread.join(timeout=10)


def database_url_of_tests() -> str:
    """The URL of the test database, for child processes (a Celery worker) to share it."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="") + (f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else "")
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{quote(s['HOST'] or '', safe='')}{port}/{s['NAME']}"


@pytest.fixture
def celery_workers(transactional_db):
    """Start real ``celery worker`` processes on a queue of their own, sharing the test database.

    ``start(**env)`` starts one more and returns its Popen; all are stopped after the test.
    """
    import os
    import subprocess
    import sys
    import uuid

    from django.conf import settings

    from oddslab.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    workers: list[subprocess.Popen] = []

    def start(**extra_env: str) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": database_url_of_tests(), "REDIS_URL": settings.REDIS_URL,
               "CELERY_TASK_DEFAULT_QUEUE": queue, **extra_env}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "oddslab", "worker", "-Q", queue, "--pool=solo",
             "--loglevel=warning", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"{queue}-{len(workers)}@%h"],
            env=env, cwd=settings.BASE_DIR,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # a warm shutdown waits for the task in hand; the test has asserted what it needed,
                # and a SIGKILL mid-task is the case the crash test proves harmless
                worker.kill()
                worker.wait(timeout=20)
        app.conf.task_default_queue = "celery"


@pytest.fixture
def celery_worker_process(celery_workers):
    return celery_workers()


def server_start(processes: int = 2):
    """``python -m oddslab.serve`` on a free port against the test database and Redis, once it answers
    /healthz from all its processes: (the launcher's process, its URL)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from django.conf import settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url_of_tests(), "REDIS_URL": settings.REDIS_URL}
    server = subprocess.Popen([sys.executable, "-m", "oddslab.serve", "--processes", str(processes),
                               "--port", str(port)], env=env, cwd=settings.BASE_DIR,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200 and len(children.read_text().split()) == processes:
                    return server, url
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


@pytest.fixture
def daphne_server(request, transactional_db):
    """The production server (``python -m oddslab.serve``: two Daphne processes on one port)
    serving oddslab.asgi on a free port, sharing the test database and Redis. A test's requests and
    sockets land on either process, as behind the load balancer of a scaled-out site.

    Its test must be ``django_db(transaction=True, serialized_rollback=True)``: a plain transactional
    test ends by emptying every table, and with it the house accounts, roles and content types the
    data migrations wrote, which the tests after it then miss (or find twice)."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("serialized_rollback")):
        pytest.fail("a test with a real server needs django_db(transaction=True, serialized_rollback=True)")
    server, url = server_start()
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _until_a_backend_waits() -> None:
    import time

    from django.db import connection

    deadline = time.monotonic() + 10
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND datname = current_database()")
            if cursor.fetchone()[0]:
                return
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _taken(table: str, key: str, value: int) -> bool:
    """Whether another transaction holds a lock on the row (a writer could not take it now)."""
    from django.db import OperationalError, connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE {key} = %s FOR UPDATE NOWAIT", [value])
    except OperationalError as exc:
        assert "could not obtain lock" in str(exc)
        return True
    return False


def locks_held_while_waiting(held: tuple[str, str, int], act: Callable[[], Any],
                             probes: list[tuple[str, str, int]]) -> tuple[dict, Any]:
    """Hold the row ``held`` (table, key column, value) FOR UPDATE, run ``act`` in another thread
    meanwhile, and once it waits on that row, say which of the rows ``probes`` it holds already; then
    let it finish. Returns ({probe: held or not}, what ``act`` returned): a lock order, observed."""
    from django.db import connection, transaction

    holding, go, results = threading.Event(), threading.Event(), []

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {held[0]} WHERE {held[1]} = %s FOR UPDATE", [held[2]])
                holding.set()
                assert go.wait(10)
        finally:
            connections.close_all()

    def run():
        try:
            results.append(act())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hold, daemon=True), threading.Thread(target=run, daemon=True)]
    try:
        threads[0].start()
        assert holding.wait(10)
        threads[1].start()
        _until_a_backend_waits()
        taken = {probe: _taken(*probe) for probe in probes}
    finally:
        go.set()
        for thread in threads:
            thread.join(20)
        threads_stop(threads)
    assert len(results) == 1, "the action did not finish"
    return taken, results[0]
