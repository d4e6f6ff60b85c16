"""Mending Copilot's event streams on their way through, byte stream to byte stream.

* Copilot's Responses API gives an output item a new id in every event (and the response
  a new id in every ``response.*`` event). :class:`StableIds` gives each item the id of
  its first event, per ``output_index``, and the response the id it was created with, so
  clients that correlate by id (a Responses client the bytes pass through to, as much as
  the gateway's own decoder) see one item where there is one.
* Claude on ``/chat/completions`` may put a reply's tool calls in another choice than its
  text; :class:`OneChoice` numbers every choice 0, so the reply arrives whole.

:func:`rewrite_events` applies such a fix to each ``data:`` line of a stream: lines it
leaves alone are forwarded byte for byte, the others re-encoded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from cliproxy import ErrorKind, GatewayError

from cliproxy_copilot.settings import PROVIDER

__all__ = ["MAX_LINE", "OneChoice", "StableIds", "rewrite_events"]

MAX_LINE = 16 * 1024 * 1024
"""The longest stream line held while waiting for its end (the gateway's own limit)."""

Fix = Callable[[dict[str, Any]], bool]
"""Changes one event in place; True when it changed something. A fix may also have
``skips(line) -> bool``: True for a line it would leave alone (not parsed at all)."""


def _fixed_line(line: bytes, fix: Fix) -> bytes:
    """``line`` (without its newline), with its event fixed if it is a ``data:`` line."""
    if not line.startswith(b"data:"):
        return line
    skip = getattr(fix, "skips", None)
    if skip is not None and skip(line):
        return line
    payload = line[5:]
    end = b"\r" if payload.endswith(b"\r") else b""
    payload = payload[:-1] if end else payload
    if not payload.strip().startswith(b"{"):
        return line
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(event, dict) or not fix(event):
        return line
    return b"data: " + orjson.dumps(event) + end


async def rewrite_events(chunks: AsyncIterator[bytes], fix: Fix) -> AsyncIterator[bytes]:
    """``chunks`` with ``fix`` applied to every event; complete lines are sent on as soon
    as they arrive, a line still open waits for its end (at most :data:`MAX_LINE`)."""
    held = b""
    async for chunk in chunks:
        data = held + chunk if held else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE:
                raise GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message=f"{PROVIDER} sent a stream line longer than {MAX_LINE // (1024 * 1024)} MB",
                    provider=PROVIDER,
                )
            held = data
            continue
        held = data[cut + 1 :]
        lines = data[: cut + 1].split(b"\n")
        lines.pop()  # the empty piece after the last newline
        yield b"\n".join(_fixed_line(line, fix) for line in lines) + b"\n"
    if held:
        yield _fixed_line(held, fix)


class StableIds:
    """One id per Responses output item (by ``output_index``) and per response."""

    __slots__ = ("_items", "_response")

    def __init__(self) -> None:
        self._items: dict[int, str] = {}
        self._response: str | None = None

    def _stable(self, index: Any, container: dict[str, Any], key: str) -> bool:
        value = container.get(key)
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(value, str):
            return False
        first = self._items.setdefault(index, value)
        if value == first:
            return False
        container[key] = first
        return True

    def __call__(self, event: dict[str, Any]) -> bool:
        changed = False
        response = event.get("response")
        if isinstance(response, dict):
            rid = response.get("id")
            if isinstance(rid, str):
                if self._response is None:
                    self._response = rid
                elif rid != self._response:
                    response["id"] = self._response
                    changed = True
            output = response.get("output")
            if isinstance(output, list):
                for index, item in enumerate(output):
                    if isinstance(item, dict):
                        changed = self._stable(index, item, "id") or changed
        position = event.get("output_index")
        item = event.get("item")
        if isinstance(item, dict):
            changed = self._stable(position, item, "id") or changed
        return self._stable(position, event, "item_id") or changed


_OTHER_INDEX = re.compile(rb'"index"\s*:\s*[1-9]')


class OneChoice:
    """Every chat stream choice numbered 0 (Copilot's split Claude replies)."""

    __slots__ = ()

    @staticmethod
    def skips(line: bytes) -> bool:
        """A line with no index other than 0 needs no parsing."""
        return _OTHER_INDEX.search(line) is None

    def __call__(self, event: dict[str, Any]) -> bool:
        choices = event.get("choices")
        changed = False
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and choice.get("index", 0) != 0:
                choice["index"] = 0
                changed = True
        return changed
