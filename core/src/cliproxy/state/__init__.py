"""Shared gateway state: the store protocol and its backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cliproxy.state.base import Cooldown, StateStore, UsageTotals
from cliproxy.state.memory import MemoryStore

if TYPE_CHECKING:
    from cliproxy.config import StateConfig

__all__ = ["Cooldown", "MemoryStore", "StateStore", "UsageTotals", "create_store"]


def create_store(config: StateConfig) -> StateStore:
    """The store the config asks for."""
    if config.backend == "redis":
        from cliproxy.state.redis import RedisStore

        return RedisStore(config.url or "redis://127.0.0.1:6379/0", key_prefix=config.key_prefix)
    return MemoryStore()
