"""Errors as ``google.rpc.Status``: ``{"error": {"code", "message", "status", "details"}}``.

Upstream: the HTTP status decides the gateway error's kind, ``RetryInfo.retryDelay``
(``"34.4s"``) becomes ``retry_after`` (so a 429 rests the credential exactly as long as
Gemini asks), and an invalid API key -- which Gemini answers with 400 ``API_KEY_INVALID`` --
becomes a 401 so the key is rested and the next one tried. Client side: every gateway error
is rendered in the same shape, with ``RetryInfo``, ``ErrorInfo`` and ``BadRequest`` details
the Google SDKs read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire import common as c

__all__ = ["decode_error", "encode_error", "error_from_status", "parse_duration"]

_TYPE_PREFIX = "type.googleapis.com/google.rpc."
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}
_KNOWN_NAMES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)
# ErrorInfo reasons that mean "this credential is bad", whatever status Gemini used.
_CREDENTIAL_REASONS = {
    "API_KEY_INVALID": 401,
    "API_KEY_EXPIRED": 401,
    "ACCESS_TOKEN_EXPIRED": 401,
    "API_KEY_SERVICE_BLOCKED": 403,
    "SERVICE_DISABLED": 403,
    "CONSUMER_SUSPENDED": 403,
    "BILLING_DISABLED": 403,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from a protobuf JSON duration (``"34.4s"``, ``"2s"``); None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def _status_body(obj: Any) -> Mapping[str, Any] | None:
    if isinstance(obj, list) and obj and isinstance(obj[0], Mapping):
        obj = obj[0]  # a JSON-array stream that failed carries the error as its element
    if isinstance(obj, Mapping):
        err = obj.get("error")
        if isinstance(err, Mapping):
            return err
    return None


def error_from_status(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> GatewayError:
    """A gateway error from a parsed ``google.rpc.Status`` body (or anything else)."""
    err = _status_body(obj)
    message = f"the upstream answered HTTP {status}"
    status_name: str | None = None
    reason: str | None = None
    param: str | None = None
    retry: float | None = None
    quota: list[str] = []
    if err is not None:
        if isinstance(err.get("message"), str) and err["message"].strip():
            message = err["message"].strip()
        if isinstance(err.get("status"), str):
            status_name = err["status"]
        for detail in err.get("details") or ():
            if not isinstance(detail, Mapping):
                continue
            kind = str(detail.get("@type", "")).removeprefix(_TYPE_PREFIX)
            if kind == "RetryInfo":
                retry = parse_duration(detail.get("retryDelay"))
            elif kind == "ErrorInfo" and isinstance(detail.get("reason"), str):
                reason = detail["reason"]
            elif kind == "BadRequest":
                for violation in detail.get("fieldViolations") or ():
                    if isinstance(violation, Mapping) and isinstance(violation.get("field"), str):
                        param = violation["field"]
                        break
            elif kind == "QuotaFailure":
                for violation in detail.get("violations") or ():
                    if isinstance(violation, Mapping) and isinstance(violation.get("quotaId"), str):
                        quota.append(violation["quotaId"])
    elif isinstance(obj, Mapping) and isinstance(obj.get("message"), str):
        message = obj["message"]
    if retry is None and headers is not None:
        retry = c.retry_after_seconds(headers)
    if quota:
        message = f"{message} (quota: {', '.join(quota)})"
    if reason in _CREDENTIAL_REASONS:
        status = _CREDENTIAL_REASONS[reason]
    error = GatewayError.from_status(
        status,
        message,
        retry_after=retry,
        param=param,
        code=reason.lower() if reason else None,
        upstream_type=status_name,
    )
    if status == 404 and ("model" in message.lower() or reason == "MODEL_NOT_FOUND"):
        error.code = "model_not_found"
    return error


def decode_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body[:500].decode("utf-8", "replace").strip()
        obj = {"message": text or f"HTTP {status}"}
    return error_from_status(status, obj, headers)


def encode_error(error: GatewayError) -> bytes:
    """The ``google.rpc.Status`` body a Gemini client reads for ``error``."""
    name = error.upstream_type if error.upstream_type in _KNOWN_NAMES else None
    if name is None:
        name = _STATUS_NAMES.get(error.status, "INTERNAL" if error.status >= 500 else "FAILED_PRECONDITION")
    details: list[dict[str, Any]] = [
        {
            "@type": _TYPE_PREFIX + "ErrorInfo",
            "reason": (error.code or str(error.kind)).upper(),
            "domain": "cliproxy",
            "metadata": {
                "kind": str(error.kind),
                **({"provider": error.provider} if error.provider else {}),
            },
        }
    ]
    if error.retry_after is not None:
        details.append({"@type": _TYPE_PREFIX + "RetryInfo", "retryDelay": f"{max(0.0, error.retry_after):g}s"})
    if error.param and error.kind in (ErrorKind.INVALID_REQUEST, ErrorKind.MODEL_NOT_FOUND):
        details.append(
            {
                "@type": _TYPE_PREFIX + "BadRequest",
                "fieldViolations": [{"field": error.param, "description": error.message}],
            }
        )
    return orjson.dumps(
        {
            "error": {
                "code": error.status,
                "message": error.message,
                "status": name,
                "details": details,
            }
        }
    )
