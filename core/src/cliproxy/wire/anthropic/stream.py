"""Anthropic message streams <-> IR stream events.

The decoder turns ``message_start`` / ``content_block_*`` / ``message_delta`` /
``message_stop`` into IR events. Every ``input_json_delta`` becomes its own
:class:`ToolCallDelta` the moment it arrives. Text and thinking blocks open on their first
delta, so an upstream that fails right after ``content_block_start`` can still be failed
over. A thinking block's signature (``signature_delta``) rides on its
:class:`ReasoningEnd`.

The encoder writes the exact event sequence Anthropic clients expect, one
``content_block_start``/``stop`` pair per block with indexes counting from 0, a
``signature_delta`` closing every thinking block (an empty signature when the reasoning
came from another provider, or Gemini's values sealed), and ``message_delta`` with the
final usage. A tool call with a Gemini signature is preceded by a carrier block (a thinking
block with no text and a sealed signature naming the call), or followed by one when the
signature comes with the call's end; a text block with a Gemini signature (which comes
with the block's end) is followed by one; see :mod:`cliproxy.wire.sealed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FileOutput,
    Finish,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    merge_metadata,
)
from cliproxy.sse import SSEParser, frame
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.anthropic import blocks as b
from cliproxy.wire.anthropic.blocks import WIRE
from cliproxy.wire.anthropic.errors import encode_error, error_from_body
from cliproxy.wire.anthropic.response import (
    encode_usage,
    finish_from,
    stop_reason,
    stop_sequence_of,
)

__all__ = ["MessageStreamDecoder", "MessageStreamEncoder"]


class _Block:
    """One upstream content block being decoded."""

    __slots__ = ("index", "kind", "meta", "opened", "tool_input_sent")

    def __init__(self, kind: str, index: int, meta: Any = None) -> None:
        self.kind = kind  # text | reasoning | tool
        self.index = index
        self.meta = meta
        self.opened = False
        self.tool_input_sent = False


class MessageStreamDecoder:
    """Anthropic SSE bytes -> IR events (see :class:`cliproxy.StreamDecoder`)."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._blocks: dict[int, _Block] = {}
        self._next_index = 0
        self._done = False
        self._started = False
        self._finish: Finish | None = None
        self._stop_sequence: str | None = None
        self._input: int | None = None
        self._read: int | None = None
        self._write: int | None = None
        self._output: int | None = None

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(data):
            if not self._done:
                self._event(event.event, event.data, out)
        return out

    def usage_so_far(self) -> Usage:
        """The usage the stream reported so far (what a stream that failed midway used)."""
        return self._usage_now()

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.close():
            if not self._done:
                self._event(event.event, event.data, out)
        if not self._done:
            self._close_blocks(out, failed=True)
            self._done = True
            out.append(
                StreamError(
                    GatewayError(
                        status=502,
                        kind=ErrorKind.UPSTREAM,
                        message="the upstream stream ended before message_stop; the response is incomplete",
                    )
                )
            )
        return out

    # -- events ---------------------------------------------------------------------

    def _event(self, name: str | None, data: bytes, out: list[StreamEvent]) -> None:
        try:
            obj = orjson.loads(data)
        except ValueError:
            return  # not JSON: keep-alive noise
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if kind == "content_block_delta":
            self._delta(obj, out)
        elif kind == "content_block_start":
            self._block_start(obj, out)
        elif kind == "content_block_stop":
            index = obj.get("index")
            block = self._blocks.pop(index, None) if isinstance(index, int) else None
            if block is not None:
                self._end(block, out)
        elif kind == "message_start":
            message = obj.get("message") if isinstance(obj.get("message"), dict) else {}
            self._usage(message.get("usage"))
            if not self._started:
                self._started = True
                out.append(StreamStart(id=message.get("id") or None, model=message.get("model") or None))
        elif kind == "message_delta":
            delta = obj.get("delta") if isinstance(obj.get("delta"), dict) else {}
            if delta.get("stop_reason"):
                self._finish = finish_from(delta["stop_reason"])
            if isinstance(delta.get("stop_sequence"), str):
                self._stop_sequence = delta["stop_sequence"]
            self._usage(obj.get("usage"))
        elif kind == "message_stop":
            self._close_blocks(out)
            self._done = True
            meta = {WIRE: {"stop_sequence": self._stop_sequence}} if self._stop_sequence else None
            out.append(StreamFinish(self._finish or Finish(), self._usage_now(), meta))
        elif kind == "error" or name == "error":
            self._close_blocks(out, failed=True)
            self._done = True
            out.append(StreamError(error_from_body(None, obj)))

    def _usage(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            return
        for key, attr in (
            ("input_tokens", "_input"),
            ("cache_read_input_tokens", "_read"),
            ("cache_creation_input_tokens", "_write"),
            ("output_tokens", "_output"),
        ):
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, attr, value)

    def _usage_now(self) -> Usage:
        total = None
        if self._input is not None:
            total = self._input + (self._read or 0) + (self._write or 0)
        return Usage(
            input_tokens=total,
            output_tokens=self._output,
            cache_read_tokens=self._read,
            cache_write_tokens=self._write,
        )

    def _block_start(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        index = obj.get("index")
        block = obj.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            return
        kind = block.get("type")
        ir_index = self._next_index
        if kind == "text":
            state = _Block("text", ir_index, b.picked(block, b.RESPONSE_TEXT_KEYS))
            text = block.get("text")
            if isinstance(text, str) and text:
                self._open(state, out)
                out.append(TextDelta(ir_index, text))
        elif kind == "thinking":
            state = _Block("reasoning", ir_index)
            signature = block.get("signature")
            if isinstance(signature, str) and signature:
                state.meta = {WIRE: {"signature": signature}}
            text = block.get("thinking")
            if isinstance(text, str) and text:
                self._open(state, out)
                out.append(ReasoningDelta(ir_index, text))
        elif kind == "redacted_thinking":
            data = block.get("data")
            state = _Block(
                "reasoning", ir_index, {WIRE: {"redacted_data": data}} if isinstance(data, str) and data else None
            )
            self._open(state, out)
        elif kind == "tool_use":
            state = _Block("tool", ir_index, b.picked(block, b.RESPONSE_TOOL_KEYS))
            state.opened = True
            out.append(
                ToolCallStart(
                    ir_index, str(block.get("id") or c.new_id("toolu_")), str(block.get("name") or ""), state.meta
                )
            )
            given = block.get("input")
            if isinstance(given, dict) and given:  # a proxy that sends the input whole
                state.tool_input_sent = True
                out.append(ToolCallDelta(ir_index, orjson.dumps(given).decode()))
        else:
            return  # server tool calls and results: Anthropic-only, nothing the IR carries
        self._next_index += 1
        self._blocks[index] = state

    def _open(self, block: _Block, out: list[StreamEvent]) -> None:
        if block.opened:
            return
        block.opened = True
        if block.kind == "text":
            out.append(TextStart(block.index))
        else:
            out.append(ReasoningStart(block.index, block.meta if b.redacted_of(block.meta) else None))

    def _delta(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        index = obj.get("index")
        delta = obj.get("delta")
        block = self._blocks.get(index) if isinstance(index, int) else None
        if block is None or not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if isinstance(text, str) and text:
                if not block.opened:
                    self._open(block, out)
                out.append(TextDelta(block.index, text))
        elif kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if isinstance(fragment, str) and fragment and not block.tool_input_sent:
                out.append(ToolCallDelta(block.index, fragment))
        elif kind == "thinking_delta":
            text = delta.get("thinking")
            if isinstance(text, str) and text:
                self._open(block, out)
                out.append(ReasoningDelta(block.index, text))
        elif kind == "signature_delta":
            signature = delta.get("signature")
            if isinstance(signature, str) and signature:
                block.meta = merge_metadata(block.meta, {WIRE: {"signature": signature}})
        elif kind == "citations_delta":
            citation = delta.get("citation")
            if citation is not None:
                cited = list(b.own(block.meta).get("citations") or ())
                block.meta = merge_metadata(block.meta, {WIRE: {"citations": [*cited, citation]}})

    def _end(self, block: _Block, out: list[StreamEvent]) -> None:
        self._open(block, out)
        if block.kind == "text":
            out.append(TextEnd(block.index, block.meta))
        elif block.kind == "reasoning":
            out.append(ReasoningEnd(block.index, block.meta))
        else:
            out.append(ToolCallEnd(block.index))

    def _close_blocks(self, out: list[StreamEvent], *, failed: bool = False) -> None:
        """End the blocks still open; when the stream failed, blocks that never showed
        any content are dropped instead (so the failure can still be failed over)."""
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if block.opened or not failed:
                self._end(block, out)
        self._blocks.clear()


# ---------------------------------------------------------------------------------------


def _event(name: bytes, payload: bytes) -> bytes:
    return b"event: " + name + b"\ndata: " + payload + b"\n\n"


class MessageStreamEncoder:
    """IR events -> Anthropic SSE (see :class:`cliproxy.StreamEncoder`)."""

    media_type = "text/event-stream"

    def __init__(self, ctx: EncodeContext) -> None:
        self._ctx = ctx
        self._started = False
        self._finished = False
        self._next = 0  # next client block index
        self._open: tuple[int, str, int] | None = None  # (IR index, kind, client index)
        self._pending: dict[int, Any] = {}  # IR index -> reasoning start metadata, until its first delta
        self._calls: dict[int, tuple[str, Any]] = {}  # IR index -> (tool call id, metadata from its start)
        self._texts: dict[int, Any] = {}  # IR index -> a text block's metadata from its start

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._finished:
                break
            if not self._started and not isinstance(event, StreamError):
                start = event if isinstance(event, StreamStart) else None
                out.append(self._message_start(start))
                if start is not None:
                    continue
            if isinstance(event, TextDelta):
                client = self._ensure(event.index, "text", out)
                out.append(
                    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                    + str(client).encode()
                    + b',"delta":{"type":"text_delta","text":'
                    + orjson.dumps(event.text)
                    + b"}}\n\n"
                )
            elif isinstance(event, ToolCallDelta):
                client = self._ensure(event.index, "tool", out)
                out.append(
                    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                    + str(client).encode()
                    + b',"delta":{"type":"input_json_delta","partial_json":'
                    + orjson.dumps(event.arguments)
                    + b"}}\n\n"
                )
            elif isinstance(event, ReasoningDelta):
                client = self._ensure(event.index, "thinking", out)
                out.append(
                    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                    + str(client).encode()
                    + b',"delta":{"type":"thinking_delta","thinking":'
                    + orjson.dumps(event.text)
                    + b"}}\n\n"
                )
            elif isinstance(event, TextStart):
                self._ensure(event.index, "text", out)
                if event.provider_metadata:
                    self._texts[event.index] = event.provider_metadata
            elif isinstance(event, ToolCallStart):
                self._close(out)
                call_id = event.id or c.new_id("toolu_")
                self._carrier(event.provider_metadata, call_id, out)
                self._calls[event.index] = (call_id, event.provider_metadata)
                block = {"type": "tool_use", "id": call_id, "name": event.name, "input": {}}
                caller = b.own(event.provider_metadata).get("caller")
                if caller:
                    block["caller"] = caller
                self._start_block(event.index, "tool", block, out)
            elif isinstance(event, ReasoningStart):
                self._close(out)
                self._pending[event.index] = event.provider_metadata
            elif isinstance(event, TextEnd | ToolCallEnd):
                if self._open is not None and self._open[0] == event.index:
                    self._close(out)
                if isinstance(event, ToolCallEnd):
                    self._late_carrier(event, out)
                else:
                    self._text_carrier(event, out)
            elif isinstance(event, ReasoningEnd):
                self._reasoning_end(event, out)
            elif isinstance(event, StreamFinish):
                self._close(out)
                self._finished = True
                delta = {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop_reason(event.finish),
                        "stop_sequence": stop_sequence_of(event.provider_metadata),
                    },
                    "usage": encode_usage(event.usage),
                }
                out.append(_event(b"message_delta", orjson.dumps(delta)))
                out.append(_event(b"message_stop", b'{"type":"message_stop"}'))
            elif isinstance(event, StreamError):
                self._finished = True
                out.append(frame(encode_error(event.error), "error"))
            elif isinstance(event, FileOutput):
                continue  # no generated files in Anthropic's messages
        return b"".join(out)

    def close(self) -> bytes:
        return b""

    # -- helpers --------------------------------------------------------------------

    def _message_start(self, start: StreamStart | None) -> bytes:
        self._started = True
        message = {
            "id": (start.id if start is not None and start.id else None) or c.new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._ctx.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
            },
        }
        return _event(b"message_start", orjson.dumps({"type": "message_start", "message": message}))

    def _start_block(self, index: int, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        client = self._next
        self._next += 1
        self._open = (index, kind, client)
        out.append(
            _event(
                b"content_block_start",
                orjson.dumps({"type": "content_block_start", "index": client, "content_block": block}),
            )
        )
        return client

    def _ensure(self, index: int, kind: str, out: list[bytes]) -> int:
        """The client index of the open block for IR ``index``, opening one if needed."""
        current = self._open
        if current is not None and current[0] == index and current[1] == kind:
            return current[2]
        self._close(out)
        if kind == "text":
            block: dict[str, Any] = {"type": "text", "text": ""}
        elif kind == "thinking":
            self._pending.pop(index, None)
            block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            block = {"type": "tool_use", "id": c.new_id("toolu_"), "name": "", "input": {}}
        return self._start_block(index, kind, block, out)

    def _close(self, out: list[bytes]) -> None:
        if self._open is None:
            return
        _, _, client = self._open
        self._open = None
        out.append(
            _event(b"content_block_stop", b'{"type":"content_block_stop","index":' + str(client).encode() + b"}")
        )

    def _reasoning_end(self, event: ReasoningEnd, out: list[bytes]) -> None:
        pending = event.index in self._pending
        meta = merge_metadata(self._pending.pop(event.index, None), event.provider_metadata)
        current = self._open
        if current is not None and current[0] == event.index and current[1] == "thinking":
            signature = b.client_signature(meta)
            out.append(
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                + str(current[2]).encode()
                + b',"delta":{"type":"signature_delta","signature":'
                + orjson.dumps(signature)
                + b"}}\n\n"
            )
            self._close(out)
            return
        if not pending:
            return  # its block already closed
        redacted = b.redacted_of(meta)
        signature = b.client_signature(meta)
        if redacted:
            self._start_block(event.index, "redacted", {"type": "redacted_thinking", "data": redacted}, out)
            self._close(out)
        elif signature:  # signed reasoning without text
            self._signed_block(event.index, signature, out)

    def _signed_block(self, index: int, signature: str, out: list[bytes]) -> None:
        """A whole thinking block without text: start, its signature, stop."""
        client = self._start_block(index, "thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
        out.append(
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
            + str(client).encode()
            + b',"delta":{"type":"signature_delta","signature":'
            + orjson.dumps(signature)
            + b"}}\n\n"
        )
        self._close(out)

    def _carrier(self, meta: Any, call_id: str, out: list[bytes]) -> None:
        """The block carrying a tool call's Gemini values, if it has any."""
        block = b.call_carrier(meta, call_id)
        if block is not None:
            self._close(out)
            self._signed_block(-1, block["signature"], out)

    def _text_carrier(self, event: TextEnd, out: list[bytes]) -> None:
        """The block carrying a text block's Gemini values, right after it."""
        block = b.text_carrier(merge_metadata(self._texts.pop(event.index, None), event.provider_metadata))
        if block is not None:
            self._close(out)
            self._signed_block(-1, block["signature"], out)

    def _late_carrier(self, event: ToolCallEnd, out: list[bytes]) -> None:
        """A carrier for values that came with a call's end (a call streamed in pieces)."""
        call = self._calls.pop(event.index, None)
        if call is not None and sealed.carried(event.provider_metadata, (WIRE,)):
            self._carrier(merge_metadata(call[1], event.provider_metadata), call[0], out)
