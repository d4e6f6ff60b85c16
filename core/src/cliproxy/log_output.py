"""Log lines out of a serving process without a system call per line.

The access log writes a line per request, and a ``logging.StreamHandler`` writes and
flushes each line as it comes: one ``write`` system call per request, measured at about a
third of what logging a line costs (9 of 28 us here). Like nginx's ``access_log ...
buffer= flush=``, :class:`BatchingStreamHandler` holds ``INFO`` lines and writes them
together, at most ``interval`` seconds after the first of them (a small thread keeps that
promise when no other line comes), once ``max_bytes`` are held, and at once for a
``WARNING`` or worse, with everything held before it. What is held is written when the
handler is closed and when the process exits. A process forked with lines held writes
them before the fork, so no line is written twice.

:class:`LineFormatter` is ``logging.Formatter`` with the date and time part of
``asctime`` computed once a second rather than once a line.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import IO, Any

__all__ = ["BatchingStreamHandler", "LineFormatter"]


class LineFormatter(logging.Formatter):
    """``logging.Formatter`` whose default ``asctime`` (``2026-12-07 05:01:02,345``) is
    built from a per-second cache."""

    _second: tuple[int, str] = (-1, "")  # (Unix second, its formatted date and time): swapped whole

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached, stamp = self._second
        if cached != second:
            stamp = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, stamp)
        msec_format = self.default_msec_format
        return stamp if msec_format is None else msec_format % (stamp, record.msecs)


class BatchingStreamHandler(logging.StreamHandler):
    """A stream handler that writes ``INFO`` and lower lines in batches (see the module
    doc); ``interval`` 0 writes every line at once, as ``logging.StreamHandler`` does."""

    def __init__(self, stream: IO[str], *, interval: float = 0.5, max_bytes: int = 64 * 1024) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_bytes = max_bytes
        self._held: list[str] = []
        self._size = 0
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        _watch_forks(self)

    def emit(self, record: logging.LogRecord) -> None:
        # (logging.Handler.handle calls this with self.lock held)
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._held.append(line)
        self._size += len(line)
        if record.levelno >= logging.WARNING or self._size >= self.max_bytes or self.interval <= 0:
            self._write()
        elif self._flusher is None:
            self._start_flusher()

    def flush(self) -> None:
        """Write what is held, then flush the stream."""
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def close(self) -> None:
        """Write what is held. The handler still works after this: some servers' start-up
        (``logging.config.dictConfig``) closes the handlers it finds but leaves them on the
        root logger; the next line starts the flusher again."""
        self.acquire()
        try:
            self._stop.set()
            self._flusher = None
            self._write()
        finally:
            self.release()
        super().close()

    def _write(self) -> None:
        if not self._held:
            return
        text = "".join(self._held)
        self._held.clear()
        self._size = 0
        stream: Any = self.stream
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: the lines are lost, the process goes on
            pass

    def _start_flusher(self) -> None:
        self._stop = stop = threading.Event()  # (each thread its own: a closed handler's ends)
        self._flusher = threading.Thread(
            target=self._keep_flushing, args=(stop,), name="cliproxy-log-flush", daemon=True
        )
        self._flusher.start()

    def _keep_flushing(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.flush()

    def _in_child(self) -> None:
        self._held.clear()  # (the parent wrote them)
        self._size = 0
        self._flusher = None  # the thread stayed in the parent; started again on the next line


_handlers: weakref.WeakSet[BatchingStreamHandler] = weakref.WeakSet()
_hooked = False


def _watch_forks(handler: BatchingStreamHandler) -> None:
    """Track ``handler`` for the fork and exit hooks (installed with the first handler)."""
    global _hooked
    _handlers.add(handler)
    if not _hooked:
        _hooked = True
        atexit.register(_flush_all)  # (logging.shutdown flushes only the handlers it still lists)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_flush_all, after_in_child=_in_child)


def _flush_all() -> None:
    for handler in list(_handlers):
        handler.flush()


def _in_child() -> None:
    for handler in list(_handlers):
        handler._in_child()
