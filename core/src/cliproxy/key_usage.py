"""One client key's usage against each of its limits, for the management API
(``GET /v0/management/keys/{ref}/limits``) and ``cliproxy keys limits``.

Read from the state store (:meth:`~cliproxy.state.StateStore.limit_usage`: on Redis,
the counts every instance shares), in terms of the key's policy: for each limit it has,
the limit, what is used and what remains, and when a budget resets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cliproxy.key_policy import KeyPolicy
from cliproxy.pricing import nanos_to_usd
from cliproxy.state.limiter import WINDOW, LimitUsage, next_day, next_month

__all__ = ["limits_view"]


def _moment(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(limit: int, used: int, **more: Any) -> dict[str, Any]:
    return {"limit": limit, "used": used, "remaining": max(0, limit - used), **more}


def limits_view(policy: KeyPolicy, usage: LimitUsage, now: float) -> dict[str, Any]:
    """Each limit ``policy`` has (by its config name) with its ``limit``, ``used`` and
    ``remaining``; the monthly budget in USD; budgets with the period they count and
    when it ends (``resets_at``, RFC 3339)."""
    view: dict[str, Any] = {}
    if policy.rpm is not None:
        view["rpm"] = _entry(policy.rpm, usage.requests, window_seconds=WINDOW)
    if policy.tpm is not None:
        view["tpm"] = _entry(policy.tpm, usage.tokens, window_seconds=WINDOW)
    if policy.max_parallel is not None:
        view["max-parallel"] = _entry(policy.max_parallel, usage.in_flight)
    if policy.daily_tokens is not None:
        view["daily-tokens"] = _entry(
            policy.daily_tokens, usage.day_tokens, day=usage.day, resets_at=_moment(next_day(now))
        )
    if policy.monthly_budget_nanos is not None:
        budget, spent = policy.monthly_budget_nanos, usage.month_nanos
        view["monthly-budget-usd"] = {
            "limit": nanos_to_usd(budget),
            "used": nanos_to_usd(spent),
            "remaining": nanos_to_usd(max(0, budget - spent)),
            "month": usage.month,
            "resets_at": _moment(next_month(now)),
        }
    return view
