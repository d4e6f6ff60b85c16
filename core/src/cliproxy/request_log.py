"""What the request log keeps of one request, gathered while it is served.

With ``request-log: true`` the door gives each request's :class:`~cliproxy.exchange.Exchange`
a :class:`RequestCapture`: it holds each upstream attempt
(:class:`AttemptCapture`: URL, headers, body, status, the answer's headers and body or its
stream chunks with their times) and what the client was sent; the client's request body
is on the exchange either way. Without it the exchange's
capture is None, and each place that would capture checks that once (the hot path pays
one ``is None``). Bodies are held by reference, not copied, each up to :data:`MAX_BODY`
bytes (the rest is counted, not kept).

When the request is over, :func:`build_record` turns the exchange into the record the
writer keeps (:mod:`cliproxy.request_log_files`): the full capture, or -- for a failed
request while ``request-log`` is off -- what the exchange knows without one (the client's
request, the failed attempts, the error). Secrets are taken out by the writer, off the
event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.types import Message, Scope

from cliproxy.exchange import CLIENT_LEFT, NONE, Exchange

if TYPE_CHECKING:
    from cliproxy.gateway import Gateway

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_BODY",
    "AttemptCapture",
    "BodyCapture",
    "RequestCapture",
    "build_record",
    "keep_request",
]

log = logging.getLogger("cliproxy.request_log")

MAX_BODY = 1024 * 1024
"""Bytes kept of each body or stream (the client's request and response, each upstream
request and answer); more is counted, not kept."""

MAX_ATTEMPTS = 20
"""Upstream attempts kept in full per request (more are summarised)."""


def _ms(since: float) -> float:
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
        self.chunks.append((_ms(self.origin), piece))
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
        self.started = _ms(origin)
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
            self.ended = _ms(self.origin)

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


def _iso(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scope_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def build_record(exchange: Exchange, scope: Scope, *, full: bool, wall_start: float) -> dict[str, Any]:
    """The record of a finished request (bodies still bytes: the writer redacts and
    encodes them): the whole capture when ``full``, else what the exchange knows."""
    usage = exchange.usage
    record: dict[str, Any] = {
        "id": exchange.request_id,
        "kind": "request" if full else "error",
        "time": _iso(wall_start),
        "duration_ms": _ms(exchange.start),
        "door": exchange.door,
        "client": exchange.client,
        "model": exchange.model,
        "status": exchange.final_status,
        "error": exchange.error,
        "served_by": None
        if exchange.provider == NONE
        else {
            "provider": exchange.provider,
            "credential": exchange.credential,
            "model": exchange.upstream_model,
            "status": exchange.upstream_status,
        },
        "usage": None
        if usage is None
        else {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cost": usage.cost,
        },
        "failed_attempts": [
            {"provider": p, "credential": c, "model": m, "status": s, "error": e}
            for p, c, m, s, e in exchange.failures or ()
        ],
    }
    query = scope.get("query_string", b"")
    request: dict[str, Any] = {
        "method": scope.get("method", ""),
        "path": scope.get("path", ""),
        "query": query.decode("latin-1") if isinstance(query, bytes) else str(query),
        "headers": _scope_headers(scope),
    }
    body = BodyCapture(exchange.start)
    if exchange.request_body is not None:
        body.add(exchange.request_body)
    request.update(body.as_parts())
    record["request"] = request
    capture = exchange.capture
    if full and capture is not None:
        record["attempts"] = [attempt.as_dict() for attempt in capture.attempts]
        if capture.dropped_attempts:
            record["attempts_not_kept"] = capture.dropped_attempts
        record["response"] = {
            "status": capture.status,
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in capture.response_headers},
            **capture.response.as_parts(),
        }
    else:
        record["response"] = {"status": exchange.final_status, "error": exchange.error}
    return record


def keep_request(gateway: Gateway, exchange: Exchange, scope: Scope) -> None:
    """Hand a finished request to the request log when it is kept: every request while
    ``request-log`` is on (it then has a capture), else a failed request of a known
    client (not one the client left, nor one refused before its caller was known: the
    access log has those, and a flood of them must not push real failures out). Never
    raises: the log must not fail what it logs."""
    try:
        settings = gateway.config.request_logs
        full = exchange.capture is not None
        if not full:
            status = exchange.final_status
            if status < 400 or status == CLIENT_LEFT or exchange.client == NONE or settings.error_max_files == 0:
                return
        wall_start = time.time() - (time.perf_counter() - exchange.start)
        record = build_record(exchange, scope, full=full, wall_start=wall_start)
        gateway.request_log.keep(record, gateway.redactor(), settings)
    except Exception:
        log.exception("request log: could not keep request %s", exchange.request_id)
