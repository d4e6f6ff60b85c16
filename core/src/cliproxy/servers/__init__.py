"""The HTTP servers ``cliproxy serve`` runs the gateway on, behind one small interface.

Each launcher module (:mod:`.hypercorn`, :mod:`.uvicorn`, :mod:`.granian`) has one
coroutine, ``serve(app, options, sock, shutdown)``: serve ``app`` on the listening socket
``sock`` (bound by :func:`bind`, so every server binds the same way and a port in use
fails the same way) until ``shutdown()`` returns, then stop accepting, let the requests in
flight finish (the gateway's :class:`~cliproxy.drain.Drain` ends those still running at
the graceful deadline), run the app's lifespan shutdown and return. Signals, workers and
reload stay with cliproxy, identical on every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import resource
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs

from cliproxy.app import gateway_of
from cliproxy.config.model import SERVERS

__all__ = [
    "SERVERS",
    "Launcher",
    "ServeOptions",
    "bind",
    "default_server",
    "installed",
    "launcher",
    "raise_fd_limit",
    "run_loop",
    "serve_until_signalled",
]

log = logging.getLogger("cliproxy.serve")

FASTEST_FIRST = ("uvicorn", "granian", "hypercorn")
"""The order :func:`default_server` picks in, by the benchmark (benchmarks/README.md):
uvicorn (httptools) leads granian by a few percent in every scenario, and Hypercorn
trails both by a third or more."""

_MODULES = {"hypercorn": "hypercorn", "uvicorn": "uvicorn", "granian": "granian"}

BACKLOG = 4096
"""The listen queue: room for a burst of thousands of clients connecting at once (Linux
caps it at ``net.core.somaxconn``, 4,096 by default). Every server is given it too, as each
listens again on the socket it is handed, with a backlog of its own (uvicorn 2,048,
Hypercorn 100): past the queue, a connecting client's handshake is dropped and left to the
kernel's SYN retries (1 s, 3 s, 7 s...) until it is reset."""


@attrs.frozen
class ServeOptions:
    """What every server is told, whichever it is."""

    graceful_timeout: float = 60.0
    header_limit: int = 80 * 1024  # request head bytes the server itself accepts
    keep_alive: float = 75.0
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


class Launcher(Protocol):
    async def __call__(
        self, app: Any, options: ServeOptions, sock: socket.socket, shutdown: Callable[[], Awaitable[None]]
    ) -> None: ...


def installed(name: str) -> bool:
    return importlib.util.find_spec(_MODULES[name]) is not None


def default_server() -> str:
    """The fastest server installed (Hypercorn, a dependency of cliproxy, always is)."""
    return next(name for name in FASTEST_FIRST if installed(name))


def launcher(name: str) -> Launcher:
    """The ``serve`` coroutine of server ``name`` (one of :data:`SERVERS`)."""
    module = importlib.import_module(f"cliproxy.servers.{name}")
    serve: Launcher = module.serve
    return serve


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it (Linux): granian does not set it, and a stream's
        # small writes would otherwise wait for the client's delayed ACK (~40 ms each).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


FEW_FILES = 4096
"""An open-file limit below this is worth a warning: about half of it is streams at once."""


def raise_fd_limit(wanted: int = 1 << 18) -> tuple[int, int]:
    """Raise the limit on open files (each open stream holds two: the client's connection
    and the upstream's) to ``wanted``, or as far as allowed: the hard limit for anyone,
    above it for a process that may (root); returns the (old, new) soft limit. A limit
    left under :data:`FEW_FILES` is logged: past it, the server closes new connections
    unanswered (and upstream connections fail), which no client error explains."""
    old, new = _raise_fd_limit(wanted)
    if new != resource.RLIM_INFINITY and new < FEW_FILES:
        log.warning(
            "open files are limited to %d here (ulimit -n), so about %d requests or streams can be open at "
            "once; raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd, --ulimit nofile= in Docker)",
            new,
            max(0, (new - 64) // 2),
        )
    return old, new


def _raise_fd_limit(wanted: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft, soft
    if hard != resource.RLIM_INFINITY and hard < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))  # permitted to root only
            return soft, wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target


async def serve_until_signalled(app: Any, name: str, options: ServeOptions, sock: socket.socket) -> None:
    """Serve ``app`` on server ``name`` until SIGINT or SIGTERM, then drain: the server
    stops accepting, the gateway's drain ends what is still running shortly before
    ``options.graceful_timeout``. SIGHUP (the app's reload) is the app's own."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    host, port = sock.getsockname()[:2]
    log.info("listening on %s://%s:%d (%s)", options.scheme, f"[{host}]" if ":" in host else host, port, name)
    await launcher(name)(app, options, sock, gateway_of(app).drain.after(stop.wait, options.graceful_timeout))


def run_loop(coro: Any) -> None:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)
