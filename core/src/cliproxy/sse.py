"""Server-sent events at the byte level: an incremental parser and the framing helpers.

The parser follows the WHATWG event-stream rules that matter for LLM APIs: events end at a
blank line (LF, CRLF or CR line endings, mixed freely), ``data`` lines join with a newline,
lines starting with ``:`` are comments (keep-alives such as ``: OPENROUTER PROCESSING``)
and are dropped, and bytes may be split anywhere between ``feed`` calls.
"""

from __future__ import annotations

from typing import NamedTuple

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["KEEPALIVE_COMMENT", "MAX_LINE", "SSEEvent", "SSEParser", "frame", "line_too_long"]

KEEPALIVE_COMMENT = b": keepalive\n\n"
"""An SSE comment: the keepalive of the OpenAI and Gemini doors' event streams (every
event-stream parser drops comments)."""


class SSEEvent(NamedTuple):
    """One dispatched event: its ``event`` name (None when unnamed) and ``data`` bytes.

    A named tuple rather than an attrs class: one is made per event on the hot path.
    """

    event: str | None
    data: bytes


MAX_LINE = 16 * 1048576
"""The longest line an event stream may send: a stream that sends more without a line
break is refused rather than held in memory."""


def line_too_long() -> GatewayError:
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"the upstream sent a stream line longer than {MAX_LINE // 1048576} MB",
    )


_event = tuple.__new__  # SSEEvent(name, data) without the named tuple's Python-level __new__
_NAMES: dict[bytes, str] = {}  # event names seen, decoded once (a few dozen at most)


def frame(data: bytes, event: str | None = None) -> bytes:
    """Frame one event; ``data`` must not contain newlines (compact JSON never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class SSEParser:
    """Incremental SSE parser: ``feed(bytes) -> list[SSEEvent]``."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if len(buffer) > MAX_LINE and b"\n" not in buffer and b"\r" not in buffer:
            raise line_too_long()
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF: keep it for later.
            if buffer.endswith(b"\r"):
                self._buffer = b"\r"
                buffer = buffer[:-1]
            else:
                self._buffer = b""
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buffer.split(b"\n")
            self._buffer = lines.pop() + self._buffer
            out: list[SSEEvent] = []
            self._lines(lines, out)
            return out
        if self._data or self._event is not None:  # mid-event: line by line
            lines = buffer.split(b"\n")
            self._buffer = lines.pop()
            out = []
            self._lines(lines, out)
            return out
        return self._blocks(buffer)

    def _blocks(self, buffer: bytes) -> list[SSEEvent]:
        """Parse LF-only bytes that start at an event boundary, a whole event at a time:
        the usual ``data: ...`` and ``event: ...`` + ``data: ...`` events are cut out by
        search; anything else goes through the line rules."""
        blocks = buffer.split(b"\n\n")
        tail = blocks.pop()
        out: list[SSEEvent] = []
        names = _NAMES
        for block in blocks:
            if block.startswith(b"data: "):
                if b"\n" not in block:
                    out.append(_event(SSEEvent, (None, block[6:])))
                    continue
            elif block.startswith(b"event: "):
                nl = block.find(b"\n")
                if nl > 0 and block.startswith(b"data: ", nl + 1) and block.find(b"\n", nl + 1) < 0:
                    raw = block[7:nl]
                    name = names.get(raw)
                    if name is None:
                        name = raw.decode("utf-8", "replace")
                        if len(names) < 64:
                            names[raw] = name
                    out.append(_event(SSEEvent, (name, block[nl + 7 :])))
                    continue
            lines = block.split(b"\n")
            lines.append(b"")
            self._lines(lines, out)
        lines = tail.split(b"\n")
        self._buffer = lines.pop()
        if lines:
            self._lines(lines, out)
        return out

    def _lines(self, lines: list[bytes], out: list[SSEEvent]) -> None:
        data = self._data
        for line in lines:  # the common lines (data, event, blank) inline; the rest in _line
            if line.startswith(b"data: "):
                data.append(line[6:])
            elif line.startswith(b"event: "):
                self._event = line[7:].decode("utf-8", "replace")
            elif not line:
                if data:
                    out.append(_event(SSEEvent, (self._event, data[0] if len(data) == 1 else b"\n".join(data))))
                    data = self._data = []
                self._event = None
            else:
                self._line(line, out)
                data = self._data

    def close(self) -> list[SSEEvent]:
        """Flush an event the upstream did not terminate with a blank line."""
        out: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer.rstrip(b"\r"), out)
            self._buffer = b""
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            data = self._data
            if data:
                out.append(_event(SSEEvent, (self._event, data[0] if len(data) == 1 else b"\n".join(data))))
                self._data = []
            self._event = None
            return
        if line[0] == 58:  # ":" comment
            return
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        # "id" and "retry" carry nothing an LLM stream needs.
