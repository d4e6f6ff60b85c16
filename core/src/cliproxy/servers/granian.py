"""Granian: HTTP/1.1 and HTTP/2 in Rust (hyper), the app on this process's event loop.

Run through Granian's embedded server on the socket cliproxy bound. Granian answers
the lifespan shutdown as soon as it is told to stop, while hyper still serves the
requests in flight; the app's shutdown (which closes the upstream sessions) is held
until the gateway's drain has no request left, so streams finish first.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

from cliproxy.app import gateway_of
from cliproxy.servers import BACKLOG, ServeOptions

MAX_IN_FLIGHT = 1 << 20
"""Granian's ``backpressure`` (requests a worker serves at once; by default its backlog, in
the hundreds): set out of the way, so ten thousand open streams are served, not queued."""


async def serve(app: Any, options: ServeOptions, sock: socket.socket, shutdown: Callable[[], Awaitable[None]]) -> None:
    import asyncio

    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    class BoundServer(Server):
        def _init_shared_socket(self) -> None:  # serve cliproxy's socket instead of binding one
            holder: Any = SocketHolder(sock.fileno(), False, BACKLOG)  # type: ignore[call-arg]
            self._ssp, self._shd, self._sfd = None, holder, holder.get_fd()

    settings = HTTP1Settings(max_buffer_size=max(options.header_limit, HTTP1Settings.max_buffer_size))
    server = BoundServer(
        _after_drain(app, options.graceful_timeout),
        address=sock.getsockname()[0],
        port=sock.getsockname()[1],
        interface=Interfaces.ASGI,
        http=HTTPModes.auto,
        websockets=False,
        backlog=BACKLOG,
        backpressure=MAX_IN_FLIGHT,
        http1_settings=settings,
        log_enabled=True,
        log_level=LogLevels.error,  # its start-up chatter; cliproxy logs what it serves
        log_dictconfig={"loggers": {"_granian": {"level": "ERROR", "propagate": True}}},
        log_access=False,  # cliproxy writes its own access log
        ssl_cert=_path(options.tls_cert),
        ssl_key=_path(options.tls_key),
        ssl_protocol_min=SSLProtocols.tls12,
    )

    async def stop_when_told() -> None:
        await shutdown()
        server.stop()

    stopper = asyncio.get_running_loop().create_task(stop_when_told())
    try:
        await server.serve()
    finally:
        stopper.cancel()


def _path(value: str | None) -> Any:
    from pathlib import Path

    return Path(value) if value else None


def _after_drain(app: Any, grace: float) -> Any:
    """``app``, with the lifespan shutdown passed on once no request is in flight."""
    if getattr(getattr(app, "state", None), "gateway", None) is None:
        return app  # not a gateway app (tests serve others): nothing to wait for
    drain = gateway_of(app).drain

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def receive_after_drain() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await drain.settled(grace)
            return message

        return await app(scope, receive_after_drain, send)

    return wrapped
