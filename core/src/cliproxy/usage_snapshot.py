"""Usage that outlives the process with the memory state store: a snapshot file.

The file holds the usage rows counted so far (a usage document, see
:mod:`cliproxy.usage_document`). A process counts in memory what it served since its last
write, and every ``usage.snapshot-interval`` seconds (and at shutdown) adds that to the
file and forgets it: read the file, add, write a temporary file beside it, ``fsync`` and
rename it over the old one, all under an exclusive lock on ``<file>.lock``. So a crash
mid-write leaves the previous file whole, and the workers of ``cliproxy serve --workers N``
(or a restarted gateway) add to one another's counts instead of overwriting them. What a
process counted since its last write is lost if it is killed (at most one interval).

A file that cannot be read as usage is moved aside (``<file>.unreadable-<time>``, logged)
and a new one started, so counting goes on. These functions do file I/O: call them from a
worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson

from cliproxy.state.daily import DailyCounts, DailyKey, DailyTable
from cliproxy.usage_document import Rows, UsageDocumentError, decode_rows, encode_rows

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per file
    fcntl = None  # type: ignore[assignment]

__all__ = ["add_to_snapshot", "read_snapshot"]

log = logging.getLogger("cliproxy.usage")


def read_snapshot(path: str) -> Rows:
    """The rows in the snapshot file (none when it does not exist or cannot be read)."""
    try:
        return _load(Path(path))
    except (OSError, UsageDocumentError, orjson.JSONDecodeError):
        return {}


def add_to_snapshot(
    path: str, rows: Mapping[str, Mapping[DailyKey, DailyCounts]], *, oldest: str, max_rows: int, now: float
) -> None:
    """Add ``rows`` to the snapshot file at ``path`` (see the module doc), dropping days
    before ``oldest`` and counting rows past ``max_rows`` a day as the overflow row.

    Raises:
        OSError: The file or its directory cannot be written (nothing was changed).
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    with _locked(file):
        try:
            held = _load(file)
        except FileNotFoundError:
            held = {}
        except (UsageDocumentError, orjson.JSONDecodeError, OSError) as exc:
            aside = file.with_name(f"{file.name}.unreadable-{int(now)}")
            os.replace(file, aside)
            log.error(
                "usage snapshot %s could not be read (%s); moved it to %s and started a new one", file, exc, aside
            )
            held = {}
        table = DailyTable()
        for source in (held, rows):
            for day, day_rows in source.items():
                table.add(day, day_rows, oldest=lambda: oldest, max_rows=max_rows)
        _write_atomically(file, orjson.dumps(encode_rows(table.rows(), now=now)))


def _load(file: Path) -> Rows:
    return decode_rows(orjson.loads(file.read_bytes()))


@contextlib.contextmanager
def _locked(file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<file>.lock`` (other processes wait for it)."""
    if fcntl is None:
        yield
        return
    with open(file.with_name(file.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_atomically(file: Path, data: bytes) -> None:
    temporary = file.with_name(f".{file.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
