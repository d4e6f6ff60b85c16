"""The gateway's own log: its format and level, in a file (``logging.file``), and
reading its end back.

:func:`configure_logging` applies ``logging:`` to a serving process: the format
(``text``, or ``json`` lines, see :mod:`cliproxy.log_json`) of the log on stderr, the
level, and the file. :func:`add_log_file` makes ``cliproxy serve`` write its log -- the same lines as on
stderr, each with its request id -- to ``logging.file`` as well, rotated at
``logging.max-size-mb`` with ``logging.backups`` old files kept, so it never grows
without bound. :func:`tail` reads the last lines (or those after an offset, to follow
it); it does file I/O, so call it from a worker thread.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from cliproxy.config import LoggingConfig
from cliproxy.log_output import LineFormatter
from cliproxy.logs import FORMAT, RequestIdFilter

__all__ = ["MAX_TAIL_BYTES", "add_log_file", "configure_logging", "formatter", "tail"]

MAX_TAIL_BYTES = 1024 * 1024
"""Bytes of the file one :func:`tail` reads at most."""


def formatter(config: LoggingConfig) -> logging.Formatter:
    """The formatter of ``config.format``."""
    if config.format == "json":
        from cliproxy.log_json import JsonFormatter

        return JsonFormatter()
    return LineFormatter(FORMAT)


def configure_logging(config: LoggingConfig, *, level: str | None = None) -> logging.Handler | None:
    """Apply ``config`` to this process's log: the format of the handlers
    :func:`cliproxy.logs.setup_logging` installed, the level (``level``, from the command
    line, wins over ``config.level``), and the file (returned, when there is one)."""
    root = logging.getLogger()
    chosen = level or config.level
    if chosen:
        root.setLevel(getattr(logging, chosen.upper(), logging.INFO))
    if config.format != "text":
        for handler in root.handlers:
            if any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.setFormatter(formatter(config))
    return add_log_file(config)


def add_log_file(config: LoggingConfig) -> logging.Handler | None:
    """Log to ``config.file`` too (see the module doc); the handler, or None when no file
    is configured."""
    if config.file is None:
        return None
    path = Path(config.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=int(config.max_size_mb * 1024 * 1024), backupCount=config.backups, encoding="utf-8"
    )
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter(config))
    logging.getLogger().addHandler(handler)
    return handler


def tail(path: str, *, lines: int = 200, after: int | None = None) -> dict[str, Any]:
    """The end of the log file at ``path``: its last ``lines`` lines, or -- with
    ``after``, an offset a previous call returned -- the complete lines written since
    (from the start when the file was rotated meanwhile). At most
    :data:`MAX_TAIL_BYTES` are read.

    Returns ``{"file", "size", "offset", "lines", "rotated"}``; ``offset`` is where the
    next call continues.

    Raises:
        FileNotFoundError: No log file (yet).
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        rotated = after is not None and after > size
        if after is None:
            start = max(0, size - MAX_TAIL_BYTES)
        else:
            start = 0 if rotated else after
        file.seek(start)
        data = file.read(min(MAX_TAIL_BYTES, size - start))
    end = data.rfind(b"\n") + 1  # complete lines only; the rest is read next time
    texts = data[:end].decode("utf-8", "replace").splitlines()
    if after is None:
        if start > 0 and texts:
            texts = texts[1:]  # the first line read may be cut
        texts = texts[-lines:] if lines > 0 else []
    return {"file": path, "size": size, "offset": start + end, "lines": texts, "rotated": rotated}
