"""Gemini streams from upstreams -> IR events.

Decoding reads ``streamGenerateContent?alt=sse`` (``data: <GenerateContentResponse>``
events, LF or CRLF framing, no terminator) and, should an upstream ignore ``alt=sse``, the
JSON-array form too. The stream is complete once a chunk carried ``finishReason``; one that
ends without it is reported as a failure. An ``{"error": ...}`` event ends the stream with
that error.
"""

from __future__ import annotations

from collections.abc import Mapping

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    StreamError,
    StreamEvent,
    Usage,
)
from cliproxy.sse import SSEParser
from cliproxy.wire import common as c
from cliproxy.wire.gemini.errors import error_from_status
from cliproxy.wire.gemini.response import ResponseReader

__all__ = ["GeminiStreamDecoder", "JsonArraySplitter"]


class JsonArraySplitter:
    """Cuts a streamed JSON array (``[{...},\\r\\n{...}]``) into its elements' bytes."""

    __slots__ = ("_buffer", "_depth", "_escape", "_in_string", "_start")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._start: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        offset = len(self._buffer)
        self._buffer += data
        buffer = self._buffer
        for i in range(offset, len(buffer)):
            ch = buffer[i]
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif ch == 0x5C:  # backslash
                    self._escape = True
                elif ch == 0x22:
                    self._in_string = False
                continue
            if ch == 0x22:
                self._in_string = True
            elif ch in (0x7B, 0x5B):  # { [
                self._depth += 1
                if self._depth == 2 and self._start is None:
                    self._start = i
            elif ch in (0x7D, 0x5D):  # } ]
                self._depth -= 1
                if self._depth == 1 and self._start is not None:
                    out.append(bytes(buffer[self._start : i + 1]))
                    self._start = None
        keep = self._start if self._start is not None else len(buffer)
        if keep:
            del buffer[:keep]
            if self._start is not None:
                self._start = 0
        return out


class GeminiStreamDecoder:
    """Gemini stream bytes -> IR events (see :class:`cliproxy.StreamDecoder`)."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._array: JsonArraySplitter | None = None
        self._sniffed = False
        self._reader = ResponseReader()
        self._done = False

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if not self._sniffed:
            stripped = data.lstrip()
            if not stripped:
                return out
            self._sniffed = True
            if stripped[:1] == b"[":
                self._array = JsonArraySplitter()
        if self._array is not None:
            for element in self._array.feed(data):
                self._event(element, out)
        else:
            for event in self._sse.feed(data):
                self._event(event.data, out)
        return out

    def usage_so_far(self) -> Usage:
        """The usage the stream reported so far (what a stream that failed midway used)."""
        return self._reader.usage

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self._array is None:
            for event in self._sse.close():
                self._event(event.data, out)
        if self._done:
            return out
        self._done = True
        if self._reader.finished:
            self._reader.finish(out)
        else:
            out.append(
                StreamError(
                    GatewayError(
                        status=502,
                        kind=ErrorKind.UPSTREAM,
                        message="the Gemini stream ended before the response was complete (no finishReason)",
                    )
                )
            )
        return out

    def _event(self, data: bytes, out: list[StreamEvent]) -> None:
        if self._done:
            return
        try:
            obj = c.loads(data)
        except ValueError:
            return  # keep-alive noise
        for chunk in obj if isinstance(obj, list) else [obj]:
            if not isinstance(chunk, Mapping):
                continue
            error = chunk.get("error")
            if isinstance(error, Mapping):
                self._done = True
                code = error.get("code")
                status = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 502
                out.append(StreamError(error_from_status(status, chunk)))
                return
            self._reader.read(chunk, out)
