"""Responses errors: OpenAI's ``{"error": {...}}`` body, as on the Chat wire (whose codec
serves both), and the ``error`` events and failed responses of a Responses stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire.openai_chat.errors import decode_error, encode_error

__all__ = ["decode_error", "encode_error", "error_from_event"]


def error_from_event(obj: Mapping[str, Any], *, status: int = 502) -> GatewayError:
    """A gateway error from a stream ``error`` event (flat, as the SDK types it, or with a
    nested ``error`` object, as recorded in the wild) or a failed response's ``error``."""
    err = found if isinstance(found := obj.get("error"), Mapping) else obj
    message = err.get("message")
    code = err.get("code")
    err_type = err.get("type")
    code_text = str(code) if code is not None else None
    if {code_text, err_type} & {"rate_limit_exceeded", "rate_limit_error", "insufficient_quota"}:
        status = 429
    elif code_text == "context_length_exceeded" or err_type == "invalid_request_error":
        status = 400
    error = GatewayError.from_status(
        status,
        str(message) if message else "the upstream reported an error mid-stream",
        code=code_text,
        param=err.get("param") if isinstance(err.get("param"), str) else None,
        upstream_type=err_type if isinstance(err_type, str) else None,
    )
    if code_text == "insufficient_quota":
        error.kind = ErrorKind.BILLING
    return error
