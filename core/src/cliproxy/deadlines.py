"""Deadlines for many tasks at once, kept by one sweeper instead of a timer each.

Every request's body read has a deadline (``body-read-timeout``). A timer per request
(``loop.call_later``) costs the event loop a heap entry per request and slows every loop
turn while thousands wait to be cancelled; here a request only writes its deadline into a
dict (and takes it out when done), and one task checks the dict a few times per second,
cancelling the tasks whose time is up. A deadline is kept to within a quarter of its
length (at most one second late).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Deadlines"]


class Deadlines:
    """Cancels a watched task once its deadline passes (see the module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._interval = 1.0
        self._sweeper: asyncio.Task[None] | None = None

    def watch(self, task: asyncio.Task[Any], seconds: float) -> None:
        """Cancel ``task`` if it is still watched ``seconds`` from now."""
        self._until[task] = self._clock() + seconds
        if seconds < 4 * self._interval:
            self._interval = max(0.01, seconds / 4)
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="cliproxy-deadlines")

    def release(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task``; True when its deadline passed (it was cancelled for it)."""
        self._until.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    async def _sweep(self) -> None:
        while self._until:
            await asyncio.sleep(self._interval)
            now = self._clock()
            for task, until in list(self._until.items()):
                if until <= now:
                    del self._until[task]
                    if not task.done():
                        self._expired.add(task)
                        task.cancel()

    async def close(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
