"""The in-process state store (the default): plain dicts, nothing shared."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from cliproxy.ir import Usage
from cliproxy.state.base import (
    LINGER,
    MAX_LINKS,
    USAGE_COUNTERS,
    WHOLE,
    ClientNames,
    Cooldown,
    CooldownPair,
    UsageTotals,
)
from cliproxy.state.daily import DailyCounts, DailyKey, DailyTable, day_of, first_kept_day
from cliproxy.state.limiter import Admission, LimitUsage, MemoryLimiter, RateLimits

__all__ = ["MemoryStore"]

_NOTHING: CooldownPair = (None, None)
_SWEEP_EVERY = 512  # set_cooldown calls between sweeps of forgotten records


class _Counters:
    """One credential + model's usage, counted in place (a snapshot is a UsageTotals)."""

    __slots__ = (  # UsageTotals' fields
        "cache_read_tokens",
        "failures",
        "input_tokens",
        "last_error",
        "last_error_at",
        "output_tokens",
        "reasoning_tokens",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = self.failures = 0
        self.input_tokens = self.output_tokens = self.cache_read_tokens = self.reasoning_tokens = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def totals(self) -> UsageTotals:
        return UsageTotals(**{name: getattr(self, name) for name in self.__slots__})

    def subtract(self, taken: UsageTotals) -> None:
        """Take a snapshot's counts off (they are counted elsewhere now); the last error
        stays only if it is newer than the snapshot's."""
        for name in USAGE_COUNTERS:
            setattr(self, name, getattr(self, name) - getattr(taken, name))
        if (self.last_error, self.last_error_at) == (taken.last_error, taken.last_error_at):
            self.last_error = self.last_error_at = None

    def add(self, usage: Usage | None, failed: bool) -> None:
        self.requests += 1
        if failed:
            self.failures += 1
        if usage is not None:
            self.input_tokens += usage.input_tokens or 0
            self.output_tokens += usage.output_tokens or 0
            self.cache_read_tokens += usage.cache_read_tokens or 0
            self.reasoning_tokens += usage.reasoning_tokens or 0


def _subtract(table: dict[str, _Counters], handed: Mapping[str, UsageTotals]) -> None:
    """Take ``handed`` (a snapshot of ``table``) off its counters; drop emptied ones."""
    for name, taken in handed.items():
        counters = table.get(name)
        if counters is None:
            continue
        counters.subtract(taken)
        if counters.totals() == UsageTotals():
            del table[name]


class _Linked:
    """One entry of a space of linked values."""

    __slots__ = ("expires", "parent", "value")

    def __init__(self, value: bytes, parent: str | None, expires: float) -> None:
        self.value = value
        self.parent = parent
        self.expires = expires


class _Space:
    """A space of linked values: its entries in the order they were kept (or their chain
    was extended), so the first is the next to drop; and their bytes."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: dict[str, _Linked] = {}
        self.total = 0

    def live(self, key: str, now: float) -> _Linked | None:
        entry = self.entries.get(key)
        if entry is not None and entry.expires <= now:
            self.drop(key)
            return None
        return entry

    def drop(self, key: str) -> bool:
        entry = self.entries.pop(key, None)
        if entry is None:
            return False
        self.total -= len(entry.value)
        return True

    def drop_expired(self, now: float) -> None:
        """Drop expired entries from the front (where, with one ttl, all of them are)."""
        entries = self.entries
        while entries:
            key = next(iter(entries))
            if entries[key].expires > now:
                return
            self.drop(key)


class MemoryStore:
    """Keeps state in dicts; one process only. ``clock`` is injectable for tests."""

    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._cooldowns: dict[str, dict[str, Cooldown]] = {}
        self._cursors: dict[str, int] = defaultdict(int)
        self._usage: dict[str, dict[str, _Counters]] = defaultdict(dict)
        self._clients: dict[str, _Counters] = {}
        self._daily = DailyTable()
        self.client_name = ClientNames()
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._spaces: dict[str, _Space] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sets = 0
        self._value_sets = 0
        self.limiter = MemoryLimiter(lambda: self.clock())

    # -- cooldowns -------------------------------------------------------------------------

    def _pair(self, credential_id: str, model: str, now: float) -> CooldownPair:
        entry = self._cooldowns.get(credential_id)
        if not entry:
            return _NOTHING
        whole = entry.get(WHOLE)
        per_model = entry.get(model)
        if whole is not None and whole.until + LINGER <= now:
            whole = None
        if per_model is not None and per_model.until + LINGER <= now:
            per_model = None
        return whole, per_model

    async def routing_view(
        self, pairs: Sequence[tuple[str, str]], cursor: str | None
    ) -> tuple[list[CooldownPair], int]:
        position = 0
        if cursor is not None:
            position = self._cursors[cursor]
            self._cursors[cursor] = position + 1
        if not self._cooldowns:
            return [_NOTHING] * len(pairs), position
        now = self.clock()
        return [self._pair(cred, model, now) for cred, model in pairs], position

    async def get_cooldowns(self, credential_id: str, model: str) -> CooldownPair:
        return self._pair(credential_id, model, self.clock())

    async def set_cooldown(self, credential_id: str, model: str | None, cooldown: Cooldown) -> None:
        self._cooldowns.setdefault(credential_id, {})[model or WHOLE] = cooldown
        self._sets += 1
        if self._sets % _SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        """Drop records past their linger time (models named by clients can be many)."""
        cutoff = self.clock() - LINGER
        for cred in list(self._cooldowns):
            entry = {model: cd for model, cd in self._cooldowns[cred].items() if cd.until > cutoff}
            if entry:
                self._cooldowns[cred] = entry
            else:
                del self._cooldowns[cred]

    async def clear_cooldown(self, credential_id: str, model: str | None) -> None:
        entry = self._cooldowns.get(credential_id)
        if entry:
            entry.pop(model or WHOLE, None)
            if not entry:
                del self._cooldowns[credential_id]

    async def clear_cooldowns(self, credential_id: str | None = None) -> int:
        if credential_id is None:
            count = sum(len(entry) for entry in self._cooldowns.values())
            self._cooldowns.clear()
            return count
        entry = self._cooldowns.pop(credential_id, None)
        return len(entry) if entry else 0

    async def cooldowns(self) -> Mapping[str, Mapping[str, Cooldown]]:
        now = self.clock()
        running: dict[str, dict[str, Cooldown]] = {}
        for cred, entry in self._cooldowns.items():
            models = {model: cd for model, cd in entry.items() if cd.until > now}
            if models:
                running[cred] = models
        return running

    def records(self) -> dict[tuple[str, str], Cooldown]:
        """Every cooldown record still kept (ended rests too, within their linger time):
        ``{(credential_id, model or "*"): cooldown}``."""
        cutoff = self.clock() - LINGER
        return {
            (cred, model): cooldown
            for cred, entry in self._cooldowns.items()
            for model, cooldown in entry.items()
            if cooldown.until > cutoff
        }

    def forget_records(self, records: Mapping[tuple[str, str], Cooldown]) -> None:
        """Drop ``records`` (handed over elsewhere); one replaced since then stays."""
        for (cred, model), cooldown in records.items():
            entry = self._cooldowns.get(cred)
            if entry is not None and entry.get(model) == cooldown:
                del entry[model]
                if not entry:
                    del self._cooldowns[cred]

    # -- cursors, usage --------------------------------------------------------------------

    async def next_cursor(self, key: str) -> int:
        value = self._cursors[key]
        self._cursors[key] = value + 1
        return value

    async def add_usage(
        self, credential_id: str, model: str, usage: Usage | None, *, failed: bool, error: str | None = None
    ) -> None:
        per_model = self._usage[credential_id]
        counters = per_model.get(model)
        if counters is None:
            counters = per_model[model] = _Counters()
        counters.add(usage, failed)
        if error is not None:
            counters.last_error = error
            counters.last_error_at = self.clock()

    async def usage(self) -> Mapping[str, Mapping[str, UsageTotals]]:
        return {cred: {model: c.totals() for model, c in models.items()} for cred, models in self._usage.items()}

    def subtract_usage(self, handed: Mapping[str, Mapping[str, UsageTotals]]) -> None:
        """Take ``handed`` (a snapshot of :meth:`usage`, counted elsewhere now) off the
        counters; what was added since the snapshot stays."""
        for cred, models in handed.items():
            per_model = self._usage.get(cred)
            if per_model is None:
                continue
            _subtract(per_model, models)
            if not per_model:
                del self._usage[cred]

    async def add_client_usage(self, client: str, usage: Usage | None, *, failed: bool) -> None:
        name = self.client_name(client)
        counters = self._clients.get(name)
        if counters is None:
            counters = self._clients[name] = _Counters()
        counters.add(usage, failed)

    async def client_usage(self) -> Mapping[str, UsageTotals]:
        return {name: c.totals() for name, c in self._clients.items()}

    def subtract_client_usage(self, handed: Mapping[str, UsageTotals]) -> None:
        """:meth:`subtract_usage` for :meth:`client_usage`'s counters."""
        _subtract(self._clients, handed)

    async def add_daily_usage(
        self, day: str, rows: Mapping[DailyKey, DailyCounts], *, keep_days: int, max_rows: int
    ) -> None:
        self._daily.add(day, rows, oldest=lambda: first_kept_day(day_of(self.clock()), keep_days), max_rows=max_rows)

    async def daily_usage(self, first: str, last: str) -> Mapping[str, Mapping[DailyKey, DailyCounts]]:
        return self._daily.rows(first, last)

    def daily_rows(self) -> dict[str, dict[DailyKey, DailyCounts]]:
        """Every daily row held (a copy), for handing them over to where they are kept."""
        return self._daily.rows()

    def subtract_daily_usage(self, handed: Mapping[str, Mapping[DailyKey, DailyCounts]]) -> None:
        """Take ``handed`` (a copy of :meth:`daily_rows`, kept elsewhere now) off; what
        was added since stays."""
        self._daily.subtract(handed)

    # -- values, locks ---------------------------------------------------------------------

    async def get_value(self, key: str) -> bytes | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires <= self.clock():
            del self._values[key]
            return None
        return value

    async def set_value(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._values[key] = (value, None if ttl is None else self.clock() + ttl)
        self._value_sets += 1
        if self._value_sets % _SWEEP_EVERY == 0:
            self._sweep_values()

    def _sweep_values(self) -> None:
        """Drop expired values nobody read again (stored responses, mostly)."""
        now = self.clock()
        for key in [k for k, (_, expires) in self._values.items() if expires is not None and expires <= now]:
            del self._values[key]

    async def delete_value(self, key: str) -> None:
        self._values.pop(key, None)

    # -- linked values ---------------------------------------------------------------------

    async def put_linked(
        self, space: str, key: str, value: bytes, *, parent: str | None, ttl: float, max_total: int
    ) -> int:
        size = len(value)
        if size > max_total:
            raise ValueError(f"a value of {size} bytes cannot be kept in a space of {max_total}")
        kept = self._spaces.get(space)
        if kept is None:
            kept = self._spaces[space] = _Space()
        now = self.clock()
        expires = now + ttl
        kept.drop_expired(now)
        kept.drop(key)
        link, hops = parent, 0
        while link is not None and hops < MAX_LINKS:  # the chain lives as long as its newest entry
            entry = kept.live(link, now)
            if entry is None:
                break
            entry.expires = max(entry.expires, expires)
            kept.entries[link] = kept.entries.pop(link)  # ... and counts as just kept
            link, hops = entry.parent, hops + 1
        dropped = 0
        while kept.total + size > max_total:
            kept.drop(next(iter(kept.entries)))
            dropped += 1
        kept.entries[key] = _Linked(value, parent, expires)
        kept.total += size
        return dropped

    async def get_chain(self, space: str, key: str, limit: int = MAX_LINKS) -> list[bytes]:
        kept = self._spaces.get(space)
        if kept is None:
            return []
        now = self.clock()
        chain: list[bytes] = []
        link: str | None = key
        limit = min(limit, MAX_LINKS)
        while link is not None and len(chain) < limit:
            entry = kept.live(link, now)
            if entry is None:
                break
            chain.append(entry.value)
            link = entry.parent
        return chain

    async def delete_linked(self, space: str, key: str) -> bool:
        kept = self._spaces.get(space)
        return kept is not None and kept.live(key, self.clock()) is not None and kept.drop(key)

    async def linked_usage(self, space: str) -> tuple[int, int]:
        kept = self._spaces.get(space)
        if kept is None:
            return 0, 0
        now = self.clock()
        for key in [k for k, entry in kept.entries.items() if entry.expires <= now]:
            kept.drop(key)
        return len(kept.entries), kept.total

    # -- client limits -----------------------------------------------------------------------

    async def acquire(
        self, client: str, ticket: str, limits: RateLimits, *, tokens: int, cost: int, lease: float
    ) -> Admission:
        return self.limiter.acquire(client, ticket, limits, tokens, cost, lease)

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
        self.limiter.release(client, ticket, limits, admission, charged=charged, used=used)

    async def limit_usage(self, client: str) -> LimitUsage:
        return self.limiter.usage(client)

    @asynccontextmanager
    async def lock(self, key: str, ttl: float = 30.0) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    def describe(self) -> Mapping[str, Any]:
        return {"backend": self.name, "shared": False, "healthy": True}

    async def close(self) -> None:
        return None
