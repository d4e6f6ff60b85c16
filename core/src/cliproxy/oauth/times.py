"""Expiry times as token files write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["format_expiry", "parse_expiry"]

_MILLISECONDS = 1e11  # a Unix time in seconds passes this in the year 5138


def parse_expiry(value: Any) -> float | None:
    """Unix seconds from what token files hold: seconds or milliseconds since the epoch,
    an ISO 8601 / RFC 3339 time (``Z`` or an offset; none means UTC), or a datetime (YAML
    parses bare timestamps into one). None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > _MILLISECONDS else float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def format_expiry(seconds: float) -> str:
    """``2026-01-31T12:00:00Z`` (UTC, whole seconds)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
