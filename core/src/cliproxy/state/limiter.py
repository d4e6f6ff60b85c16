"""Per-client limits kept in the state store: a sliding window of requests and of tokens
per minute, requests in flight, tokens per UTC day and cost per UTC month.

:meth:`~cliproxy.state.StateStore.acquire` checks every limit a client has and, when all
have room, takes its share of each in the same atomic step (one Lua call on Redis, no
await in memory): so however many requests and instances race, a window never admits
more than its limit. :meth:`~cliproxy.state.StateStore.release` gives back the request's
parallel slot and settles what it reserved (the estimate) against what it used.

The windows are logs, not counters: in any 60 seconds, at most ``rpm`` requests are
admitted, and the tokens charged in them add up to at most ``tpm`` (a request is charged
its estimate when admitted, and its actual tokens when it ends, at that time). A slot in
flight is a lease that ends by itself after ``lease`` seconds, so an instance that dies
with requests in flight frees them.

:class:`MemoryLimiter` is the in-process implementation (also what the Redis store falls
back to while Redis is down: limits then hold per instance).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import deque
from collections.abc import Callable

import attrs

from cliproxy.state.daily import day_of

__all__ = ["WINDOW", "Admission", "LimitUsage", "MemoryLimiter", "RateLimits", "month_of", "next_day", "next_month"]

WINDOW = 60.0
"""Seconds of the rpm and tpm windows."""

MAX_CLIENTS = 10_000
"""Clients past which a memory limiter forgets those with nothing in their windows and no
budget spent this day and month (live ones are kept, so a limit is never forgotten)."""


@attrs.frozen(slots=True)
class RateLimits:
    """One client's limits; None: no such limit."""

    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    daily_tokens: int | None = None
    monthly_nanos: int | None = None


@attrs.frozen(slots=True)
class Admission:
    """What :meth:`~cliproxy.state.StateStore.acquire` decided.

    Attributes:
        refused: The limit that had no room (``rpm``, ``tpm``, ``max-parallel``,
            ``daily-tokens``, ``monthly-budget-usd``); None: admitted.
        retry_after: Seconds until it has room again (None: not within its window).
        day: The UTC day the request's tokens count for.
        month: The UTC month (``YYYY-MM``) its cost counts for.
        requests_left: Admitted, with an ``rpm``: requests the window has room for after
            this one (else None).
        requests_reset_at: Unix time the oldest request leaves the rpm window (when
            ``requests_left`` next grows).
        tokens_left: Admitted, with a ``tpm``: tokens the window has room for after this
            request's estimate (else None).
        tokens_reset_at: Unix time the oldest charge leaves the tpm window.
    """

    refused: str | None
    retry_after: float | None
    day: str
    month: str
    requests_left: int | None = None
    requests_reset_at: float | None = None
    tokens_left: int | None = None
    tokens_reset_at: float | None = None

    @property
    def admitted(self) -> bool:
        return self.refused is None


@attrs.frozen(slots=True)
class LimitUsage:
    """What one client has used of its limits now (see
    :meth:`~cliproxy.state.StateStore.limit_usage`); a count the client has no limit
    for is not kept, so reads 0.

    Attributes:
        requests: Requests admitted in the last :data:`WINDOW` seconds.
        tokens: Tokens charged in the tpm window (estimates of requests in flight,
            what finished ones used).
        in_flight: Requests holding a ``max-parallel`` slot.
        day_tokens: Tokens of the UTC ``day``.
        month_nanos: Cost of the UTC ``month``, in nano-dollars.
        day: The UTC day (``YYYY-MM-DD``) ``day_tokens`` is for.
        month: The UTC month (``YYYY-MM``) ``month_nanos`` is for.
    """

    requests: int
    tokens: int
    in_flight: int
    day_tokens: int
    month_nanos: int
    day: str
    month: str


def month_of(when: float) -> str:
    """The UTC month (``YYYY-MM``) of Unix time ``when``."""
    return day_of(when)[:7]


def next_day(when: float) -> float:
    """Unix time of the UTC midnight after ``when``."""
    return (when // 86400 + 1) * 86400


def next_month(when: float) -> float:
    """Unix time of the first of the UTC month after ``when``."""
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


class _Client:
    """One client's windows and budgets, in memory."""

    __slots__ = (
        "charged",
        "day",
        "day_used",
        "inflight",
        "month",
        "month_used",
        "requests",
        "tokens",
        "tokens_total",
    )

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        # The tpm window: (time, ticket) oldest first, and what each ticket is charged in it
        # now (time, tokens); an entry of the deque whose ticket was charged again later is
        # stale, and skipped.
        self.tokens: deque[tuple[float, str]] = deque()
        self.charged: dict[str, tuple[float, int]] = {}
        self.tokens_total = 0
        self.inflight: dict[str, float] = {}  # ticket -> lease end
        self.day = self.month = ""
        self.day_used = self.month_used = 0

    def expire(self, now: float) -> None:
        since = now - WINDOW
        while self.requests and self.requests[0] <= since:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= since:
            when, ticket = self.tokens.popleft()
            held = self.charged.get(ticket)
            if held is not None and held[0] == when:
                del self.charged[ticket]
                self.tokens_total -= held[1]
        if self.inflight:
            for ticket in [t for t, end in self.inflight.items() if end <= now]:
                del self.inflight[ticket]

    def budgets(self, day: str, month: str) -> None:
        if self.day != day:
            self.day, self.day_used = day, 0
        if self.month != month:
            self.month, self.month_used = month, 0

    def tokens_free_in(self, now: float, limit: int, wanted: int) -> float | None:
        """Seconds until ``wanted`` more tokens fit under ``limit``; None: never."""
        if wanted > limit:
            return None
        excess = self.tokens_total + wanted - limit
        for when, ticket in self.tokens:
            held = self.charged.get(ticket)
            if held is None or held[0] != when:
                continue
            excess -= held[1]
            if excess <= 0:
                return max(0.0, when + WINDOW - now)
        return WINDOW

    def oldest_charge(self) -> float | None:
        """When the oldest charge still in the tpm window was made (None: it is empty)."""
        for when, ticket in self.tokens:
            held = self.charged.get(ticket)
            if held is not None and held[0] == when:
                return when
        return None

    def charge(self, ticket: str, when: float, tokens: int) -> None:
        """Charge ``ticket`` ``tokens`` at ``when`` in the tpm window (replacing its charge)."""
        self.uncharge(ticket)
        if tokens > 0:
            self.tokens.append((when, ticket))
            self.charged[ticket] = (when, tokens)
            self.tokens_total += tokens

    def uncharge(self, ticket: str) -> None:
        held = self.charged.pop(ticket, None)
        if held is not None:
            self.tokens_total -= held[1]


class MemoryLimiter:
    """The limits of one process's clients (see the module doc)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._clients: dict[str, _Client] = {}

    def acquire(self, client: str, ticket: str, limits: RateLimits, tokens: int, cost: int, lease: float) -> Admission:
        now = self.clock()
        day, month = day_of(now), month_of(now)
        state = self._clients.get(client)
        if state is None:
            if len(self._clients) >= MAX_CLIENTS:
                self._sweep(now, day)
            state = self._clients[client] = _Client()
        state.expire(now)
        state.budgets(day, month)
        refused: str | None = None
        retry: float | None = None
        if limits.rpm is not None and len(state.requests) >= limits.rpm:
            refused, retry = "rpm", max(0.0, state.requests[0] + WINDOW - now)
        elif limits.tpm is not None and state.tokens_total + tokens > limits.tpm:
            refused, retry = "tpm", state.tokens_free_in(now, limits.tpm, tokens)
        elif limits.parallel is not None and len(state.inflight) >= limits.parallel:
            refused, retry = "max-parallel", 1.0
        elif limits.daily_tokens is not None and state.day_used + tokens > limits.daily_tokens:
            refused, retry = "daily-tokens", next_day(now) - now
        elif limits.monthly_nanos is not None and state.month_used + cost > limits.monthly_nanos:
            refused, retry = "monthly-budget-usd", next_month(now) - now
        if refused is not None:
            return Admission(refused, retry, day, month)
        if limits.rpm is not None:
            state.requests.append(now)
        if limits.tpm is not None:
            state.charge(ticket, now, tokens)
        if limits.parallel is not None:
            state.inflight[ticket] = now + lease
        if limits.daily_tokens is not None:
            state.day_used += tokens
        if limits.monthly_nanos is not None:
            state.month_used += cost
        if limits.rpm is None and limits.tpm is None:
            return Admission(None, None, day, month)
        return self._headroom(state, limits, now, day, month)

    @staticmethod
    def _headroom(state: _Client, limits: RateLimits, now: float, day: str, month: str) -> Admission:
        """An admission with what the rpm and tpm windows have left after taking it."""
        requests_left = requests_reset = tokens_left = tokens_reset = None
        if limits.rpm is not None:
            requests_left = max(0, limits.rpm - len(state.requests))
            requests_reset = state.requests[0] + WINDOW
        if limits.tpm is not None:
            tokens_left = max(0, limits.tpm - state.tokens_total)
            oldest = state.oldest_charge()
            tokens_reset = (now if oldest is None else oldest) + WINDOW
        return Admission(None, None, day, month, requests_left, requests_reset, tokens_left, tokens_reset)

    def _sweep(self, now: float, day: str) -> None:
        """Forget clients with nothing in their windows, in flight or spent this day and month."""
        month = day[:7]
        for name in list(self._clients):
            state = self._clients[name]
            state.expire(now)
            if state.requests or state.charged or state.inflight:
                continue
            if (state.day == day and state.day_used) or (state.month == month and state.month_used):
                continue
            del self._clients[name]

    def release(
        self,
        client: str,
        ticket: str,
        limits: RateLimits,
        admission: Admission,
        *,
        charged: tuple[int, int],
        used: tuple[int, int],
    ) -> None:
        """Free ``ticket``'s slot; replace what it was charged (tokens, cost) by what it
        used: its tokens enter the tpm window now, its budgets get the difference. (A
        ticket a shared store admitted, released here while it is down, leaves only the
        difference, which is written back with the rest.)"""
        now = self.clock()
        state = self._clients.get(client)
        if state is None:
            if len(self._clients) >= MAX_CLIENTS:
                self._sweep(now, day_of(now))
            state = self._clients[client] = _Client()
        state.budgets(day_of(now), month_of(now))
        state.inflight.pop(ticket, None)
        tokens, cost = used
        if limits.tpm is not None:
            state.expire(now)
            state.charge(ticket, now, tokens)
        if limits.daily_tokens is not None and state.day == admission.day:
            state.day_used += tokens - charged[0]
        if limits.monthly_nanos is not None and state.month == admission.month:
            state.month_used += cost - charged[1]

    def usage(self, client: str) -> LimitUsage:
        """What ``client`` has used of its limits now."""
        now = self.clock()
        day, month = day_of(now), month_of(now)
        state = self._clients.get(client)
        if state is None:
            return LimitUsage(0, 0, 0, 0, 0, day, month)
        state.expire(now)
        return LimitUsage(
            requests=len(state.requests),
            tokens=state.tokens_total,
            in_flight=len(state.inflight),
            day_tokens=state.day_used if state.day == day else 0,
            month_nanos=state.month_used if state.month == month else 0,
            day=day,
            month=month,
        )

    def budget_counts(self) -> dict[str, tuple[str, int, str, int]]:
        """Each client's (day, tokens used, month, cost used): what is written back to a
        shared store after an outage."""
        return {name: (c.day, c.day_used, c.month, c.month_used) for name, c in self._clients.items() if c.day}

    def forget_budgets(self, counts: dict[str, tuple[str, int, str, int]]) -> None:
        """Take written-back budget counts off."""
        for name, (day, tokens, month, cost) in counts.items():
            state = self._clients.get(name)
            if state is None:
                continue
            if state.day == day:
                state.day_used -= tokens
            if state.month == month:
                state.month_used -= cost
