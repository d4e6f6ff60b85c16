"""The floor: a bare Starlette + aiohttp pass-through, on Hypercorn, uvicorn or granian.

What any gateway on this stack pays before doing any gateway work: the server parses the
client's request, Starlette routes it, the body goes unread and unparsed to the upstream
over one pooled aiohttp session, and the answer comes back as the upstream sent it -- a
whole body in one send, a stream one ASGI send per network read. No auth, no routing
table, no JSON, no translation, no usage accounting. Served exactly as ``cliproxy serve``
serves (the same server launchers, uvloop, no access log, one worker).

Run: ``python benchmarks/bare.py --port 9200 --upstream http://127.0.0.1:9100 [--server uvicorn]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import aiohttp
from cliproxy.servers import SERVERS, ServeOptions, bind, launcher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

PATHS = ("/v1/chat/completions", "/v1/messages")


class Forward:
    """Forward one path's POSTs to the same path upstream."""

    def __init__(self, app: Bare, path: str) -> None:
        self.app = app
        self.url = app.upstream + path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        async with self.app.http.post(self.url, data=body, headers={"content-type": "application/json"}) as upstream:
            content_type = upstream.headers.get("content-type", "application/json").encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": upstream.status,
                    "headers": [(b"content-type", content_type)],
                }
            )
            if content_type.startswith(b"text/event-stream"):
                async for data in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(
                    {
                        "type": "http.response.body",
                        "body": await upstream.read(),
                        "more_body": False,
                    }
                )


class Bare:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.http: aiohttp.ClientSession = None  # type: ignore[assignment]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        self.http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        try:
            yield
        finally:
            await self.http.close()

    def app(self) -> Starlette:
        routes = [Route(path, Forward(self, path), methods=["POST"]) for path in PATHS]

        async def healthz(request: Request) -> Response:
            return Response(b'{"status":"ok"}', media_type="application/json")

        routes.append(Route("/healthz", healthz, methods=["GET"]))
        return Starlette(routes=routes, lifespan=self.lifespan)


async def main_async(host: str, port: int, upstream: str, server: str = "hypercorn") -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def stopped() -> None:
        await stop.wait()

    await launcher(server)(Bare(upstream).app(), ServeOptions(graceful_timeout=5.0), bind(host, port), stopped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    parser.add_argument("--server", choices=SERVERS, default="hypercorn")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main_async(args.host, args.port, args.upstream, args.server))
    except ImportError:
        asyncio.run(main_async(args.host, args.port, args.upstream, args.server))


if __name__ == "__main__":
    main()
