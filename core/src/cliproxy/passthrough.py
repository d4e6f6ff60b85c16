"""Forwarding an upstream's bytes when the client speaks the same wire format.

Only the model name changes: every ``"model"`` / ``"modelVersion"`` value equal to the
upstream model name becomes the name the client asked for. The stream is forwarded as the
network delivered it, cut only at event boundaries so a name is never split; events that
mention usage are parsed to count tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.ir import Usage
from cliproxy.translate import UpstreamTranslator

__all__ = ["PassthroughStream", "rewrite_model"]

_USAGE_MARKERS = (b'sage"', b"usageMetadata")


def _pattern(upstream: str) -> re.Pattern[bytes]:
    return re.compile(rb'("model(?:Version)?"\s*:\s*)"' + re.escape(orjson.dumps(upstream)[1:-1]) + rb'"')


def rewrite_model(data: bytes, upstream: str, client: str) -> bytes:
    """``data`` with the upstream model name replaced by the client's, where they differ."""
    if upstream == client:
        return data
    replacement = orjson.dumps(client)
    return _pattern(upstream).sub(lambda m: m.group(1) + replacement, data)


class PassthroughStream:
    """Rewrites the model name in a byte stream and collects the usage it reports."""

    def __init__(self, upstream: str, client: str, translator: UpstreamTranslator) -> None:
        self._pattern = None if upstream == client else _pattern(upstream)
        self._replacement = orjson.dumps(client)
        self._translator = translator
        self._rest = b""
        self.usage = Usage()

    def _sub(self, data: bytes) -> bytes:
        if self._pattern is None:
            return data
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
        self._scan_usage(complete)
        return self._sub(complete)

    def close(self) -> bytes:
        rest, self._rest = self._rest, b""
        if rest:
            self._scan_usage(rest)
        return self._sub(rest)

    def _scan_usage(self, data: bytes) -> None:
        if not any(marker in data for marker in _USAGE_MARKERS):
            return
        for line in data.splitlines():
            if not line.startswith(b"data:") or not any(m in line for m in _USAGE_MARKERS):
                continue
            try:
                obj: Any = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, Mapping):
                found = self._translator.extract_usage(obj)
                if found:
                    self.usage = self.usage.merge(found)
