"""The gateway's one error type, and the kinds of failure it names.

Every failure that reaches a client -- bad input, a missing key, an unknown model, an
upstream 429 -- is a :class:`GatewayError`. Each door renders it in its own wire format
(OpenAI ``{"error": {...}}``, Anthropic ``{"type": "error", ...}``, Gemini
``google.rpc.Status``) with the same status code.
"""

from __future__ import annotations

import traceback
from enum import StrEnum

import attrs

__all__ = ["ErrorKind", "GatewayError", "let_go"]


class ErrorKind(StrEnum):
    """What went wrong, independent of any wire format."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    BILLING = "billing"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    MODEL_NOT_FOUND = "model_not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    UNPROCESSABLE = "unprocessable"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    UPSTREAM = "upstream_error"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


_KIND_BY_STATUS = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    402: ErrorKind.BILLING,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    413: ErrorKind.REQUEST_TOO_LARGE,
    422: ErrorKind.UNPROCESSABLE,
    429: ErrorKind.RATE_LIMITED,
    500: ErrorKind.UPSTREAM,
    502: ErrorKind.UPSTREAM,
    503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.TIMEOUT,
    529: ErrorKind.OVERLOADED,
}

# Statuses that describe the request itself: trying another credential cannot help.
_CLIENT_FAULT = frozenset({400, 413, 422})


@attrs.define(auto_exc=True, eq=False, kw_only=True)
class GatewayError(Exception):
    """A failure with a status code, a kind and a message fit to show the client.

    Attributes:
        status: HTTP status the client receives.
        kind: What went wrong (see :class:`ErrorKind`).
        message: Human-readable explanation; never contains secrets.
        retry_after: Seconds until a retry may succeed (429/503), if known.
        provider: Name of the provider that failed, for upstream errors.
        param: The request field at fault, for invalid requests.
        code: A machine-readable code (``model_not_found``, ``context_length_exceeded``).
        upstream_type: The upstream's own error type string, kept for diagnostics.
        headers: Extra response headers (lower-case names), e.g. the rate-limit headers
            of a client key's limit.
        local: True when the gateway raised it itself -- the client's request could not be
            decoded or encoded, or the gateway failed -- rather than an upstream answering
            with it. Only upstream answers move the cooldown table: a local error never
            rests a credential, never counts against one, and is never failed over.
    """

    status: int
    kind: ErrorKind
    message: str
    retry_after: float | None = None
    provider: str | None = None
    param: str | None = None
    code: str | None = None
    upstream_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    local: bool = False

    def __str__(self) -> str:
        return self.message

    @property
    def client_fault(self) -> bool:
        """True when the request itself is wrong, so no other credential would do better."""
        return self.status in _CLIENT_FAULT

    @classmethod
    def from_status(cls, status: int, message: str, **fields: object) -> GatewayError:
        """Build an error whose kind follows from the HTTP status."""
        kind = _KIND_BY_STATUS.get(status)
        if kind is None:
            kind = ErrorKind.UPSTREAM if status >= 500 else ErrorKind.INVALID_REQUEST
        return cls(status=status, kind=kind, message=message, **fields)  # type: ignore[arg-type]

    def as_local(self) -> GatewayError:
        """This error, marked as raised by the gateway itself (see ``local``)."""
        return self if self.local else attrs.evolve(self, local=True)

    @classmethod
    def invalid(cls, message: str, *, param: str | None = None, code: str | None = None) -> GatewayError:
        """A 400 about the client's request."""
        return cls(status=400, kind=ErrorKind.INVALID_REQUEST, message=message, param=param, code=code)


def let_go(error: BaseException) -> None:
    """Drop what a caught ``error`` keeps that nobody reads: the locals of the finished
    frames it was raised through (an upstream body, a request) and a context its raiser
    suppressed (``raise ... from None``; a JSON decode error holds all the text it failed
    on). An error kept for later -- or caught in a frame it then refers to, a reference
    cycle the collector may leave for long -- holds no megabytes then."""
    traceback.clear_frames(error.__traceback__)
    if error.__suppress_context__:
        error.__context__ = None
