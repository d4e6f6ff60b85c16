"""IR stream events -> the Responses API's event stream.

The sequence a Responses client expects: ``response.created``, ``response.in_progress``;
per output item ``response.output_item.added``, then its own events, then
``response.output_item.done``; finally ``response.completed`` (or ``.incomplete``) with the
whole response and its usage. Every event carries a ``sequence_number`` counting up from
0. Text blocks become ``output_text`` parts of a message item (consecutive blocks share the
message); reasoning becomes a reasoning item with one summary part; tool calls become
``function_call`` items whose argument fragments pass on one event per fragment (a call
to a namespace member names its namespace), or ``custom_tool_call`` items for the
client's free-form tools; a call's Gemini signature
rides in a reasoning item of its own (added and done at once) just before the call's item,
or just after it when the signature arrives with the call's end; a text block's Gemini
signature (which comes with the block's end) closes its message item and rides in a
reasoning item just after it. A failure is an ``error`` event followed by
``response.failed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FileOutput,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningPart,
    ReasoningStart,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    TextPart,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    merge_metadata,
    metadata_for,
)
from cliproxy.translate import EncodeContext, StreamEncoder
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.openai_responses.common import (
    DOOR_WIRES,
    WIRE,
    call_carrier,
    custom_input,
    reasoning_item,
    status_for,
    text_carrier,
)
from cliproxy.wire.openai_responses.namespaces import members
from cliproxy.wire.openai_responses.response import (
    ResponseShell,
    custom_names,
    function_call_item,
    is_custom_call,
    text_content,
)

__all__ = ["ResponsesStreamEncoder"]


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class _Item:
    """An output item being streamed."""

    __slots__ = (
        "chunks",
        "content",
        "custom",
        "heads",
        "item",
        "meta",
        "open_part",
        "output_index",
        "prefix",
        "refusal",
    )

    def __init__(self, item: dict[str, Any], output_index: int) -> None:
        self.item = item
        self.output_index = output_index
        self.chunks: list[str] = []
        self.content: list[dict[str, Any]] = []  # finished content parts of a message
        self.open_part: int | None = None  # content index of the part being written
        self.meta: Any = None  # a reasoning item's metadata from its start
        self.custom = False  # a custom tool call: its input is sent whole at the end
        self.refusal = False  # the open content part is a refusal
        self.prefix = b""  # the JSON before "delta" in this item's delta events
        self.heads: dict[bytes, bytes] = {}  # delta event kind -> its bytes up to the delta


class ResponsesStreamEncoder(StreamEncoder):
    """See :class:`cliproxy.StreamEncoder`."""

    def __init__(self, ctx: EncodeContext) -> None:
        self._ctx = ctx
        self._custom = custom_names(ctx.body)
        self._members = members(ctx.body.get("tools"))  # namespace tools' flat names
        self._shell: ResponseShell | None = None
        self._seq = 0
        self._output: dict[int, dict[str, Any]] = {}  # finished items by output index
        self._next_output = 0
        self._blocks: dict[int, _Item] = {}  # IR block index -> its item
        self._message: _Item | None = None  # the message item text blocks are added to
        self._calls: dict[int, tuple[str, Any]] = {}  # IR index -> (call id, metadata from its start)
        self._texts: dict[int, Any] = {}  # IR index -> a text block's metadata from its start
        self._finished = False
        self._failing = False  # items closed from now on were cut short

    # -- framing -------------------------------------------------------------------------

    def _emit(self, out: list[bytes], kind: str, payload: dict[str, Any]) -> None:
        payload["type"] = kind
        payload["sequence_number"] = self._seq
        self._seq += 1
        out.append(_event(kind, payload))

    def _delta(self, out: list[bytes], item: _Item, kind: bytes, text: str) -> None:
        """A delta event, assembled from the item's fixed head (the hot path)."""
        head = item.heads.get(kind)
        if head is None:
            head = item.heads[kind] = (
                b"event: " + kind + b'\ndata: {"type":"' + kind + b'",' + item.prefix + b'"delta":'
            )
        out.append(b"".join((head, orjson.dumps(text), b',"sequence_number":', str(self._seq).encode(), b"}\n\n")))
        self._seq += 1

    def _begin(self, out: list[bytes], start: StreamStart | None) -> None:
        self._shell = ResponseShell(start.id if start else None, self._ctx, start.created if start else None)
        self._emit(out, "response.created", {"response": self._shell.render("in_progress", [])})
        self._emit(out, "response.in_progress", {"response": self._shell.render("in_progress", [])})

    # -- items ---------------------------------------------------------------------------

    def _open_item(self, out: list[bytes], item: dict[str, Any]) -> _Item:
        state = _Item(item, self._next_output)
        self._next_output += 1
        self._emit(out, "response.output_item.added", {"output_index": state.output_index, "item": item})
        return state

    def _close_item(self, out: list[bytes], state: _Item) -> None:
        item = state.item
        item["status"] = "incomplete" if self._failing else "completed"
        self._emit(out, "response.output_item.done", {"output_index": state.output_index, "item": item})
        self._output[state.output_index] = item

    def _close_message(self, out: list[bytes]) -> None:
        message = self._message
        if message is None:
            return
        self._message = None
        if message.open_part is not None:
            self._end_text(out, message)
        message.item["content"] = message.content
        self._close_item(out, message)

    def _start_text(self, out: list[bytes], event: TextStart) -> None:
        msg_id = metadata_for(event.provider_metadata, WIRE).get("id")
        message = self._message
        if message is not None and (message.open_part is not None or (msg_id and msg_id != message.item["id"])):
            self._close_message(out)
            message = None
        if message is None:
            item: dict[str, Any] = {
                "id": msg_id or c.new_id("msg_"),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            phase = metadata_for(event.provider_metadata, WIRE).get("phase")
            if phase:
                item["phase"] = phase
            message = self._message = self._open_item(out, item)
        index = len(message.content)
        message.open_part = index
        message.chunks = []
        refusal = bool(metadata_for(event.provider_metadata, WIRE).get("refusal"))
        part = (
            {"type": "refusal", "refusal": ""}
            if refusal
            else {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        )
        self._emit(
            out,
            "response.content_part.added",
            {"item_id": message.item["id"], "output_index": message.output_index, "content_index": index, "part": part},
        )
        logprobs = b"" if refusal else b'"logprobs":[],'
        message.prefix = (
            b'"item_id":'
            + orjson.dumps(message.item["id"])
            + b',"output_index":'
            + str(message.output_index).encode()
            + b',"content_index":'
            + str(index).encode()
            + b","
            + logprobs
        )
        message.refusal = refusal
        message.heads = {}
        self._blocks[event.index] = message

    def _end_text(self, out: list[bytes], message: _Item) -> None:
        index = message.open_part
        assert index is not None
        text = "".join(message.chunks)
        # the part's kind was settled when it began: its deltas already said it
        part = {"type": "refusal", "refusal": text} if message.refusal else text_content(TextPart(text))
        base = {"item_id": message.item["id"], "output_index": message.output_index, "content_index": index}
        if part["type"] == "refusal":
            self._emit(out, "response.refusal.done", {**base, "refusal": text})
        else:
            self._emit(out, "response.output_text.done", {**base, "text": text, "logprobs": []})
        self._emit(out, "response.content_part.done", {**base, "part": part})
        message.content.append(part)
        message.open_part = None

    def _start_reasoning(self, out: list[bytes], event: ReasoningStart) -> None:
        rs_id = metadata_for(event.provider_metadata, "openai").get("id") or c.new_id("rs_")
        state = self._open_item(out, {"id": rs_id, "type": "reasoning", "summary": []})
        state.meta = event.provider_metadata
        state.prefix = (
            b'"item_id":'
            + orjson.dumps(rs_id)
            + b',"output_index":'
            + str(state.output_index).encode()
            + b',"summary_index":0,'
        )
        self._blocks[event.index] = state

    def _reasoning_delta(self, out: list[bytes], state: _Item, text: str) -> None:
        if not text:
            return
        if not state.chunks:
            self._emit(
                out,
                "response.reasoning_summary_part.added",
                {
                    "item_id": state.item["id"],
                    "output_index": state.output_index,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                },
            )
        state.chunks.append(text)
        self._delta(out, state, b"response.reasoning_summary_text.delta", text)

    def _end_reasoning(self, out: list[bytes], state: _Item, meta: Any) -> None:
        text = "".join(state.chunks)
        base = {"item_id": state.item["id"], "output_index": state.output_index, "summary_index": 0}
        if text:
            self._emit(out, "response.reasoning_summary_text.done", {**base, "text": text})
            self._emit(
                out, "response.reasoning_summary_part.done", {**base, "part": {"type": "summary_text", "text": text}}
            )
        state.item = reasoning_item(ReasoningPart(text, merge_metadata(state.meta, meta)), state.item["id"])
        self._close_item(out, state)

    def _carrier(self, out: list[bytes], metadata: Any, call_id: str) -> None:
        """A reasoning item carrying a tool call's Gemini values, if it has any."""
        item = call_carrier(metadata, call_id)
        if item is not None:
            self._close_item(out, self._open_item(out, item))

    def _start_tool(self, out: list[bytes], event: ToolCallStart) -> None:
        self._carrier(out, event.provider_metadata, event.id)
        self._calls[event.index] = (event.id, event.provider_metadata)
        custom = is_custom_call(event.name, event.provider_metadata, self._custom)
        if custom:
            item = {
                "id": c.new_id("ctc_"),
                "type": "custom_tool_call",
                "status": "in_progress",
                "call_id": event.id,
                "name": event.name,
                "input": "",
            }
        else:
            item = function_call_item(event.name, event.provider_metadata, self._members, event.id, "in_progress")
        state = self._open_item(out, item)
        state.custom = custom
        state.prefix = (
            b'"item_id":' + orjson.dumps(item["id"]) + b',"output_index":' + str(state.output_index).encode() + b","
        )
        self._blocks[event.index] = state

    def _text_carrier(self, out: list[bytes], event: TextEnd) -> None:
        """A text block's Gemini values: its message item ends, a carrier follows it."""
        item = text_carrier(merge_metadata(self._texts.pop(event.index, None), event.provider_metadata))
        if item is not None:
            self._close_message(out)
            self._close_item(out, self._open_item(out, item))

    def _late_carrier(self, out: list[bytes], event: ToolCallEnd) -> None:
        """A carrier for values that came with a call's end (a call streamed in pieces)."""
        call = self._calls.pop(event.index, None)
        if call is not None and sealed.carried(event.provider_metadata, DOOR_WIRES):
            self._carrier(out, merge_metadata(call[1], event.provider_metadata), call[0])

    def _end_tool(self, out: list[bytes], state: _Item) -> None:
        arguments = "".join(state.chunks)
        base = {"item_id": state.item["id"], "output_index": state.output_index}
        if state.custom:
            # The IR carries {"input": "..."}; the free-form text is known once it is whole.
            text = custom_input(arguments) if arguments else ""
            if text:
                self._delta(out, state, b"response.custom_tool_call_input.delta", text)
            self._emit(out, "response.custom_tool_call_input.done", {**base, "input": text})
            state.item["input"] = text
        else:
            arguments = arguments or "{}"
            self._emit(out, "response.function_call_arguments.done", {**base, "arguments": arguments})
            state.item["arguments"] = arguments
        self._close_item(out, state)

    def _file(self, out: list[bytes], event: FileOutput) -> None:
        part = event.part
        if not (part.is_image and part.data):
            return
        state = self._open_item(
            out, {"id": c.new_id("ig_"), "type": "image_generation_call", "status": "in_progress", "result": None}
        )
        state.item["result"] = part.data
        self._close_item(out, state)

    # -- the end -----------------------------------------------------------------------------

    def _close_all(self, out: list[bytes]) -> None:
        self._close_message(out)
        for index in sorted(self._blocks):
            state = self._blocks.pop(index)
            kind = state.item["type"]
            if kind == "reasoning":
                self._end_reasoning(out, state, None)
            elif kind in ("function_call", "custom_tool_call"):
                self._end_tool(out, state)
        self._blocks.clear()

    def _finish(self, out: list[bytes], event: StreamFinish) -> None:
        self._close_all(out)
        assert self._shell is not None
        status, incomplete = status_for(event.finish)
        if status == "failed":
            self._fail(
                out,
                GatewayError(
                    status=502, kind=ErrorKind.UPSTREAM, message="the upstream ended the response with an error"
                ),
            )
            return
        kind = "response.completed" if status == "completed" else "response.incomplete"
        response = self._shell.render(status, self._output_list(), event.usage, incomplete=incomplete)
        self._emit(out, kind, {"response": response})

    def _output_list(self) -> list[dict[str, Any]]:
        return [self._output[i] for i in sorted(self._output)]

    def _fail(self, out: list[bytes], error: GatewayError) -> None:
        self._failing = True
        self._close_all(out)
        assert self._shell is not None
        code = error.code or ("rate_limit_exceeded" if error.kind is ErrorKind.RATE_LIMITED else str(error.kind))
        self._emit(out, "error", {"code": code, "message": error.message, "param": error.param})
        failed_code = "rate_limit_exceeded" if error.kind is ErrorKind.RATE_LIMITED else "server_error"
        response = self._shell.render(
            "failed", self._output_list(), error={"code": failed_code, "message": error.message}
        )
        self._emit(out, "response.failed", {"response": response})

    # -- the protocol ----------------------------------------------------------------------

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._finished:
                break
            if self._shell is None:
                self._begin(out, event if isinstance(event, StreamStart) else None)
                if isinstance(event, StreamStart):
                    continue
            if isinstance(event, TextDelta):
                state = self._blocks.get(event.index)
                if state is None:
                    self._start_text(out, TextStart(event.index))
                    state = self._blocks[event.index]
                state.chunks.append(event.text)
                kind = b"response.refusal.delta" if state.refusal else b"response.output_text.delta"
                self._delta(out, state, kind, event.text)
            elif isinstance(event, ToolCallDelta):
                state = self._blocks.get(event.index)
                if state is None or not event.arguments:
                    continue
                state.chunks.append(event.arguments)
                if not state.custom:
                    self._delta(out, state, b"response.function_call_arguments.delta", event.arguments)
            elif isinstance(event, ReasoningDelta):
                state = self._blocks.get(event.index)
                if state is None:
                    self._close_message(out)
                    self._start_reasoning(out, ReasoningStart(event.index))
                    state = self._blocks[event.index]
                self._reasoning_delta(out, state, event.text)
            elif isinstance(event, TextStart):
                self._start_text(out, event)
                if event.provider_metadata:
                    self._texts[event.index] = event.provider_metadata
            elif isinstance(event, TextEnd):
                state = self._blocks.pop(event.index, None)
                if state is not None and state.open_part is not None:
                    self._end_text(out, state)
                self._text_carrier(out, event)
            elif isinstance(event, ReasoningStart):
                self._close_message(out)
                self._start_reasoning(out, event)
            elif isinstance(event, ReasoningEnd):
                state = self._blocks.pop(event.index, None)
                if state is not None:
                    self._end_reasoning(out, state, event.provider_metadata)
            elif isinstance(event, ToolCallStart):
                self._close_message(out)
                self._start_tool(out, event)
            elif isinstance(event, ToolCallEnd):
                state = self._blocks.pop(event.index, None)
                if state is not None:
                    self._end_tool(out, state)
                self._late_carrier(out, event)
            elif isinstance(event, FileOutput):
                self._close_message(out)
                self._file(out, event)
            elif isinstance(event, StreamFinish):
                self._finished = True
                self._finish(out, event)
            elif isinstance(event, StreamError):
                self._finished = True
                self._fail(out, event.error)
        return b"".join(out)

    def close(self) -> bytes:
        return b""
