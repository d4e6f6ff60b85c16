"""When the running config was loaded, and the last reload's failure."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import attrs

__all__ = ["ReloadStatus"]


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@attrs.define(eq=False)
class ReloadStatus:
    """When the running config was loaded, and the last reload's failure (if the newest
    attempt failed). Shown by ``/v0/status``."""

    file: str
    loaded_at: float
    reloads: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)

    def failed(self, message: str, at: float) -> None:
        self.last_error = message
        self.last_error_at = at

    def as_dict(self, watching: bool) -> dict[str, Any]:
        error = None
        if self.last_error is not None and self.last_error_at is not None:
            error = {"at": _iso(self.last_error_at), "message": self.last_error}
        return {
            "file": self.file,
            "loaded_at": _iso(self.loaded_at),
            "reloads": self.reloads,
            "watching": watching,
            "last_reload_error": error,
        }
