"""openai-chat streams to clients: IR events -> ``chat.completion.chunk`` SSE."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from cliproxy.ir import (
    FileOutput,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningPart,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from cliproxy.sse import frame
from cliproxy.translate import EncodeContext, StreamEncoder
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat.common import FINISH_OUT, encode_usage
from cliproxy.wire.openai_chat.errors import encode_error
from cliproxy.wire.reasoning_details import details_for


class ChatStreamEncoder(StreamEncoder):
    """IR events -> ``chat.completion.chunk`` SSE (see :class:`cliproxy.StreamEncoder`)."""

    def __init__(self, ctx: EncodeContext) -> None:
        self._ctx = ctx
        options = ctx.body.get("stream_options")
        self._include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._prefix = b""
        self._tool_slots: dict[int, int] = {}
        self._reasoning_text: dict[int, list[str]] = {}
        self._started = False
        self._finished = False

    def _begin(self, response_id: str | None, created: int | None) -> bytes:
        self._started = True
        rid = orjson.dumps(response_id or c.new_id("chatcmpl-"))
        model = orjson.dumps(self._ctx.model)
        when = str(created or self._ctx.created or int(time.time())).encode()
        self._prefix = (
            b'data: {"id":'
            + rid
            + b',"object":"chat.completion.chunk","created":'
            + when
            + b',"model":'
            + model
            + b',"choices":['
        )
        return self._chunk(b'{"role":"assistant","content":""}')

    def _chunk(self, delta: bytes, finish: bytes = b"null") -> bytes:
        return (
            self._prefix + b'{"index":0,"delta":' + delta + b',"logprobs":null,"finish_reason":' + finish + b"}]}\n\n"
        )

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if not self._started and not isinstance(event, StreamError):
                start = event if isinstance(event, StreamStart) else None
                out.append(self._begin(start.id if start else None, start.created if start else None))
                if start is not None:
                    continue
            if isinstance(event, TextDelta):
                out.append(self._chunk(b'{"content":' + orjson.dumps(event.text) + b"}"))
            elif isinstance(event, ReasoningDelta):
                self._reasoning_text.setdefault(event.index, []).append(event.text)
                out.append(self._chunk(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}"))
            elif isinstance(event, ToolCallStart):
                slot = self._tool_slots[event.index] = len(self._tool_slots)
                call = {
                    "index": slot,
                    "id": event.id,
                    "type": "function",
                    "function": {"name": event.name, "arguments": ""},
                }
                signature = ((event.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")
                if signature:
                    call["extra_content"] = {"google": {"thought_signature": signature}}
                out.append(self._chunk(orjson.dumps({"tool_calls": [call]})))
            elif isinstance(event, ToolCallDelta):
                slot = self._tool_slots.get(event.index, 0)
                out.append(
                    self._chunk(
                        b'{"tool_calls":[{"index":'
                        + str(slot).encode()
                        + b',"function":{"arguments":'
                        + orjson.dumps(event.arguments)
                        + b"}}]}"
                    )
                )
            elif isinstance(event, ReasoningEnd) and event.provider_metadata:
                text = "".join(self._reasoning_text.pop(event.index, ()))
                details = details_for(ReasoningPart(text, event.provider_metadata), event.index)
                if details:
                    out.append(self._chunk(orjson.dumps({"reasoning_details": details})))
            elif isinstance(event, FileOutput) and event.part.is_image:
                image = {"type": "image_url", "image_url": {"url": c.to_data_url(event.part)}}
                out.append(self._chunk(orjson.dumps({"images": [image]})))
            elif isinstance(event, StreamFinish):
                self._finished = True
                reason = FINISH_OUT.get(event.finish.reason, "stop")
                out.append(self._chunk(b"{}", orjson.dumps(reason)))
                if self._include_usage:
                    out.append(self._prefix + b'],"usage":' + orjson.dumps(encode_usage(event.usage)) + b"}\n\n")
                out.append(b"data: [DONE]\n\n")
            elif isinstance(event, StreamError):
                self._finished = True
                out.append(frame(encode_error(event.error)))
        return b"".join(out)

    def close(self) -> bytes:
        return b""
