"""The embedded servers start from nothing under a var/ directory, are reused, and stop."""

import os
import subprocess
import sys

import psycopg
import redis


def test_embedded_postgres_and_redis_start_reuse_and_stop(tmp_path):
    var = tmp_path / "v"  # short: Unix socket paths are limited to ~107 bytes
    env = {**os.environ, "ODDSLAB_VAR_DIR": str(var)}
    command = [sys.executable, "-m", "oddslab.localservices"]
    try:
        up = subprocess.run([*command, "up"], env=env, capture_output=True, text=True, check=True)
        urls = dict(line.split("=", 1) for line in up.stdout.split())
        again = subprocess.run([*command, "up"], env=env, capture_output=True, text=True, check=True)
        assert again.stdout == up.stdout
        with psycopg.connect(urls["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "oddslab"
        assert redis.Redis.from_url(urls["REDIS_URL"]).ping()
    finally:
        subprocess.run([*command, "stop"], env=env, check=True)
    assert not (var / "pg" / "postmaster.pid").exists()
    assert not (var / "redis.sock").exists()
