"""uvicorn: HTTP/1.1 with httptools (the ``speed`` extra's ``uvicorn[standard]``) or h11."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from cliproxy.servers import BACKLOG, ServeOptions


async def serve(app: Any, options: ServeOptions, sock: socket.socket, shutdown: Callable[[], Awaitable[None]]) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # cliproxy's logging stays as set up
        access_log=False,  # cliproxy writes its own access log
        server_header=False,
        backlog=BACKLOG,  # it listens again on cliproxy's socket, by default with 2,048
        timeout_keep_alive=int(options.keep_alive),
        timeout_graceful_shutdown=int(options.graceful_timeout + 0.999),
        # h11's head limit; httptools has none, so _BoundedHttpTools keeps the same one
        h11_max_incomplete_event_size=options.header_limit,
        http=_http_protocol(),
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


def _http_protocol() -> Any:
    """httptools (the fast parser) with a limit on the request head, when installed; else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class BoundedHttpTools(HttpToolsProtocol):
        """Closes with a bare 431 a connection whose request head outgrows the limit
        (``h11_max_incomplete_event_size``): httptools would buffer it without end."""

        _head_complete = False
        _head_bytes = 0

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._head_complete:
                return
            self._head_bytes += len(data)
            if self._head_bytes > (self.config.h11_max_incomplete_event_size or 0) and not self.transport.is_closing():
                self.transport.write(_TOO_LARGE)
                self.transport.close()

        def on_message_begin(self) -> None:
            self._head_complete = False
            self._head_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._head_complete = True
            super().on_headers_complete()

    return BoundedHttpTools


_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
