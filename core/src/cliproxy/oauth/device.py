"""The device-authorization flow's polling half (RFC 8628 and its vendor variants).

The user confirms a code on another device while the login polls the token endpoint.
Servers say "not yet" in different ways -- an ``error`` field (RFC 8628; GitHub with
HTTP 200, AWS with 400), a status code (Kilo: 202 pending, 403 denied, 410 expired;
Codex: 403/404 pending), a ``status`` field (MiniMax) -- so how an answer is read is a
:data:`Classifier` the flow picks: :func:`rfc8628`, :func:`by_status`,
:func:`by_body_status`, or its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from enum import StrEnum
from typing import Any

import aiohttp
import attrs

from cliproxy.errors import ErrorKind, GatewayError

__all__ = [
    "SLOW_DOWN_STEP",
    "Classifier",
    "PollOutcome",
    "PollState",
    "by_body_status",
    "by_status",
    "poll_device_token",
    "rfc8628",
]

SLOW_DOWN_STEP = 5.0
"""Seconds added to the interval on each ``slow_down`` (RFC 8628 §3.5)."""
NETWORK_RETRIES = 3


class PollState(StrEnum):
    PENDING = "pending"
    SLOW_DOWN = "slow_down"
    DENIED = "denied"
    EXPIRED = "expired"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class PollOutcome:
    """How one poll answer reads: its state, the answer (for ``DONE``) and the server's
    own words (for failures)."""

    state: PollState
    data: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    detail: str | None = None


Classifier = Callable[[int, Any], PollOutcome]
"""``(HTTP status, parsed JSON body or None) -> PollOutcome``."""

_ERROR_CODES = {
    "authorization_pending": PollState.PENDING,
    "AuthorizationPendingException": PollState.PENDING,
    "slow_down": PollState.SLOW_DOWN,
    "SlowDownException": PollState.SLOW_DOWN,
    "access_denied": PollState.DENIED,
    "AccessDeniedException": PollState.DENIED,
    "expired_token": PollState.EXPIRED,
    "ExpiredTokenException": PollState.EXPIRED,
}


def _detail(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    for key in ("error_description", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return None


def rfc8628(status: int, body: Any) -> PollOutcome:
    """RFC 8628: an ``error`` code says pending / slow down / denied / expired whatever the
    HTTP status (GitHub answers 200, AWS 400); a 2xx answer without one is the token."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, str) and error:
        return PollOutcome(_ERROR_CODES.get(error, PollState.FAILED), detail=_detail(body))
    if 200 <= status < 300 and isinstance(body, Mapping):
        return PollOutcome(PollState.DONE, data=body)
    return PollOutcome(PollState.FAILED, detail=_detail(body) or f"HTTP {status}")


def by_status(
    *,
    pending: Collection[int] = (),
    slow_down: Collection[int] = (),
    denied: Collection[int] = (),
    expired: Collection[int] = (),
    otherwise: Classifier = rfc8628,
) -> Classifier:
    """A classifier for servers whose status code carries the state (Kilo:
    ``by_status(pending={202}, denied={403}, expired={410})``); other answers go to
    ``otherwise``."""
    table = {
        **{code: PollState.PENDING for code in pending},
        **{code: PollState.SLOW_DOWN for code in slow_down},
        **{code: PollState.DENIED for code in denied},
        **{code: PollState.EXPIRED for code in expired},
    }

    def classify(status: int, body: Any) -> PollOutcome:
        state = table.get(status)
        if state is not None:
            return PollOutcome(state, detail=_detail(body))
        return otherwise(status, body)

    return classify


def by_body_status(
    *, field: str = "status", done: Collection[str] = ("success",), failed: Collection[str] = ("error",)
) -> Classifier:
    """A classifier for servers that answer 200 with a state field (MiniMax:
    ``status: success | error``, anything else pending)."""

    def classify(status: int, body: Any) -> PollOutcome:
        if status >= 400 or not isinstance(body, Mapping):
            return rfc8628(status, body)
        value = body.get(field)
        if value in done:
            return PollOutcome(PollState.DONE, data=body)
        if value in failed:
            return PollOutcome(PollState.FAILED, detail=_detail(body) or str(value))
        return PollOutcome(PollState.PENDING)

    return classify


async def poll_device_token(
    request: Callable[[], Awaitable[tuple[int, Any]]],
    *,
    interval: float = 5.0,
    expires_in: float | None = 900.0,
    classify: Classifier = rfc8628,
    backoff: Callable[[float], float] | None = None,
    service: str = "the sign-in service",
    provider: str | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Mapping[str, Any]:
    """Poll until the user confirms the code; the token answer.

    Args:
        request: Sends one poll; returns ``(status, parsed JSON or None)``.
        interval: Seconds between polls (the server's ``interval``); ``slow_down`` adds
            :data:`SLOW_DOWN_STEP`.
        expires_in: Seconds the code stays valid (None: no limit of our own).
        classify: Reads an answer (see the module doc).
        backoff: The next interval after a pending answer (MiniMax: ``x1.5`` up to 10 s).
        service: How errors name the server (``AWS SSO-OIDC``).
        provider: The provider, for the errors raised.
        sleep, clock: Injected in tests.

    Raises :class:`~cliproxy.GatewayError` when the user denies, the code expires, or the
    server answers something else; network errors are retried a few times.
    """
    deadline = None if expires_in is None else clock() + expires_in
    failures = 0
    while True:
        if deadline is not None and clock() + interval > deadline:
            raise _ended("expired_token", "the code expired before it was confirmed", service, provider)
        await sleep(interval)
        try:
            status, body = await request()
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures += 1
            if failures > NETWORK_RETRIES:
                raise GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message=f"could not reach {service} ({type(exc).__name__}); check the network or proxy-url "
                    "and start the login again",
                    provider=provider,
                ) from None
            continue
        failures = 0
        outcome = classify(status, body)
        if outcome.state is PollState.DONE:
            return outcome.data
        if outcome.state is PollState.PENDING:
            if backoff is not None:
                interval = backoff(interval)
        elif outcome.state is PollState.SLOW_DOWN:
            interval += SLOW_DOWN_STEP
        elif outcome.state is PollState.DENIED:
            raise _ended("access_denied", _with(outcome, "the sign-in was denied"), service, provider)
        elif outcome.state is PollState.EXPIRED:
            raise _ended("expired_token", _with(outcome, "the code expired before it was confirmed"), service, provider)
        else:
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message=f"{service} refused the device sign-in ({status}: {outcome.detail or 'no details'}); "
                "start the login again",
                provider=provider,
            )


def _with(outcome: PollOutcome, what: str) -> str:
    return f"{what} ({outcome.detail})" if outcome.detail else what


def _ended(code: str, what: str, service: str, provider: str | None) -> GatewayError:
    return GatewayError(
        status=401,
        kind=ErrorKind.AUTHENTICATION,
        message=f"{what} at {service}; start the login again",
        provider=provider,
        code=code,
    )
