"""The JSON form of daily usage rows: what export writes, import reads, and the memory
store's snapshot file holds.

::

    {"format": "cliproxy-usage", "version": 1, "id": "<random>", "exported_at": "...Z",
     "rows": [{"day": "2026-12-06", "client": "key-1", "credential": "claude-api-key:3f2a...",
               "model": "claude-sonnet-4-5", "requests": 3, "failures": 0,
               "input_tokens": 120, "output_tokens": 80, "cache_read_tokens": 0,
               "cache_write_tokens": 0, "reasoning_tokens": 0,
               "cost_nanos": 1560000, "cost_usd": 0.00156, "unpriced_requests": 0}, ...]}

``cost_nanos`` is exact (nano-dollars); ``cost_usd`` is for people and is ignored on
import when ``cost_nanos`` is there. Missing counts are 0.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from cliproxy.pricing import nanos_to_usd, usd_to_nanos
from cliproxy.state.daily import DailyCounts, DailyKey

__all__ = ["FORMAT", "Rows", "UsageDocumentError", "decode_rows", "encode_rows"]

FORMAT = "cliproxy-usage"
VERSION = 1

Rows = dict[str, dict[DailyKey, DailyCounts]]
"""``{day: {key: counts}}``."""

_COUNTS = (
    "requests",
    "failures",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_MAX_COUNT = 2**62  # a count larger than any real one (and than a signed 64-bit Redis counter holds)


class UsageDocumentError(ValueError):
    """A usage document that cannot be read; the message says where and why."""


def encode_rows(rows: Mapping[str, Mapping[DailyKey, DailyCounts]], *, now: float) -> dict[str, Any]:
    """``rows`` as a usage document (days in order, then keys)."""
    out = []
    for day in sorted(rows):
        for key, counts in sorted(
            rows[day].items(), key=lambda item: (item[0].client, item[0].credential, item[0].model)
        ):
            entry: dict[str, Any] = {"day": day, "client": key.client, "credential": key.credential, "model": key.model}
            entry.update({name: getattr(counts, name) for name in _COUNTS})
            entry["cost_nanos"] = counts.cost_nanos
            entry["cost_usd"] = nanos_to_usd(counts.cost_nanos)
            entry["unpriced_requests"] = counts.unpriced
            out.append(entry)
    exported = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"format": FORMAT, "version": VERSION, "id": os.urandom(8).hex(), "exported_at": exported, "rows": out}


def decode_rows(document: Any) -> Rows:
    """The rows of a usage document (rows of one day and key add up).

    Raises:
        UsageDocumentError: Not a usage document, or a row with a bad field (named, with its
            index).
    """
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise UsageDocumentError(
            f'not a usage document: expected a JSON object with "format": "{FORMAT}" (what '
            "GET /v0/management/usage/export and cliproxy usage --export write)"
        )
    if document.get("version") != VERSION:
        raise UsageDocumentError(f"usage document version {document.get('version')!r} is not {VERSION}")
    entries = document.get("rows")
    if not isinstance(entries, list):
        raise UsageDocumentError("'rows' must be a list of rows")
    rows: Rows = {}
    for index, entry in enumerate(entries):
        day, key, counts = _row(entry, index)
        table = rows.setdefault(day, {})
        held = table.get(key)
        table[key] = counts if held is None else held.plus(counts)
    return rows


def _row(entry: Any, index: int) -> tuple[str, DailyKey, DailyCounts]:
    where = f"rows[{index}]"
    if not isinstance(entry, Mapping):
        raise UsageDocumentError(f"{where} must be an object")
    day = entry.get("day")
    try:
        if not isinstance(day, str):
            raise ValueError
        dt.date.fromisoformat(day)
    except ValueError:
        raise UsageDocumentError(f"{where}.day must be a date written YYYY-MM-DD, not {day!r}") from None
    parts = []
    for name in ("client", "credential", "model"):
        value = entry.get(name)
        if not isinstance(value, str) or not value:
            raise UsageDocumentError(f"{where}.{name} must be a non-empty string")
        parts.append(value)
    values = [_count(entry, name, where) for name in _COUNTS]
    if "cost_nanos" in entry:
        cost = _count(entry, "cost_nanos", where)
    else:
        usd = entry.get("cost_usd", 0)
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not 0 <= usd < _MAX_COUNT / 1e9:
            raise UsageDocumentError(f"{where}.cost_usd must be a number of 0 or more")
        cost = usd_to_nanos(usd)
    unpriced = _count(entry, "unpriced_requests", where)
    return day, DailyKey.of(*parts), DailyCounts._make([*values, cost, unpriced])


def _count(entry: Mapping[str, Any], name: str, where: str) -> int:
    value = entry.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_COUNT:
        raise UsageDocumentError(f"{where}.{name} must be a whole number of 0 or more, not {value!r}")
    return value
