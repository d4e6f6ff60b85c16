"""Daily usage rows: what one client did with one credential and model on one UTC day.

The state store keeps them per day (:meth:`StateStore.add_daily_usage`), bounded: at most
``max_rows`` distinct rows a day (later ones are counted in one :data:`OVERFLOW` row) and
only the last ``keep_days`` days. :class:`DailyTable` is the in-process form, used by the
memory store (and by the Redis store while Redis is down).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

__all__ = [
    "COUNTERS",
    "OVERFLOW",
    "DailyCounts",
    "DailyKey",
    "DailyTable",
    "day_of",
    "first_kept_day",
]

COUNTERS = (
    "requests",
    "failures",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "unpriced",
)
"""The fields of :class:`DailyCounts`, in their stored order."""

_MAX_PART = 200  # characters kept of a client, credential or model name


@attrs.frozen(slots=True)
class DailyKey:
    """Whose usage a row counts: the caller's name, the credential id (``-``: none was
    tried) and the model (the upstream's name once one was tried, else the one asked for)."""

    client: str
    credential: str
    model: str

    @classmethod
    def of(cls, client: str, credential: str, model: str) -> DailyKey:
        """A key with each part cut to 200 characters and tabs and newlines made spaces
        (shared stores join the parts with tabs)."""
        return cls(_part(client), _part(credential), _part(model))


def _part(text: str) -> str:
    if len(text) > _MAX_PART:
        text = text[:_MAX_PART]
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


OVERFLOW = DailyKey("other", "other", "other")
"""The row a day's usage past its ``max_rows`` distinct rows is counted in."""


@attrs.frozen(slots=True)
class DailyCounts:
    """Counts of one row.

    Attributes:
        requests: Client requests (each once, however many upstream attempts it took).
        failures: Those the client got an error for (a stream that failed midway too).
        input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
            reasoning_tokens: Tokens by kind (IR semantics: input includes the cache
            tokens, output the reasoning), a failed stream's tokens included.
        cost_nanos: Estimated cost of the priced requests, in nano-dollars.
        unpriced: Requests with tokens whose cost is unknown (a model without a price).
    """

    requests: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nanos: int = 0
    unpriced: int = 0

    def __add__(self, other: DailyCounts) -> DailyCounts:
        return DailyCounts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def __sub__(self, other: DailyCounts) -> DailyCounts:
        return DailyCounts(*(a - b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def __bool__(self) -> bool:
        return any(self.as_tuple())

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.requests,
            self.failures,
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.cost_nanos,
            self.unpriced,
        )

    @classmethod
    def from_values(cls, values: Iterable[int]) -> DailyCounts:
        return cls(*values)


Day = dict[DailyKey, DailyCounts]


def day_of(when: float) -> str:
    """The UTC day (``YYYY-MM-DD``) of Unix time ``when``."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d")


def first_kept_day(today: str, keep_days: int) -> str:
    """The oldest day kept when ``today`` is the newest and ``keep_days`` are kept."""
    return (dt.date.fromisoformat(today) - dt.timedelta(days=max(1, keep_days) - 1)).isoformat()


class DailyTable:
    """Daily rows in memory: ``{day: {key: counts}}``, bounded as the module says."""

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[str, Day] = {}

    def add(self, day: str, rows: Mapping[DailyKey, DailyCounts], *, oldest: str, max_rows: int) -> bool:
        """Add ``rows`` to ``day``; rows past ``max_rows`` distinct ones go to
        :data:`OVERFLOW`. Days before ``oldest`` are dropped, and False is returned (nothing
        added) when ``day`` is one of them."""
        table = self._days.get(day)
        if table is None:
            for old in [d for d in self._days if d < oldest]:
                del self._days[old]
            if day < oldest:
                return False
            table = self._days[day] = {}
        for key, counts in rows.items():
            held = table.get(key)
            if held is None and len(table) >= max_rows and key != OVERFLOW:
                key = OVERFLOW
                held = table.get(key)
            table[key] = counts if held is None else held + counts
        return True

    def subtract(self, handed: Mapping[str, Mapping[DailyKey, DailyCounts]]) -> None:
        """Take ``handed`` (a copy of :meth:`rows`, counted elsewhere now) off; rows and
        days left empty are dropped, what was added since stays."""
        for day, rows in handed.items():
            table = self._days.get(day)
            if table is None:
                continue
            for key, counts in rows.items():
                held = table.get(key)
                if held is None:
                    continue
                left = held - counts
                if left:
                    table[key] = left
                else:
                    del table[key]
            if not table:
                del self._days[day]

    def rows(self, first: str = "", last: str = "9999-12-31") -> dict[str, Day]:
        """A copy of the rows of the days from ``first`` to ``last`` (inclusive)."""
        return {day: dict(table) for day, table in self._days.items() if first <= day <= last}

    def __bool__(self) -> bool:
        return bool(self._days)
