"""Choosing among a model's candidates, and resting the ones that fail.

Within the highest priority that has an available credential, ``round-robin`` rotates the
starting credential per model (honouring ``weight``) and ``fill-first`` always starts with
the first. Lower priorities follow as fallbacks. Failures rest a credential or a
credential+model for a while (the cooldown table below); a success ends a model's rest.

=================================  ==============================  =============
upstream answer                    rests                           for
=================================  ==============================  =============
401, 402, 403                      the whole credential            30 minutes
404 / model not supported          that model on the credential    12 hours
429                                that model on the credential    Retry-After, else 1 s doubling up to 30 min
408, 5xx, 529, connection errors   that model on the credential    1 minute
400, 413, 422                      nothing (the request is wrong)  --
=================================  ==============================  =============
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.routing import Candidate
from cliproxy.state.base import Cooldown, StateStore

__all__ = ["Selection", "Selector", "cooldown_for"]

UNAUTHORIZED_REST = 30 * 60.0
MODEL_MISSING_REST = 12 * 3600.0
TRANSIENT_REST = 60.0
BACKOFF_BASE = 1.0
BACKOFF_MAX = 30 * 60.0


def cooldown_for(error: GatewayError, now: float, previous: Cooldown | None) -> tuple[bool, Cooldown] | None:
    """How to rest a candidate after ``error``: ``(whole_credential, cooldown)``, or None."""
    status = error.status
    reason = f"{error.message} ({status})"
    if error.client_fault and error.code != "model_not_found":
        return None
    if status in (401, 402, 403):
        return True, Cooldown(until=now + UNAUTHORIZED_REST, reason=reason, status=status)
    if status == 404:
        return False, Cooldown(until=now + MODEL_MISSING_REST, reason=reason, status=status)
    if status == 429:
        level = (previous.level + 1) if previous is not None and previous.status == 429 else 0
        wait = error.retry_after
        if wait is None:
            wait = min(BACKOFF_MAX, BACKOFF_BASE * (2**level))
        return False, Cooldown(until=now + wait, reason=reason, status=status, level=level)
    if status == 408 or status >= 500:
        return False, Cooldown(until=now + TRANSIENT_REST, reason=reason, status=status)
    return None


@attrs.frozen
class Selection:
    """Candidates to try, in order, and those whose past rest has ended (a success clears
    their backoff)."""

    ordered: list[Candidate]
    recovering: frozenset[tuple[str, str]] = frozenset()


class Selector:
    """Orders candidates per the routing strategy and skips resting ones."""

    def __init__(
        self, state: StateStore, strategy: str = "round-robin", clock: Callable[[], float] = time.time
    ) -> None:
        self.state = state
        self.strategy = strategy
        self.clock = clock

    async def select(self, model: str, candidates: Sequence[Candidate]) -> Selection:
        """Available candidates, best first; 429 with ``retry_after`` when all are resting."""
        now = self.clock()
        available: list[Candidate] = []
        recovering: set[tuple[str, str]] = set()
        soonest: float | None = None
        for cand in candidates:
            whole, per_model = await self.state.get_cooldowns(cand.credential.id, cand.upstream_model)
            rest_until = 0.0
            for cooldown in (whole, per_model):
                if cooldown is not None:
                    rest_until = max(rest_until, cooldown.until)
            if rest_until > now:
                soonest = rest_until if soonest is None else min(soonest, rest_until)
                continue
            if per_model is not None:
                recovering.add((cand.credential.id, cand.upstream_model))
            available.append(cand)
        if not available:
            wait = max(0.0, (soonest or now) - now)
            raise GatewayError(
                status=429,
                kind=ErrorKind.RATE_LIMITED,
                message=f"all credentials for model '{model}' are cooling down; the first is free again in {wait:.0f}s",
                retry_after=wait,
                code="model_cooldown",
            )
        ordered: list[Candidate] = []
        start = 0
        while start < len(available):
            priority = available[start].credential.priority
            end = start
            while end < len(available) and available[end].credential.priority == priority:
                end += 1
            ordered.extend(await self._order_group(model, priority, available[start:end]))
            start = end
        return Selection(ordered, frozenset(recovering))

    async def _order_group(self, model: str, priority: int, group: list[Candidate]) -> list[Candidate]:
        if len(group) == 1 or self.strategy == "fill-first":
            return group
        cursor = await self.state.next_cursor(f"rr:{model}:{priority}")
        slots = [i for i, cand in enumerate(group) for _ in range(max(1, cand.credential.weight))]
        first = slots[cursor % len(slots)]
        return group[first:] + group[:first]

    async def record_failure(self, cand: Candidate, error: GatewayError) -> Cooldown | None:
        """Rest the candidate as the cooldown table says; returns the cooldown set."""
        now = self.clock()
        _, per_model = await self.state.get_cooldowns(cand.credential.id, cand.upstream_model)
        decision = cooldown_for(error, now, per_model)
        if decision is None:
            return None
        whole_credential, cooldown = decision
        await self.state.set_cooldown(cand.credential.id, None if whole_credential else cand.upstream_model, cooldown)
        return cooldown

    async def record_success(self, cand: Candidate, selection: Selection) -> None:
        if (cand.credential.id, cand.upstream_model) in selection.recovering:
            await self.state.clear_cooldown(cand.credential.id, cand.upstream_model)
