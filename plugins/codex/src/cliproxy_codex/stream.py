"""The Codex backend's event stream on its way to the gateway: cut at event boundaries,
passed on unchanged but for the final event.

The backend's ``response.completed`` may carry an incomplete ``output`` (often empty): a
client that reads its answer from that event alone -- the ``openai`` SDK's
``get_final_response()``, the gateway's own Responses store -- would lose it. The items
came in ``response.output_item.done`` events, so the final event is rebuilt from them, in
``output_index`` order, whenever it holds fewer. Nothing is parsed but those events (their
``output_index`` is read from the bytes), and what is held is bounded.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import orjson
from cliproxy import ErrorKind, GatewayError

from cliproxy_codex.settings import PROVIDER

__all__ = ["MAX_EVENT", "MAX_ITEMS", "PREAMBLE", "Event", "EventStream"]

MAX_EVENT = 16 * 1024 * 1024
"""Bytes of one event held while waiting for its end."""
MAX_ITEMS = 16 * 1024 * 1024
"""Bytes of finished output items held to rebuild a final event; past it, none is rebuilt."""
PREAMBLE = frozenset({"response.created", "response.in_progress", "codex.rate_limits", "codex.response.metadata", ""})
"""Events before a response's first content (a failure before any content can fail over)."""
FINAL = (b"response.completed", b"response.incomplete")
_ITEM_DONE = b"response.output_item.done"
_INDEX = re.compile(rb'"output_index"\s*:\s*(\d+)')
_TYPE = re.compile(rb'"type"\s*:\s*"([a-zA-Z0-9_.]+)"')


@attrs.define(slots=True)
class Event:
    """One SSE event: its name (the ``event:`` line, else its data's ``type``) and bytes."""

    name: str
    raw: bytes

    def data(self) -> Any:
        """The parsed ``data:`` payload (None when it is not JSON)."""
        lines = [line[5:].lstrip(b" ") for line in self.raw.split(b"\n") if line.startswith(b"data:")]
        try:
            return orjson.loads(b"\n".join(lines)) if lines else None
        except orjson.JSONDecodeError:
            return None


def _name(raw: bytes) -> str:
    if raw.startswith(b"event:"):
        return raw[6 : raw.find(b"\n") if b"\n" in raw else len(raw)].strip().decode("ascii", "replace")
    at = raw.find(b"\nevent:")
    if at >= 0:
        end = raw.find(b"\n", at + 1)
        return raw[at + 7 : end if end >= 0 else len(raw)].strip().decode("ascii", "replace")
    found = _TYPE.search(raw)
    return found.group(1).decode("ascii") if found else ""


class EventStream:
    """Splits the backend's bytes into events and rebuilds an incomplete final event."""

    def __init__(self) -> None:
        self._rest = b""
        self._items: dict[int, bytes] = {}  # output_index -> the raw output_item.done event
        self._held = 0
        self._overflow = False

    def feed(self, chunk: bytes) -> list[Event]:
        """The whole events ``chunk`` completes (a final event rebuilt if need be)."""
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._rest + chunk if self._rest else chunk
        cut = data.rfind(b"\n\n")
        if cut < 0:
            if len(data) > MAX_EVENT:
                raise _too_large()
            self._rest = data
            return []
        self._rest = data[cut + 2 :]
        if len(self._rest) > MAX_EVENT:
            raise _too_large()
        return [self._event(raw) for raw in data[: cut + 2].split(b"\n\n") if raw.strip()]

    def close(self) -> list[Event]:
        """The last event, if the stream ended without a blank line."""
        rest, self._rest = self._rest, b""
        return [self._event(rest)] if rest.strip() else []

    def _event(self, raw: bytes) -> Event:
        name = _name(raw)
        event = Event(name, raw + b"\n\n")
        if name == "response.output_item.done":
            self._hold(event.raw)
        elif name.encode() in FINAL:
            event.raw = self._final(event)
        return event

    def _hold(self, raw: bytes) -> None:
        if self._overflow:
            return
        found = _INDEX.search(raw)
        if found is None:
            return
        self._held += len(raw)
        if self._held > MAX_ITEMS:
            self._overflow = True
            self._items.clear()
            return
        self._items[int(found.group(1))] = raw

    def _final(self, event: Event) -> bytes:
        """The final event, its ``output`` rebuilt from the finished items when it holds
        fewer; always with an ``event:`` line (what the gateway's store looks for)."""
        obj = event.data()
        response = obj.get("response") if isinstance(obj, dict) else None
        if not isinstance(response, dict):
            return event.raw
        output = response.get("output")
        have = len(output) if isinstance(output, list) else 0
        items = [] if self._overflow or len(self._items) <= have else self._finished_items()
        if len(items) <= have:
            items = []
        if not items and event.raw.startswith(b"event:"):
            return event.raw
        if items:
            obj = {**obj, "response": {**response, "output": items}}
        return b"event: " + event.name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"

    def _finished_items(self) -> list[Any]:
        items = []
        for index in sorted(self._items):
            data = Event("", self._items[index]).data()
            item = data.get("item") if isinstance(data, dict) else None
            if isinstance(item, dict):
                items.append(item)
        return items


def _too_large() -> GatewayError:
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"the Codex backend sent an event larger than {MAX_EVENT // 1048576} MB",
        provider=PROVIDER,
    )
