"""Usage that lasts: every client request counted per client key, credential, model and
UTC day, with its estimated cost -- queried, exported and imported by the management API.

:meth:`UsageLedger.record` counts one request where its accounting ends (see
:mod:`cliproxy.accounting`): once, however many upstream attempts it took, failed ones
and the tokens of a stream that failed midway included. The rows live in the state store
(:meth:`~cliproxy.state.StateStore.add_daily_usage`: shared and atomic on Redis). A request
is added up in the process, at the cost of a few dict operations, and the rows are
written to the store every ``usage.write-interval`` seconds (one round trip per day's
rows, not one per request; 0 writes each request as it is counted); reads write what is
pending first. With the memory store they are also added to ``usage.snapshot-file``
every ``usage.snapshot-interval`` seconds and at shutdown (:mod:`cliproxy.usage_snapshot`),
so they survive a restart. Costs come from the config's :class:`~cliproxy.pricing.PriceTable`
(or the upstream's reported cost).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from cliproxy.config import Config
from cliproxy.ir import Usage
from cliproxy.pricing import nanos_to_usd
from cliproxy.state import MemoryStore, StateStore
from cliproxy.state.daily import DailyCounts, DailyKey, add_row, day_of, first_kept_day
from cliproxy.usage_document import Rows, decode_rows, encode_rows
from cliproxy.usage_snapshot import add_to_snapshot, read_snapshot

__all__ = ["GROUPS", "NO_CREDENTIAL", "AlreadyImported", "UsageLedger"]

log = logging.getLogger("cliproxy.usage")

GROUPS = ("client", "credential", "model", "day")
"""What usage can be grouped by (``by=``), in the order rows are keyed."""

NO_CREDENTIAL = "-"
"""The credential of a request no credential was tried for (an unknown model, all resting)."""

_IMPORTED = "usage-import:"  # value key: ids of documents already imported


_counts = tuple.__new__
_ANSWERED_ALONE = DailyCounts(requests=1)
_FAILED_ALONE = DailyCounts(requests=1, failures=1)


class AlreadyImported(Exception):
    """The document was imported before (its ``id`` is remembered for the retention)."""


class UsageLedger:
    """A gateway's lasting usage (see the module doc).

    Args:
        state: The state store the rows live in.
        config: Returns the config in force (usage limits, prices and the snapshot file
            apply on reload).
        clock: Unix time.
    """

    def __init__(self, state: StateStore, config: Callable[[], Config], clock: Callable[[], float]) -> None:
        self.state = state
        self._config = config
        self._clock = clock
        self._writing = asyncio.Lock()  # one snapshot write (or read beside one) at a time
        self._write_failed = False
        self._pending: dict[str, dict[DailyKey, list[int]]] = {}  # day -> rows not in the store yet
        self._store_failed = False

    @property
    def _snapshot_file(self) -> str | None:
        """Where the memory store's rows are kept across restarts (None: they are not)."""
        return self._config().usage.snapshot_file if isinstance(self.state, MemoryStore) else None

    # -- counting --------------------------------------------------------------------------

    async def record(
        self, client: str, credential: str, model: str, usage: Usage | None, *, failed: bool
    ) -> int | None:
        """Count one client request of ``client`` (its name) served by ``credential`` (an
        id, or :data:`NO_CREDENTIAL`) with ``model``; returns its cost in nano-dollars
        (None: unknown, the model has no price)."""
        config = self._config()
        day = day_of(self._clock())
        if usage is None:
            cost: int | None = 0
            counts = _FAILED_ALONE if failed else _ANSWERED_ALONE
        else:
            cost = config.pricing.cost(model, usage, day)
            counts = _counts(  # (tuple.__new__: a NamedTuple's own __new__ is a Python call)
                DailyCounts,
                (
                    1,
                    1 if failed else 0,
                    usage.input_tokens or 0,
                    usage.output_tokens or 0,
                    usage.cache_read_tokens or 0,
                    usage.cache_write_tokens or 0,
                    usage.reasoning_tokens or 0,
                    cost or 0,
                    1 if cost is None else 0,
                ),
            )
        limits = config.usage
        key = DailyKey.of(client, credential, model)
        if not limits.write_interval:
            await self.state.add_daily_usage(
                day, {key: counts}, keep_days=limits.retention_days, max_rows=limits.max_rows_per_day
            )
        else:
            _add_pending(self._pending, day, key, counts, limits.max_rows_per_day)
        return cost

    async def write_pending(self) -> None:
        """Write the rows counted in this process since the last write to the state store.
        Rows a store failed to take stay for the next write (and the failure is logged once)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        limits = self._config().usage
        for day, table in pending.items():
            rows = {key: _counts(DailyCounts, counts) for key, counts in table.items()}
            try:
                await self.state.add_daily_usage(
                    day, rows, keep_days=limits.retention_days, max_rows=limits.max_rows_per_day
                )
            except Exception as exc:
                if not self._store_failed:
                    log.warning(
                        "could not write usage to the state store (%s: %s); it is kept in this process "
                        "and written at the next try",
                        type(exc).__name__,
                        exc,
                    )
                self._store_failed = True
                for key, counts in rows.items():
                    _add_pending(self._pending, day, key, counts, limits.max_rows_per_day)
                continue
            if self._store_failed:
                log.warning("usage written to the state store again")
                self._store_failed = False

    async def keep_counting(self) -> None:
        """Write the pending rows every ``usage.write-interval`` seconds (a background
        task; with 0, requests are written as they are counted and this only idles).
        Cancelling it lets a write in progress finish."""
        while True:
            await asyncio.sleep(self._config().usage.write_interval or 1.0)
            if self._pending:
                await asyncio.shield(asyncio.ensure_future(self.write_pending()))

    # -- reading ---------------------------------------------------------------------------

    def window(self, first: str | None, last: str | None) -> tuple[str, str]:
        """The days a query covers: ``first`` and ``last`` as given, by default the last 30
        days to today; never before the oldest day kept."""
        today = day_of(self._clock())
        end = last or today
        start = first or (dt.date.fromisoformat(end) - dt.timedelta(days=29)).isoformat()
        return max(start, first_kept_day(today, self._config().usage.retention_days)), end

    async def rows(self, first: str, last: str) -> Rows:
        """Every row of the days from ``first`` to ``last`` (inclusive)."""
        await self.write_pending()
        path = self._snapshot_file
        if path is None:
            return _copy(await self.state.daily_usage(first, last))
        async with self._writing:  # (no write half done between the file and memory)
            kept = await asyncio.to_thread(read_snapshot, path)
            rows = {day: table for day, table in kept.items() if first <= day <= last}
            _add(rows, await self.state.daily_usage(first, last))
        return rows

    async def report(
        self, first: str, last: str, by: Collection[str], credentials: Mapping[str, tuple[str, str]]
    ) -> dict[str, Any]:
        """Usage of the days ``first`` to ``last`` grouped by ``by`` (some of
        :data:`GROUPS`): a row per group and the total. ``credentials`` maps credential
        ids to (label, provider) to show beside them."""
        groups = [name for name in GROUPS if name in by]
        summed: dict[tuple[str, ...], DailyCounts] = {}
        for day, table in (await self.rows(first, last)).items():
            for key, counts in table.items():
                parts = {"client": key.client, "credential": key.credential, "model": key.model, "day": day}
                group = tuple(parts[name] for name in groups)
                held = summed.get(group)
                summed[group] = counts if held is None else held.plus(counts)
        out = []
        for group in sorted(summed):
            entry: dict[str, Any] = dict(zip(groups, group, strict=True))
            if "credential" in entry:
                label, provider = credentials.get(entry["credential"], (None, None))
                entry["credential_label"] = label
                entry["provider"] = provider
            entry.update(_figures(summed[group]))
            out.append(entry)
        total = functools.reduce(DailyCounts.plus, summed.values(), DailyCounts())
        return {"from": first, "to": last, "by": groups, "rows": out, "total": _figures(total)}

    async def client_costs(self, first: str, last: str) -> dict[str, dict[str, Any]]:
        """Per client name: the estimated cost of the days ``first`` to ``last``."""
        per_client: dict[str, DailyCounts] = {}
        for table in (await self.rows(first, last)).values():
            for key, counts in table.items():
                held = per_client.get(key.client)
                per_client[key.client] = counts if held is None else held.plus(counts)
        return {
            name: {"cost_usd": _cost_usd(counts), "unpriced_requests": counts.unpriced}
            for name, counts in per_client.items()
        }

    # -- export, import --------------------------------------------------------------------

    async def export(self, first: str, last: str) -> dict[str, Any]:
        """The rows of the days ``first`` to ``last`` as a usage document."""
        return encode_rows(await self.rows(first, last), now=self._clock())

    async def import_document(self, document: Any, *, again: bool = False) -> dict[str, Any]:
        """Add the rows of a usage document to the counts (they add up with what is
        counted already). Rows of days no longer kept are skipped.

        Raises:
            UsageDocumentError: Not a usage document (the message says what is wrong).
            AlreadyImported: This document was imported before (and ``again`` is not set).
        """
        rows = decode_rows(document)
        ident = document.get("id")
        marker = _IMPORTED + ident if isinstance(ident, str) and ident else None
        if marker is not None and not again and await self.state.get_value(marker) is not None:
            raise AlreadyImported(ident)
        config = self._config().usage
        oldest = first_kept_day(day_of(self._clock()), config.retention_days)
        imported = skipped = 0
        for day, table in sorted(rows.items()):
            if day < oldest:
                skipped += len(table)
                continue
            await self.state.add_daily_usage(
                day, table, keep_days=config.retention_days, max_rows=config.max_rows_per_day
            )
            imported += len(table)
        if marker is not None:
            await self.state.set_value(marker, b"1", ttl=config.retention_days * 86400.0)
        await self.flush()
        days = sorted(day for day in rows if day >= oldest)
        return {"imported_rows": imported, "skipped_rows": skipped, "days": days, "oldest_kept_day": oldest}

    # -- the snapshot file (memory store) --------------------------------------------------

    async def flush(self) -> None:
        """Write the pending rows to the store; then add what the memory store counted
        since the last write to the snapshot file and forget it there; on a write error,
        keep it for the next try. Never raises."""
        await self.write_pending()
        path = self._snapshot_file
        if path is None:
            return
        assert isinstance(self.state, MemoryStore)
        async with self._writing:
            rows = self.state.daily_rows()
            if not rows:
                return
            config = self._config().usage
            now = self._clock()
            oldest = first_kept_day(day_of(now), config.retention_days)
            try:
                await asyncio.to_thread(
                    add_to_snapshot, path, rows, oldest=oldest, max_rows=config.max_rows_per_day, now=now
                )
            except Exception as exc:
                if not self._write_failed:
                    log.warning(
                        "could not write the usage snapshot %s (%s: %s); usage stays in memory and is written "
                        "at the next try -- check that the directory exists and is writable, or set "
                        "usage.snapshot-file",
                        path,
                        type(exc).__name__,
                        exc,
                    )
                self._write_failed = True
                return
            if self._write_failed:
                log.warning("usage snapshot %s written again", path)
                self._write_failed = False
            self.state.subtract_daily_usage(rows)

    async def keep_writing(self) -> None:
        """Write the snapshot every ``usage.snapshot-interval`` seconds (a background task).
        Cancelling it lets a write in progress finish (its rows are then forgotten here,
        not written twice)."""
        while True:
            await asyncio.sleep(self._config().usage.snapshot_interval)
            await asyncio.shield(asyncio.ensure_future(self.flush()))


def _add_pending(
    pending: dict[str, dict[DailyKey, list[int]]], day: str, key: DailyKey, counts: Sequence[int], max_rows: int
) -> None:
    """Add ``counts`` to ``key``'s pending row of ``day``, bounded as the stores are."""
    table = pending.get(day)
    if table is None:
        table = pending[day] = {}
    add_row(table, key, counts, max_rows)


def _copy(rows: Mapping[str, Mapping[DailyKey, DailyCounts]]) -> Rows:
    return {day: dict(table) for day, table in rows.items()}


def _add(into: Rows, rows: Mapping[str, Mapping[DailyKey, DailyCounts]]) -> None:
    for day, table in rows.items():
        target = into.setdefault(day, {})
        for key, counts in table.items():
            held = target.get(key)
            target[key] = counts if held is None else held.plus(counts)


def _cost_usd(counts: DailyCounts) -> float | None:
    """The known cost in USD; None when nothing was priced and something was not."""
    if counts.cost_nanos == 0 and counts.unpriced:
        return None
    return nanos_to_usd(counts.cost_nanos)


def _figures(counts: DailyCounts) -> dict[str, Any]:
    return {
        "requests": counts.requests,
        "failures": counts.failures,
        "input_tokens": counts.input_tokens,
        "output_tokens": counts.output_tokens,
        "cache_read_tokens": counts.cache_read_tokens,
        "cache_write_tokens": counts.cache_write_tokens,
        "reasoning_tokens": counts.reasoning_tokens,
        "cost_usd": _cost_usd(counts),
        "unpriced_requests": counts.unpriced,
    }
