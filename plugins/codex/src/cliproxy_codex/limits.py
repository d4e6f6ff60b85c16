"""A ChatGPT plan's rate-limit windows: read from the backend's ``x-codex-*`` headers and
from the usage endpoint, kept per credential, reported as a :class:`cliproxy.Quota`.

Every answer of the Codex backend (errors too) says how much of each window the account
has used::

    x-codex-primary-used-percent: 83        x-codex-secondary-used-percent: 40
    x-codex-primary-window-minutes: 300     x-codex-secondary-window-minutes: 10080
    x-codex-primary-reset-at: 1767225600    x-codex-secondary-reset-at: 1767600000
    x-codex-plan-type: plus                 x-codex-active-limit: codex
    x-codex-credits-has-credits: False      x-codex-credits-balance: 0

(``reset-after-seconds`` instead of ``reset-at`` works too.) Other limit families use the
same names with their own prefix (``x-<family>-primary-used-percent``, named by
``x-<family>-limit-name``). The usage endpoint (``GET /backend-api/wham/usage``) answers
``{"plan_type", "rate_limit": {"primary_window": {"used_percent", "limit_window_seconds",
"reset_at"}, "secondary_window": {...}}, "credits": {...}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from cliproxy import Quota, QuotaWindow

__all__ = ["RateLimits", "Window", "from_headers", "from_usage", "window_name"]

_FAMILY = re.compile(r"^x-([a-z0-9_-]+?)-primary-used-percent$")
MAX_FAMILIES = 8


def window_name(minutes: float | None, fallback: str) -> str:
    """``5h``, ``daily``, ``weekly``, ``monthly``, or the length in hours or minutes."""
    if minutes is None or minutes <= 0:
        return fallback
    if minutes == 7 * 24 * 60:
        return "weekly"
    if minutes == 24 * 60:
        return "daily"
    if 28 * 24 * 60 <= minutes <= 31 * 24 * 60:
        return "monthly"
    if minutes % 60 == 0:
        return f"{int(minutes // 60)}h"
    return f"{int(minutes)}m"


@attrs.frozen
class Window:
    """One rate-limit window: its name, how much of it is used, when it starts afresh."""

    name: str
    used_percent: float | None
    resets_at: float | None = None

    def as_quota(self) -> QuotaWindow:
        return QuotaWindow(name=self.name, used_percent=self.used_percent, resets_at=self.resets_at, unit="%")


@attrs.frozen
class RateLimits:
    """What was last learned of an account's limits, and when."""

    windows: tuple[Window, ...]
    seen_at: float
    plan: str | None = None
    note: str | None = None

    def as_quota(self) -> Quota:
        return Quota(windows=tuple(w.as_quota() for w in self.windows), plan=self.plan, note=self.note)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # not NaN


def _reset(at: Any, after: Any, now: float) -> float | None:
    moment = _number(at)
    if moment is not None and moment > 0:
        return moment / 1000.0 if moment > 1e11 else moment
    wait = _number(after)
    return now + wait if wait is not None and wait >= 0 else None


def _credits(has: Any, unlimited: Any, balance: Any) -> str | None:
    """A line about the account's credits, when it has any."""
    if str(unlimited).lower() == "true":
        return "credits: unlimited"
    if str(has).lower() != "true":
        return None
    amount = _number(balance)
    if amount is None and isinstance(balance, str) and balance.strip():
        return f"credits: {balance.strip()[:32]}"
    return None if amount is None else f"credits: {amount:g}"


def from_headers(headers: Mapping[str, str], now: float) -> RateLimits | None:
    """The limits an answer's headers report, or None when it carries none."""
    lowered = {k.lower(): v for k, v in headers.items() if k[:2].lower() == "x-"}
    if "x-codex-primary-used-percent" not in lowered and "x-codex-secondary-used-percent" not in lowered:
        return None
    families = ["codex"]
    for name in lowered:
        found = _FAMILY.match(name)
        if found and found.group(1) not in families and len(families) < MAX_FAMILIES:
            families.append(found.group(1))
    windows: list[Window] = []
    for family in families:
        label = "" if family == "codex" else (lowered.get(f"x-{family}-limit-name") or family)[:40] + " "
        for which, fallback in (("primary", "primary"), ("secondary", "secondary")):
            used = _number(lowered.get(f"x-{family}-{which}-used-percent"))
            minutes = _number(lowered.get(f"x-{family}-{which}-window-minutes"))
            if used is None or (which == "secondary" and not minutes):
                continue  # a secondary window of 0 minutes: the plan has none
            reset = _reset(
                lowered.get(f"x-{family}-{which}-reset-at"), lowered.get(f"x-{family}-{which}-reset-after-seconds"), now
            )
            windows.append(Window(label + window_name(minutes, fallback), used, reset))
    notes = [
        note
        for note in (
            _credits(
                lowered.get("x-codex-credits-has-credits"),
                lowered.get("x-codex-credits-unlimited"),
                lowered.get("x-codex-credits-balance"),
            ),
        )
        if note
    ]
    plan = lowered.get("x-codex-plan-type") or None
    return RateLimits(tuple(windows), now, plan, "; ".join(notes) or None)


def from_usage(payload: Any, now: float) -> RateLimits | None:
    """The limits the usage endpoint reports, or None when its answer has none."""
    if not isinstance(payload, Mapping):
        return None
    rate = payload.get("rate_limit")
    rate = rate if isinstance(rate, Mapping) else {}
    windows: list[Window] = []
    for key, fallback in (("primary_window", "primary"), ("secondary_window", "secondary")):
        window = rate.get(key)
        if not isinstance(window, Mapping):
            continue
        used = _number(window.get("used_percent"))
        if used is None:
            continue
        seconds = _number(window.get("limit_window_seconds"))
        minutes = seconds / 60 if seconds else None
        reset = _reset(window.get("reset_at"), window.get("reset_after_seconds"), now)
        windows.append(Window(window_name(minutes, fallback), used, reset))
    credits = payload.get("credits")
    note = None
    if isinstance(credits, Mapping):
        note = _credits(credits.get("has_credits"), credits.get("unlimited"), credits.get("balance"))
    plan = payload.get("plan_type")
    if not windows and not isinstance(plan, str):
        return None
    return RateLimits(tuple(windows), now, plan if isinstance(plan, str) and plan else None, note)
