"""The memory store's usage snapshot: writes add up across processes and restarts, are
atomic, bounded by retention and the row cap, and a failed write loses nothing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from cliproxy.config import parse_config
from cliproxy.ir import Usage
from cliproxy.state import MemoryStore
from cliproxy.state.daily import OVERFLOW, DailyCounts, DailyKey, day_of
from cliproxy.testing import FakeClock
from cliproxy.usage_ledger import UsageLedger
from cliproxy.usage_snapshot import add_to_snapshot, read_snapshot

KEY = DailyKey("key-1", "openai-compatibility/team:0123abcd", "gpt-5")


def ledger(path: Path, clock: FakeClock, **usage: object) -> UsageLedger:
    config = parse_config({"usage": {"snapshot-file": str(path), **usage}})
    return UsageLedger(MemoryStore(clock), lambda: config, clock)


async def test_two_processes_writing_one_file_add_up(tmp_path, clock):
    path = tmp_path / "usage.json"
    one, two = ledger(path, clock), ledger(path, clock)  # (two workers: a memory store each)
    for _ in range(3):
        await one.record("key-1", KEY.credential, "gpt-5", Usage(input_tokens=10, output_tokens=1), failed=False)
    await two.record("key-1", KEY.credential, "gpt-5", None, failed=True)
    await one.flush()
    await two.flush()
    await one.flush()  # nothing new: nothing added twice
    today = day_of(clock())
    gpt5 = round((10 * 1.25 + 1 * 10) * 1000)  # nano-dollars of one request
    assert read_snapshot(str(path)) == {today: {KEY: DailyCounts(4, 1, 30, 3, 0, 0, 0, 3 * gpt5, 0)}}
    fresh = ledger(path, clock)  # a restart: starts from the file
    assert (await fresh.rows(today, today)) == read_snapshot(str(path))
    await fresh.record("key-1", KEY.credential, "gpt-5", None, failed=False)
    assert (await fresh.rows(today, today))[today][KEY].requests == 5  # file + not yet written


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "usage.json")
    row = {"2027-01-15": {KEY: DailyCounts(requests=1, input_tokens=2)}}

    def write_many() -> None:
        for _ in range(25):
            add_to_snapshot(path, row, oldest="2027-01-01", max_rows=100, now=1_800_000_000.0)

    threads = [threading.Thread(target=write_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_snapshot(path) == {"2027-01-15": {KEY: DailyCounts(requests=100, input_tokens=200)}}


def test_a_write_that_breaks_off_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "usage.json"
    add_to_snapshot(str(path), {"2027-01-15": {KEY: DailyCounts(requests=1)}}, oldest="2027-01-01", max_rows=10, now=0)
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        add_to_snapshot(
            str(path), {"2027-01-15": {KEY: DailyCounts(requests=9)}}, oldest="2027-01-01", max_rows=10, now=0
        )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["usage.json", "usage.json.lock"]  # no temporary left behind


async def test_a_failed_write_keeps_the_counts_for_the_next_one(tmp_path, caplog, clock):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    counts = ledger(blocker / "usage.json", clock)  # its directory cannot be made
    await counts.record("key-1", KEY.credential, "gpt-5", None, failed=False)
    await counts.flush()
    await counts.flush()
    assert sum("could not write the usage snapshot" in r.message for r in caplog.records) == 1  # once, not per try
    assert "check that the directory exists and is writable" in caplog.text
    today = day_of(clock())
    assert counts.state.daily_rows()[today][KEY].requests == 1  # still held, and still shown:
    assert (await counts.rows(today, today))[today][KEY].requests == 1
    blocker.unlink()
    blocker.mkdir()
    await counts.flush()
    assert read_snapshot(str(blocker / "usage.json"))[today][KEY].requests == 1
    assert counts.state.daily_rows() == {}
    assert "written again" in caplog.text


def test_an_unreadable_file_is_moved_aside_and_counting_goes_on(tmp_path, caplog):
    path = tmp_path / "usage.json"
    path.write_text("{ not json")
    add_to_snapshot(
        str(path), {"2027-01-15": {KEY: DailyCounts(requests=2)}}, oldest="2027-01-01", max_rows=10, now=123
    )
    assert read_snapshot(str(path)) == {"2027-01-15": {KEY: DailyCounts(requests=2)}}
    assert (tmp_path / "usage.json.unreadable-123").read_text() == "{ not json"
    assert "moved it to" in caplog.text


def test_old_days_go_and_rows_past_the_cap_count_as_one(tmp_path):
    path = str(tmp_path / "usage.json")
    rows = {
        "2026-12-01": {KEY: DailyCounts(requests=1)},
        "2027-01-15": {DailyKey(f"user-{n}", "-", "m"): DailyCounts(requests=1) for n in range(5)},
    }
    add_to_snapshot(path, rows, oldest="2027-01-01", max_rows=3, now=0)
    kept = read_snapshot(path)
    assert list(kept) == ["2027-01-15"]
    assert len(kept["2027-01-15"]) == 4 and kept["2027-01-15"][OVERFLOW] == DailyCounts(requests=2)
    document = json.loads(Path(path).read_text())
    assert document["format"] == "cliproxy-usage" and document["rows"][0]["day"] == "2027-01-15"


async def test_the_retention_bounds_what_the_memory_store_holds(clock):
    store = MemoryStore(clock)
    config = parse_config({"usage": {"retention-days": 2}})
    counts = UsageLedger(store, lambda: config, clock)
    await counts.record("key-1", "-", "m", None, failed=False)
    first = day_of(clock())
    clock.advance(2 * 86400)
    await counts.record("key-1", "-", "m", None, failed=False)
    await counts.write_pending()
    assert list(store.daily_rows()) == [day_of(clock())]  # the first day is past its retention
    assert first not in await counts.rows("2000-01-01", "2100-01-01")


async def test_requests_are_added_up_in_the_process_and_written_in_one_go(clock):
    """With a write interval, counting touches no store; the rows reach it on the next
    write (or read), added up -- one store call per day's rows, not per request."""
    store = MemoryStore(clock)
    config = parse_config({"usage": {"write-interval": 5}})
    ledger = UsageLedger(store, lambda: config, clock)
    for _ in range(3):
        await ledger.record("key-1", "cred", "m", Usage(input_tokens=10, output_tokens=2), failed=False)
    await ledger.record("key-1", "cred", "m", None, failed=True)
    assert store.daily_rows() == {}
    rows = await ledger.rows("2000-01-01", "2100-01-01")  # a read writes what is pending first
    assert rows[day_of(clock())][DailyKey.of("key-1", "cred", "m")][:4] == (4, 1, 30, 6)
    assert store.daily_rows() != {}


async def test_with_no_write_interval_each_request_is_written_as_it_is_counted(clock):
    store = MemoryStore(clock)
    config = parse_config({"usage": {"write-interval": 0}})
    ledger = UsageLedger(store, lambda: config, clock)
    await ledger.record("key-1", "cred", "m", None, failed=False)
    assert store.daily_rows()[day_of(clock())][DailyKey.of("key-1", "cred", "m")].requests == 1


async def test_pending_rows_are_bounded_like_the_stores(clock):
    """Rows past ``max-rows-per-day`` distinct ones are added up in the overflow row, so
    clients naming endless models cannot grow what a process holds between writes."""
    store = MemoryStore(clock)
    config = parse_config({"usage": {"write-interval": 60, "max-rows-per-day": 5}})
    ledger = UsageLedger(store, lambda: config, clock)
    for i in range(100):
        await ledger.record("key-1", "-", f"model-{i}", None, failed=True)
    table = ledger._pending[day_of(clock())]
    assert len(table) == 6  # five rows and the overflow row
    assert table[OVERFLOW][:2] == [95, 95]


async def test_rows_a_store_refused_are_kept_for_the_next_write(clock, caplog):
    store = MemoryStore(clock)
    config = parse_config({"usage": {"write-interval": 60}})
    ledger = UsageLedger(store, lambda: config, clock)
    await ledger.record("key-1", "cred", "m", None, failed=False)
    real = store.add_daily_usage

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("store down")

    store.add_daily_usage = broken  # type: ignore[method-assign]
    await ledger.write_pending()
    assert "could not write usage" in caplog.text
    store.add_daily_usage = real  # type: ignore[method-assign]
    await ledger.record("key-1", "cred", "m", None, failed=False)
    await ledger.write_pending()
    assert store.daily_rows()[day_of(clock())][DailyKey.of("key-1", "cred", "m")].requests == 2
