"""MiniMax's ``base_resp: {status_code, status_msg}`` error envelope, wherever it comes:
an HTTP error body, a whole HTTP 200 answer, or an event of a 200 stream.

Codes (MiniMax's error-code page; 1028/1030/1039/2049/2061 as MiniMax's own CLI reads
them) map onto the gateway's cooldown table:

====== ================================ ===========================================
code   meaning                          becomes
====== ================================ ===========================================
1002   rate limit                       429: the model rests (backoff)
1028,  Coding Plan / token quota used   429 ``quota_exhausted``: rests until the plan's
1030                                    window resets, when the quota reading knows it
1004,  key or token not accepted        401: the credential rests ("check the key,
2049                                    or sign in again")
1008   insufficient balance             402: the credential rests ("top up")
2061   model not in the plan            404 ``model_not_found``: that model rests
1026,  sensitive input / output,        400: the request's fault, nothing rests
1027,  token or content filter,
1039,  invalid parameters
2013
1001   timeout                          504
other  unknown, internal                502
====== ================================ ===========================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from cliproxy import ErrorKind, GatewayError

__all__ = ["BaseRespGuard", "envelope_error", "envelope_of", "error_decoder", "raise_for_envelope"]

_MARK = b"base_resp"
MAX_LINE = 1 << 20
"""Bytes of one stream line kept while looking for an envelope in it."""

_LOGIN = "sign in again with `cliproxy login minimax` or check the entry's api-key"


def envelope_error(
    code: int, message: str, *, provider: str = "minimax", reset_in: float | None = None
) -> GatewayError:
    """The gateway error for a ``base_resp`` code (see the module doc)."""
    said = f"{message} ({code})" if message else f"MiniMax error {code}"
    if code == 1002:
        return GatewayError(status=429, kind=ErrorKind.RATE_LIMITED, message=said, provider=provider)
    if code in (1028, 1030):
        return GatewayError(
            status=429,
            kind=ErrorKind.RATE_LIMITED,
            message=f"the MiniMax plan's quota is used up until its window resets: {said}",
            provider=provider,
            code="quota_exhausted",
            retry_after=reset_in,
        )
    if code in (1004, 2049):
        return GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message=f"{said}; {_LOGIN}", provider=provider)
    if code == 1008:
        return GatewayError(
            status=402,
            kind=ErrorKind.BILLING,
            message=f"the MiniMax account's balance is used up ({said}); top up on the MiniMax platform",
            provider=provider,
            code="insufficient_balance",
        )
    if code == 2061:
        return GatewayError(
            status=404,
            kind=ErrorKind.MODEL_NOT_FOUND,
            message=f"this model is not in the MiniMax plan of this credential: {said}",
            provider=provider,
            code="model_not_found",
        )
    if code in (1026, 1027, 1039, 2013):
        return GatewayError(status=400, kind=ErrorKind.INVALID_REQUEST, message=said, provider=provider)
    if code == 1001:
        return GatewayError(status=504, kind=ErrorKind.TIMEOUT, message=said, provider=provider)
    return GatewayError(status=502, kind=ErrorKind.UPSTREAM, message=said, provider=provider)


def envelope_of(obj: Any) -> tuple[int, str] | None:
    """``(code, message)`` of a failing ``base_resp``; None when there is none or it says 0."""
    resp = obj.get("base_resp") if isinstance(obj, Mapping) else None
    if not isinstance(resp, Mapping):
        return None
    code = resp.get("status_code")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None
    message = resp.get("status_msg")
    return code, message if isinstance(message, str) else ""


def raise_for_envelope(body: bytes, reset_in: Callable[[], float | None] = lambda: None) -> None:
    """Raise the error a whole answer's failing ``base_resp`` stands for (MiniMax answers
    some failures with HTTP 200)."""
    if _MARK not in body:
        return
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    found = envelope_of(obj)
    if found is not None:
        raise envelope_error(*found, reset_in=reset_in())


def error_decoder(
    fallback: Callable[[int, Mapping[str, str], bytes], GatewayError], reset_in: Callable[[], float | None]
) -> Callable[[int, Mapping[str, str], bytes], GatewayError]:
    """A ``Call.post(decode_error=...)`` that reads ``base_resp`` and leaves other bodies
    to the wire's translator (``fallback``)."""

    def decode(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        try:
            found = envelope_of(orjson.loads(body)) if _MARK in body else None
        except orjson.JSONDecodeError:
            found = None
        if found is None:
            return fallback(status, headers, body)
        error = envelope_error(*found, reset_in=reset_in())
        if error.status == 502 and status < 500:  # an unknown code: the HTTP status says more
            error = GatewayError.from_status(status, error.message, provider=error.provider)
        return error

    return decode


class BaseRespGuard:
    """Watches a 200 stream for a failing ``base_resp`` and raises its error.

    Lines are only parsed when they hold ``base_resp``; the bytes of the current line are
    kept (up to :data:`MAX_LINE`) so an envelope split across reads is still found. The
    whole JSON answer some servers send instead of a stream is a line too.
    """

    def __init__(self, reset_in: Callable[[], float | None] = lambda: None) -> None:
        self._partial = b""
        self._suspect = False
        self._reset_in = reset_in

    def feed(self, chunk: bytes) -> None:
        start = self._partial
        if not self._suspect and _MARK not in chunk and _MARK not in start[-8:] + chunk[:8]:
            cut = chunk.rfind(b"\n")
            self._partial = (start + chunk if cut < 0 else chunk[cut + 1 :])[-MAX_LINE:]
            return
        *lines, rest = (start + chunk).split(b"\n")
        for line in lines:
            self._check(line)
        self._partial = rest[-MAX_LINE:]
        self._suspect = _MARK in self._partial

    def close(self) -> None:
        if self._suspect:
            self._check(self._partial)
        self._partial, self._suspect = b"", False

    def _check(self, line: bytes) -> None:
        if _MARK not in line:
            return
        text = line.strip()
        if text.startswith(b"data:"):
            text = text[5:].strip()
        try:
            found = envelope_of(orjson.loads(text))
        except orjson.JSONDecodeError:
            return
        if found is not None:
            raise envelope_error(*found, reset_in=self._reset_in())

    async def watch(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks``, checked; an envelope raises before the chunk that carries it."""
        async for chunk in chunks:
            self.feed(chunk)
            yield chunk
        self.close()
