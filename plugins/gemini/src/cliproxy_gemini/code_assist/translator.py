"""``gemini-code-assist``: Code Assist's ``v1internal`` wire, a wrapper around Gemini's.

Requests are ``{"model", "project", "user_prompt_id", "request": <generateContent body>}``;
answers are ``{"response": <GenerateContentResponse>, "traceId": ...}``, one per SSE event
when streaming (LF or CRLF framing). This translator wraps and unwraps around the core's
``gemini`` translator, which does the real work; ``traceId`` stands in for a missing
``responseId``. Errors are ``google.rpc.Status``, as on the Gemini API.

:class:`Unwrapper` turns a Code Assist stream into a plain Gemini stream, byte for byte
what the Gemini API would have sent, so Gemini clients get it passed through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy import GatewayError, UpstreamTranslator
from cliproxy.ir import Request, Response, StreamEvent, Usage
from cliproxy.wire.gemini import Gemini

__all__ = ["WIRE", "CodeAssist", "CodeAssistStreamDecoder", "Unwrapper", "unwrap", "unwrap_body"]

WIRE = "gemini-code-assist"


def unwrap(obj: Any) -> Any:
    """The Gemini response inside a Code Assist answer (anything else unchanged)."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("response"), Mapping):
        return obj
    inner = dict(obj["response"])
    trace = obj.get("traceId")
    if "responseId" not in inner and isinstance(trace, str) and trace:
        inner["responseId"] = trace
    return inner


def unwrap_body(body: bytes) -> bytes:
    """A whole Code Assist answer as the Gemini API's answer."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps([unwrap(item) for item in obj] if isinstance(obj, list) else unwrap(obj))


class Unwrapper:
    """Code Assist SSE bytes -> Gemini SSE bytes, split anywhere."""

    __slots__ = ("_data", "_rest")

    def __init__(self) -> None:
        self._rest = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> bytes:
        buffer = self._rest + chunk if self._rest else chunk
        lines = buffer.split(b"\n")
        self._rest = lines.pop()
        out: list[bytes] = []
        for line in lines:
            self._line(line.rstrip(b"\r"), out)
        return b"".join(out)

    def close(self) -> bytes:
        out: list[bytes] = []
        if self._rest:
            self._line(self._rest.rstrip(b"\r"), out)
            self._rest = b""
        self._line(b"", out)
        return b"".join(out)

    def _line(self, line: bytes, out: list[bytes]) -> None:
        if line:
            if line.startswith(b"data:"):
                self._data.append(line[5:].lstrip(b" "))
            return  # comments and other fields carry nothing
        if not self._data:
            return
        data, self._data = b"\n".join(self._data), []
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # keep-alive noise
        out.append(b"data: " + orjson.dumps(unwrap(obj)) + b"\r\n\r\n")


class CodeAssistStreamDecoder:
    """Code Assist stream bytes -> IR events, through the Gemini stream decoder."""

    def __init__(self, inner: Any) -> None:
        self._unwrapper = Unwrapper()
        self._inner = inner

    def feed(self, data: bytes) -> list[StreamEvent]:
        unwrapped = self._unwrapper.feed(data)
        return self._inner.feed(unwrapped) if unwrapped else []

    def close(self) -> list[StreamEvent]:
        tail = self._unwrapper.close()
        events = self._inner.feed(tail) if tail else []
        return events + self._inner.close()


class CodeAssist(UpstreamTranslator):
    """The ``gemini-code-assist`` upstream translator."""

    name = WIRE
    model_field = "modelVersion"

    def __init__(self) -> None:
        self._gemini = Gemini()

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The wrapped body, without ``project`` (the provider knows it, the IR does not)."""
        return {"model": model, "request": self._gemini.encode_request(request, model)}

    def decode_response(self, body: bytes) -> Response:
        return self._gemini.decode_response(unwrap_body(body))

    def stream_decoder(self) -> CodeAssistStreamDecoder:
        return CodeAssistStreamDecoder(self._gemini.stream_decoder())

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return self._gemini.decode_error(status, headers, unwrap_body(body))

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return self._gemini.extract_usage(unwrap(obj))
