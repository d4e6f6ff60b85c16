"""A clock tests move by hand, so cooldowns expire without sleeping."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["FakeClock"]


class FakeClock:
    """Unix time that only moves when told: call it for the time, :meth:`advance` it, or
    let the gateway :meth:`sleep` on it (which advances it at once).

    ``install(app)`` makes a gateway app (or a :class:`~cliproxy.gateway.Gateway`) use it
    everywhere: cooldowns, selection, retry waits, token expiry, the state store.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock past it (yielding to other tasks once)."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def install(self, target: Any) -> FakeClock:
        gateway = getattr(getattr(target, "state", None), "gateway", target)
        gateway.clock = self
        gateway.sleep = self.sleep
        gateway.selector.clock = self
        gateway.tokens.clock = self
        if hasattr(gateway.state, "clock"):
            gateway.state.clock = self
        return self
