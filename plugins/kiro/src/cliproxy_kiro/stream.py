"""Kiro's event stream -> IR stream events; a whole answer is the same stream, folded.

Frames (see :mod:`cliproxy_kiro.eventstream`) carry JSON payloads named by their
``:event-type`` header:

================================  ===================================================
``assistantResponseEvent``        answer text (a leading ``<thinking>`` block is reasoning)
``reasoningContentEvent``         reasoning text, its signature, redacted reasoning
``toolUseEvent``                  a tool call: ``name`` and ``toolUseId`` on every frame,
                                  ``input`` as JSON text fragments, ``stop`` on the last
``metadataEvent``/``usageEvent``  token counts
``meteringEvent``                 credits spent
``contextUsageEvent``             how full the context window is, in percent
``messageMetadataEvent``          conversation and utterance ids
others                            ignored (follow-up prompts, web links, citations...)
================================  ===================================================

``:message-type: exception`` frames become :class:`~cliproxy.ir.StreamError` events
(see :func:`cliproxy_kiro.errors.exception_error`), as do corrupt frames -- except
``ContentLengthExceededException`` after the answer has begun: Kiro cut the answer at its
output limit, so the answer finishes with reason ``length`` (as an OpenAI or Anthropic
answer that reaches ``max_tokens`` does) instead of failing. Kiro has no
terminal event: the answer ends with the connection, so :meth:`KiroStreamDecoder.close`
finishes it -- unless the connection broke off inside a frame.

When Kiro reports no token counts, usage is estimated (input from the request when the
provider passes an estimate, output from the text that streamed) and marked
``estimated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from cliproxy import ErrorKind, GatewayError, estimate_tokens, ir

from cliproxy_kiro.errors import PROVIDER, exception_error
from cliproxy_kiro.eventstream import EventStreamError, Frame, FrameDecoder
from cliproxy_kiro.thinking import ThinkingSplitter

__all__ = ["KiroStreamDecoder", "decode_response", "usage_from"]

WIRE = "kiro"
LENGTH_EXCEPTION = "ContentLengthExceededException"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from(payload: Mapping[str, Any]) -> ir.Usage | None:
    """Token counts from a ``metadataEvent``/``usageEvent`` payload, if it has any."""
    counts = payload.get("tokenUsage")
    if not isinstance(counts, Mapping):
        counts = payload
    uncached = _int(counts.get("uncachedInputTokens"))
    if uncached is None:
        uncached = _int(counts.get("inputTokens"))
    output = _int(counts.get("outputTokens"))
    cache_read = _int(counts.get("cacheReadInputTokens"))
    cache_write = _int(counts.get("cacheWriteInputTokens"))
    if uncached is None and output is None:
        return None
    total_input = None
    if uncached is not None:
        total_input = uncached + (cache_read or 0) + (cache_write or 0)
    return ir.Usage(
        input_tokens=total_input,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class KiroStreamDecoder:
    """Kiro event-stream bytes -> IR events (see :class:`cliproxy.StreamDecoder`).

    Args:
        tool_names: Kiro tool name -> client tool name, for names the request shortened.
        input_tokens: An estimate of the request's input tokens, reported (marked
            estimated) when Kiro sends no token counts.
    """

    def __init__(self, *, tool_names: Mapping[str, str] | None = None, input_tokens: int | None = None) -> None:
        self._frames = FrameDecoder()
        self._thinking = ThinkingSplitter()
        self._tool_names = dict(tool_names or {})
        self._input_estimate = input_tokens
        self._started = False
        self._done = False
        self._seen_frame = False
        self._blocks = ir.BlockWriter()  # an open tool call's key is its toolUseId
        self._tool_args = False  # the open tool call has received arguments
        self._finished_tools: set[str] = set()
        self._usage: ir.Usage | None = None
        self._output: list[str] = []
        self._meta: dict[str, Any] = {}
        self._stop_reason: str | None = None

    # -- input ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if self._done:
            return out
        try:
            frames = self._frames.feed(data)
        except EventStreamError as exc:
            self._fail(out, self._corrupt(str(exc)))
            return out
        for frame in frames:
            self._frame(frame, out)
            if self._done:
                break
        return out

    def close(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if self._done:
            return out
        try:
            self._frames.close()
        except EventStreamError as exc:
            self._fail(out, self._corrupt(f"the connection ended mid-frame ({exc})"))
            return out
        if not self._seen_frame:
            self._fail(
                out,
                GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message="Kiro ended the stream without sending any event",
                    provider=PROVIDER,
                ),
            )
            return out
        if self._blocks.kind == "tool":
            finish = ir.Finish(ir.FinishReason.LENGTH, "tool_use_incomplete")
        elif self._finished_tools:
            finish = ir.Finish(ir.FinishReason.TOOL_CALLS, self._stop_reason or "tool_use")
        else:
            finish = ir.Finish(ir.FinishReason.STOP, self._stop_reason)
        self._finish(out, finish)
        return out

    # -- frames --------------------------------------------------------------------------

    def _frame(self, frame: Frame, out: list[ir.StreamEvent]) -> None:
        self._seen_frame = True
        kind = frame.message_type
        if kind == "exception":
            name = frame.headers.get(":exception-type")
            if name == LENGTH_EXCEPTION and self._started:
                self._finish(out, ir.Finish(ir.FinishReason.LENGTH, LENGTH_EXCEPTION))
                return
            self._fail(out, exception_error(name if isinstance(name, str) else "UnknownException", frame.payload))
            return
        if kind == "error":
            code = frame.headers.get(":error-code")
            text = frame.headers.get(":error-message")
            self._fail(out, exception_error(str(code or "InternalError"), orjson.dumps({"message": text or ""})))
            return
        event = frame.event_type
        if event is None:
            return
        try:
            payload = orjson.loads(frame.payload) if frame.payload else {}
        except orjson.JSONDecodeError:
            self._fail(out, self._corrupt(f"a {event} frame carries a payload that is not JSON"))
            return
        if not isinstance(payload, dict):
            return
        handler = _HANDLERS.get(event)
        if handler is not None:
            handler(self, payload, out)

    def _assistant(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        content = payload.get("content")
        if isinstance(content, str) and content:
            self._text_segments(self._thinking.feed(content), out)

    def _reasoning(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._text_segments(self._thinking.flush(), out)
        text = payload.get("text")
        if isinstance(text, str) and text:
            self._delta("reasoning", text, out)
        signature = payload.get("signature")
        redacted = payload.get("redactedContent")
        values: dict[str, Any] = {}
        if isinstance(signature, str) and signature:
            values["signature"] = signature
        if isinstance(redacted, str) and redacted:
            values["redacted_data"] = redacted
        if values:
            if self._blocks.kind != "reasoning":
                self._start(out)
                self._blocks.open("reasoning", out)
            self._blocks.add_metadata({WIRE: values})

    def _tool_use(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        call_id = payload.get("toolUseId")
        name = payload.get("name")
        if not isinstance(call_id, str) or not call_id or call_id in self._finished_tools:
            return
        self._text_segments(self._thinking.flush(), out)
        blocks = self._blocks
        if call_id != blocks.key:
            if not isinstance(name, str) or not name:
                return
            self._start(out)
            blocks.open_tool(call_id, self._tool_names.get(name, name), out, key=call_id)
            self._tool_args = False
        arguments = payload.get("input")
        if isinstance(arguments, str) and arguments:
            self._tool_args = True
            self._output.append(arguments)
            blocks.arguments(arguments, out)
        elif isinstance(arguments, Mapping) and arguments and not self._tool_args:
            text = orjson.dumps(dict(arguments)).decode()
            self._tool_args = True
            self._output.append(text)
            blocks.arguments(text, out)
        if payload.get("stop") is True:
            self._finished_tools.add(call_id)
            blocks.close(out)

    def _metadata(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        usage = usage_from(payload)
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merge(usage)

    def _metering(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        amount = payload.get("usage")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            self._meta["credits"] = round(self._meta.get("credits", 0.0) + float(amount), 6)
        unit = payload.get("unit")
        if isinstance(unit, str):
            self._meta["credit_unit"] = unit

    def _context(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        percentage = payload.get("contextUsagePercentage")
        if isinstance(percentage, int | float) and not isinstance(percentage, bool):
            self._meta["context_usage_percentage"] = float(percentage)

    def _message_metadata(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        for source, target in (("conversationId", "conversation_id"), ("utteranceId", "utterance_id")):
            value = payload.get(source)
            if isinstance(value, str) and value:
                self._meta[target] = value

    def _message_stop(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        reason = payload.get("stopReason")
        if isinstance(reason, str) and reason:
            self._stop_reason = reason

    # -- blocks --------------------------------------------------------------------------

    def _start(self, out: list[ir.StreamEvent]) -> None:
        if not self._started:
            self._started = True
            out.append(ir.StreamStart())

    def _delta(self, kind: Literal["text", "reasoning"], text: str, out: list[ir.StreamEvent]) -> None:
        if self._blocks.kind != kind:
            self._start(out)  # before the block's start event
        self._output.append(text)
        if kind == "text":
            self._blocks.text(text, out)
        else:
            self._blocks.reasoning(text, out)

    def _text_segments(self, segments: list[ir.ThinkSegment], out: list[ir.StreamEvent]) -> None:
        for kind, text in segments:
            if text:
                self._delta(kind, text, out)

    # -- endings -------------------------------------------------------------------------

    def _final_usage(self) -> ir.Usage:
        if self._usage is not None:
            return self._usage
        return ir.Usage(
            input_tokens=self._input_estimate,
            output_tokens=estimate_tokens("".join(self._output)),
            estimated=True,
        )

    def _corrupt(self, detail: str) -> GatewayError:
        return GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"Kiro sent a broken event stream: {detail}",
            provider=PROVIDER,
        )

    def _finish(self, out: list[ir.StreamEvent], finish: ir.Finish) -> None:
        self._text_segments(self._thinking.close(), out)
        self._blocks.close(out)
        self._start(out)
        self._done = True
        out.append(ir.StreamFinish(finish, self._final_usage(), {WIRE: dict(self._meta)} if self._meta else None))

    def _fail(self, out: list[ir.StreamEvent], error: GatewayError) -> None:
        self._done = True
        out.append(ir.StreamError(error))


_HANDLERS = {
    "assistantResponseEvent": KiroStreamDecoder._assistant,
    "reasoningContentEvent": KiroStreamDecoder._reasoning,
    "toolUseEvent": KiroStreamDecoder._tool_use,
    "metadataEvent": KiroStreamDecoder._metadata,
    "usageEvent": KiroStreamDecoder._metadata,
    "meteringEvent": KiroStreamDecoder._metering,
    "contextUsageEvent": KiroStreamDecoder._context,
    "messageMetadataEvent": KiroStreamDecoder._message_metadata,
    "messageStopEvent": KiroStreamDecoder._message_stop,
}


def decode_response(body: bytes, decoder: KiroStreamDecoder | None = None) -> ir.Response:
    """A whole event stream folded into one response (raises the stream's error)."""
    decoder = decoder or KiroStreamDecoder()
    builder = ir.ResponseBuilder()
    builder.feed(decoder.feed(body))
    builder.feed(decoder.close())
    return builder.build()
