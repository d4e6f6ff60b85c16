"""What the gateway served lately, for the web panel: a per-minute series and the last requests.

One :class:`Activity` per gateway, in memory, per process, bounded: :data:`MINUTES`
minutes of counts (requests, errors, tokens, estimated cost, per door and per provider)
and the last :data:`RECENT` requests (status, model, credential, duration, tokens, the
error). A door hands it each finished request (:meth:`Activity.record`) -- only while the
management API is on (``remote-management.secret-key``), so a gateway without it does no
work for it. ``GET /v0/management/activity`` and ``/v0/management/requests`` read it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from cliproxy.exchange import CLIENT_LEFT, NONE, Exchange
from cliproxy.pricing import nanos_to_usd

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["MINUTES", "RECENT", "Activity", "Minute", "note_activity"]

log = logging.getLogger("cliproxy.activity")

MINUTES = 180
"""Minutes of counts kept (three hours)."""

RECENT = 500
"""Requests kept in the recent list."""

_MAX_ERROR = 300
_FIELDS = (
    "id",
    "time",
    "door",
    "client",
    "model",
    "provider",
    "credential",
    "credential_id",
    "upstream_model",
    "status",
    "upstream_status",
    "attempts",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "error",
    "kept",
)
_MAX_NAMES = 64  # distinct doors / providers counted per minute; later ones go under "other"


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@attrs.define
class Minute:
    """The counts of one minute (``start``: its first second, epoch)."""

    start: int
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nanos: int = 0
    doors: dict[str, int] = attrs.Factory(dict)
    providers: dict[str, int] = attrs.Factory(dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": _iso(self.start),
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": nanos_to_usd(self.cost_nanos),
            "doors": dict(self.doors),
            "providers": dict(self.providers),
        }


def _count(counts: dict[str, int], name: str) -> None:
    if name not in counts and len(counts) >= _MAX_NAMES:
        name = "other"
    counts[name] = counts.get(name, 0) + 1


class Activity:
    """The per-minute counts and the recent requests of one gateway process."""

    def __init__(self, *, minutes: int = MINUTES, recent: int = RECENT) -> None:
        self._minutes: deque[Minute] = deque(maxlen=minutes)
        self._recent: deque[tuple[Any, ...]] = deque(maxlen=recent)
        self.kept_minutes = minutes

    def record(self, exchange: Exchange, *, now: float, cost_nanos: int | None, kept: bool) -> None:
        """Count one finished request (``kept``: its request log was written)."""
        start = int(now // 60) * 60
        minute = self._minutes[-1] if self._minutes else None
        if minute is None or minute.start != start:
            minute = Minute(start)
            self._minutes.append(minute)
        status = exchange.final_status
        usage = exchange.usage
        tokens_in = (usage.input_tokens or 0) if usage is not None else 0
        tokens_out = (usage.output_tokens or 0) if usage is not None else 0
        minute.requests += 1
        minute.errors += int(status >= 400)
        minute.input_tokens += tokens_in
        minute.output_tokens += tokens_out
        minute.cost_nanos += cost_nanos or 0
        _count(minute.doors, exchange.door)
        _count(minute.providers, exchange.provider)
        self._recent.append(
            (
                exchange.request_id,
                now,
                exchange.door,
                exchange.client,
                exchange.model,
                exchange.provider,
                exchange.credential,
                exchange.credential_id,
                exchange.upstream_model,
                status,
                exchange.upstream_status,
                exchange.attempts,
                (time.perf_counter() - exchange.start) * 1000.0,
                tokens_in,
                tokens_out,
                exchange.error,
                kept,
            )
        )

    def minutes(self, count: int, now: float) -> list[dict[str, Any]]:
        """The last ``count`` minutes up to ``now``, oldest first, quiet ones as zeros."""
        count = max(1, min(count, self.kept_minutes))
        last = int(now // 60) * 60
        found = {m.start: m for m in self._minutes}
        return [found.get(start, Minute(start)).as_dict() for start in range(last - 60 * (count - 1), last + 1, 60)]

    def recent(self) -> Iterator[dict[str, Any]]:
        """The kept requests, newest first (made readable here, not on the request's path)."""
        for entry in reversed(self._recent):
            found = dict(zip(_FIELDS, entry, strict=True))
            found["time"] = _iso(found["time"])
            found["duration_ms"] = round(found["duration_ms"], 1)
            if found["error"] is not None:
                found["error"] = found["error"][:_MAX_ERROR]
            yield found


def note_activity(activity: Activity, config: Config, now: float, exchange: Exchange) -> None:
    """Count a finished request in ``activity``, with the cost the lasting usage gave it
    and whether its request log was kept under ``config`` (as
    :func:`cliproxy.request_log.keep_request` decides). Never raises: the panel's counts
    must not fail a request."""
    try:
        settings = config.request_logs
        status = exchange.final_status
        kept = settings.dir is not None and (
            exchange.capture is not None
            or (status >= 400 and status != CLIENT_LEFT and exchange.client != NONE and settings.error_max_files > 0)
        )
        activity.record(exchange, now=now, cost_nanos=exchange.cost, kept=kept)
    except Exception:
        log.exception("activity: could not count request %s", exchange.request_id)
