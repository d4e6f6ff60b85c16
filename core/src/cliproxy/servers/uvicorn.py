"""uvicorn: HTTP/1.1 with httptools (the ``speed`` extra's ``uvicorn[standard]``) or h11."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from cliproxy.servers import ServeOptions


async def serve(app: Any, options: ServeOptions, sock: socket.socket, shutdown: Callable[[], Awaitable[None]]) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # cliproxy's logging stays as set up
        access_log=False,  # cliproxy writes its own access log
        server_header=False,
        timeout_keep_alive=int(options.keep_alive),
        timeout_graceful_shutdown=int(options.graceful_timeout + 0.999),
        # h11 only; httptools has no head limit of its own, and the gateway's 431 answers.
        h11_max_incomplete_event_size=options.header_limit,
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
    )
    server = _Server(config)

    async def stop_when_told() -> None:
        await shutdown()
        server.should_exit = True

    stopper = asyncio.get_running_loop().create_task(stop_when_told())
    try:
        await server.serve(sockets=[sock])
    finally:
        stopper.cancel()


class _Server:
    """uvicorn's server, minus its signal handlers: cliproxy owns the process's signals."""

    def __new__(cls, config: Any) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        return Server(config)
