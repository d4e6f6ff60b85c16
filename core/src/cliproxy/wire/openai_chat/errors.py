"""openai-chat error bodies <-> gateway errors: ``{"error": {"message", "type", "param",
"code"}}``, in HTTP error bodies and inside a stream or a 200 answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire import common as c

ERROR_TYPE = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.MODEL_NOT_FOUND: "invalid_request_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.UNPROCESSABLE: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.BILLING: "insufficient_quota",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.UPSTREAM: "server_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.INTERNAL: "server_error",
}


def error_from_body(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> GatewayError:
    message = "upstream error"
    err_type = code = param = None
    retry_info = None
    if isinstance(obj, list) and len(obj) == 1:  # Gemini's OpenAI endpoint wraps errors in a list
        obj = obj[0]
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        retry_info = c.retry_info_seconds(err)
        if isinstance(err, str):
            message = err
        elif isinstance(err, dict):
            message = str(err.get("message") or err.get("detail") or message)
            err_type = err.get("type")
            code = err.get("code")
            param = err.get("param")
            metadata = err.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("raw"), str):
                message = f"{message}: {metadata['raw'][:500]}"
        if isinstance(obj.get("detail"), str):
            message = obj["detail"]
    retry_after = c.retry_after_seconds(headers) if headers else None
    error = GatewayError.from_status(
        status,
        message,
        retry_after=retry_info if retry_after is None else retry_after,
        param=param if isinstance(param, str) else None,
        code=str(code) if code is not None and not isinstance(code, int) else None,
        upstream_type=err_type if isinstance(err_type, str) else None,
    )
    if status == 404 and (code == "model_not_found" or "model" in message.lower()):
        error.code = "model_not_found"
    return error


def error_status(err: Any) -> int:
    """The HTTP status an error that arrived inside a 200 answer stands for: its numeric
    ``code`` when that is one (OpenRouter), else 502."""
    code = err.get("code") if isinstance(err, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 502


def decode_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    try:
        obj = c.loads(body) if body else None
    except ValueError:
        obj = {"error": {"message": body[:500].decode("utf-8", "replace").strip() or f"HTTP {status}"}}
    return error_from_body(status, obj, headers)


def encode_error(error: GatewayError) -> bytes:
    body: dict[str, Any] = {
        "message": error.message,
        "type": ERROR_TYPE.get(error.kind, "server_error"),
        "param": error.param,
        "code": error.code or (str(error.kind) if error.kind in (ErrorKind.RATE_LIMITED,) else None),
    }
    return orjson.dumps({"error": body})
