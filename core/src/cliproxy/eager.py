"""Awaiting work that must finish even if the caller is cancelled, without a task when it
never has to wait.

``asyncio.shield(asyncio.ensure_future(coro))`` costs a task, a shield future and a
trip through the event loop even when ``coro`` completes at once (the usual case for the
accounting after a response, with the in-memory state store). :func:`finish_shielded`
runs ``coro`` in the calling task until it first has to wait -- code that does not wait
cannot be cancelled -- and only then hands the rest to a task of its own, awaited
through a shield and kept alive until done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["finish_shielded"]

T = TypeVar("T")

_running: set[asyncio.Future[Any]] = set()  # rests of shielded work, kept alive until done


async def finish_shielded(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` to its end; cancelling the caller does not cancel it."""
    try:
        waiting = coro.send(None)
    except StopIteration as done:
        return done.value
    rest = asyncio.ensure_future(_resume(coro, waiting))
    _running.add(rest)
    rest.add_done_callback(_running.discard)
    return await asyncio.shield(rest)


class _Again:
    """Yields, from the task now driving a coroutine, what the coroutine yielded."""

    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.item)


async def _resume(coro: Coroutine[Any, Any, T], waiting: Any) -> T:
    """Drive a started coroutine to its end, passing it what the task sends or throws."""
    while True:
        try:
            sent = await _Again(waiting)
        except BaseException as exc:  # passed on to the coroutine
            try:
                waiting = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting = coro.send(sent)
            except StopIteration as done:
                return done.value
