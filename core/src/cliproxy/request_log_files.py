"""Kept requests on disk: written off the event loop, bounded, listed, read and deleted.

:meth:`RequestLog.keep` hands a finished request's record (see :mod:`cliproxy.request_log`)
to a bounded queue and returns at once; one writer thread takes the secrets out
(:class:`~cliproxy.redaction.Redactor`: headers that carry credentials, and every secret
the gateway holds wherever it appears), encodes the record as JSON and writes it to
``logs-dir``, one file per request named by its ``x-request-id``: ``<time>-<id>.json``,
or ``error-<time>-<id>.json`` for a failed request kept while ``request-log`` is off.

Limits: the queue holds at most :data:`MAX_QUEUED` records and :data:`MAX_QUEUED_BYTES`
of bodies -- when it is full a record is dropped and counted, never waited for. After
each write the oldest files go until all of them together take at most 90% of
``logs-max-total-size-mb`` (checked against the directory itself at least every second,
so the workers of ``cliproxy serve --workers N`` sharing a directory hold one limit), and
at most ``error-logs-max-files`` error files are kept. A write that fails (a full disk, a
directory that cannot be written) is counted and logged -- at most once a minute -- and
the request it was for is long answered: it never fails one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from cliproxy.config import RequestLogConfig
from cliproxy.redaction import REDACTED, Redactor, header_secrets, url_secrets

__all__ = ["MAX_QUEUED", "MAX_QUEUED_BYTES", "RequestLog", "encode_record", "file_id", "record_redactor", "record_size"]

log = logging.getLogger("cliproxy.request_log")

MAX_QUEUED = 512
"""Records waiting for the writer at most; more are dropped."""

MAX_QUEUED_BYTES = 64 * 1024 * 1024
"""Bytes of bodies waiting for the writer at most; more are dropped."""

_RESCAN_EVERY = 1.0  # seconds: how stale the writer's view of a directory may get while it writes
_PRUNE_TO = 0.9  # of the total limit, so that not every write has to delete
_WARN_EVERY = 60.0  # seconds between warnings about drops or failed writes
_NAME = re.compile(r"^(error-)?(\d{8}T\d{9})-([A-Za-z0-9._-]{1,128})\.json$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|secret|cookie|signature|session", re.IGNORECASE)


def file_id(request_id: str) -> str:
    """The part of a log file's name that names its request (``x-request-id`` characters
    other than letters, digits, ``.``, ``_`` and ``-`` become ``_``)."""
    return _UNSAFE.sub("_", request_id)[:128] or "_"


def record_size(record: Mapping[str, Any]) -> int:
    """Bytes of the bodies a record holds (what it weighs in the queue)."""
    size = 0
    stack: list[Any] = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes | str):
            size += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return size


@attrs.define
class _Entry:
    name: str
    size: int
    error: bool


@attrs.define
class _Directory:
    """The writer's view of one logs directory, oldest file first."""

    entries: list[_Entry]
    total: int
    scanned: float


class RequestLog:
    """Kept requests: the writer and its queue, and the files (see the module doc)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[dict[str, Any], Redactor, RequestLogConfig, int] | None] = queue.Queue(
            MAX_QUEUED
        )
        self._lock = threading.Lock()
        self._queued_bytes = 0
        self._thread: threading.Thread | None = None
        self._dirs: dict[str, _Directory] = {}
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self._warned_drop = 0.0
        self._warned_error = 0.0

    # -- the event loop's side -------------------------------------------------------------

    def keep(self, record: dict[str, Any], redactor: Redactor, settings: RequestLogConfig) -> bool:
        """Queue ``record`` for writing into ``settings.dir``, with every secret
        ``redactor`` knows (and those the request carried, see :func:`record_redactor`)
        taken out; False when it was dropped (the queue is full, or there is no
        directory). Never blocks."""
        if settings.dir is None:
            return False
        size = record_size(record)
        with self._lock:
            if self._queued_bytes + size > MAX_QUEUED_BYTES:
                return self._drop()
            self._queued_bytes += size
        try:
            self._queue.put_nowait((record, redactor, settings, size))
        except queue.Full:
            with self._lock:
                self._queued_bytes -= size
                return self._drop()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cliproxy-request-log", daemon=True)
            self._thread.start()
        return True

    def _drop(self) -> bool:
        self.dropped += 1
        now = time.monotonic()
        if now - self._warned_drop >= _WARN_EVERY:
            self._warned_drop = now
            log.warning(
                "request log: the writer is behind, %d record(s) dropped so far (requests are not held up for it); "
                "fewer or smaller requests kept, or a faster disk, would help",
                self.dropped,
            )
        return False

    def stats(self) -> dict[str, int]:
        return {
            "queued": self._queue.qsize(),
            "queued_bytes": self._queued_bytes,
            "written": self.written,
            "dropped": self.dropped,
            "write_errors": self.write_errors,
        }

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop the writer."""
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        with contextlib.suppress(queue.Full):
            await asyncio.to_thread(self._queue.put, None, True, timeout)
        await asyncio.to_thread(thread.join, timeout)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            record, redactor, settings, size = item
            try:
                self._write(record, redactor, settings)
            except Exception as exc:  # nothing a record holds may stop the writer
                self._failed(settings, exc)
            finally:
                with self._lock:
                    self._queued_bytes -= size

    def _failed(self, settings: RequestLogConfig, exc: BaseException) -> None:
        self.write_errors += 1
        now = time.monotonic()
        if now - self._warned_error >= _WARN_EVERY:
            self._warned_error = now
            log.warning(
                "request log: could not write to %s (%s: %s); %d write(s) failed so far -- requests are served "
                "as usual; check the disk space and that logs-dir is a writable directory",
                settings.dir,
                type(exc).__name__,
                exc,
                self.write_errors,
            )

    def _write(self, record: dict[str, Any], redactor: Redactor, settings: RequestLogConfig) -> None:
        assert settings.dir is not None
        data = encode_record(record, record_redactor(redactor, record))
        directory = Path(settings.dir)
        directory.mkdir(parents=True, exist_ok=True)
        error = record.get("kind") == "error"
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
        name = f"{'error-' if error else ''}{stamp}-{file_id(str(record.get('id', '')))}.json"
        temporary = directory / f".{name}.{threading.get_ident()}.tmp"
        try:
            with open(temporary, "wb") as out:
                out.write(data)
            os.replace(temporary, directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        held = self._view(directory)
        held.entries.append(_Entry(name, len(data), error))
        held.total += len(data)
        self._prune(directory, held, settings)
        self.written += 1  # counted once the directory is within its caps again

    def _view(self, directory: Path) -> _Directory:
        key = str(directory)
        held = self._dirs.get(key)
        if held is None or time.monotonic() - held.scanned >= _RESCAN_EVERY:
            held = self._dirs[key] = _scan(directory)
        return held

    def _prune(self, directory: Path, held: _Directory, settings: RequestLogConfig) -> None:
        errors = [entry for entry in held.entries if entry.error]
        for entry in errors[: max(0, len(errors) - settings.error_max_files)]:
            self._remove(directory, held, entry)
        limit = settings.max_total_bytes
        if held.total <= limit:
            return
        held = self._dirs[str(directory)] = _scan(directory)  # other processes may write here too
        goal = int(limit * _PRUNE_TO)
        while held.total > goal and held.entries:
            self._remove(directory, held, held.entries[0])

    @staticmethod
    def _remove(directory: Path, held: _Directory, entry: _Entry) -> None:
        with contextlib.suppress(FileNotFoundError):
            (directory / entry.name).unlink()
        held.entries.remove(entry)
        held.total -= entry.size

    def forget(self, directory: str) -> None:
        """Drop the writer's view of ``directory`` (files were deleted from outside)."""
        with contextlib.suppress(KeyError):
            del self._dirs[str(Path(directory))]

    # -- the files (call from a worker thread) ---------------------------------------------

    @staticmethod
    def list_files(directory: str) -> list[dict[str, Any]]:
        """Every kept request in ``directory``, newest first."""
        found = []
        for entry in reversed(_scan(Path(directory)).entries):
            match = _NAME.match(entry.name)
            assert match is not None
            stamp = match.group(2)
            when = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}.{stamp[15:18]}Z"
            found.append(
                {"id": match.group(3), "kind": "error" if entry.error else "request", "time": when, "bytes": entry.size}
            )
        return found

    @staticmethod
    def read_file(directory: str, request_id: str) -> bytes | None:
        """The newest kept record of ``request_id`` in ``directory``, or None."""
        names = _names_of(Path(directory), request_id)
        for name in reversed(names):
            with contextlib.suppress(FileNotFoundError):
                return (Path(directory) / name).read_bytes()
        return None

    def delete_files(self, directory: str, request_id: str | None = None) -> int:
        """Delete the kept records of ``request_id`` (None: all) in ``directory``; how many."""
        path = Path(directory)
        names = [e.name for e in _scan(path).entries] if request_id is None else _names_of(path, request_id)
        deleted = 0
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
                deleted += 1
        self.forget(directory)
        return deleted


def _scan(directory: Path) -> _Directory:
    """The log files in ``directory``, oldest first (by their names' times)."""
    entries: list[tuple[str, _Entry]] = []
    try:
        with os.scandir(directory) as listing:
            for item in listing:
                match = _NAME.match(item.name)
                if match is None:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    entries.append((match.group(2), _Entry(item.name, item.stat().st_size, bool(match.group(1)))))
    except (FileNotFoundError, NotADirectoryError):
        pass
    entries.sort(key=lambda pair: (pair[0], pair[1].name))
    ordered = [entry for _, entry in entries]
    return _Directory(ordered, sum(entry.size for entry in ordered), time.monotonic())


def _names_of(directory: Path, request_id: str) -> list[str]:
    wanted = file_id(request_id)
    return [entry.name for entry in _scan(directory).entries if _NAME.match(entry.name).group(3) == wanted]  # type: ignore[union-attr]


# -- encoding, with the secrets taken out --------------------------------------------------


def record_redactor(gateway_redactor: Redactor, record: Mapping[str, Any]) -> Redactor:
    """``gateway_redactor`` (every secret the gateway holds) plus the secrets this request
    itself carried: credentials in the client's and each attempt's headers, keys and
    passwords in their URLs (a wrong key a client sent is no configured secret, but still
    its secret)."""
    extra: list[str] = []
    request = record.get("request") or {}
    extra.extend(header_secrets(request.get("headers") or {}))
    if request.get("query"):
        extra.extend(url_secrets("http://x/?" + str(request["query"])))
    for attempt in record.get("attempts") or ():
        extra.extend(header_secrets(attempt["request"]["headers"]))
        extra.extend(url_secrets(attempt["url"]))
    return Redactor.of(_strings(extra), known=gateway_redactor)


def _strings(items: Iterable[Any]) -> list[str]:
    return [item for item in items if isinstance(item, str)]


def encode_record(record: Mapping[str, Any], redactor: Redactor) -> bytes:
    """The record as indented JSON, bodies as text, every secret replaced by ``[redacted]``."""
    return orjson.dumps(_clean(record, redactor), option=orjson.OPT_INDENT_2)


def _clean(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "headers" and isinstance(item, Mapping):
                out[key] = _headers(item, redactor)
            elif key == "chunks" and isinstance(item, list):
                out.update(_body(item, redactor))
            else:
                out[key] = _clean(item, redactor)
        return out
    if isinstance(value, list | tuple):
        return [_clean(item, redactor) for item in value]
    if isinstance(value, bytes):
        return redactor.body(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return redactor.text(value)
    return value


def _headers(headers: Mapping[str, Any], redactor: Redactor) -> dict[str, str]:
    return {
        str(name): REDACTED if _CREDENTIAL_HEADER.search(str(name)) else redactor.text(str(value))
        for name, value in headers.items()
    }


def _body(chunks: list[list[Any]], redactor: Redactor) -> dict[str, Any]:
    """A body's chunks as ``body`` (one) or ``chunks`` (``[[ms, text], ...]``); when a
    secret was found anywhere in them -- maybe split between two -- they become one."""
    if not chunks:
        return {"body": ""}
    whole = b"".join(data for _, data in chunks)
    clean = redactor.body(whole)
    if len(chunks) == 1 or clean != whole:
        return {"body": clean.decode("utf-8", "replace")}
    return {"chunks": [[at, data.decode("utf-8", "replace")] for at, data in chunks]}
