"""Shared gateway state: the store protocol and its backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cliproxy.state.base import LINGER, WHOLE, Cooldown, CooldownPair, StateStore, UsageTotals
from cliproxy.state.memory import MemoryStore

if TYPE_CHECKING:
    from cliproxy.config import StateConfig

__all__ = [
    "LINGER",
    "WHOLE",
    "Cooldown",
    "CooldownPair",
    "MemoryStore",
    "StateStore",
    "UsageTotals",
    "create_store",
]


def create_store(config: StateConfig, *, file: str = "<config>") -> StateStore:
    """The store the config asks for.

    Raises:
        ConfigError: ``backend: redis`` without redis-py installed.
    """
    if config.backend == "redis":
        try:
            from cliproxy.state.redis import RedisStore
        except ImportError:
            from cliproxy.config import ConfigError

            raise ConfigError(
                message="state backend 'redis' needs the redis package, which is not installed",
                file=file,
                key="state",
                hint="pip install 'cliproxy[redis]'",
            ) from None
        return RedisStore(
            config.url or "redis://127.0.0.1:6379/0",
            key_prefix=config.key_prefix,
            timeout=config.timeout,
            retry_interval=config.retry_interval,
        )
    return MemoryStore()
