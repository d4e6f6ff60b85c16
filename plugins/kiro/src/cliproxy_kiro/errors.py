"""Kiro's failures as gateway errors: HTTP error answers and exceptions inside the stream.

Kiro (an AWS service) names errors by type -- in the ``x-amzn-ErrorType`` header, a
``__type`` body field, an event-stream ``:exception-type`` header -- and sometimes by a
``reason``. Quota and throttling become 429s (so the gateway rests the credential and
tries another), an invalid bearer token a 401 (after the provider has tried a refresh), a
conversation longer than the model's context a 400 the client can act on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from cliproxy import ErrorKind, GatewayError

__all__ = ["decode_error", "exception_error", "retry_after"]

PROVIDER = "kiro"

QUOTA_REST = 3600.0
"""How long to rest an account whose monthly quota ran out, when Kiro does not say: long
enough not to spend a request a second on it, short enough to notice a top-up."""

_THROTTLING = frozenset({"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"})
_TOKEN_ERRORS = frozenset({"UnauthorizedException", "ExpiredTokenException", "InvalidTokenException"})
_TOO_LONG = ("CONTENT_LENGTH_EXCEEDS_THRESHOLD", "Input is too long", "ContentLengthExceeded")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait per ``Retry-After`` (seconds or an HTTP date), if given."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _short_type(raw: str | None) -> str | None:
    """``com.amazon.aws.codewhisperer#ThrottlingException`` or
    ``ThrottlingException:http://...`` -> ``ThrottlingException``."""
    if not raw:
        return None
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip() or None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _context_error(message: str) -> GatewayError:
    return GatewayError(
        status=400,
        kind=ErrorKind.INVALID_REQUEST,
        message=f"Kiro: the conversation is longer than the model accepts ({message}); shorten it or start a new one",
        code="context_length_exceeded",
        provider=PROVIDER,
    )


def decode_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    """An HTTP error answer from Kiro's API as a gateway error."""
    obj: Any = None
    if body:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None
    data = obj if isinstance(obj, dict) else {}
    message = data.get("message") or data.get("Message") or data.get("error_description") or data.get("error")
    if not isinstance(message, str) or not message:
        text = body[:500].decode("utf-8", "replace").strip() if body and obj is None else ""
        message = text or f"HTTP {status}"
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    kind = _short_type(data.get("__type") if isinstance(data.get("__type"), str) else None)
    kind = kind or _short_type(_header(headers, "x-amzn-ErrorType"))
    wait = retry_after(headers)
    detail = f"{kind}: {message}" if kind else message

    if status == 402 or reason == "MONTHLY_REQUEST_COUNT" or kind == "ServiceQuotaExceededException":
        return GatewayError(
            status=429,
            kind=ErrorKind.RATE_LIMITED,
            message=f"Kiro quota exhausted for this account ({reason or kind or status}): {message}",
            retry_after=wait if wait is not None else QUOTA_REST,
            code="quota_exhausted",
            upstream_type=reason or kind,
            provider=PROVIDER,
        )
    if status == 429 or kind in _THROTTLING:
        return GatewayError(
            status=429,
            kind=ErrorKind.RATE_LIMITED,
            message=f"Kiro is throttling this account: {message}",
            retry_after=wait,
            code="rate_limited",
            upstream_type=kind,
            provider=PROVIDER,
        )
    token_refused = status == 403 and (kind is None or kind in _TOKEN_ERRORS or "bearer token" in message.lower())
    if status == 401 or token_refused:
        return GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"Kiro rejected the access token: {message}",
            code="invalid_token",
            upstream_type=kind,
            provider=PROVIDER,
        )
    if status == 400 and any(marker in message or marker == reason for marker in _TOO_LONG):
        error = _context_error(message)
        error.upstream_type = reason or kind
        return error
    if status == 400 and "Improperly formed request" in message:
        return GatewayError(
            status=400,
            kind=ErrorKind.INVALID_REQUEST,
            message=f"Kiro refused the request as improperly formed ({message}); this usually means a tool "
            "schema or message sequence it does not accept -- check the tools and the order of tool calls and results",
            upstream_type=reason or kind,
            provider=PROVIDER,
        )
    error = GatewayError.from_status(
        status, f"Kiro answered {status}: {detail}", retry_after=wait, upstream_type=reason or kind, provider=PROVIDER
    )
    if status == 404 and "model" in message.lower():
        error.code = "model_not_found"
    return error


def exception_error(exception_type: str, payload: bytes) -> GatewayError:
    """An exception Kiro sent inside the event stream (``:message-type: exception``)."""
    message = ""
    try:
        data = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        found = data.get("message") or data.get("Message")
        message = found if isinstance(found, str) else ""
    elif payload:
        message = payload[:500].decode("utf-8", "replace")
    message = message or exception_type
    if exception_type == "ContentLengthExceededException":
        error = _context_error(f"{exception_type}: {message}")
        error.upstream_type = exception_type
        return error
    if exception_type in _THROTTLING:
        return GatewayError(
            status=429,
            kind=ErrorKind.RATE_LIMITED,
            message=f"Kiro is throttling this account: {message}",
            code="rate_limited",
            upstream_type=exception_type,
            provider=PROVIDER,
        )
    if exception_type in _TOKEN_ERRORS:
        return GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"Kiro rejected the access token mid-stream ({exception_type}): {message}",
            upstream_type=exception_type,
            provider=PROVIDER,
        )
    if exception_type == "ValidationException":
        return GatewayError(
            status=400,
            kind=ErrorKind.INVALID_REQUEST,
            message=f"Kiro refused the request ({exception_type}): {message}",
            upstream_type=exception_type,
            provider=PROVIDER,
        )
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"Kiro failed mid-stream ({exception_type}): {message}",
        upstream_type=exception_type,
        provider=PROVIDER,
    )
