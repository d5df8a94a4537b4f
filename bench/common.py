"""Shared pieces of the benchmarks: their own database, statistics, a Daphne server, tables.

Nothing here imports Django at module level, so worker processes started with the ``spawn``
method (and the HTTP load generator) can import it cheaply.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "oddslab_bench"
# Never benchmark in these: the dev database and the test database.
PROTECTED_DATABASES = {"oddslab", "test_oddslab", "postgres", "template0", "template1"}


def server_urls() -> tuple[str, str]:
    """(database URL, Redis URL) of the servers the project is configured for.

    ``DATABASE_URL`` / ``REDIS_URL`` when set, else the embedded servers under ``var/`` (started
    if needed, exactly as ``oddslab/settings.py`` does).
    """
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url or not redis_url:
        sys.path.insert(0, str(ROOT))
        from oddslab import localservices

        embedded_database, embedded_redis = localservices.ensure()
        database_url = database_url or embedded_database
        redis_url = redis_url or embedded_redis
    return database_url, redis_url


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def libpq_url(url: str) -> str:
    """psycopg takes ``postgresql://``; dj-database-url also accepts ``postgres://``."""
    return "postgresql://" + url.split("://", 1)[1]


def recreate_database(server_url: str, name: str = BENCH_DATABASE) -> str:
    """Drop and create the benchmark's own database; return its URL. Refuses protected names."""
    import psycopg

    if name in PROTECTED_DATABASES or not name.startswith("oddslab_bench"):
        raise SystemExit(f"refusing to recreate database {name!r}: not a benchmark database")
    admin_url = libpq_url(with_database(server_url, "postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def database_exists(server_url: str, name: str = BENCH_DATABASE) -> bool:
    import psycopg

    with psycopg.connect(libpq_url(with_database(server_url, "postgres")), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def bench_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for every process of the benchmark: the bench database, never another."""
    if database_name(database_url) in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to benchmark against {database_name(database_url)!r}")
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="oddslab.settings",
               LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", **extra)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)


# --- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100); nan when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal too)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# --- the production server setup: ``python -m oddslab.serve`` (N Daphne processes, one socket) -------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daphne_start(env: dict[str, str], port: int, log_path: Path, processes: int = 1) -> subprocess.Popen:
    """``python -m oddslab.serve --processes N --port PORT`` as ``make run`` serves (WEB_PROCESSES Daphne
    processes on one port); waits for /healthz. ``daphne_pids`` names the Daphne processes."""
    log = open(log_path, "w")  # noqa: SIM115 - the server writes to it for its whole life
    proc = subprocess.Popen([sys.executable, "-m", "oddslab.serve", "--processes", str(processes),
                             "--bind", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200 and len(daphne_pids(proc)) == processes:
                    return proc
        except OSError:
            time.sleep(0.2)
    daphne_stop(proc)
    raise RuntimeError(f"the server did not answer /healthz within 60 s; see {log_path}")


def daphne_pids(proc: subprocess.Popen) -> list[int]:
    """The Daphne processes of a server started by ``daphne_start``."""
    try:
        return [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    except OSError:
        return []


def daphne_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in daphne_pids(proc):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait()


# --- profiles (py-spy raw / collapsed stacks) ---------------------------------------------------


PROJECT_FRAME = re.compile(r"\((betting|ledger|risk|audit|wallet|oddslab)/")


def collapsed_summary(path: Path, top: int = 25, focus: str = "") -> str:
    """Top functions of a py-spy ``--format raw`` profile by inclusive and by self samples."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # "bet_place (betting/services.py:60)" -> "bet_place (betting/services.py)": one row per function
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if focus and not any(focus in f for f in frames):
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        return f"(no samples in {path})"

    def rows(data: dict[str, int]) -> list[list[object]]:
        ranked = sorted(data.items(), key=lambda kv: -kv[1])[:top]
        return [[f"{100 * n / total:5.1f}%", frame[:120]] for frame, n in ranked]

    project = {f: n for f, n in inclusive.items() if PROJECT_FRAME.search(f)}
    return (f"{total} samples (threads holding the GIL)\n\nproject code, inclusive:\n"
            + table(["share", "frame"], rows(project))
            + "\n\nall frames, inclusive:\n" + table(["share", "frame"], rows(inclusive))
            + "\n\nself:\n" + table(["share", "frame"], rows(own)))
