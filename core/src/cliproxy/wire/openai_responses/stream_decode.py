"""A Responses upstream's event stream -> IR stream events.

Items are correlated by ``output_index``, never by ``item_id``: GitHub Copilot's Responses
API gives an item a new id in every event. Text, reasoning and argument deltas pass on as
they arrive; text that only shows up in a ``done`` event (servers that skip deltas, or a
stream that lost some on the way) is emitted from there, so the folded stream always says
what the ``done`` events say. Errors come as an ``error`` event (flat, as the SDK
types it, or with a nested ``error`` object) usually followed by ``response.failed``; a
``response.failed`` alone is an error too, and ``response.incomplete`` finishes with the
reason (``max_output_tokens`` -> length).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FileOutput,
    FilePart,
    Finish,
    FinishReason,
    Metadata,
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
    ToolCallPart,
    ToolCallStart,
    Usage,
)
from cliproxy.sse import SSEParser
from cliproxy.wire import common as c
from cliproxy.wire.openai_responses.common import (
    WIRE,
    custom_arguments,
    decode_usage,
    finish_from_status,
    reasoning_metadata,
)
from cliproxy.wire.openai_responses.errors import error_from_event
from cliproxy.wire.openai_responses.response import call_name, item_parts, reasoning_text

__all__ = ["ResponsesStreamDecoder"]

_WHOLE = -1  # key in _Item.texts for text that is not per part (raw reasoning, call input)


def _escaped(text: str) -> str:
    """``text`` as the inside of a JSON string (escaping is per character, so the
    escaped pieces of a string concatenate to the escaped string)."""
    return orjson.dumps(text).decode()[1:-1]


class _Item:
    """What the decoder knows of one output item."""

    __slots__ = ("blocks", "id", "index", "kind", "phase", "summary", "texts")

    def __init__(self, kind: str, item_id: str | None) -> None:
        self.kind = kind
        self.id = item_id
        self.phase: str | None = None
        self.index: int | None = None  # IR block index (reasoning, tool calls)
        self.blocks: dict[int, tuple[int, bool]] = {}  # open text parts: content index -> (IR index, refusal)
        self.texts: dict[int, list[str]] = {}  # what was emitted, per content/summary index or _WHOLE
        self.summary = -1  # the summary part being written (-1: none yet)

    def emitted(self, key: int) -> str:
        return "".join(self.texts.get(key, ()))

    def missing(self, key: int, full: Any) -> str:
        """What ``full`` (a ``done`` event's whole text) adds to what was emitted: all of it
        when no delta came, the tail when deltas were lost on the way, else nothing."""
        if not isinstance(full, str) or not full:
            return ""
        emitted = self.emitted(key)
        if len(full) > len(emitted) and full.startswith(emitted):
            return full[len(emitted) :]
        return ""


class ResponsesStreamDecoder:
    """See :class:`cliproxy.StreamDecoder`."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._next_index = 0
        self._items: dict[int, _Item] = {}
        self._has_calls = False

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(data):
            if not self._done:
                self._event(event.data, out)
        return out

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.close():
            if not self._done:
                self._event(event.data, out)
        if not self._done:
            self._done = True
            self._close_all(out)
            out.append(
                StreamError(
                    GatewayError(
                        status=502,
                        kind=ErrorKind.UPSTREAM,
                        message="the upstream stream ended before the response was complete",
                    )
                )
            )
        return out

    # -- dispatch ------------------------------------------------------------------------

    def _event(self, data: bytes, out: list[StreamEvent]) -> None:
        try:
            obj = c.loads(data)
        except ValueError:
            return  # not JSON: a keep-alive or noise
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if not self._started and kind != "error":
            self._start(obj.get("response"), out)
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, obj, out)

    def _start(self, response: Any, out: list[StreamEvent]) -> None:
        self._started = True
        response = response if isinstance(response, Mapping) else {}
        created = response.get("created_at")
        out.append(
            StreamStart(
                id=response.get("id") or None,
                model=response.get("model") or None,
                created=int(created) if isinstance(created, int | float) and not isinstance(created, bool) else None,
            )
        )

    def _new_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _item(self, obj: Mapping[str, Any], kind: str, out: list[StreamEvent]) -> _Item:
        """The item an event belongs to, opened if its ``added`` event never came."""
        position = obj.get("output_index", 0)
        item = self._items.get(position)
        if item is None:
            item = self._items[position] = _Item(kind, obj.get("item_id"))
            if kind == "reasoning":
                self._open_reasoning(item, None, out)
        return item

    # -- items ---------------------------------------------------------------------------

    def _open_reasoning(self, item: _Item, raw: Mapping[str, Any] | None, out: list[StreamEvent]) -> None:
        item.index = self._new_index()
        out.append(ReasoningStart(item.index, reasoning_metadata(item.id, (raw or {}).get("encrypted_content"))))

    def _item_added(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        raw = obj.get("item")
        if not isinstance(raw, Mapping):
            return
        kind = str(raw.get("type"))
        item = _Item(kind, raw.get("id") if isinstance(raw.get("id"), str) else None)
        item.phase = found if isinstance(found := raw.get("phase"), str) else None
        self._items[obj.get("output_index", len(self._items))] = item
        if kind == "reasoning":
            self._open_reasoning(item, raw, out)
        elif kind in ("function_call", "custom_tool_call"):
            self._has_calls = True
            item.index = self._new_index()
            meta: Metadata
            if kind == "custom_tool_call":
                name, meta = str(raw.get("name") or ""), {WIRE: {"custom": True}}
            else:
                name, meta = call_name(raw)
            call_id = raw.get("call_id") or c.new_id("call_")
            out.append(ToolCallStart(item.index, str(call_id), name, meta))

    # -- message text ----------------------------------------------------------------------

    def _text_meta(self, item: _Item, refusal: bool) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        if item.id:
            values["id"] = item.id
        if item.phase:
            values["phase"] = item.phase
        if refusal:
            values["refusal"] = True
        return {WIRE: values} if values else None

    def _text(self, item: _Item, content_index: int, refusal: bool, text: str, out: list[StreamEvent]) -> None:
        block = item.blocks.get(content_index)
        if block is None:
            block = item.blocks[content_index] = (self._new_index(), refusal)
            out.append(TextStart(block[0], self._text_meta(item, refusal)))
        if text:
            item.texts.setdefault(content_index, []).append(text)
            out.append(TextDelta(block[0], text))

    def _end_text(self, item: _Item, content_index: int, out: list[StreamEvent]) -> None:
        block = item.blocks.pop(content_index, None)
        if block is not None:
            out.append(TextEnd(block[0], self._text_meta(item, block[1])))

    def _part_added(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        item = self._item(obj, "message", out)
        part = obj.get("part")
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("output_text", "refusal"):
            self._text(item, obj.get("content_index", 0), kind == "refusal", "", out)

    def _text_delta(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        delta = obj.get("delta")
        if isinstance(delta, str) and delta:
            item = self._item(obj, "message", out)
            self._text(item, obj.get("content_index", 0), obj.get("type") == "response.refusal.delta", delta, out)

    def _text_done(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        """``output_text.done`` / ``refusal.done`` / ``content_part.done``: the whole text
        (emitted if deltas never brought it); ``content_part.done`` ends the part."""
        item = self._item(obj, "message", out)
        content_index = obj.get("content_index", 0)
        part_done = obj.get("type") == "response.content_part.done"
        if part_done:
            part = found if isinstance(found := obj.get("part"), Mapping) else {}
            refusal = part.get("type") == "refusal"
            text = part.get("refusal") if refusal else part.get("text")
        else:
            refusal = obj.get("type") == "response.refusal.done"
            text = obj.get("refusal") if refusal else obj.get("text")
        tail = item.missing(content_index, text)
        if tail:
            self._text(item, content_index, refusal, tail, out)
        if part_done:
            self._end_text(item, content_index, out)

    # -- reasoning ---------------------------------------------------------------------------

    def _summary_part(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> _Item:
        item = self._item(obj, "reasoning", out)
        self._begin_summary(item, obj.get("summary_index", 0), out)
        return item

    def _begin_summary(self, item: _Item, summary: int, out: list[StreamEvent]) -> None:
        """A summary part begins; parts are joined by a blank line, as whole items are."""
        if item.index is not None and summary > item.summary:
            if item.summary >= 0:
                out.append(ReasoningDelta(item.index, "\n\n"))
            item.summary = summary

    def _reasoning(self, item: _Item, key: int, text: str, out: list[StreamEvent]) -> None:
        if text and item.index is not None:
            item.texts.setdefault(key, []).append(text)
            out.append(ReasoningDelta(item.index, text))

    def _reasoning_delta(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        delta = obj.get("delta")
        if not isinstance(delta, str) or not delta:
            return
        if obj.get("type") == "response.reasoning_summary_text.delta":
            item = self._summary_part(obj, out)
            self._reasoning(item, obj.get("summary_index", 0), delta, out)
        else:  # raw reasoning text (gpt-oss on vLLM, Ollama)
            self._reasoning(self._item(obj, "reasoning", out), _WHOLE, delta, out)

    def _reasoning_done(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        if obj.get("type") == "response.reasoning_summary_text.done":
            item = self._summary_part(obj, out)
            key = obj.get("summary_index", 0)
        else:
            item, key = self._item(obj, "reasoning", out), _WHOLE
        self._reasoning(item, key, item.missing(key, obj.get("text")), out)

    # -- tool calls ---------------------------------------------------------------------------

    def _call_text(self, item: _Item, text: str, out: list[StreamEvent]) -> None:
        if not text or item.index is None:
            return
        if item.kind == "custom_tool_call":
            # The IR carries the free-form input as {"input": "..."}, written as it streams.
            escaped = _escaped(text)
            out.append(ToolCallDelta(item.index, escaped if _WHOLE in item.texts else '{"input":"' + escaped))
        else:
            out.append(ToolCallDelta(item.index, text))
        item.texts.setdefault(_WHOLE, []).append(text)

    def _arguments_delta(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        item = self._items.get(obj.get("output_index", 0))
        delta = obj.get("delta")
        if item is not None and isinstance(delta, str):
            self._call_text(item, delta, out)

    def _arguments_done(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        item = self._items.get(obj.get("output_index", 0))
        if item is not None:
            full = obj.get("input") if item.kind == "custom_tool_call" else obj.get("arguments")
            self._call_text(item, item.missing(_WHOLE, full), out)

    def _end_call(self, item: _Item, raw: Mapping[str, Any], out: list[StreamEvent]) -> None:
        assert item.index is not None
        custom = item.kind == "custom_tool_call"
        self._call_text(item, item.missing(_WHOLE, raw.get("input" if custom else "arguments")), out)
        if custom:
            out.append(ToolCallDelta(item.index, '"}' if _WHOLE in item.texts else custom_arguments("")))
        out.append(ToolCallEnd(item.index))

    # -- items done ------------------------------------------------------------------------------

    def _item_done(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        raw = obj.get("item")
        if not isinstance(raw, Mapping):
            return
        item = self._items.pop(obj.get("output_index", 0), None)
        kind = raw.get("type")
        if item is None:  # no added event: emit the whole item
            self._whole_item(raw, out)
        elif kind == "message":
            contents = found if isinstance(found := raw.get("content"), list) else []
            for content_index, content in enumerate(contents):
                if isinstance(content, Mapping):
                    refusal = content.get("type") == "refusal"
                    tail = item.missing(content_index, content.get("refusal" if refusal else "text"))
                    if tail:
                        self._text(item, content_index, refusal, tail, out)
            for content_index in sorted(item.blocks):
                self._end_text(item, content_index, out)
        elif kind == "reasoning" and item.index is not None:
            summaries = [s.get("text") for s in raw.get("summary") or () if isinstance(s, Mapping)]
            if summaries and _WHOLE not in item.texts:
                for summary, text in enumerate(summaries):
                    self._begin_summary(item, summary, out)
                    self._reasoning(item, summary, item.missing(summary, text), out)
            elif not item.texts:
                self._reasoning(item, _WHOLE, reasoning_text(raw), out)
            out.append(
                ReasoningEnd(item.index, reasoning_metadata(raw.get("id") or item.id, raw.get("encrypted_content")))
            )
        elif kind in ("function_call", "custom_tool_call") and item.index is not None:
            self._end_call(item, raw, out)
        elif kind == "image_generation_call":
            self._whole_item(raw, out)

    def _whole_item(self, raw: Mapping[str, Any], out: list[StreamEvent]) -> None:
        for part in item_parts(raw):
            index = self._new_index()
            if isinstance(part, TextPart):
                out.extend(
                    (
                        TextStart(index, part.provider_metadata),
                        TextDelta(index, part.text),
                        TextEnd(index, part.provider_metadata),
                    )
                )
            elif isinstance(part, ReasoningPart):
                out.append(ReasoningStart(index))
                if part.text:
                    out.append(ReasoningDelta(index, part.text))
                out.append(ReasoningEnd(index, part.provider_metadata))
            elif isinstance(part, ToolCallPart):
                self._has_calls = True
                out.extend(
                    (
                        ToolCallStart(index, part.id, part.name, part.provider_metadata),
                        ToolCallDelta(index, part.arguments),
                        ToolCallEnd(index),
                    )
                )
            elif isinstance(part, FilePart):
                out.append(FileOutput(index, part))

    def _close_all(self, out: list[StreamEvent]) -> None:
        """End blocks whose ``done`` events never came."""
        for position in sorted(self._items):
            item = self._items[position]
            for content_index in sorted(item.blocks):
                self._end_text(item, content_index, out)
            if item.index is not None and item.kind == "reasoning":
                out.append(ReasoningEnd(item.index))
            elif item.index is not None and item.kind in ("function_call", "custom_tool_call"):
                self._end_call(item, {}, out)
        self._items.clear()

    # -- the end -----------------------------------------------------------------------------

    def _completed(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        response = found if isinstance(found := obj.get("response"), Mapping) else {}
        self._close_all(out)
        self._done = True
        finish = finish_from_status(response.get("status"), response.get("incomplete_details"), self._has_calls)
        if obj.get("type") == "response.incomplete" and finish.reason is FinishReason.STOP:
            finish = Finish(FinishReason.OTHER, "incomplete")
        out.append(StreamFinish(finish, decode_usage(response.get("usage")) or Usage()))

    def _failed(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        self._close_all(out)
        self._done = True
        if obj.get("type") == "error":
            error = error_from_event(obj)
        else:
            response = found if isinstance(found := obj.get("response"), Mapping) else {}
            raw = response.get("error")
            error = error_from_event(
                raw if isinstance(raw, Mapping) else {"message": "the upstream could not complete the response"}
            )
        out.append(StreamError(error))


_HANDLERS = {
    "response.output_item.added": ResponsesStreamDecoder._item_added,
    "response.content_part.added": ResponsesStreamDecoder._part_added,
    "response.output_text.delta": ResponsesStreamDecoder._text_delta,
    "response.refusal.delta": ResponsesStreamDecoder._text_delta,
    "response.output_text.done": ResponsesStreamDecoder._text_done,
    "response.refusal.done": ResponsesStreamDecoder._text_done,
    "response.content_part.done": ResponsesStreamDecoder._text_done,
    "response.reasoning_summary_part.added": ResponsesStreamDecoder._summary_part,
    "response.reasoning_summary_text.delta": ResponsesStreamDecoder._reasoning_delta,
    "response.reasoning_summary_text.done": ResponsesStreamDecoder._reasoning_done,
    "response.reasoning_text.done": ResponsesStreamDecoder._reasoning_done,
    "response.reasoning_text.delta": ResponsesStreamDecoder._reasoning_delta,
    "response.function_call_arguments.delta": ResponsesStreamDecoder._arguments_delta,
    "response.custom_tool_call_input.delta": ResponsesStreamDecoder._arguments_delta,
    "response.function_call_arguments.done": ResponsesStreamDecoder._arguments_done,
    "response.custom_tool_call_input.done": ResponsesStreamDecoder._arguments_done,
    "response.output_item.done": ResponsesStreamDecoder._item_done,
    "response.completed": ResponsesStreamDecoder._completed,
    "response.incomplete": ResponsesStreamDecoder._completed,
    "response.failed": ResponsesStreamDecoder._failed,
    "error": ResponsesStreamDecoder._failed,
}
