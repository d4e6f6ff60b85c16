"""IR stream events -> the Anthropic message stream a client expects.

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
from cliproxy.ir import (
    FileOutput,
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
    merge_metadata,
)
from cliproxy.sse import frame
from cliproxy.translate import EncodeContext, StreamEncoder
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.anthropic import parts as b
from cliproxy.wire.anthropic.common import WIRE, encode_usage, own, stop_reason, stop_sequence_of
from cliproxy.wire.anthropic.errors import encode_error


def _event(name: bytes, payload: bytes) -> bytes:
    return b"event: " + name + b"\ndata: " + payload + b"\n\n"


class MessageStreamEncoder(StreamEncoder):
    """IR events -> Anthropic SSE (see :class:`cliproxy.StreamEncoder`)."""

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
                caller = own(event.provider_metadata).get("caller")
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
        message: dict[str, Any] = {
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
