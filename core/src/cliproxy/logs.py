"""Logging for ``cliproxy serve``: every line of a request carries its request id.

:class:`RequestIdFilter` puts the id of the request being served (the one in its
``x-request-id`` response header, see :mod:`cliproxy.exchange`) on each log record as
``request_id`` ("-" outside a request). :func:`setup_logging` installs it with a format
that shows it; an app embedding the gateway adds the filter to its own handlers and puts
``%(request_id)s`` in its format.
"""

from __future__ import annotations

import logging
import sys

from cliproxy.exchange import current
from cliproxy.log_output import BatchingStreamHandler, LineFormatter

__all__ = ["FORMAT", "RequestIdFilter", "setup_logging"]

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the request being served, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        exchange = current.get()
        record.request_id = "-" if exchange is None else exchange.request_id
        return True


def setup_logging(level: str) -> None:
    """Log to stderr at ``level``, each line with its request id: at once on a terminal,
    else in batches (see :mod:`cliproxy.log_output`)."""
    handler = BatchingStreamHandler(sys.stderr, interval=0.0 if _is_terminal(sys.stderr) else 0.5)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(LineFormatter(FORMAT))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):
        return False
