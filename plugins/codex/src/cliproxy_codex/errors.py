"""The Codex backend's refusals as gateway errors -- HTTP error answers, and failures
inside a 200 stream -- with the statuses the cooldown table understands.

==============================================================  =====================================
backend                                                         gateway error
==============================================================  =====================================
429 ``usage_limit_reached`` (``resets_at`` / ``resets_in_s...``)  429 ``usage_limit_reached``, retry
                                                                after the reset (the provider rests
                                                                the whole account until then)
429 ``usage_not_included``                                      403 ``model_not_supported``: that
                                                                model rests on that account
429 otherwise, ``rate_limit_*`` in a stream                     429, retry after ``Retry-After`` or
                                                                the message's "try again in 1.5s"
503, ``server_is_overloaded``, ``slow_down``,                   503
``service_unavailable_error``
401 / 403 / 404 (a model it does not know: ``model_not_found``)  the same status
400 ``{"detail": ...}`` (``Unsupported parameter``...)          400, the backend's words
==============================================================  =====================================

An error answer's ``x-error-json`` header (base64 JSON) fills in a code the body lacks.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy import ErrorKind, GatewayError

from cliproxy_codex.settings import PROVIDER

__all__ = ["USAGE_LIMIT", "decode_error", "stream_error"]

USAGE_LIMIT = "usage_limit_reached"
NOT_INCLUDED = "usage_not_included"
_OVERLOADED = frozenset({"server_is_overloaded", "slow_down", "service_unavailable_error", "service_unavailable"})
_RATE_LIMITED = frozenset({"rate_limit_error", "rate_limit_exceeded", "rate_limited"})
_INVALID = frozenset({"invalid_request_error", "context_length_exceeded", "invalid_prompt", "cyber_policy"})
_TRY_AGAIN = re.compile(r"try again in\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|seconds?)\b", re.IGNORECASE)
_MAX_MESSAGE = 500


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str], message: str) -> float | None:
    for name in ("retry-after-ms", "Retry-After-Ms"):
        value = _number(headers.get(name))
        if value is not None:
            return max(0.0, value / 1000.0)
    for name in ("retry-after", "Retry-After"):
        value = _number(headers.get(name))
        if value is not None:
            return max(0.0, value)
    found = _TRY_AGAIN.search(message)
    if found:
        value = float(found.group(1))
        return value / 1000.0 if found.group(2).lower() == "ms" else value
    return None


def _header_error(headers: Mapping[str, str]) -> Mapping[str, Any]:
    """The ``error`` object of an ``x-error-json`` header (base64 JSON), if any."""
    raw = headers.get("x-error-json") or headers.get("X-Error-Json")
    if not raw or len(raw) > 8192:
        return {}
    try:
        data = orjson.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else data if isinstance(data, dict) else {}


def _fields(obj: Any) -> tuple[str | None, str | None, str, Mapping[str, Any]]:
    """``(type, code, message, error object)`` of an error body or event."""
    if not isinstance(obj, Mapping):
        return None, None, "", {}
    error = obj.get("error")
    error = error if isinstance(error, Mapping) else obj
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    if kind == "error" and error is obj:  # a flat stream event: {"type": "error", "code", "message"}
        kind = None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    found = error.get("message")
    message = found if isinstance(found, str) else ""
    if not message and isinstance(detail := obj.get("detail"), str):
        message = detail
    return kind, code, message[:_MAX_MESSAGE], error


def usage_limit(error: Mapping[str, Any], headers: Mapping[str, str], now: float, message: str) -> GatewayError:
    """429 ``usage_limit_reached``: the plan's window is used up until its reset."""
    resets = _number(error.get("resets_at"))
    wait = resets - now if resets is not None and resets > now else _number(error.get("resets_in_seconds"))
    if wait is None:
        wait = _retry_after(headers, message)
    plan = error.get("plan_type") if isinstance(error.get("plan_type"), str) else None
    what = f"the ChatGPT {plan} plan's usage limit is reached" if plan else "the ChatGPT plan's usage limit is reached"
    when = f"; it resets at {_iso(now + wait)} (in {_span(wait)})" if wait is not None and wait > 0 else ""
    return GatewayError(
        status=429,
        kind=ErrorKind.RATE_LIMITED,
        message=f"Codex: {what}{when}",
        retry_after=wait if wait is not None and wait > 0 else None,
        provider=PROVIDER,
        code=USAGE_LIMIT,
        upstream_type=USAGE_LIMIT,
    )


def _classify(
    status: int, kind: str | None, code: str | None, message: str, error: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[int, ErrorKind, str | None]:
    names = {kind, code}
    if names & _OVERLOADED or status == 503:
        return 503, ErrorKind.UNAVAILABLE, code or kind
    if names & _RATE_LIMITED or status == 429 or "at capacity" in message.lower():
        return 429, ErrorKind.RATE_LIMITED, code or kind
    if status == 404 or code == "model_not_found":
        missing = code == "model_not_found" or "model" in message.lower()
        return (
            404,
            ErrorKind.MODEL_NOT_FOUND if missing else ErrorKind.NOT_FOUND,
            "model_not_found" if missing else code,
        )
    if names & _INVALID:
        return 400, ErrorKind.INVALID_REQUEST, code or kind
    return status, GatewayError.from_status(status, "").kind, code or kind


def _error(status: int, obj: Any, headers: Mapping[str, str], now: float, default: str) -> GatewayError:
    kind, code, message, error = _fields(obj)
    if code is None:
        extra = _header_error(headers)
        code = extra.get("code") if isinstance(extra.get("code"), str) else None
        message = message or (str(extra.get("message"))[:_MAX_MESSAGE] if extra.get("message") else "")
    if USAGE_LIMIT in (kind, code):
        return usage_limit(error, headers, now, message)
    if NOT_INCLUDED in (kind, code):
        plan = error.get("plan_type") if isinstance(error.get("plan_type"), str) else None
        return GatewayError(
            status=403,
            kind=ErrorKind.PERMISSION,
            message=f"Codex: the ChatGPT {plan + ' ' if plan else ''}plan does not include this model"
            + (f" ({message})" if message else ""),
            provider=PROVIDER,
            code="model_not_supported",
            upstream_type=NOT_INCLUDED,
        )
    status, error_kind, final_code = _classify(status, kind, code, message, error, headers)
    param = error.get("param") if isinstance(error.get("param"), str) else None
    return GatewayError(
        status=status,
        kind=error_kind,
        message=f"Codex: {message or default}",
        retry_after=_retry_after(headers, message) if status in (429, 503) else None,
        provider=PROVIDER,
        param=param,
        code=final_code,
        upstream_type=kind,
    )


def decode_error(status: int, headers: Mapping[str, str], body: bytes, now: float) -> GatewayError:
    """The error an HTTP error answer of the backend stands for."""
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body[:_MAX_MESSAGE].decode("utf-8", "replace").strip()
        obj = {"error": {"message": text if text and not text.startswith("<") else ""}}
    return _error(status, obj, headers, now, f"the backend answered {status}")


def stream_error(event: Mapping[str, Any], now: float) -> GatewayError:
    """The error a failure inside a 200 stream stands for: an ``error`` event, or a
    ``response.failed`` event's ``response.error``."""
    if event.get("type") == "response.failed":
        response = event.get("response")
        inner = response.get("error") if isinstance(response, Mapping) else None
        event = {"error": inner} if isinstance(inner, Mapping) else {"error": {"message": ""}}
    return _error(502, event, {}, now, "the backend failed the response")
