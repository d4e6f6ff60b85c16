"""The rate-limit headers a client's SDK reads, for a key's ``rpm`` and ``tpm``.

OpenAI doors get ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` (the reset as
a duration, ``12.5s``); the Anthropic door gets
``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`` (the reset as an RFC 3339
time). Other doors (Gemini) have none. A refused request carries the limit that refused
(:func:`refusal_headers`); an admitted one what each window of its key has left after it
(:func:`admitted_headers`) -- only for the limits the key has.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from cliproxy.key_policy import KeyPolicy
from cliproxy.ticket import Ticket

if TYPE_CHECKING:
    from cliproxy.client import ClientRequest

__all__ = ["admitted_headers", "refusal_headers", "with_rate_headers"]


def _duration(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}s".replace(".000s", "s")


def _moment(when: float) -> str:
    """RFC 3339, in whole seconds rounded up (a client waiting until then finds room)."""
    return dt.datetime.fromtimestamp(math.ceil(when), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _trio(wire: str, kind: str, limit: int, remaining: int, reset_at: float, now: float) -> list[tuple[str, str]]:
    if wire == "anthropic":
        prefix = f"anthropic-ratelimit-{kind}"
        return [
            (f"{prefix}-limit", str(limit)),
            (f"{prefix}-remaining", str(remaining)),
            (f"{prefix}-reset", _moment(reset_at)),
        ]
    return [
        (f"x-ratelimit-limit-{kind}", str(limit)),
        (f"x-ratelimit-remaining-{kind}", str(remaining)),
        (f"x-ratelimit-reset-{kind}", _duration(reset_at - now)),
    ]


def _has_headers(wire: str) -> bool:
    return wire == "anthropic" or wire.startswith("openai")


def refusal_headers(
    wire: str, policy: KeyPolicy, limit: str | None, retry: float | None, now: float
) -> tuple[tuple[str, str], ...]:
    """The headers for the ``limit`` (``rpm`` or ``tpm``) that refused a request, with no
    room left until ``retry`` seconds from ``now``."""
    kind = {"rpm": "requests", "tpm": "tokens"}.get(limit or "")
    value = {"rpm": policy.rpm, "tpm": policy.tpm}.get(limit or "")
    if kind is None or value is None or not _has_headers(wire):
        return ()
    return tuple(_trio(wire, kind, value, 0, now + max(0.0, retry or 0.0), now))


def admitted_headers(ticket: Ticket, wire: str, now: float) -> list[tuple[bytes, bytes]]:
    """The headers of an answer admitted with ``ticket``: what its key's rpm and tpm
    windows had left after taking the request's share, and when their oldest entry
    leaves them (the time they next have more room); empty for keys with neither."""
    admission = ticket.admission
    limits = ticket.limits
    if not _has_headers(wire):
        return []
    pairs: list[tuple[str, str]] = []
    if limits.rpm is not None and admission.requests_left is not None and admission.requests_reset_at is not None:
        pairs += _trio(wire, "requests", limits.rpm, admission.requests_left, admission.requests_reset_at, now)
    if limits.tpm is not None and admission.tokens_left is not None and admission.tokens_reset_at is not None:
        pairs += _trio(wire, "tokens", limits.tpm, admission.tokens_left, admission.tokens_reset_at, now)
    return [(name.encode(), value.encode()) for name, value in pairs]


def with_rate_headers(client: ClientRequest, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An admitted answer's ``headers``, with :func:`admitted_headers` when ``client``'s
    key holds a ticket (``headers`` itself, untouched, when it does not). Durations are
    counted on the clock of the ticket's store, the one its reset times came from."""
    ticket = client.ticket
    if ticket is None:
        return headers
    return [*headers, *admitted_headers(ticket, client.wire, ticket.store.clock())]
