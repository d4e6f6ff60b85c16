"""Choosing among a model's candidates, and resting the ones that fail.

Within the highest priority that has an available credential, ``round-robin`` rotates the
starting credential per pool (honouring ``weight``) and ``fill-first`` always starts with
the first. Lower priorities follow as fallbacks. With session affinity (see
:mod:`cliproxy.affinity`), a session's remembered credential goes first instead, when it
is available and of that highest priority. Failures rest a credential or a
credential+model for a while (the cooldown table below); a success ends a model's rest
and its backoff.

==========================================  ===========================  ===========================================
upstream answer                             rests                        for
==========================================  ===========================  ===========================================
401, 402, 403                               the whole credential         30 minutes (a longer rest stays)
404, or any status saying model not found   that model on the credential 12 hours
429                                         that model on the credential Retry-After / retry-after-ms / RetryInfo,
                                                                         else 1 s doubling per repeat up to 30 min
408, 5xx, connection errors, timeouts       that model on the credential 1 minute
400, 413, 422 (the request is wrong)        nothing                      --
==========================================  ===========================  ===========================================
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from cliproxy.affinity import Affinity, Pin
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.routing import Candidate, Route
from cliproxy.state.base import Cooldown, StateStore

__all__ = ["Selection", "Selector", "cooldown_for", "is_model_missing"]

UNAUTHORIZED_REST = 30 * 60.0
MODEL_MISSING_REST = 12 * 3600.0
TRANSIENT_REST = 60.0
BACKOFF_BASE = 1.0
BACKOFF_MAX = 30 * 60.0


_MODEL_MISSING_CODES = frozenset({"model_not_found", "model_not_supported", "unsupported_model"})


def is_model_missing(error: GatewayError) -> bool:
    """The upstream says it does not serve the model (whatever the status)."""
    return error.code in _MODEL_MISSING_CODES or error.kind == ErrorKind.MODEL_NOT_FOUND


def cooldown_for(error: GatewayError, now: float, previous: Cooldown | None) -> tuple[bool, Cooldown] | None:
    """How to rest a candidate after ``error``: ``(whole_credential, cooldown)``, or None.

    ``previous`` is the candidate's model-level record (it carries the 429 backoff level).
    """
    status = error.status
    reason = f"{error.message} ({status})"
    if is_model_missing(error) or status == 404:
        return False, Cooldown(until=now + MODEL_MISSING_REST, reason=reason, status=status, missing=True)
    if error.client_fault:
        return None
    if status in (401, 402, 403):
        return True, Cooldown(until=now + UNAUTHORIZED_REST, reason=reason, status=status)
    if status == 429:
        level = previous.level + 1 if previous is not None and previous.status == 429 else 0
        wait = error.retry_after
        if wait is None:
            wait = min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** min(level, 32))
        return False, Cooldown(until=now + wait, reason=reason, status=status, level=level)
    if status == 408 or status >= 500:
        return False, Cooldown(until=now + TRANSIENT_REST, reason=reason, status=status)
    return None


@attrs.frozen(slots=True)
class Selection:
    """Candidates to try, in order, and the model-level cooldown records seen (ended
    rests whose backoff a success clears, and the level a new 429 builds on); with session
    affinity, the session's state key and the credential it remembered."""

    ordered: list[Candidate]
    records: dict[tuple[str, str], Cooldown] = attrs.field(factory=dict)
    session: str | None = None
    pin: Pin | None = None


class Selector:
    """Orders candidates per the routing strategy and skips resting ones."""

    def __init__(
        self,
        state: StateStore,
        strategy: str = "round-robin",
        clock: Callable[[], float] = time.time,
        affinity: Affinity | None = None,
        *,
        cooling: bool = True,
    ) -> None:
        self.state = state
        self.strategy = strategy
        self.clock = clock
        self.affinity = affinity
        self.cooling = cooling  # False (disable-cooling): failures fail over, never rest anything

    async def select(self, route: Route, model: str | None = None, session: str | None = None) -> Selection:
        """Available candidates, best first; 429 ``model_cooldown`` with ``retry_after``
        (seconds until the first frees up) when all are resting. ``model`` is the name the
        client asked for (for the message; default: the route's key). ``session`` is the
        client session's key (:meth:`Affinity.key`): its remembered credential goes first
        when available and of the top available priority; round-robin's cursor then does
        not move, so sessions do not disturb the rotation of other requests."""
        pin = None
        if session is not None:
            if self.affinity is None or not route.rotates:
                session = None  # nothing to choose between: nothing to remember
            else:
                pin = await self.affinity.recall(session)
        rotate = route.rotates and self.strategy == "round-robin"
        cursor_key = route.key if rotate and pin is None else None
        view, cursor = await self.state.routing_view(route.pairs, cursor_key)
        now = self.clock()
        available: list[Candidate] = []
        records: dict[tuple[str, str], Cooldown] = {}
        soonest: Cooldown | None = None
        all_missing = True
        for cand, pair, (whole, per_model) in zip(route.candidates, route.pairs, view, strict=True):
            blocker = None
            if whole is not None and whole.until > now:
                blocker = whole
            if per_model is not None:
                records[pair] = per_model
                if per_model.until > now and (blocker is None or per_model.until > blocker.until):
                    blocker = per_model
            if blocker is None:
                available.append(cand)
                continue
            all_missing = all_missing and blocker.missing
            if soonest is None or blocker.until < soonest.until:
                soonest = blocker
        if not available:
            assert soonest is not None
            raise _all_resting(model or route.key, soonest, now, all_missing)
        if pin is not None:
            # The fallbacks behind the pin rotate by the session's hash (no cursor read): the
            # sessions of a failing credential spread over the others, not onto one.
            spread = int(session[-8:], 16) if rotate and session is not None else None
            pinned = _pinned_first(available, pin.credential_id, spread)
            if pinned is not None:
                return Selection(pinned, records, session, pin)
            if rotate:  # the remembered credential cannot serve now: rotate as usual
                cursor = await self.state.next_cursor(route.key)
        if rotate and len(available) > 1:
            available = _rotate_groups(available, cursor)
        if session is None:
            return Selection(available, records)
        return Selection(available, records, session, pin)

    async def stick(self, selection: Selection, cand: Candidate) -> None:
        """``cand`` answered: remember it for the selection's session (if any)."""
        if selection.session is not None and self.affinity is not None:
            await self.affinity.remember(selection.session, cand.credential.id, selection.pin)

    async def record_failure(
        self, cand: Candidate, error: GatewayError, selection: Selection | None = None
    ) -> tuple[bool, Cooldown] | None:
        """Rest the candidate as the cooldown table says; returns ``(whole_credential,
        cooldown)`` as set, or None when the error rests nothing (or ``disable-cooling``)."""
        if not self.cooling:
            return None
        pair = (cand.credential.id, cand.upstream_model)
        if selection is not None:
            previous = selection.records.get(pair)
        else:
            previous = (await self.state.get_cooldowns(*pair))[1]
        decision = cooldown_for(error, self.clock(), previous)
        if decision is None:
            return None
        whole_credential, cooldown = decision
        if whole_credential:  # never shorten a longer rest (a sign-in refused for good rests for days)
            current = (await self.state.get_cooldowns(*pair))[0]
            if current is not None and current.until > cooldown.until:
                return True, current
        await self.state.set_cooldown(cand.credential.id, None if whole_credential else cand.upstream_model, cooldown)
        return decision

    async def record_success(self, cand: Candidate, selection: Selection) -> None:
        """A success ends the model's backoff (its ended rest is forgotten)."""
        if (cand.credential.id, cand.upstream_model) in selection.records:
            await self.state.clear_cooldown(cand.credential.id, cand.upstream_model)


def _all_resting(model: str, soonest: Cooldown, now: float, all_missing: bool) -> GatewayError:
    wait = soonest.remaining(now)
    if all_missing:  # not a passing overload: no upstream serves this model
        return GatewayError(
            status=404,
            kind=ErrorKind.MODEL_NOT_FOUND,
            message=f"model '{model}' is configured, but its upstreams say they do not serve it "
            f"({soonest.reason}); they are asked again in {wait / 3600:.1f}h, or after "
            "POST /v0/status/reset -- check the model name in config.yaml",
            param="model",
            code="model_not_found",
        )
    return GatewayError(
        status=429,
        kind=ErrorKind.RATE_LIMITED,
        message=f"all credentials for model '{model}' are cooling down; the first is free again in {wait:.0f}s",
        retry_after=wait,
        code="model_cooldown",
    )


def _pinned_first(available: list[Candidate], credential_id: str, spread: int | None = None) -> list[Candidate] | None:
    """``available`` with ``credential_id`` moved to the front, if it is there and of the
    top priority (affinity never beats priority), the rest rotated by ``spread`` when
    given; else None."""
    top = available[0].credential.priority
    for i, cand in enumerate(available):
        if cand.credential.priority != top:
            return None
        if cand.credential.id == credential_id:
            rest = [*available[:i], *available[i + 1 :]]
            if spread is not None and len(rest) > 1:
                rest = _rotate_groups(rest, spread)
            return [cand, *rest]
    return None


def _rotate_groups(available: list[Candidate], cursor: int) -> list[Candidate]:
    """Rotate each run of equal priority by ``cursor`` (weighted by ``weight``)."""
    ordered: list[Candidate] = []
    start = 0
    count = len(available)
    while start < count:
        priority = available[start].credential.priority
        end = start + 1
        while end < count and available[end].credential.priority == priority:
            end += 1
        group = available[start:end]
        if len(group) > 1:
            first = _weighted_index(group, cursor)
            group = group[first:] + group[:first]
        ordered.extend(group)
        start = end
    return ordered


def _weighted_index(group: list[Candidate], cursor: int) -> int:
    total = 0
    for cand in group:
        total += max(1, cand.credential.weight)
    if total == len(group):
        return cursor % total
    target = cursor % total
    for i, cand in enumerate(group):
        target -= max(1, cand.credential.weight)
        if target < 0:
            return i
    return 0
