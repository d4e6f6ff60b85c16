"""Knowing whether a local server is up, and acting on it.

A server that does not answer ``GET /models`` (refused, timed out, 5xx while a model
loads) is *down*: its credential rests in the gateway's state store with the reason, so
requests go elsewhere or get a clear "cooling down" answer instead of hanging, and a
background task asks again every ``retry-interval`` seconds. The first answer ends the
rest (and any rests its failed requests caused) and refreshes the model list. Nothing
here blocks start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cliproxy import Cooldown, Credential, Host

__all__ = ["Health"]

log = logging.getLogger("cliproxy.mlx")

# Statuses a request's failure may have rested a model for because the server was away.
_AWAY = frozenset({502, 503, 504})


class Health:
    """Up/down state and retry tasks for a provider's credentials (one per gateway)."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}  # credential id -> why
        self._retries: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def mark_down(
        self,
        cred: Credential,
        host: Host,
        reason: str,
        retry_interval: float,
        check: Callable[[], Awaitable[Any]],
    ) -> None:
        """Rest ``cred`` until the next check (and a little after), and keep checking."""
        if cred.id not in self.down:
            log.warning(
                "%s is unhealthy: %s; its requests go elsewhere, retrying every %.0fs",
                cred.label,
                reason,
                retry_interval,
            )
        self.down[cred.id] = reason
        until = host.clock() + 2 * retry_interval + 1.0
        await host.state.set_cooldown(
            cred.id, None, Cooldown(until=until, reason=f"server unreachable: {reason}", status=503)
        )
        running = self._retries.get(cred.id)
        if running is None or running.done():
            self._retries[cred.id] = self.spawn(
                self._retry(cred, retry_interval, check), f"cliproxy-mlx-retry-{cred.id}"
            )

    async def _retry(self, cred: Credential, interval: float, check: Callable[[], Awaitable[Any]]) -> None:
        while cred.id in self.down:
            await asyncio.sleep(interval)
            await check()

    async def mark_up(self, cred: Credential, host: Host) -> None:
        """End the rests a down server caused."""
        if self.down.pop(cred.id, None) is None:
            return
        resting = (await host.state.cooldowns()).get(cred.id) or {}
        for model, cooldown in resting.items():
            if cooldown.status in _AWAY:
                await host.state.clear_cooldown(cred.id, None if model == "*" else model)
        log.info("%s answers again", cred.label)

    async def close(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        self._retries.clear()
