"""Playing Kiro in tests: real event-stream frames, and replies a FakeUpstream sends.

::

    from cliproxy.testing import FakeUpstream
    from cliproxy_kiro import testing as kt

    upstream.add("POST", "/generateAssistantResponse", kt.reply(kt.text("Hello", " world")))

Frames are built by :func:`cliproxy_kiro.eventstream.encode_frame`, CRCs included, with
the headers Kiro sends (``:event-type``, ``:content-type``, ``:message-type``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cliproxy.testing import Reply

from cliproxy_kiro.eventstream import encode_frame

__all__ = [
    "CONTENT_TYPE",
    "error",
    "event",
    "exception",
    "metering",
    "reasoning",
    "reply",
    "text",
    "token_usage",
    "tool_use",
]

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """One ``:message-type: event`` frame with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, orjson.dumps(dict(payload)))


def exception(exception_type: str, message: str) -> bytes:
    """A ``:message-type: exception`` frame (``ContentLengthExceededException``...)."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, orjson.dumps({"message": message}))


def error(code: str, message: str) -> bytes:
    """A ``:message-type: error`` frame."""
    return encode_frame({":error-code": code, ":error-message": message, ":message-type": "error"})


def text(*pieces: str) -> list[bytes]:
    """``assistantResponseEvent`` frames, one per piece."""
    return [event("assistantResponseEvent", {"content": piece}) for piece in pieces]


def reasoning(text: str, signature: str | None = None) -> bytes:
    payload: dict[str, Any] = {"text": text}
    if signature is not None:
        payload["signature"] = signature
    return event("reasoningContentEvent", payload)


def tool_use(tool_id: str, name: str, fragments: Iterable[str]) -> list[bytes]:
    """A streamed tool call: an opening frame, one frame per input fragment, a stop."""
    frames = [event("toolUseEvent", {"name": name, "toolUseId": tool_id, "input": ""})]
    frames += [event("toolUseEvent", {"name": name, "toolUseId": tool_id, "input": f}) for f in fragments]
    frames.append(event("toolUseEvent", {"name": name, "toolUseId": tool_id, "stop": True}))
    return frames


def token_usage(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> bytes:
    """A ``metadataEvent`` with token counts (input split into uncached and cached)."""
    counts = {
        "uncachedInputTokens": input_tokens - cache_read - cache_write,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
        "cacheReadInputTokens": cache_read,
        "cacheWriteInputTokens": cache_write,
    }
    return event("metadataEvent", {"tokenUsage": counts})


def metering(credits: float) -> bytes:
    return event("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": credits})


def reply(frames: Iterable[bytes], *, chunk_size: int | None = None, **kw: Any) -> Reply:
    """A streamed ``200`` answer: one network write per frame, or ``chunk_size`` pieces."""
    data = list(frames)
    if chunk_size:
        joined = b"".join(data)
        data = [joined[i : i + chunk_size] for i in range(0, len(joined), chunk_size)]
    return Reply(status=200, chunks=data, content_type=CONTENT_TYPE, **kw)
