"""An admitted request's hold on its client key's limits (see :mod:`cliproxy.limits`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cliproxy.ir import Usage
from cliproxy.state.limiter import Admission, RateLimits

if TYPE_CHECKING:
    from cliproxy.state.base import StateStore

__all__ = ["Ticket"]

log = logging.getLogger("cliproxy.limits")


class Ticket:
    """An admitted request's hold on its key's limits, until :meth:`release`."""

    __slots__ = ("admission", "charged", "client", "failed", "id", "limits", "store", "used")

    def __init__(
        self,
        store: StateStore,
        client: str,
        ticket_id: str,
        limits: RateLimits,
        admission: Admission,
        charged: tuple[int, int],
    ) -> None:
        self.store = store
        self.client = client
        self.id = ticket_id
        self.limits = limits
        self.admission = admission
        self.charged = charged
        self.used: tuple[int, int] | None = None
        self.failed = False

    def spent(self, usage: Usage | None, cost: int | None) -> None:
        """What the request used in the end (tokens, and cost in nano-dollars)."""
        tokens = 0 if usage is None else (usage.input_tokens or 0) + (usage.output_tokens or 0)
        self.used = (tokens, cost or 0)

    def unanswered(self) -> None:
        """No answer was started: nothing was used."""
        self.failed = True

    async def release(self) -> None:
        """Free the request's slot and settle its charge (never raises: a store failure
        only costs this settlement)."""
        used = self.used if self.used is not None else (0, 0) if self.failed else self.charged
        try:
            await self.store.release(self.client, self.id, self.limits, self.admission, charged=self.charged, used=used)
        except Exception:
            log.exception("could not settle the limits of a request of %s", self.client)
