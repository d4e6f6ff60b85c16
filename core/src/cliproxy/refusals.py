"""Upstreams that said they cannot count a model's tokens, remembered for a while."""

from __future__ import annotations

__all__ = ["CountRefusals"]


class CountRefusals:
    """(credential id, upstream model) pairs whose upstream said it cannot count tokens,
    remembered for ``ttl`` seconds; at most ``limit`` pairs (the oldest go first)."""

    def __init__(self, ttl: float = 3600.0, limit: int = 1024) -> None:
        self.ttl = ttl
        self.limit = limit
        self._until: dict[tuple[str, str], float] = {}

    def add(self, pair: tuple[str, str], now: float) -> None:
        self._until.pop(pair, None)
        if len(self._until) >= self.limit:
            del self._until[next(iter(self._until))]
        self._until[pair] = now + self.ttl

    def refused(self, pair: tuple[str, str], now: float) -> bool:
        until = self._until.get(pair)
        if until is None:
            return False
        if until <= now:
            del self._until[pair]
            return False
        return True
