"""The web server: ``python -m oddslab.serve [--processes N] [--bind HOST] [--port PORT]``.

N Daphne processes (``WEB_PROCESSES``, default 2) serve one port. This launcher opens a listening
socket per process on that port with SO_REUSEPORT and hands each down (``daphne --fd``); the kernel
spreads new connections evenly over them. (With one shared socket, whichever process was awake
took most connections: over keep-alive HTTP one Daphne ran at 100% while the other idled.) One
Daphne runs one event loop on one core, and a broadcast costs it a send per socket, so the sockets
of a busy sportsbook want several (DESIGN.md, scale-out). Nothing is shared between the processes
but the database and Redis: each subscribes to the groups its own sockets are in.

SIGINT/SIGTERM stop every process; when one dies, the others are stopped and its exit code is ours;
when the launcher is killed outright, its processes get SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


def _die_with_parent() -> None:
    """In the child: a launcher killed outright (SIGKILL) takes its Daphne processes along (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oddslab.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WEB_PROCESSES", "2")))
    parser.add_argument("--bind", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args, daphne_args = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")

    port = args.port
    listeners = []
    for _ in range(args.processes):
        listeners.append(socket.create_server((args.bind, port), backlog=4096, reuse_port=True))
        port = listeners[0].getsockname()[1]  # --port 0: the others join the port the first was given
    daphne = Path(sys.executable).with_name("daphne")
    print(f"serving on http://{args.bind}:{port} with {args.processes} Daphne process(es)", flush=True)
    children = [subprocess.Popen([str(daphne), "--fd", str(listener.fileno()), *daphne_args,
                                  "oddslab.asgi:application"], pass_fds=[listener.fileno()],
                                 preexec_fn=_die_with_parent)
                for listener in listeners]
    for listener in listeners:
        listener.close()  # each child holds its own now

    def stop(signum=signal.SIGTERM, frame=None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _, status = os.wait()  # the first to end ends the others
    stop()
    for child in children:
        child.wait()
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


if __name__ == "__main__":
    sys.exit(main())
