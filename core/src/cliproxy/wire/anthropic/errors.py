"""Anthropic error bodies <-> gateway errors.

``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``, the same
shape in HTTP error bodies and in a stream's ``event: error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire import common as c

__all__ = ["decode_error", "encode_error", "error_from_body"]

_TYPE_OUT = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.UNPROCESSABLE: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.BILLING: "billing_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.MODEL_NOT_FOUND: "not_found_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.OVERLOADED: "overloaded_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.UNAVAILABLE: "api_error",
    ErrorKind.INTERNAL: "api_error",
}
_STATUS_IN = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_from_body(status: int | None, obj: Any, headers: Mapping[str, str] | None = None) -> GatewayError:
    """A gateway error from a parsed Anthropic error body; ``status`` None (a stream's
    error event) takes the status the error type implies."""
    message = "upstream error"
    err_type: str | None = None
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            message = str(err.get("message") or message)
            err_type = found if isinstance(found := err.get("type"), str) else None
        elif isinstance(err, str):
            message = err
    if status is None:
        status = _STATUS_IN.get(err_type or "", 502)
    error = GatewayError.from_status(
        status,
        message,
        retry_after=c.retry_after_seconds(headers) if headers else None,
        upstream_type=err_type,
    )
    if err_type == "overloaded_error":
        error.kind = ErrorKind.OVERLOADED
    lowered = message.lower()
    if status == 400 and ("prompt is too long" in lowered or "context window" in lowered):
        error.code = "context_length_exceeded"
    elif status == 404 and "model" in lowered:
        error.kind = ErrorKind.MODEL_NOT_FOUND
        error.code = "model_not_found"
    return error


def decode_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    try:
        obj = c.loads(body) if body else None
    except ValueError:
        text = body[:500].decode("utf-8", "replace").strip()
        obj = {"error": {"message": text or f"HTTP {status}"}}
    return error_from_body(status, obj, headers)


def encode_error(error: GatewayError) -> bytes:
    return orjson.dumps(
        {
            "type": "error",
            "error": {"type": _TYPE_OUT.get(error.kind, "api_error"), "message": error.message},
            "request_id": c.new_id("req_"),
        }
    )
