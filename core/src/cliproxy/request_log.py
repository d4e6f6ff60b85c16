"""The request log's records: what is kept of one request once it is over.

When the request is over, :func:`build_record` turns the exchange -- and its
:class:`~cliproxy.request_capture.RequestCapture` with ``request-log: true`` -- into the record the
writer keeps (:mod:`cliproxy.request_log_files`): the full capture, or -- for a failed
request while ``request-log`` is off -- what the exchange knows without one (the client's
request, the failed attempts, the error). Secrets are taken out by the writer, off the
event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from cliproxy.exchange import CLIENT_LEFT, NONE, Exchange
from cliproxy.request_capture import BodyCapture, elapsed_ms

if TYPE_CHECKING:
    from cliproxy.gateway import Gateway

__all__ = ["build_record", "keep_request"]

log = logging.getLogger("cliproxy.request_log")


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
        "duration_ms": elapsed_ms(exchange.start),
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
