"""What the request log keeps of one request, gathered while it is served.

With ``request-log: true`` the door gives each request's :class:`~cliproxy.exchange.Exchange`
a :class:`RequestCapture`: it holds each upstream attempt
(:class:`AttemptCapture`: URL, headers, body, status, the answer's headers and body or its
stream chunks with their times) and what the client was sent; the client's request body
is on the exchange either way. Without it the exchange's
capture is None, and each place that would capture checks that once (the hot path pays
one ``is None``). Bodies are held by reference, not copied, each up to :data:`MAX_BODY`
bytes (the rest is counted, not kept). :mod:`cliproxy.request_log` turns them into records.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.types import Message

__all__ = ["MAX_ATTEMPTS", "MAX_BODY", "AttemptCapture", "BodyCapture", "RequestCapture"]

MAX_BODY = 1024 * 1024
"""Bytes kept of each body or stream (the client's request and response, each upstream
request and answer); more is counted, not kept."""

MAX_ATTEMPTS = 20
"""Upstream attempts kept in full per request (more are summarised)."""


def elapsed_ms(since: float) -> float:
    """Milliseconds since ``since`` (a ``perf_counter`` time), to a tenth."""
    return round((time.perf_counter() - since) * 1000.0, 1)


class BodyCapture:
    """A body as it passes: whole, or as stream chunks with the time each came (ms after
    ``origin``), up to :data:`MAX_BODY` bytes kept."""

    __slots__ = ("chunks", "kept", "origin", "total")

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.chunks: list[tuple[float, bytes]] = []
        self.kept = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.total += len(data)
        room = MAX_BODY - self.kept
        if room <= 0:
            return
        piece = data if len(data) <= room else data[:room]
        self.chunks.append((elapsed_ms(self.origin), piece))
        self.kept += len(piece)

    def as_parts(self) -> dict[str, Any]:
        """``{"chunks": [[ms, bytes], ...], "bytes": total, "cut": bool}`` (bytes, for the writer)."""
        return {"chunks": [[at, data] for at, data in self.chunks], "bytes": self.total, "cut": self.total > self.kept}


class AttemptCapture:
    """One upstream attempt: what was sent, what came back."""

    __slots__ = (
        "answer",
        "ended",
        "error",
        "headers",
        "origin",
        "request",
        "response_headers",
        "started",
        "status",
        "url",
    )

    def __init__(self, origin: float, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.origin = origin
        self.started = elapsed_ms(origin)
        self.url = url
        self.headers = dict(headers)
        self.request = BodyCapture(origin)
        self.request.add(body)
        self.status = 0
        self.response_headers: dict[str, str] = {}
        self.answer = BodyCapture(origin)
        self.error: str | None = None
        self.ended: float | None = None

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        self.status = status
        self.response_headers = dict(headers)

    def chunk(self, data: bytes) -> None:
        self.answer.add(data)

    def failed(self, message: str) -> None:
        self.error = message
        self.done()

    def done(self) -> None:
        if self.ended is None:
            self.ended = elapsed_ms(self.origin)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "started_ms": self.started,
            "ended_ms": self.ended,
            "request": {"headers": self.headers, **self.request.as_parts()},
            "status": self.status,
            "response": {"headers": self.response_headers, **self.answer.as_parts()},
            "error": self.error,
        }


class RequestCapture:
    """Everything the request log keeps of one request (see the module doc)."""

    __slots__ = ("attempts", "dropped_attempts", "origin", "response", "response_headers", "status")

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.attempts: list[AttemptCapture] = []
        self.dropped_attempts = 0
        self.status = 0
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.response = BodyCapture(self.origin)

    def attempt(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptCapture | None:
        """A new upstream attempt (None once :data:`MAX_ATTEMPTS` were kept)."""
        if len(self.attempts) >= MAX_ATTEMPTS:
            self.dropped_attempts += 1
            return None
        attempt = AttemptCapture(self.origin, url, headers, body)
        self.attempts.append(attempt)
        return attempt

    def sent(self, message: Message) -> None:
        """An ASGI message on its way to the client."""
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.response_headers = list(message.get("headers", ()))
        elif kind == "http.response.body":
            self.response.add(message.get("body", b""))
