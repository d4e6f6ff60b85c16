"""The account's Copilot quota, from ``GET {github-api}/copilot_internal/user``.

The answer holds the plan (``copilot_plan``, ``access_type_sku``), the day the monthly
allowances start afresh (``quota_reset_date_utc``, or ``quota_reset_date`` as a plain
date) and ``quota_snapshots``: per allowance (``premium_interactions``, ``chat``,
``completions``) ``entitlement``, ``remaining``, ``percent_remaining``, ``unlimited`` and
``overage_permitted``. Premium requests are spent only by premium models, so their window
names those models: when it runs out, only they rest and the included models go on.
An allowance that may run into paid overage is shown but never counts as exhausted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cliproxy import Quota, QuotaWindow
from cliproxy.oauth import parse_expiry

__all__ = ["WINDOWS", "quota_from"]

WINDOWS = ("premium_interactions", "chat")
"""The allowances shown (``completions`` meters editor code completions, not requests a
gateway sends)."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _reset(data: Mapping[str, Any]) -> float | None:
    for key in ("quota_reset_date_utc", "quota_reset_date", "limited_user_reset_date"):
        value = data.get(key)
        if isinstance(value, str) and len(value) == 10:  # a plain date: midnight UTC
            value += "T00:00:00Z"
        try:
            found = parse_expiry(value)
        except (ValueError, TypeError):
            found = None
        if found is not None:
            return found
    return None


def quota_from(data: Mapping[str, Any], premium_models: Sequence[str] = ()) -> Quota:
    """The quota an answer of ``copilot_internal/user`` describes; ``premium_models`` are
    the models premium requests pay for (empty: unknown, the window then meters the whole
    account)."""
    reset = _reset(data)
    snapshots = found if isinstance(found := data.get("quota_snapshots"), Mapping) else {}
    windows: list[QuotaWindow] = []
    notes: list[str] = []
    for name in WINDOWS:
        snapshot = snapshots.get(name)
        if not isinstance(snapshot, Mapping):
            continue
        if snapshot.get("unlimited") is True:
            notes.append(f"{name}: unlimited")
            continue
        limit = _number(snapshot.get("entitlement"))
        remaining = _number(snapshot.get("remaining"))
        if remaining is None:
            remaining = _number(snapshot.get("quota_remaining"))
        used = limit - remaining if limit is not None and remaining is not None else None
        if snapshot.get("overage_permitted") is True:
            notes.append(f"{name}: paid overage permitted" + (f" ({used:g} of {limit:g} used)" if used else ""))
            windows.append(QuotaWindow(name=name, used=used, resets_at=reset, unit="requests"))
            continue
        windows.append(
            QuotaWindow(
                name=name,
                used=used,
                limit=limit,
                remaining=remaining,
                resets_at=reset,
                unit="requests",
                models=tuple(premium_models) if name == "premium_interactions" else (),
            )
        )
    plan = next((v for v in (data.get("copilot_plan"), data.get("access_type_sku")) if isinstance(v, str) and v), None)
    if data.get("chat_enabled") is False:
        notes.append("Copilot Chat is disabled for this account")
    return Quota(windows=windows, plan=plan, note="; ".join(notes) or None)
