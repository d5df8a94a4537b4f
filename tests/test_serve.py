"""``python -m oddslab.serve``: several Daphne processes on one port, stopped together."""

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import server_start


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def server(db):
    """The launcher with two processes on a free port: (its process, its URL, its Daphne pids)."""
    launcher, url = server_start(processes=2)
    daphnes = _children(launcher.pid)
    yield launcher, url, daphnes
    for pid in [launcher.pid, *daphnes]:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    launcher.wait(timeout=20)


def _wait_gone(pids: list[int], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(_alive(pid) for pid in pids)


def test_two_daphne_processes_serve_one_port_and_stop_with_the_launcher(server):
    launcher, url, daphnes = server
    statuses = set()
    for _ in range(20):
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            statuses.add(response.status)
    assert statuses == {200}
    assert len(daphnes) == 2 and all("daphne" in Path(f"/proc/{pid}/cmdline").read_text() for pid in daphnes)

    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=20) == 0
    assert _wait_gone(daphnes)


def test_when_one_process_dies_the_launcher_stops_the_other_and_fails(server):
    launcher, _, daphnes = server
    os.kill(daphnes[0], signal.SIGKILL)
    assert launcher.wait(timeout=20) != 0
    assert _wait_gone(daphnes)


def test_a_launcher_killed_outright_takes_its_processes_along(server):
    launcher, _, daphnes = server
    launcher.kill()
    launcher.wait(timeout=20)
    assert _wait_gone(daphnes)
