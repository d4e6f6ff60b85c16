"""A scriptable fake upstream: an HTTP server on loopback that answers as you tell it.

It runs in its own thread and event loop, so tests may drive the gateway with blocking
SDK clients as well as async ones. Script it per method and path with :class:`Reply`
objects (a whole body, an SSE stream with delays, an error with headers, a connection
dropped mid-stream), a list of replies served in turn, or a function of the request::

    with FakeUpstream() as upstream:
        upstream.add("POST", "/v1/chat/completions", Reply.json({...}))
        upstream.add("POST", "/v1/messages", Reply.sse_file("anthropic/simple.sse.txt"))
        ... point a provider's base-url at upstream.url ...
        assert upstream.requests[0].json["model"] == "gpt-4o"
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson
from aiohttp import web

__all__ = ["FakeUpstream", "RecordedRequest", "Reply"]


@attrs.frozen
class RecordedRequest:
    """A request the fake upstream received."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@attrs.frozen
class Reply:
    """What to answer with.

    Attributes:
        status: HTTP status.
        headers: Response headers.
        body: A whole body (used when ``chunks`` is None).
        chunks: Bytes written one by one with ``chunk_delay`` between them (a stream).
        delay: Seconds to wait before answering at all.
        chunk_delay: Seconds between chunks.
        drop_after: Close the connection abruptly after this many chunks.
        content_type: Content type when ``headers`` does not set one.
    """

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    chunks: Sequence[bytes] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None
    content_type: str = "application/json"

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None, **kw: Any) -> Reply:
        return cls(status=status, headers=dict(headers or {}), body=orjson.dumps(data), **kw)

    @classmethod
    def sse(
        cls, chunks: Iterable[bytes | str], *, status: int = 200, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Reply:
        data = [c.encode() if isinstance(c, str) else c for c in chunks]
        return cls(status=status, headers=dict(headers or {}), chunks=data, content_type="text/event-stream", **kw)

    @classmethod
    def sse_events(cls, payloads: Iterable[Any], *, done: bool = False, named: bool = False, **kw: Any) -> Reply:
        """An SSE stream with one event per payload (dicts are JSON-encoded). ``named``
        writes ``event: <payload["type"]>`` lines, as Anthropic and Responses streams do."""
        chunks = []
        for payload in payloads:
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            if named and isinstance(payload, Mapping):
                chunks.append(b"event: " + str(payload["type"]).encode() + b"\ndata: " + data + b"\n\n")
            else:
                chunks.append(b"data: " + data + b"\n\n")
        if done:
            chunks.append(b"data: [DONE]\n\n")
        return cls.sse(chunks, **kw)

    @classmethod
    def sse_file(cls, path: str | Path, *, chunk_size: int | None = None, **kw: Any) -> Reply:
        """A recorded ``.sse.txt`` transcript, sent event by event (or in ``chunk_size``
        byte pieces)."""
        data = Path(path).read_bytes()
        if chunk_size:
            chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
        else:
            chunks = [piece + b"\n\n" for piece in data.replace(b"\r\n", b"\n").split(b"\n\n") if piece.strip()]
        return cls.sse(chunks, **kw)

    @classmethod
    def chunks_file(cls, path: str | Path, *, done: bool = False, named: bool = False, **kw: Any) -> Reply:
        """A ``.chunks.txt`` recording (one JSON payload per line) framed as SSE."""
        lines = [line for line in Path(path).read_bytes().splitlines() if line.strip()]
        payloads: list[Any] = [orjson.loads(line) if named else line for line in lines]
        return cls.sse_events(payloads, done=done, named=named, **kw)

    @classmethod
    def http_file(cls, path: str | Path, **kw: Any) -> Reply:
        """A dumped HTTP response (``*.http.txt``: status line, headers, blank line, body)."""
        raw = Path(path).read_bytes().replace(b"\r\n", b"\n")
        head, _, body = raw.partition(b"\n\n")
        lines = head.split(b"\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.decode().partition(":")
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                headers[name.strip()] = value.strip()
        return cls(status=status, headers=headers, body=body, **kw)

    @classmethod
    def error(
        cls, status: int, message: str = "error", *, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Reply:
        """An OpenAI-style error body."""
        return cls.json(
            {"error": {"message": message, "type": "error", "code": None}}, status=status, headers=headers, **kw
        )


Handler = Callable[[RecordedRequest], Reply]


class FakeUpstream:
    """The server. Use as a context manager (``with``), or call :meth:`start`/:meth:`stop`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], Handler | list[Reply] | Reply] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.disconnects = 0
        self._everything: Reply | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, method: str, path: str, reply: Reply | list[Reply] | Handler) -> None:
        """Answer ``method path`` with a reply, replies in turn (the last repeats), or a
        function of the recorded request."""
        self._routes[(method.upper(), path)] = list(reply) if isinstance(reply, list) else reply

    def answer_all(self, reply: Reply | None) -> None:
        """Answer every request with ``reply`` from now on, whatever its method and path
        (an upstream that has started to fail); None goes back to the scripted routes."""
        self._everything = reply

    def clear(self) -> None:
        self._routes.clear()
        self.requests.clear()
        self._everything = None

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    def _reply_for(self, record: RecordedRequest) -> Reply:
        if self._everything is not None:
            return self._everything
        route = self._routes.get((record.method, record.path))
        if route is None:
            return Reply.error(404, f"the fake upstream has no reply for {record.method} {record.path}")
        if isinstance(route, Reply):
            return route
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route(record)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(record)
        reply = self._reply_for(record)
        if reply.delay:
            try:
                await asyncio.sleep(reply.delay)
            except asyncio.CancelledError:  # the client (the gateway) hung up while we waited
                self.disconnects += 1
                raise
        headers = dict(reply.headers)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = reply.content_type
        if reply.chunks is None:
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        response = web.StreamResponse(status=reply.status, headers=headers)
        await response.prepare(request)
        try:
            for i, chunk in enumerate(reply.chunks):
                if reply.drop_after is not None and i >= reply.drop_after:
                    transport = request.transport
                    if transport is not None:
                        transport.close()
                    return response
                if i and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                await response.write(chunk)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        return response

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        """Block until the gateway hung up on a stream (returns False on timeout)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.disconnects:
                return True
            time.sleep(0.02)
        return False


@contextlib.contextmanager
def fake_upstream() -> Any:
    with FakeUpstream() as upstream:
        yield upstream
