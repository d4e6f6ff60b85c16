"""Shutting down without cutting answers mid-word.

On SIGTERM the server stops accepting connections and lets the requests in flight finish,
for at most ``--graceful-timeout`` seconds; past that it cancels them, and a client
reading a stream sees it stop with no ending and no reason. :class:`Drain` ends them first:
the doors register each request they serve, the serving layer calls :meth:`Drain.begin`
when shutdown starts, and shortly before the server's own deadline every request still in
flight is cancelled with :data:`CUT`. Its door then answers in its own wire format -- a 503
if nothing was sent yet, else the stream's error event -- so every client learns the
gateway went away and may retry, and the server finds nothing left to cancel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["CUT", "Drain", "shutdown_error"]

log = logging.getLogger("cliproxy.drain")

CUT = "cliproxy: graceful timeout reached"
"""The message of the cancellation that ends a request at the drain deadline."""


def shutdown_error() -> GatewayError:
    """What a request still in flight at the drain deadline is told."""
    return GatewayError(
        status=503,
        kind=ErrorKind.UNAVAILABLE,
        message="the gateway is shutting down and ended this request; retry it",
        retry_after=1.0,
        local=True,
    )


class Drain:
    """The requests in flight, and the deadline by which shutdown ends them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.cutting = False

    def __len__(self) -> int:
        return len(self._tasks)

    def enter(self, task: asyncio.Task[Any] | None) -> None:
        """Register ``task`` (the request's, from ``asyncio.current_task()``) as a request
        in flight, until :meth:`leave`."""
        if task is not None:
            self._tasks.add(task)

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._tasks.discard(task)

    def begin(self, grace: float) -> None:
        """Shutdown started; the server cancels what is left after ``grace`` seconds. End
        what is in flight a little before (a tenth of ``grace``, at most one second)."""
        if self._timer is not None or self.cutting:
            return
        margin = min(1.0, grace / 10.0)
        self._timer = asyncio.get_running_loop().call_later(max(0.0, grace - margin), self.cut)

    def after(self, trigger: Callable[[], Awaitable[object]], grace: float) -> Callable[[], Awaitable[None]]:
        """A server's shutdown trigger: ``trigger`` (which says when to shut down), then
        :meth:`begin` with the server's ``grace`` seconds."""

        async def shutdown() -> None:
            await trigger()
            self.begin(grace)

        return shutdown

    async def settled(self, timeout: float, poll: float = 0.05) -> None:
        """Return once no request is in flight, or after ``timeout`` seconds (for a server
        that runs the app's shutdown without waiting for its requests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(not task.done() for task in self._tasks) and loop.time() < deadline:
            await asyncio.sleep(poll)

    def cut(self) -> int:
        """End every request in flight now; returns how many there were."""
        self.cutting = True
        tasks = [task for task in self._tasks if not task.done()]
        if tasks:
            log.info("graceful timeout reached: ending %d requests still in flight with an error", len(tasks))
        for task in tasks:
            task.cancel(CUT)
        return len(tasks)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
