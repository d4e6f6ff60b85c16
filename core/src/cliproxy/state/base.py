"""The state store contract: what gateway instances share.

Cooldowns and health per credential (and per credential + model), round-robin cursors,
usage counters (per credential + model, and per client), daily usage rows (per client,
credential, model and UTC day: what usage reports and cost come from), small values (refreshed OAuth
tokens), linked values in spaces of bounded size (kept Responses answers), and a lock for
single-flight token refresh. ``memory`` keeps it in the process; ``redis`` shares it between processes and
machines. Both pass the same contract tests (:mod:`cliproxy.testing.state_contract`).

Times are Unix seconds from the store's ``clock`` (injectable, so tests never sleep). A
cooldown is over once ``until`` has passed, whoever reads it; its record is kept
:data:`LINGER` seconds longer so repeated 429s keep backing off, then forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

from cliproxy.ir import Usage
from cliproxy.state.daily import DailyCounts, DailyKey
from cliproxy.state.limiter import Admission, LimitUsage, RateLimits

__all__ = [
    "LINGER",
    "MAX_CLIENT_NAMES",
    "MAX_LINKS",
    "OTHER_CLIENTS",
    "WHOLE",
    "ClientNames",
    "Cooldown",
    "CooldownPair",
    "StateStore",
    "UsageTotals",
]

LINGER = 30 * 60.0
"""Seconds a cooldown's record outlives its end (it remembers the 429 backoff level)."""

MAX_LINKS = 500
"""Links a chain of linked values is followed for at most (see :meth:`StateStore.get_chain`)."""

WHOLE = "*"
"""The model key of a cooldown that rests the whole credential."""


@attrs.frozen(slots=True)
class Cooldown:
    """A credential (``model`` None) or a credential+model is resting until ``until``.

    Attributes:
        until: Unix time the rest ends.
        reason: Why, for people (``rate limited (429)``, ``invalid x-api-key (401)``).
        status: The upstream status that caused it, if any.
        level: Consecutive 429s so far (drives exponential backoff).
        missing: The upstream said it does not serve the model (not a transient rest).
    """

    until: float
    reason: str
    status: int | None = None
    level: int = 0
    missing: bool = False

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)

    def to_list(self) -> list[Any]:
        """A compact, JSON-able form (what shared stores save)."""
        return [self.until, self.reason, self.status, self.level, self.missing]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> Cooldown:
        until, reason, status, level, missing = data
        return cls(float(until), str(reason), None if status is None else int(status), int(level), bool(missing))


CooldownPair = tuple[Cooldown | None, Cooldown | None]
"""A candidate's credential-wide and model-level cooldown records (either may be None)."""


@attrs.frozen(slots=True)
class UsageTotals:
    """Counters for one credential + model, and its most recent failure."""

    requests: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    last_error: str | None = None
    last_error_at: float | None = None


USAGE_COUNTERS = ("requests", "failures", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")
"""The :class:`UsageTotals` fields that are counts (added up, never replaced)."""

MAX_CLIENT_NAMES = 100
"""Distinct client names one instance counts usage for; later names count as
:data:`OTHER_CLIENTS`. Clients come from ``api-keys`` (``key-1``...), but an
``authenticate_client`` plugin may name callers at will, and shared counters must stay
bounded (the same cap as the metrics' ``client`` label)."""

OTHER_CLIENTS = "other"
"""The client name usage past :data:`MAX_CLIENT_NAMES` is counted under."""


class ClientNames:
    """The name to count a client's usage under: itself, or :data:`OTHER_CLIENTS` once
    ``limit`` distinct names were seen (names past the cap are not remembered)."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int = MAX_CLIENT_NAMES) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, name: str) -> str:
        seen = self._seen
        if name in seen:
            return name
        if len(seen) >= self._limit:
            return OTHER_CLIENTS
        seen.add(name)
        return name


@runtime_checkable
class StateStore(Protocol):
    """Shared gateway state. All methods are coroutines except :meth:`lock` (an async
    context manager) and :meth:`describe`.

    Attributes:
        clock: Returns the current Unix time; replace it in tests.
    """

    clock: Callable[[], float]

    async def routing_view(
        self, pairs: Sequence[tuple[str, str]], cursor: str | None
    ) -> tuple[list[CooldownPair], int]:
        """What selection needs, in one round trip: the cooldown records of each
        ``(credential_id, model)`` pair (credential-wide, model-level; records past their
        linger time read as None) and, when ``cursor`` is given, the next value of that
        round-robin counter (else 0)."""
        ...

    async def get_cooldowns(self, credential_id: str, model: str) -> CooldownPair:
        """The credential-wide and the model-level cooldown record (either may be None or over)."""
        ...

    async def set_cooldown(self, credential_id: str, model: str | None, cooldown: Cooldown) -> None:
        """Rest a credential (``model`` None) or one of its models until ``cooldown.until``."""
        ...

    async def clear_cooldown(self, credential_id: str, model: str | None) -> None:
        """Forget one cooldown record (after a success)."""
        ...

    async def clear_cooldowns(self, credential_id: str | None = None) -> int:
        """Forget every cooldown record of one credential, or of all credentials when
        ``credential_id`` is None (an operator's reset); returns how many were removed."""
        ...

    async def cooldowns(self) -> Mapping[str, Mapping[str, Cooldown]]:
        """Every cooldown still running: ``{credential_id: {model or "*": cooldown}}``."""
        ...

    async def next_cursor(self, key: str) -> int:
        """An ever-increasing counter for ``key`` (round-robin position), starting at 0."""
        ...

    async def add_usage(
        self, credential_id: str, model: str, usage: Usage | None, *, failed: bool, error: str | None = None
    ) -> None:
        """Count one request (and its tokens) against a credential + model; ``error``
        (safe to show) becomes its last error."""
        ...

    async def usage(self) -> Mapping[str, Mapping[str, UsageTotals]]:
        """Counters: ``{credential_id: {model: totals}}``."""
        ...

    async def add_client_usage(self, client: str, usage: Usage | None, *, failed: bool) -> None:
        """Count one client request (once, however many upstream attempts it took) and
        its tokens against the caller's name; ``failed``: the client got an error. Names
        past :data:`MAX_CLIENT_NAMES` distinct ones (per instance) count as
        :data:`OTHER_CLIENTS`."""
        ...

    async def client_usage(self) -> Mapping[str, UsageTotals]:
        """Counters per client name (``last_error`` is not kept for clients)."""
        ...

    async def add_daily_usage(
        self, day: str, rows: Mapping[DailyKey, DailyCounts], *, keep_days: int, max_rows: int
    ) -> None:
        """Add ``rows`` to the usage of ``day`` (UTC, ``YYYY-MM-DD``), all in one atomic
        step (one round trip on a shared store). A day holds at most ``max_rows`` distinct
        rows: later ones are counted in :data:`~cliproxy.state.daily.OVERFLOW`. A day is
        kept ``keep_days`` days (``day`` and the ``keep_days - 1`` after it), then
        forgotten; rows of a day already past that are dropped."""
        ...

    async def daily_usage(self, first: str, last: str) -> Mapping[str, Mapping[DailyKey, DailyCounts]]:
        """The rows of each day from ``first`` to ``last`` (inclusive) that has any:
        ``{day: {key: counts}}``."""
        ...

    async def get_value(self, key: str) -> bytes | None:
        """A value saved by :meth:`set_value`, or None (never set, deleted or expired)."""
        ...

    async def set_value(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Save ``value`` under ``key``, for ``ttl`` seconds or (None) until replaced."""
        ...

    async def delete_value(self, key: str) -> None: ...

    async def put_linked(
        self, space: str, key: str, value: bytes, *, parent: str | None, ttl: float, max_total: int
    ) -> int:
        """Keep ``value`` under ``key`` in ``space`` for ``ttl`` seconds, linked to the
        entry ``parent`` (None: none), replacing any entry ``key`` had.

        The entries ``parent`` leads to (up to :data:`MAX_LINKS` of them) live at least as
        long as the new one and count as just kept. The values of a space never add up
        to more than ``max_total`` bytes: the entries kept longest ago (those closest to
        expiry) are dropped first to make room. On a shared store this holds across
        instances (one atomic step). Returns how many entries were dropped.

        Raises:
            ValueError: ``value`` alone is larger than ``max_total``.
        """
        ...

    async def get_chain(self, space: str, key: str, limit: int = MAX_LINKS) -> list[bytes]:
        """The value of ``key`` in ``space``, then of its parent, and so on: up to
        ``limit`` (at most :data:`MAX_LINKS`) values, ending early at an entry that has no
        parent or a parent no longer kept (the caller tells the two apart). Empty when
        ``key`` is not kept."""
        ...

    async def delete_linked(self, space: str, key: str) -> bool:
        """Forget ``key``'s entry in ``space`` (entries linked to it keep a broken link);
        False when it was not kept."""
        ...

    async def linked_usage(self, space: str) -> tuple[int, int]:
        """How many entries ``space`` keeps, and their bytes."""
        ...

    async def acquire(
        self, client: str, ticket: str, limits: RateLimits, *, tokens: int, cost: int, lease: float
    ) -> Admission:
        """Admit one request of ``client`` (its name) if every one of its ``limits`` has
        room for it -- a request, ``tokens`` (its estimate) and ``cost`` (nano-dollars) --
        and take that room, in one atomic step (one round trip on a shared store, so
        instances racing never admit more than a limit); ``ticket`` (unique per request)
        holds a parallel slot for at most ``lease`` seconds. See
        :mod:`cliproxy.state.limiter`."""
        ...

    async def release(
        self,
        client: str,
        ticket: str,
        limits: RateLimits,
        admission: Admission,
        *,
        charged: tuple[int, int],
        used: tuple[int, int],
    ) -> None:
        """End an admitted request: free its parallel slot, and settle the (tokens, cost)
        it was ``charged`` on admission against what it ``used``."""
        ...

    async def limit_usage(self, client: str) -> LimitUsage:
        """What ``client`` (its name) has used of its limits now: requests and tokens in
        its rpm and tpm windows, requests in flight, the UTC day's tokens and month's
        cost (across instances for shared stores). Reads only."""
        ...

    def lock(self, key: str, ttl: float = 30.0) -> AbstractAsyncContextManager[Any]:
        """Hold ``key`` exclusively (across instances for shared stores) for at most ``ttl``
        seconds; waits until it is free."""
        ...

    def describe(self) -> Mapping[str, Any]:
        """What the store is and whether it is healthy, for status pages (no secrets)."""
        ...

    async def close(self) -> None: ...
