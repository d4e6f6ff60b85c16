"""Daily usage rows: what one client did with one credential and model on one UTC day.

The state store keeps them per day (:meth:`StateStore.add_daily_usage`), bounded: at most
``max_rows`` distinct rows a day (later ones are counted in one :data:`OVERFLOW` row) and
only the last ``keep_days`` days. :class:`DailyTable` is the in-process form, used by the
memory store (and by the Redis store while Redis is down).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "COUNTERS",
    "OVERFLOW",
    "DailyCounts",
    "DailyKey",
    "DailyTable",
    "add_row",
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


class DailyKey(NamedTuple):
    """Whose usage a row counts: the caller's name, the credential id (``-``: none was
    tried) and the model (the upstream's name once one was tried, else the one asked for)."""

    client: str
    credential: str
    model: str

    @classmethod
    def of(cls, client: str, credential: str, model: str) -> DailyKey:
        """A key with each part cut to 200 characters and tabs and newlines made spaces
        (shared stores join the parts with tabs)."""
        return _key(client, credential, model)


@functools.lru_cache(maxsize=4096)  # (a request's names repeat: each is checked once)
def _key(client: str, credential: str, model: str) -> DailyKey:
    return DailyKey(_part(client), _part(credential), _part(model))


def _part(text: str) -> str:
    if len(text) > _MAX_PART:
        text = text[:_MAX_PART]
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


OVERFLOW = DailyKey("other", "other", "other")
"""The row a day's usage past its ``max_rows`` distinct rows is counted in."""


class DailyCounts(NamedTuple):
    """Counts of one row (a tuple: add two with :meth:`plus`, not ``+``).

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

    def plus(self, other: DailyCounts) -> DailyCounts:
        """Both counts added up."""
        return DailyCounts._make(map(operator.add, self, other))


Day = dict[DailyKey, DailyCounts]


def day_of(when: float) -> str:
    """The UTC day (``YYYY-MM-DD``) of Unix time ``when``."""
    return _day_name(int(when // 86400))


@functools.lru_cache(maxsize=8)
def _day_name(number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()


@functools.lru_cache(maxsize=32)
def first_kept_day(today: str, keep_days: int) -> str:
    """The oldest day kept when ``today`` is the newest and ``keep_days`` are kept."""
    return (dt.date.fromisoformat(today) - dt.timedelta(days=max(1, keep_days) - 1)).isoformat()


def add_row(table: dict[DailyKey, list[int]], key: DailyKey, counts: Sequence[int], max_rows: int) -> None:
    """Add ``counts`` to ``key``'s row of one day's ``table`` (counts held as lists, added
    in place); past ``max_rows`` distinct rows, to :data:`OVERFLOW`: the table is bounded."""
    held = table.get(key)
    if held is None:
        if len(table) >= max_rows and key != OVERFLOW:
            key = OVERFLOW
            held = table.get(key)
        if held is None:
            table[key] = list(counts)
            return
    for i, count in enumerate(counts):  # (most counts are 0: cheaper than adding all)
        if count:
            held[i] += count


class DailyTable:
    """Daily rows in memory: ``{day: {key: counts}}``, bounded as the module says (the
    counts are held as lists and added up in place)."""

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[str, dict[DailyKey, list[int]]] = {}

    def add(self, day: str, rows: Mapping[DailyKey, DailyCounts], *, oldest: Callable[[], str], max_rows: int) -> bool:
        """Add ``rows`` to ``day``; rows past ``max_rows`` distinct ones go to
        :data:`OVERFLOW`. When ``day`` is new, days before ``oldest()`` are dropped first,
        and False is returned (nothing added) when ``day`` is one of them."""
        table = self._days.get(day)
        if table is None:
            first = oldest()
            for old in [d for d in self._days if d < first]:
                del self._days[old]
            if day < first:
                return False
            table = self._days[day] = {}
        for key, counts in rows.items():
            add_row(table, key, counts, max_rows)
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
                held[:] = map(operator.sub, held, counts)
                if not any(held):
                    del table[key]
            if not table:
                del self._days[day]

    def rows(self, first: str = "", last: str = "9999-12-31") -> dict[str, dict[DailyKey, DailyCounts]]:
        """A copy of the rows of the days from ``first`` to ``last`` (inclusive)."""
        return {
            day: {key: DailyCounts(*counts) for key, counts in table.items()}
            for day, table in self._days.items()
            if first <= day <= last
        }

    def __bool__(self) -> bool:
        return bool(self._days)
