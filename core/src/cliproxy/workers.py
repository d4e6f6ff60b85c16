"""``cliproxy serve --workers N``: worker processes serving one listening socket.

The parent binds the socket, starts N workers (each builds the app and serves it on the
chosen server, as ``cliproxy serve`` does in one process) and then only passes signals
on: SIGINT/SIGTERM become a SIGTERM to every worker, which drains and exits; SIGHUP goes
to every worker, which reloads its config in place (see :mod:`cliproxy.reload`) without
cutting its streams. A worker that dies stops the others.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from cliproxy.servers import ServeOptions, run_loop, serve_until_signalled
from cliproxy.worker import app as make_app

__all__ = ["run_workers"]


def run_workers(server: str, options: ServeOptions, sock: socket.socket, count: int) -> int:
    """Serve on ``sock`` in ``count`` worker processes until SIGINT or SIGTERM; returns
    the exit code (the first failed worker's, else 0)."""
    ctx = get_context("spawn")
    processes: list[BaseProcess] = []
    stopping = False

    def signal_all(sig: int) -> None:
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        signal_all(signal.SIGTERM)

    # Children inherit ignored signals: SIGINT stays with the parent (it decides), and a
    # SIGHUP arriving before a worker's loop handles it must not kill the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for _ in range(count):
        worker = ctx.Process(target=_worker, args=(server, options, sock))
        worker.start()
        processes.append(worker)
    # Each worker has its own copy now. Closing this one lets the port refuse connections
    # once every worker stopped listening (drain), instead of queueing them for no one.
    sock.close()
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), stop)
    signal.signal(signal.SIGHUP, lambda *_: signal_all(signal.SIGHUP))

    exitcode = 0
    try:
        while running := [p for p in processes if p.exitcode is None]:
            wait([p.sentinel for p in running])  # (a sentinel of one that just ended is ready)
            ended = [p.exitcode for p in processes if p.exitcode is not None]
            # (one ended by the SIGTERM before its loop took the signal over stopped cleanly)
            failed = [code for code in ended if code != 0 and not (stopping and code == -signal.SIGTERM)]
            if ended and not stopping:  # one ended on its own: stop the others
                exitcode = exitcode or (failed[0] if failed else 1)
                stop()
            elif failed:
                exitcode = exitcode or failed[0]
    finally:
        for process in processes:
            process.join()
        sock.close()
    return exitcode


def _worker(server: str, options: ServeOptions, sock: socket.socket) -> None:
    app = make_app()
    run_loop(serve_until_signalled(app, server, options, sock))
