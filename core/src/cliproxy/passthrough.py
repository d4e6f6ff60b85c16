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

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cliproxy.errors import GatewayError
from cliproxy.ir import Usage
from cliproxy.sse import MAX_LINE, line_too_long
from cliproxy.translate import UpstreamTranslator

__all__ = ["PassthroughStream", "rewrite_model"]

_USAGE_HINT = b"sage"  # in both usage markers, ``usage"`` and ``usageMetadata``: one search finds either
_ERROR_MARKER = b'"error"'  # a key (or a bare string value); escaped text never matches


_SPACE = frozenset(b" \t\r\n")


def rewrite_field(data: bytes, key: bytes, value: bytes) -> bytes:
    """``data`` with every string value of JSON key ``key`` (quoted, as in ``b'"model"'``)
    replaced by ``value`` (a JSON string).

    Scanned with ``bytes`` methods rather than a regular expression. Streams repeat the
    same ``"model":"name"`` in every event, so when every occurrence is the first one the
    whole buffer is rewritten with one ``replace`` (or returned as it is when the name is
    already the client's); anything else takes the key-by-key scan.
    """
    at = data.find(key)
    if at < 0:
        return data
    i = at + len(key)
    if data.startswith(b':"', i):
        end = _string_end(data, i + 1)
        if end > 0:
            first = data[at:end]
            if data.count(first) == data.count(key):
                if data[i + 1 : end] == value:
                    return data
                return data.replace(first, key + b":" + value)
    return _rewrite_each(data, key, value, at)


def _rewrite_each(data: bytes, key: bytes, value: bytes, at: int) -> bytes:
    size = len(data)
    out: list[bytes] = []
    done = 0
    while at >= 0:
        i = at + len(key)
        while i < size and data[i] in _SPACE:
            i += 1
        if i < size and data[i] == 58:  # ":"
            i += 1
            while i < size and data[i] in _SPACE:
                i += 1
            if i < size and data[i] == 34:  # '"'
                end = _string_end(data, i)
                if end < 0:
                    break
                if data[i:end] != value:
                    out.append(data[done:i])
                    out.append(value)
                    done = end
                i = end
        at = data.find(key, i)
    if not out:
        return data
    out.append(data[done:])
    return b"".join(out)


def _string_end(data: bytes, start: int) -> int:
    """The index just past the JSON string opening at ``data[start]``, or -1."""
    quote = data.find(b'"', start + 1)
    while quote >= 0:
        backslashes = 0
        while data[quote - 1 - backslashes] == 92:  # "\\"
            backslashes += 1
        if not backslashes % 2:
            return quote + 1
        quote = data.find(b'"', quote + 1)
    return -1


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
        self._key = orjson.dumps(translator.model_field)
        self._replacement = orjson.dumps(client)
        # The upstream's "model":"name" seen last, and what it becomes: a stream repeats it
        # in every event, so an event holding only it is rewritten with one replace.
        self._seen = b""
        self._becomes = b""
        self._translator = translator
        self._drop = drop
        self._rest = b""
        self.usage = Usage()
        self.error: GatewayError | None = None

    def _sub(self, data: bytes) -> bytes:
        seen = self._seen
        if seen:
            count = data.count(self._key)
            if not count:
                return data
            if data.count(seen) == count:  # every occurrence is the one seen before
                return data.replace(seen, self._becomes) if self._becomes else data
        out = rewrite_field(data, self._key, self._replacement)
        self._remember(data)
        return out

    def _remember(self, data: bytes) -> None:
        """Note the ``"model":"name"`` of ``data`` (when it has one, as written by a stream)
        for the next events: ``_becomes`` is empty when the name is the client's already."""
        key = self._key
        at = data.find(key)
        i = at + len(key)
        if at < 0 or not data.startswith(b':"', i):
            return
        end = _string_end(data, i + 1)
        if end > 0:
            self._seen = data[at:end]
            self._becomes = b"" if data[i + 1 : end] == self._replacement else key + b":" + self._replacement

    def feed(self, chunk: bytes) -> bytes:
        data = self._rest + chunk if self._rest else chunk
        if data.endswith(b"\n\n"):  # the usual read: whole events
            self._rest = b""
            return self._sub(self._scan(data))
        cut = max(data.rfind(b"\n\n"), data.rfind(b"\n\r\n") if b"\r" in data else -1)
        if cut < 0:
            if len(data) > MAX_LINE:
                raise line_too_long()
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
        rejects), and note the first error event.

        Only the events holding a marker are cut out and parsed; the bytes around them
        are kept as they are.
        """
        usage_at = _next_usage(data, 0)
        error_at = data.find(_ERROR_MARKER)
        if usage_at < 0 and error_at < 0:
            return data
        crlf = b"\r" in data
        kept: list[bytes] = []
        done = 0  # data[:done] is decided (kept or dropped)
        at = _earliest(usage_at, error_at)
        while at >= 0:
            start = _event_start(data, done, at, crlf)
            end = _event_end(data, at, crlf)
            obj = _data_of(data[start:end])
            if obj is not None:
                if self.error is None and 0 <= error_at < end:
                    self.error = self._error_of(obj)
                if 0 <= usage_at < end:
                    found = self._translator.extract_usage(obj)
                    if found:
                        self.usage = self.usage.merge(found)
                    if self._drop is not None and self._drop(obj):
                        kept.append(data[done:start])
                        done = end
            # Each marker is searched for again only once passed: the buffer is scanned
            # once per marker, not once per event.
            if 0 <= usage_at < end:
                usage_at = _next_usage(data, end)
            if 0 <= error_at < end:
                error_at = data.find(_ERROR_MARKER, end)
            at = _earliest(usage_at, error_at)
        if not done:
            return data
        kept.append(data[done:])
        return b"".join(kept)

    def _error_of(self, obj: Mapping[str, Any]) -> GatewayError | None:
        err = obj.get("error")
        if not isinstance(err, Mapping) or obj.get("choices") or obj.get("candidates"):
            return None
        code = err.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 502
        return self._translator.decode_error(status, {}, orjson.dumps(obj))


def _earliest(a: int, b: int) -> int:
    """The smaller of two ``find`` results, -1 (not found) counting as none."""
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


def _next_usage(data: bytes, start: int) -> int:
    """Where the next usage marker (``usage"`` or ``usageMetadata``) in ``data`` at or
    after ``start`` holds its ``sage``, or -1. Other words holding ``sage`` (``message``)
    are passed over here, not parsed."""
    at = data.find(_USAGE_HINT, start)
    while at >= 0:
        if data.startswith(b'sage"', at) or (at > 0 and data.startswith(b"usageMetadata", at - 1)):
            return at
        at = data.find(_USAGE_HINT, at + 4)
    return -1


def _event_start(data: bytes, floor: int, at: int, has_cr: bool = True) -> int:
    """The start of the event holding ``data[at]``: just after the blank line before it."""
    lf = data.rfind(b"\n\n", floor, at)
    crlf = data.rfind(b"\n\r\n", floor, at) if has_cr else -1
    if lf < 0 and crlf < 0:
        return floor
    return lf + 2 if lf > crlf else crlf + 3


def _event_end(data: bytes, at: int, has_cr: bool = True) -> int:
    """The end of the event holding ``data[at]``: just after the blank line that ends it."""
    lf = data.find(b"\n\n", at)
    crlf = data.find(b"\n\r\n", at) if has_cr else -1
    if lf < 0 and crlf < 0:
        return len(data)
    if crlf < 0 or (lf >= 0 and lf < crlf):
        return lf + 2
    return crlf + 3


def _data_of(event: bytes) -> Mapping[str, Any] | None:
    for line in event.splitlines():
        if line.startswith(b"data:"):
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
            return obj if isinstance(obj, Mapping) else None
    return None
