"""openai-chat streams from upstreams: ``chat.completion.chunk`` SSE -> IR events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    BlockWriter,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    Usage,
    merge_metadata,
)
from cliproxy.sse import SSEParser
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat.common import WIRE, decode_finish, decode_usage
from cliproxy.wire.openai_chat.errors import error_from_body, error_status
from cliproxy.wire.reasoning_details import metadata_from_details


class ChatStreamDecoder:
    """SSE ``chat.completion.chunk`` s -> IR events (see :class:`cliproxy.StreamDecoder`)."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._blocks = BlockWriter()  # an open tool call's key is its upstream tool index
        self._tools: dict[int, int] = {}  # upstream tool index -> IR index
        self._finish: Finish | None = None
        self._usage = Usage()

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(data):
            if not self._done:
                self._event(event.data, out)
        return out

    def usage_so_far(self) -> Usage:
        """The usage the stream reported so far (what a stream that failed midway used)."""
        return self._usage

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.close():
            if not self._done:
                self._event(event.data, out)
        if not self._done:
            self._blocks.close(out)
            if self._finish is not None:
                self._end(out)
            else:
                self._done = True
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

    def _end(self, out: list[StreamEvent]) -> None:
        self._done = True
        out.append(StreamFinish(self._finish or Finish(FinishReason.STOP), self._usage))

    def _event(self, data: bytes, out: list[StreamEvent]) -> None:
        if data == b"[DONE]":
            self._blocks.close(out)
            self._end(out)
            return
        try:
            chunk = orjson.loads(data)
        except ValueError:
            return  # not JSON: a proxy's keep-alive or noise
        if not isinstance(chunk, dict):
            return
        if chunk.get("error") and not chunk.get("choices"):
            self._blocks.close(out)
            self._done = True
            out.append(StreamError(error_from_body(error_status(chunk["error"]), chunk)))
            return
        if not self._started and (chunk.get("id") or chunk.get("choices")):
            self._started = True  # Azure opens with an id-less prompt-filter chunk: wait for a real one
            out.append(
                StreamStart(
                    id=chunk.get("id") or None,
                    model=chunk.get("model") or None,
                    created=chunk.get("created") if isinstance(chunk.get("created"), int) else None,
                )
            )
        raw_usage = chunk.get("usage")
        if raw_usage:  # most chunks carry none, or null
            usage = decode_usage(raw_usage)
            if usage:
                self._usage = self._usage.merge(usage)
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return
        choice = choices[0]
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            return
        delta = choice.get("delta") or {}
        if isinstance(delta, dict):
            content = delta.get("content")
            if len(delta) == 1 and isinstance(content, str):  # the common chunk: text only
                if content:
                    blocks = self._blocks
                    if blocks.kind == "text":  # inline: this runs once per token
                        out.append(TextDelta(blocks.index, content))
                    else:
                        blocks.text(content, out)
            else:
                self._delta(delta, out)
        # OpenRouter reports a failure after the first token as a chunk with a top-level
        # (or per-choice) ``error`` and ``finish_reason: "error"``.
        err = choice.get("error") or chunk.get("error")
        if err:
            self._blocks.close(out)
            self._done = True
            out.append(StreamError(error_from_body(error_status(err), {"error": err})))
            return
        reason = choice.get("finish_reason")
        if reason:
            self._blocks.close(out)
            self._finish = decode_finish(reason)
            if reason == "error":
                self._done = True
                out.append(
                    StreamError(
                        GatewayError(
                            status=502, kind=ErrorKind.UPSTREAM, message="the upstream ended the response with an error"
                        )
                    )
                )

    def _delta(self, delta: Mapping[str, Any], out: list[StreamEvent]) -> None:
        details = delta.get("reasoning_details")
        details = details if isinstance(details, list) and details else None
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
        blocks = self._blocks
        if reasoning or details:
            index = blocks.ensure("reasoning", out)
            if reasoning:
                out.append(ReasoningDelta(index, reasoning))
                if blocks.metadata is None:
                    field = "reasoning_content" if delta.get("reasoning_content") else "reasoning"
                    blocks.metadata = {WIRE: {"field": field}}
            if details:
                text, meta = metadata_from_details(details)
                if not reasoning and text:
                    out.append(ReasoningDelta(index, text))
                blocks.metadata = _merge_details(blocks.metadata, meta)
        content = delta.get("content")
        if isinstance(content, str) and content:
            blocks.text(content, out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_delta(call, out)
        for image in delta.get("images") or ():
            url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
            if isinstance(url, str):
                blocks.file(c.file_from_url(url), out)

    def _tool_delta(self, call: Mapping[str, Any], out: list[StreamEvent]) -> None:
        blocks = self._blocks
        key = call.get("index")
        if not isinstance(key, int):
            current = blocks.key if isinstance(blocks.key, int) else None
            key = len(self._tools) if call.get("id") and call.get("id") not in self._tools.values() else (current or 0)
        function = call.get("function") or {}
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        if key not in self._tools:
            meta = None
            extra = call.get("extra_content")
            if isinstance(extra, dict) and (extra.get("google") or {}).get("thought_signature"):
                meta = {"gemini": {"thoughtSignature": extra["google"]["thought_signature"]}}
            name = function.get("name") if isinstance(function, dict) else None
            call_id = call.get("id") or c.new_id("call_")
            self._tools[key] = blocks.open_tool(call_id, name or "", out, meta, key=key)
        elif blocks.key != key:
            return  # a fragment for a call that already ended: the IR keeps blocks sequential
        if isinstance(arguments, str) and arguments:
            blocks.arguments(arguments, out)


def _merge_details(current: Any, new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(merge_metadata(current, {k: v for k, v in new.items() if k != WIRE}) or {})
    old_raw = ((current or {}).get(WIRE) or {}).get("reasoning_details") or []
    merged[WIRE] = {"reasoning_details": [*old_raw, *new[WIRE]["reasoning_details"]]}
    return merged


def usage_only_chunk(obj: Mapping[str, Any]) -> bool:
    return obj.get("choices") == [] and obj.get("usage") is not None
