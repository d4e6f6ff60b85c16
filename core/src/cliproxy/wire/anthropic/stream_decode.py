"""Anthropic message streams from upstreams -> IR stream events.

The decoder turns ``message_start`` / ``content_block_*`` / ``message_delta`` /
``message_stop`` into IR events. Every ``input_json_delta`` becomes its own
:class:`ToolCallDelta` the moment it arrives. Text and thinking blocks open on their first
delta, so an upstream that fails right after ``content_block_start`` can still be failed
over. A thinking block's signature (``signature_delta``) rides on its
:class:`ReasoningEnd`.
"""

from __future__ import annotations

from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    BlockKind,
    Finish,
    ReasoningDelta,
    ReasoningStart,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextStart,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    block_end,
    merge_metadata,
)
from cliproxy.sse import SSEParser
from cliproxy.wire import common as c
from cliproxy.wire.anthropic import parts as b
from cliproxy.wire.anthropic.common import WIRE, finish_from, own
from cliproxy.wire.anthropic.errors import error_from_body

__all__ = ["MessageStreamDecoder"]


class _Block:
    """One upstream content block being decoded."""

    __slots__ = ("index", "kind", "meta", "opened", "tool_input_sent")

    def __init__(self, kind: BlockKind, index: int, meta: Any = None) -> None:
        self.kind = kind
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
            message = found if isinstance(found := obj.get("message"), dict) else {}
            self._usage(message.get("usage"))
            if not self._started:
                self._started = True
                out.append(StreamStart(id=message.get("id") or None, model=message.get("model") or None))
        elif kind == "message_delta":
            delta = found if isinstance(found := obj.get("delta"), dict) else {}
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
                cited = list(own(block.meta).get("citations") or ())
                block.meta = merge_metadata(block.meta, {WIRE: {"citations": [*cited, citation]}})

    def _end(self, block: _Block, out: list[StreamEvent]) -> None:
        self._open(block, out)
        # a tool call's metadata went out with its start
        out.append(block_end(block.kind, block.index, None if block.kind == "tool" else block.meta))

    def _close_blocks(self, out: list[StreamEvent], *, failed: bool = False) -> None:
        """End the blocks still open; when the stream failed, blocks that never showed
        any content are dropped instead (so the failure can still be failed over)."""
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if block.opened or not failed:
                self._end(block, out)
        self._blocks.clear()


# ---------------------------------------------------------------------------------------
