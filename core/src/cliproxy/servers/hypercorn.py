"""Hypercorn: HTTP/1.1 and HTTP/2, pure Python (h11, h2); always installed."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from cliproxy.servers import BACKLOG, ServeOptions


async def serve(app: Any, options: ServeOptions, sock: socket.socket, shutdown: Callable[[], Awaitable[None]]) -> None:
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.config import Config, Sockets
    from hypercorn.utils import wrap_app

    config = Config()
    config.accesslog = None  # cliproxy writes its own access log
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = options.graceful_timeout
    config.keep_alive_timeout = options.keep_alive
    config.include_server_header = False
    config.backlog = BACKLOG  # it listens again on cliproxy's socket, by default with 100
    # Above the gateway's own header limit, so a client over it gets the gateway's 431 in
    # its own error format; past this, h11 answers a bare 400 and closes.
    config.h11_max_incomplete_size = options.header_limit
    if options.tls_cert:
        config.certfile = options.tls_cert
        config.keyfile = options.tls_key
        sockets = Sockets(secure_sockets=[sock], insecure_sockets=[], quic_sockets=[])
    else:
        sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
    await worker_serve(
        wrap_app(app, config.wsgi_max_body_size, "asgi"), config, sockets=sockets, shutdown_trigger=shutdown
    )
