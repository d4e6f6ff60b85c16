"""Running a gateway app in tests: through a real Hypercorn server, or in-process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from cliproxy.asgi import server_header_limit

__all__ = ["LiveServer", "asgi_client", "serve_app"]


class LiveServer:
    """An ASGI app served by Hypercorn (or ``server``: uvicorn, granian, as ``cliproxy serve
    --server`` runs them) on a loopback port, in a thread of its own."""

    def __init__(self, app: Any, *, graceful_timeout: float = 5.0, server: str = "hypercorn") -> None:
        self.app = app
        self.graceful_timeout = graceful_timeout
        self.server = server
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name="cliproxy-live-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the gateway did not start serving within 15s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self, sock: socket.socket) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.accesslog = None
        config.graceful_timeout = self.graceful_timeout
        gateway = getattr(getattr(self.app, "state", None), "gateway", None)
        if gateway is not None:  # as cliproxy serve configures it
            config.h11_max_incomplete_size = server_header_limit(gateway.config)
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main() -> None:
            self._stop = asyncio.Event()
            if self.server == "hypercorn":
                task = asyncio.ensure_future(serve(self.app, config, shutdown_trigger=self._stop.wait))
            else:
                from cliproxy.servers import ServeOptions, launcher  # (the server stack only when used)

                options = ServeOptions(
                    graceful_timeout=self.graceful_timeout, header_limit=config.h11_max_incomplete_size
                )
                stop = self._stop

                async def stopped() -> None:
                    await stop.wait()

                task = asyncio.ensure_future(launcher(self.server)(self.app, options, sock, stopped))
            await self._wait_until_serving(task)
            await task

        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surface start-up failures to the test
            self._error = exc
            self._ready.set()
        finally:
            with contextlib.suppress(OSError):
                sock.close()  # Hypercorn may have closed the descriptor already
            loop.close()

    async def _wait_until_serving(self, task: asyncio.Future[Any]) -> None:
        for _ in range(300):
            if task.done():
                task.result()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            await writer.wait_closed()
            break
        gateway = getattr(getattr(self.app, "state", None), "gateway", None)
        for _ in range(300):  # the lifespan runs alongside; wait for the gateway to start
            if gateway is None or gateway.http is not None:
                break
            await asyncio.sleep(0.01)
        self._ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(self.graceful_timeout + 10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve_app(app: Any, *, server: str = "hypercorn") -> Iterator[str]:
    """Serve ``app`` with Hypercorn (or ``server``: uvicorn, granian) on loopback; yields
    its base URL."""
    with LiveServer(app, server=server) as live:
        yield live.url


@contextlib.asynccontextmanager
async def asgi_client(
    app: Any, *, base_url: str = "http://localhost", host: str = "127.0.0.1", **client_options: Any
) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` wired to ``app`` in-process, with the app's lifespan run.

    ``host`` is the address the app sees the request come from (a remote one tests the
    loopback-only endpoints); ``base_url``'s host is the ``Host`` header it sees (the
    operator endpoints answer only to loopback names, IP addresses and ``allowed-hosts``);
    ``client_options`` go to ``httpx.AsyncClient`` (``headers``...).
    """
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(host, 50000))
        options = {"timeout": 30, **client_options}
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **options) as client:
            yield client
