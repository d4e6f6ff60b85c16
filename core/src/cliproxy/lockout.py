"""Turning away an address that keeps presenting wrong management keys.

:class:`Lockout` counts wrong keys per client address: after ``max_failures`` within
``window`` seconds the address is refused -- right key or not -- for ``duration``
seconds. A right key clears the count. The table holds at most ``capacity`` addresses
(the ones seen longest ago go first, locked ones last), so a flood of addresses costs
bounded memory. Per process: each worker (and each instance) counts on its own.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

import attrs

__all__ = ["Lockout"]

log = logging.getLogger("cliproxy.management")


@attrs.define
class _Record:
    failures: int = 0
    first_at: float = 0.0
    locked_until: float = 0.0


class Lockout:
    """Failed management logins per address (see the module doc)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_failures: int = 5,
        window: float = 900.0,
        duration: float = 1800.0,
        capacity: int = 4096,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self.duration = duration
        self.capacity = capacity
        self._records: collections.OrderedDict[str, _Record] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def locked_for(self, address: str) -> float:
        """Seconds ``address`` is still refused (0 when it is not)."""
        record = self._records.get(address)
        if record is None:
            return 0.0
        return max(0.0, record.locked_until - self.clock())

    def failed(self, address: str) -> float:
        """Count a wrong key from ``address``; the seconds it is now locked out (0: not)."""
        now = self.clock()
        record = self._records.pop(address, None) or _Record(first_at=now)
        if now - record.first_at > self.window or 0 < record.locked_until <= now:
            record = _Record(first_at=now)  # an old streak, or a lock that ran out: start again
        record.failures += 1
        self._records[address] = record  # most recent last
        if record.failures >= self.max_failures and record.locked_until <= now:
            record.locked_until = now + self.duration
            log.warning(
                "management API: %d wrong keys from %s within %.0f s; refusing it for %.0f s",
                record.failures,
                address,
                self.window,
                self.duration,
            )
        else:
            log.info("management API: wrong key from %s (%d in a row)", address, record.failures)
        self._trim(now)
        return max(0.0, record.locked_until - now)

    def succeeded(self, address: str) -> None:
        """A right key from ``address``: forget its failures."""
        self._records.pop(address, None)

    def _trim(self, now: float) -> None:
        while len(self._records) > self.capacity:
            victim = next((a for a, r in self._records.items() if r.locked_until <= now), None)
            if victim is None:
                victim = next(iter(self._records))
            del self._records[victim]
