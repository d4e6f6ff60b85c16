"""The in-process state store (the default)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from cliproxy.ir import Usage
from cliproxy.state.base import Cooldown, UsageTotals

__all__ = ["MemoryStore"]

_WHOLE = "*"
_ZERO = UsageTotals()
_NO_USAGE = Usage()


class MemoryStore:
    """Keeps state in dicts; one process only. ``clock`` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cooldowns: dict[str, dict[str, Cooldown]] = defaultdict(dict)
        self._cursors: dict[str, int] = defaultdict(int)
        self._usage: dict[str, dict[str, UsageTotals]] = defaultdict(dict)
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get_cooldowns(self, credential_id: str, model: str) -> tuple[Cooldown | None, Cooldown | None]:
        entry = self._cooldowns.get(credential_id)
        if not entry:
            return None, None
        return entry.get(_WHOLE), entry.get(model)

    async def set_cooldown(self, credential_id: str, model: str | None, cooldown: Cooldown) -> None:
        self._cooldowns[credential_id][model or _WHOLE] = cooldown

    async def clear_cooldown(self, credential_id: str, model: str | None) -> None:
        entry = self._cooldowns.get(credential_id)
        if entry:
            entry.pop(model or _WHOLE, None)
            if not entry:
                del self._cooldowns[credential_id]

    async def cooldowns(self) -> Mapping[str, Mapping[str, Cooldown]]:
        now = self._clock()
        return {
            cred: {model: cd for model, cd in entry.items() if cd.until > now}
            for cred, entry in self._cooldowns.items()
            if any(cd.until > now for cd in entry.values())
        }

    async def next_cursor(self, key: str) -> int:
        value = self._cursors[key]
        self._cursors[key] = value + 1
        return value

    async def add_usage(self, credential_id: str, model: str, usage: Usage | None, *, failed: bool) -> None:
        per_model = self._usage[credential_id]
        totals = per_model.get(model) or _ZERO
        usage = usage or _NO_USAGE
        per_model[model] = UsageTotals(  # built directly: attrs.evolve costs several times more
            requests=totals.requests + 1,
            failures=totals.failures + (1 if failed else 0),
            input_tokens=totals.input_tokens + (usage.input_tokens or 0),
            output_tokens=totals.output_tokens + (usage.output_tokens or 0),
            cache_read_tokens=totals.cache_read_tokens + (usage.cache_read_tokens or 0),
            reasoning_tokens=totals.reasoning_tokens + (usage.reasoning_tokens or 0),
        )

    async def usage(self) -> Mapping[str, Mapping[str, UsageTotals]]:
        return {cred: dict(models) for cred, models in self._usage.items()}

    async def get_value(self, key: str) -> bytes | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires <= self._clock():
            del self._values[key]
            return None
        return value

    async def set_value(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._values[key] = (value, None if ttl is None else self._clock() + ttl)

    @asynccontextmanager
    async def lock(self, key: str, ttl: float = 30.0) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    async def close(self) -> None:
        return None
