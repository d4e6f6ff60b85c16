"""JSON lines for the gateway's log (``logging.format: json``).

Each record becomes one JSON object on one line: ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``request_id`` and ``message``, plus ``exception`` when there is
one. The access log line of a request (``cliproxy.access``) also carries its fields
apart -- ``door``, ``client``, ``status``, ``model``, ``provider``, ``credential`` (the
label, never the key), ``upstream_model``, ``upstream_status``, ``attempts``,
``input_tokens``, ``output_tokens``, ``duration_ms`` and ``error`` -- so a log pipeline
needs no parsing. The text is what the text format shows: secrets are kept out of it
where it is written, as for the text format (see docs/security.md).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import orjson

from cliproxy.exchange import NONE

__all__ = ["JsonFormatter"]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", NONE),
            "message": record.getMessage(),
        }
        exchange = getattr(record, "exchange", None)
        if exchange is not None:
            usage = exchange.usage
            line.update(
                door=exchange.door,
                client=exchange.client,
                status=exchange.final_status,
                model=exchange.model,
                provider=exchange.provider,
                credential=exchange.credential,
                upstream_model=exchange.upstream_model,
                upstream_status=exchange.upstream_status or None,
                attempts=exchange.attempts,
                input_tokens=None if usage is None else usage.input_tokens,
                output_tokens=None if usage is None else usage.output_tokens,
                duration_ms=getattr(record, "duration_ms", None),
                error=exchange.error[:200] if exchange.error else None,
            )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line, default=str).decode()


def _utc(created: float) -> str:
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@functools.lru_cache(maxsize=4)  # (a second's lines share their date and time)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
