"""How much an account may still use: what ``Provider.quota`` reports.

Subscription upstreams meter their accounts in windows -- Codex's 5-hour and weekly
windows, Copilot's monthly premium requests, Kilo's balance, Gemini's daily requests. A
provider that can read them returns a :class:`Quota` per credential; the gateway shows it
in ``/v0/status`` and ``cliproxy status``, and when a credential rests while one of its
windows is known to reset sooner, the rest ends at the reset.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

__all__ = ["Quota", "QuotaWindow"]


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class QuotaWindow:
    """One metered allowance of an account.

    Attributes:
        name: What it meters, as the upstream names it (``5h``, ``weekly``,
            ``premium_interactions``, ``balance``).
        used: Units used in the window, when known.
        limit: Units the window allows, when known.
        remaining: Units left, when known (else ``limit - used``).
        used_percent: Share used, 0-100, when the upstream reports only that.
        resets_at: Unix time the window starts afresh, when known.
        unit: What is counted (``requests``, ``tokens``, ``USD``...).
        models: The upstream models the window meters, when it does not meter the whole
            account (Copilot's premium requests: the included models go on when they run
            out). Empty: every model.
    """

    name: str
    used: float | None = None
    limit: float | None = None
    remaining: float | None = None
    used_percent: float | None = None
    resets_at: float | None = None
    unit: str = ""
    models: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @property
    def left(self) -> float | None:
        """Units left: ``remaining``, else ``limit - used``; None when not known."""
        if self.remaining is not None:
            return self.remaining
        if self.limit is not None and self.used is not None:
            return max(0.0, self.limit - self.used)
        return None

    @property
    def percent(self) -> float | None:
        """Share used, 0-100: ``used_percent``, else from ``used`` and ``limit``."""
        if self.used_percent is not None:
            return self.used_percent
        if self.limit and self.used is not None:
            return 100.0 * self.used / self.limit
        if self.limit and self.remaining is not None:
            return 100.0 * (self.limit - self.remaining) / self.limit
        return None

    @property
    def exhausted(self) -> bool:
        left = self.left
        if left is not None:
            return left <= 0
        percent = self.percent
        return percent is not None and percent >= 100.0

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in attrs.asdict(self).items() if v not in (None, "", ())}
        if self.models:
            data["models"] = list(self.models)
        percent = self.percent
        if percent is not None:
            data["used_percent"] = round(percent, 1)
        return data


def _windows(value: Iterable[QuotaWindow]) -> tuple[QuotaWindow, ...]:
    return tuple(value)


@attrs.frozen
class Quota:
    """An account's allowances, as read at ``checked_at``.

    Attributes:
        windows: Each metered allowance.
        plan: The account's plan (``plus``, ``pro``, ``business``...), when known.
        note: Anything else worth showing (``"no Copilot subscription"``).
        checked_at: Unix time it was read (set by the gateway).
    """

    windows: tuple[QuotaWindow, ...] = attrs.field(default=(), converter=_windows)
    plan: str | None = None
    note: str | None = None
    checked_at: float = 0.0

    def exhausted_until(self) -> float | None:
        """When the account can be used again, if an exhausted window of the whole account
        says: the latest reset among them; None when none is exhausted (or no reset is
        known)."""
        resets = [w.resets_at for w in self.windows if not w.models and w.exhausted and w.resets_at is not None]
        return max(resets) if resets else None

    def exhausted_models(self) -> dict[str, float]:
        """Models an exhausted window of only some models stops, each with when it can be
        used again (the latest reset among the windows that stop it)."""
        until: dict[str, float] = {}
        for window in self.windows:
            if window.models and window.exhausted and window.resets_at is not None:
                for model in window.models:
                    until[model] = max(until.get(model, 0.0), window.resets_at)
        return until

    def next_reset(self) -> float | None:
        """The soonest known reset of any window."""
        resets = [w.resets_at for w in self.windows if w.resets_at is not None]
        return min(resets) if resets else None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"windows": [w.as_dict() for w in self.windows], "checked_at": self.checked_at}
        if self.plan:
            data["plan"] = self.plan
        if self.note:
            data["note"] = self.note
        return data
