"""IR events -> a Gemini client's stream.

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

from collections.abc import Iterable
from typing import Any

import attrs
import orjson
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
    merge_metadata,
)
from cliproxy.ir.parts import Metadata
from cliproxy.translate import EncodeContext, StreamEncoder
from cliproxy.wire import common as c
from cliproxy.wire.gemini.common import encode_finish, encode_usage, signature_of
from cliproxy.wire.gemini.errors import encode_error

__all__ = ["GeminiStreamEncoder"]
from cliproxy.wire.gemini.parts import encode_call, encode_file
from cliproxy.wire.gemini.response import client_call_id, wants_thoughts


@attrs.define
class _Call:
    id: str
    name: str
    metadata: Metadata
    chunks: list[str] = attrs.Factory(list)


class GeminiStreamEncoder(StreamEncoder):
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
