"""Forwarding an upstream's bytes when the client speaks the same wire format.

Only the model name changes: the response's model field (``model``; Gemini's
``modelVersion``) shows the name the client asked for. A stream is forwarded as the network
delivered it, cut only at event boundaries so a name is never split; in stream events tool
arguments are JSON *strings*, so the field can be rewritten without parsing. Events that
mention usage are parsed to count tokens; an error event the upstream sends mid-stream is
forwarded as is and noted in :attr:`PassthroughStream.error`, so the gateway can rest the
credential.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cliproxy.errors import GatewayError
from cliproxy.ir import Usage
from cliproxy.translate import UpstreamTranslator

__all__ = ["PassthroughStream", "rewrite_model"]

_USAGE_MARKERS = (b'sage"', b"usageMetadata")
_ERROR_MARKER = b'"error"'  # a key (or a bare string value); escaped text never matches


def _pattern(field: str) -> re.Pattern[bytes]:
    return re.compile(rb'("' + re.escape(field.encode()) + rb'"\s*:\s*)"(?:[^"\\]|\\.)*"')


def rewrite_model(body: bytes, client: str, field: str = "model") -> bytes:
    """A whole JSON response with its top-level ``field`` set to the client's model name.

    Parsed rather than searched, because a whole response may hold tool arguments as JSON
    objects with keys of the same name.
    """
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(obj, dict) or field not in obj or obj[field] == client:
        return body
    obj[field] = client
    return orjson.dumps(obj)


class PassthroughStream:
    """Rewrites the model name in a byte stream and collects the usage it reports.

    ``drop`` may reject parsed usage events the client did not ask for (the gateway asks
    OpenAI-style upstreams for usage even when the client did not).
    """

    def __init__(
        self,
        client: str,
        translator: UpstreamTranslator,
        drop: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        self._pattern = _pattern(getattr(translator, "model_field", "model"))
        self._replacement = orjson.dumps(client)
        self._translator = translator
        self._drop = drop
        self._rest = b""
        self.usage = Usage()
        self.error: GatewayError | None = None

    def _sub(self, data: bytes) -> bytes:
        replacement = self._replacement
        return self._pattern.sub(lambda m: m.group(1) + replacement, data)

    def feed(self, chunk: bytes) -> bytes:
        data = self._rest + chunk if self._rest else chunk
        cut = max(data.rfind(b"\n\n"), data.rfind(b"\n\r\n"))
        if cut < 0:
            self._rest = data
            return b""
        end = cut + (2 if data[cut + 1 : cut + 2] == b"\n" else 3)
        complete, self._rest = data[:end], data[end:]
        return self._sub(self._scan(complete))

    def close(self) -> bytes:
        rest, self._rest = self._rest, b""
        if rest:
            rest = self._scan(rest)
        return self._sub(rest)

    def _scan(self, data: bytes) -> bytes:
        """Collect usage from the events that mention it (dropping those ``drop``
        rejects), and note the first error event."""
        usage = any(marker in data for marker in _USAGE_MARKERS)
        if not usage and _ERROR_MARKER not in data:
            return data
        kept: list[bytes] = []
        for event in _events(data):
            mentions_usage = usage and any(m in event for m in _USAGE_MARKERS)
            mentions_error = _ERROR_MARKER in event
            obj = _data_of(event) if mentions_usage or mentions_error else None
            if obj is not None:
                if mentions_error and self.error is None:
                    self.error = self._error_of(obj)
                if mentions_usage:
                    found = self._translator.extract_usage(obj)
                    if found:
                        self.usage = self.usage.merge(found)
                    if self._drop is not None and self._drop(obj):
                        continue
            kept.append(event)
        return b"".join(kept)

    def _error_of(self, obj: Mapping[str, Any]) -> GatewayError | None:
        err = obj.get("error")
        if not isinstance(err, Mapping) or obj.get("choices") or obj.get("candidates"):
            return None
        code = err.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 502
        return self._translator.decode_error(status, {}, orjson.dumps(obj))


_EVENT_END = re.compile(rb"\n\r?\n")


def _events(data: bytes) -> list[bytes]:
    """``data`` cut after each blank line (LF or CRLF), terminators kept. Searching for the
    terminator is far faster than splitting on a look-behind, which tries every byte --
    and Gemini streams, whose every event carries usage, come through here whole."""
    events: list[bytes] = []
    start = 0
    for match in _EVENT_END.finditer(data):
        events.append(data[start : match.end()])
        start = match.end()
    if start < len(data):
        events.append(data[start:])
    return events


def _data_of(event: bytes) -> Mapping[str, Any] | None:
    for line in event.splitlines():
        if line.startswith(b"data:"):
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
            return obj if isinstance(obj, Mapping) else None
    return None
