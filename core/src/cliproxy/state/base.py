"""The state store contract: what gateway instances share.

Cooldowns and health per credential (and per credential + model), round-robin cursors,
usage counters, small values (refreshed OAuth tokens), and a lock for single-flight token
refresh. ``memory`` keeps it in the process; ``redis`` shares it between processes and
machines. Both pass the same contract tests (:mod:`cliproxy.testing.state_contract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

from cliproxy.ir import Usage

__all__ = ["Cooldown", "StateStore", "UsageTotals"]


@attrs.frozen
class Cooldown:
    """A credential (``model`` None) or a credential+model is resting until ``until``.

    Attributes:
        until: Unix time the rest ends.
        reason: Why, for people (``rate limited (429)``, ``unauthorized: invalid x-api-key``).
        status: The upstream status that caused it, if any.
        level: Consecutive 429s so far (drives exponential backoff).
    """

    until: float
    reason: str
    status: int | None = None
    level: int = 0

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)


@attrs.frozen
class UsageTotals:
    """Counters for one credential + model."""

    requests: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0


@runtime_checkable
class StateStore(Protocol):
    """Shared gateway state. All methods are coroutines except :meth:`lock`, which returns
    an async context manager."""

    async def get_cooldowns(self, credential_id: str, model: str) -> tuple[Cooldown | None, Cooldown | None]:
        """The credential-wide and the model-level cooldown (either may be None or over)."""
        ...

    async def set_cooldown(self, credential_id: str, model: str | None, cooldown: Cooldown) -> None:
        """Rest a credential (``model`` None) or one of its models until ``cooldown.until``."""
        ...

    async def clear_cooldown(self, credential_id: str, model: str | None) -> None:
        """End a rest early (after a success)."""
        ...

    async def cooldowns(self) -> Mapping[str, Mapping[str, Cooldown]]:
        """Every cooldown still running: ``{credential_id: {model or "*": cooldown}}``."""
        ...

    async def next_cursor(self, key: str) -> int:
        """An ever-increasing counter for ``key`` (round-robin position), starting at 0."""
        ...

    async def add_usage(self, credential_id: str, model: str, usage: Usage | None, *, failed: bool) -> None:
        """Count one request (and its tokens) against a credential + model."""
        ...

    async def usage(self) -> Mapping[str, Mapping[str, UsageTotals]]:
        """Counters: ``{credential_id: {model: totals}}``."""
        ...

    async def get_value(self, key: str) -> bytes | None:
        ...

    async def set_value(self, key: str, value: bytes, ttl: float | None = None) -> None:
        ...

    def lock(self, key: str, ttl: float = 30.0) -> AbstractAsyncContextManager[Any]:
        """Hold ``key`` exclusively (across instances for shared stores) for at most ``ttl``
        seconds; waits until it is free."""
        ...

    async def close(self) -> None:
        ...
