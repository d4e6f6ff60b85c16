"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Kiro answers ``generateAssistantResponse`` with a stream of frames::

    total_length  u32 BE   the whole frame, these 4 bytes included
    headers_len   u32 BE
    prelude_crc   u32 BE   CRC-32 of the 8 bytes above
    headers       headers_len bytes
    payload       total_length - headers_len - 16 bytes
    message_crc   u32 BE   CRC-32 of everything before it

A header is ``name_len u8, name (UTF-8), type u8, value``; the value depends on the type:
0 true, 1 false (no bytes), 2 byte (i8), 3 short (i16), 4 integer (i32), 5 long (i64),
6 bytes (u16 length + bytes), 7 string (u16 length + UTF-8), 8 timestamp (i64
milliseconds), 9 uuid (16 bytes). CRCs are CRC-32/ISO-HDLC, i.e. :func:`zlib.crc32`.

:class:`FrameDecoder` takes bytes as the network delivers them, split anywhere, and
returns each frame once it is complete; a frame whose CRC or lengths do not add up raises
:class:`EventStreamError` naming the byte offset. :func:`encode_frame` builds frames
(tests use it to play a fake Kiro server).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = [
    "MAX_FRAME_BYTES",
    "EventStreamError",
    "Frame",
    "FrameDecoder",
    "HeaderValue",
    "decode_frames",
    "encode_frame",
]

PRELUDE = 12
OVERHEAD = 16  # prelude + message CRC
MAX_FRAME_BYTES = 24 * 1024 * 1024
"""Frames larger than this are refused (AWS caps a message at 16 MiB of payload and
128 KiB of headers); a length beyond it can only be corruption or abuse."""

_U32 = struct.Struct(">I")
_PRELUDE = struct.Struct(">III")
_INT_TYPES = {2: struct.Struct(">b"), 3: struct.Struct(">h"), 4: struct.Struct(">i"), 5: struct.Struct(">q")}


class EventStreamError(ValueError):
    """A frame that breaks the format: bad CRC, impossible lengths, malformed headers."""


@attrs.frozen
class HeaderValue:
    """A header value with an explicit wire type, for types a plain Python value does not
    pick (byte, short, timestamp...). ``type`` is the wire type code 0-9."""

    type: int
    value: Any


@attrs.frozen
class Frame:
    """One decoded message: its headers (name -> value) and raw payload."""

    headers: Mapping[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", "event"))

    @property
    def event_type(self) -> str | None:
        value = self.headers.get(":event-type")
        return value if isinstance(value, str) else None


# -- encoding ------------------------------------------------------------------------------


def _encode_value(value: Any) -> bytes:
    if isinstance(value, HeaderValue):
        kind, raw = value.type, value.value
    elif isinstance(value, bool):
        kind, raw = (0 if value else 1), None
    elif isinstance(value, int):
        kind, raw = (4 if -(2**31) <= value < 2**31 else 5), value
    elif isinstance(value, bytes | bytearray):
        kind, raw = 6, bytes(value)
    elif isinstance(value, str):
        kind, raw = 7, value
    elif isinstance(value, uuid.UUID):
        kind, raw = 9, value
    else:
        raise TypeError(f"cannot encode a header value of type {type(value).__name__}")
    if kind in (0, 1):
        return bytes([kind])
    if kind in _INT_TYPES:
        return bytes([kind]) + _INT_TYPES[kind].pack(int(raw))
    if kind in (6, 7):
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if len(data) > 0xFFFF:
            raise ValueError("header values are limited to 65535 bytes")
        return bytes([kind]) + struct.pack(">H", len(data)) + data
    if kind == 8:
        return bytes([8]) + struct.pack(">q", int(raw))
    if kind == 9:
        data = raw.bytes if isinstance(raw, uuid.UUID) else bytes(raw)
        if len(data) != 16:
            raise ValueError("a uuid header value is 16 bytes")
        return bytes([9]) + data
    raise ValueError(f"unknown header type {kind}")


def encode_frame(headers: Mapping[str, Any], payload: bytes = b"") -> bytes:
    """One frame with ``headers`` (str, bytes, bool, int, UUID or :class:`HeaderValue`
    values) and ``payload``, CRCs included."""
    parts = []
    for name, value in headers.items():
        encoded = name.encode()
        if not 0 < len(encoded) < 256:
            raise ValueError(f"header name {name!r} must be 1-255 bytes")
        parts.append(bytes([len(encoded)]) + encoded + _encode_value(value))
    header_bytes = b"".join(parts)
    total = len(header_bytes) + len(payload) + OVERHEAD
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += _U32.pack(zlib.crc32(prelude))
    body = prelude + header_bytes + payload
    return body + _U32.pack(zlib.crc32(body))


# -- decoding ------------------------------------------------------------------------------


def _decode_headers(data: memoryview, where: int) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            name_len = data[pos]
            pos += 1
            if name_len == 0:
                raise EventStreamError(f"frame at byte {where}: a header has an empty name")
            name = bytes(data[pos : pos + name_len]).decode()
            pos += name_len
            kind = data[pos]
            pos += 1
            if kind in (0, 1):
                value: Any = kind == 0
            elif kind in _INT_TYPES:
                fmt = _INT_TYPES[kind]
                value = fmt.unpack_from(data, pos)[0]
                pos += fmt.size
            elif kind in (6, 7):
                length = struct.unpack_from(">H", data, pos)[0]
                pos += 2
                raw = bytes(data[pos : pos + length])
                if len(raw) != length:
                    raise EventStreamError(f"frame at byte {where}: header {name!r} runs past the headers")
                pos += length
                value = raw.decode() if kind == 7 else raw
            elif kind == 8:
                value = struct.unpack_from(">q", data, pos)[0]
                pos += 8
            elif kind == 9:
                raw = bytes(data[pos : pos + 16])
                if len(raw) != 16:
                    raise EventStreamError(f"frame at byte {where}: header {name!r} runs past the headers")
                value = uuid.UUID(bytes=raw)
                pos += 16
            else:
                raise EventStreamError(f"frame at byte {where}: header {name!r} has unknown type {kind}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError):
        raise EventStreamError(f"frame at byte {where}: malformed headers") from None
    if pos != end:
        raise EventStreamError(f"frame at byte {where}: headers run past their declared length")
    return headers


class FrameDecoder:
    """Incremental frame decoder: ``feed`` network reads, get complete frames back.

    Raises :class:`EventStreamError` at the first frame that fails its checks; after that
    the stream cannot be resynchronised and the decoder should be dropped.
    """

    _CACHE_SIZE = 32

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0  # stream offset of the buffer's first byte, for error messages
        # Kiro repeats the same few header blocks on every frame; decode each once.
        self._headers: dict[bytes, Mapping[str, Any]] = {}

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        start = 0
        size = len(buffer)
        view = memoryview(buffer)
        try:
            while size - start >= PRELUDE:
                where = self._offset + start
                total, headers_len, prelude_crc = _PRELUDE.unpack_from(buffer, start)
                if zlib.crc32(view[start : start + 8]) != prelude_crc:
                    raise EventStreamError(
                        f"frame at byte {where}: prelude CRC mismatch (corrupt or not an event stream)"
                    )
                if total < OVERHEAD or headers_len > total - OVERHEAD:
                    raise EventStreamError(
                        f"frame at byte {where}: impossible lengths (total {total}, headers {headers_len})"
                    )
                if total > MAX_FRAME_BYTES:
                    raise EventStreamError(f"frame at byte {where}: {total} bytes is larger than any Kiro frame")
                if size - start < total:
                    break
                end = start + total
                (message_crc,) = _U32.unpack_from(buffer, end - 4)
                if zlib.crc32(view[start : end - 4]) != message_crc:
                    raise EventStreamError(f"frame at byte {where}: message CRC mismatch (the frame is corrupt)")
                raw_headers = bytes(view[start + PRELUDE : start + PRELUDE + headers_len])
                headers = self._headers.get(raw_headers)
                if headers is None:
                    headers = MappingProxyType(_decode_headers(memoryview(raw_headers), where))
                    if len(self._headers) >= self._CACHE_SIZE:
                        self._headers.clear()
                    self._headers[raw_headers] = headers
                frames.append(Frame(headers, bytes(view[start + PRELUDE + headers_len : end - 4])))
                start = end
        finally:
            view.release()
        if start:
            del buffer[:start]
            self._offset += start
        return frames

    def close(self) -> None:
        """End of input: raises if bytes of an unfinished frame are left over."""
        if self._buffer:
            raise EventStreamError(
                f"the stream ended inside a frame: {len(self._buffer)} bytes at byte {self._offset} never completed"
            )


def decode_frames(data: bytes) -> list[Frame]:
    """Every frame of a whole event stream (raises :class:`EventStreamError`)."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    decoder.close()
    return frames
