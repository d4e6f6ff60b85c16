"""Gemini streams: upstream bytes -> IR events, and IR events -> a Gemini client's stream.

Decoding reads ``streamGenerateContent?alt=sse`` (``data: <GenerateContentResponse>``
events, LF or CRLF framing, no terminator) and, should an upstream ignore ``alt=sse``, the
JSON-array form too. The stream is complete once a chunk carried ``finishReason``; one that
ends without it is reported as a failure. An ``{"error": ...}`` event ends the stream with
that error.

Encoding writes what Gemini writes: one ``GenerateContentResponse`` per event batch, text
and thoughts as they arrive, each function call whole once its arguments are complete, a
``thoughtSignature`` on an empty part at the end of its block, and a last chunk with
``finishReason`` and ``usageMetadata``. Server-sent events for ``alt=sse`` (what the
google-genai SDK and Gemini CLI ask for); without ``alt=sse`` a JSON array, as Gemini
answers then. A failure after the stream started is sent as one more element,
``{"error": {...}}`` (google.rpc.Status), and the stream ends there -- the google-genai SDK
raises it as an ``APIError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FileOutput,
    ReasoningDelta,
    ReasoningEnd,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    Usage,
    merge_metadata,
)
from cliproxy.ir.parts import Metadata
from cliproxy.sse import SSEParser
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.gemini.common import encode_finish, encode_usage, signature_of
from cliproxy.wire.gemini.errors import encode_error, error_from_status
from cliproxy.wire.gemini.parts import encode_call, encode_file
from cliproxy.wire.gemini.response import ResponseReader, client_call_id, wants_thoughts

__all__ = ["GeminiStreamDecoder", "GeminiStreamEncoder", "JsonArraySplitter"]


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


@attrs.define
class _Call:
    id: str
    name: str
    metadata: Metadata
    chunks: list[str] = attrs.Factory(list)


class GeminiStreamEncoder:
    """IR events -> a Gemini client's stream (see :class:`cliproxy.StreamEncoder`)."""

    def __init__(self, ctx: EncodeContext, *, sse: bool = True) -> None:
        self.media_type = "text/event-stream" if sse else "application/json"
        self._sse = sse
        self._model = ctx.model
        self._thoughts = wants_thoughts(ctx.body)
        self._id = c.new_id("")
        self._calls: dict[int, _Call] = {}
        self._frames = 0
        self._done = False

    def _frame(self, data: bytes) -> bytes:
        self._frames += 1
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        return (b"[" if self._frames == 1 else b",\r\n") + data

    def _chunk(
        self,
        parts: list[dict[str, Any]],
        finish: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        obj: dict[str, Any] = {"candidates": [candidate]}
        if usage is not None:
            obj["usageMetadata"] = usage
        obj["modelVersion"] = self._model
        obj["responseId"] = self._id
        return self._frame(orjson.dumps(obj))

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        parts: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, TextDelta):
                _add_text(parts, event.text, thought=False)
            elif isinstance(event, ReasoningDelta):
                if self._thoughts:
                    _add_text(parts, event.text, thought=True)
            elif isinstance(event, TextEnd | ReasoningEnd):
                signature = signature_of(event.provider_metadata)
                if signature is not None:
                    part: dict[str, Any] = {"text": "", "thoughtSignature": signature}
                    if isinstance(event, ReasoningEnd):
                        part["thought"] = True
                    parts.append(part)
            elif isinstance(event, ToolCallStart):
                self._calls[event.index] = _Call(event.id, event.name, event.provider_metadata)
            elif isinstance(event, ToolCallDelta):
                call = self._calls.get(event.index)
                if call is not None:
                    call.chunks.append(event.arguments)
            elif isinstance(event, ToolCallEnd):
                call = self._calls.pop(event.index, None)
                if call is not None:
                    meta = merge_metadata(call.metadata, event.provider_metadata)
                    tool = ToolCallPart(call.id, call.name, "".join(call.chunks), meta)
                    parts.append(encode_call(tool, with_id=client_call_id(tool)))
            elif isinstance(event, FileOutput):
                parts.append(encode_file(event.part))
            elif isinstance(event, StreamStart):
                if event.id:
                    self._id = event.id
            elif isinstance(event, StreamFinish):
                self._done = True
                out.append(
                    self._chunk(
                        parts or [{"text": ""}],
                        encode_finish(event.finish),
                        encode_usage(event.usage),
                    )
                )
                return b"".join(out)
            elif isinstance(event, StreamError):
                self._done = True
                if parts:
                    out.append(self._chunk(parts))
                out.append(self._frame(encode_error(event.error)))
                return b"".join(out)
        if parts:
            out.append(self._chunk(parts))
        return b"".join(out)

    def close(self) -> bytes:
        if self._sse:
            return b""
        return b"[]" if self._frames == 0 else b"]"


def _add_text(parts: list[dict[str, Any]], text: str, *, thought: bool) -> None:
    if not text:
        return
    last = parts[-1] if parts else None
    if (
        last is not None
        and "text" in last
        and "thoughtSignature" not in last
        and (last.get("thought") is True) == thought
    ):
        last["text"] += text
        return
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    parts.append(part)
