"""``cliproxy serve --workers N``: Hypercorn worker processes on shared sockets.

Like ``hypercorn.run.run`` (SIGINT/SIGTERM let every worker drain, then exit; a worker
that dies stops the others), except for ``SIGHUP``: Hypercorn restarts its workers on it,
which cuts their streams, while here it is passed on to each worker, which reloads its
config in place (see :mod:`cliproxy.reload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from functools import partial
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, cast

from hypercorn.asyncio.run import _run, worker_serve
from hypercorn.utils import check_multiprocess_shutdown_event, wrap_app

from cliproxy.app import gateway_of
from cliproxy.worker import app as make_app

__all__ = ["run_workers"]


def run_workers(config: Any) -> int:
    """Serve ``config`` (a Hypercorn config with ``application_path`` and ``workers``) in
    worker processes until SIGINT or SIGTERM; returns the exit code."""
    sockets = config.create_sockets()
    ctx = get_context("spawn")
    shutdown = ctx.Event()
    processes: list[BaseProcess] = []

    def stop(*_: Any) -> None:
        shutdown.set()

    def forward(*_: Any) -> None:
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)

    # Children inherit ignored signals: SIGINT stays with the parent (it decides), and a
    # SIGHUP arriving before a worker's loop handles it must not kill the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for _ in range(config.workers):
        process = ctx.Process(target=_worker, kwargs={"config": config, "shutdown_event": shutdown, "sockets": sockets})
        process.daemon = config.daemon
        process.start()
        processes.append(process)
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), stop)
    signal.signal(signal.SIGHUP, forward)

    exitcode = 0
    try:
        while running := [p for p in processes if p.exitcode is None]:
            wait([p.sentinel for p in running])  # (a sentinel of one that just ended is ready)
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if failed or shutdown.is_set():
                exitcode = exitcode or (failed[0] if failed else 0)
                shutdown.set()
    finally:
        for child in processes:
            child.join()
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
    return exitcode


def _worker(config: Any, sockets: Any, shutdown_event: Any) -> None:
    """One worker process: Hypercorn's worker, with the gateway's drain started when the
    parent says to shut down (as ``cliproxy serve`` does in one process)."""
    app = make_app()
    parent_says_stop = partial(check_multiprocess_shutdown_event, shutdown_event, asyncio.sleep)
    trigger = gateway_of(app).drain.after(parent_says_stop, config.graceful_timeout)
    loop_factory = None
    if config.worker_class == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    _run(
        partial(worker_serve, wrap_app(cast(Any, app), config.wsgi_max_body_size, "asgi"), config, sockets=sockets),
        debug=config.debug,
        shutdown_trigger=trigger,
        loop_factory=loop_factory,
    )
