"""The AWS event-stream codec against published vectors, the recordings, and properties."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from cliproxy_kiro.eventstream import (
    MAX_FRAME_BYTES,
    EventStreamError,
    FrameDecoder,
    HeaderValue,
    decode_frames,
    encode_frame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

RECORDED = ("text", "tool-use", "exception")


def _vectors(path) -> list[bytes]:
    """The hex blocks of the known-answer file, one per numbered vector."""
    text = path.read_text()
    blocks = re.split(r"^\d\) .*$", text, flags=re.MULTILINE)[1:]
    out = []
    for block in blocks:
        hex_lines = [line for line in block.splitlines() if re.fullmatch(r"(?:[0-9a-f]{2} ?)+", line.strip())]
        out.append(bytes.fromhex("".join(hex_lines)))
    return out


def test_known_answer_vectors_encode_and_decode(recording):
    no_headers, with_header = _vectors(recording("kiro/aws-eventstream-known-answer-vectors.txt"))
    payload = b'{"foo": "bar"}'
    assert encode_frame({}, payload) == no_headers
    assert encode_frame({"content-type": "application/json"}, payload) == with_header
    assert decode_frames(no_headers)[0].payload == payload
    frame = decode_frames(with_header)[0]
    assert frame.headers == {"content-type": "application/json"} and frame.payload == payload


@pytest.mark.parametrize("name", RECORDED)
def test_synthetic_recordings_match_their_listings(recording, name):
    data = recording(f"kiro/SYNTHETIC-{name}.eventstream.bin").read_bytes()
    listing = json.loads(recording(f"kiro/SYNTHETIC-{name}.frames.json").read_text())
    frames = decode_frames(data)
    assert len(frames) == len(listing)
    for frame, expected in zip(frames, listing, strict=True):
        assert dict(frame.headers) == expected["headers"]
        assert frame.payload.decode() == expected["payload"]
        # and the encoder rebuilds the recorded bytes exactly, CRCs included
        start = expected["offset"]
        assert (
            encode_frame(expected["headers"], expected["payload"].encode())
            == data[start : start + expected["total_length"]]
        )


def test_every_header_type_round_trips():
    headers = {
        "t": True,
        "f": False,
        "byte": HeaderValue(2, -5),
        "short": HeaderValue(3, 1200),
        "int": 70000,
        "long": 2**40,
        "bytes": b"\x00\x01\xff",
        "string": "héllo",
        "ts": HeaderValue(8, 1_700_000_000_000),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }
    frame = decode_frames(encode_frame(headers, b"x"))[0]
    assert frame.headers == {
        "t": True,
        "f": False,
        "byte": -5,
        "short": 1200,
        "int": 70000,
        "long": 2**40,
        "bytes": b"\x00\x01\xff",
        "string": "héllo",
        "ts": 1_700_000_000_000,
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }


def test_an_unfinished_frame_is_reported_at_close(recording):
    data = recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes()
    decoder = FrameDecoder()
    assert len(decoder.feed(data[:-3])) == 3
    with pytest.raises(EventStreamError, match="ended inside a frame"):
        decoder.close()


def test_absurd_lengths_are_refused_without_waiting():
    import struct
    import zlib

    prelude = struct.pack(">II", MAX_FRAME_BYTES + 1, 0)
    data = prelude + struct.pack(">I", zlib.crc32(prelude))
    with pytest.raises(EventStreamError, match="larger than any Kiro frame"):
        FrameDecoder().feed(data)
    prelude = struct.pack(">II", 20, 10)  # headers longer than the frame allows
    with pytest.raises(EventStreamError, match="impossible lengths"):
        FrameDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_crc_errors_name_the_frame(recording):
    data = bytearray(recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes())
    data[130] ^= 0x01  # inside the second frame's prelude (frame 2 starts at byte 127)
    with pytest.raises(EventStreamError, match="frame at byte 127: prelude CRC"):
        decode_frames(bytes(data))
    data = bytearray(recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes())
    data[200] ^= 0x40  # inside the second frame's payload
    with pytest.raises(EventStreamError, match="frame at byte 127: message CRC"):
        decode_frames(bytes(data))


# -- properties -----------------------------------------------------------------------------

header_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda s: len(s.encode()) < 256
)
header_values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.binary(max_size=40),
    st.text(max_size=40),
    st.uuids(),
)
frames_strategy = st.lists(
    st.tuples(st.dictionaries(header_names, header_values, max_size=4), st.binary(max_size=200)), min_size=1, max_size=6
)


def _stream(frames) -> bytes:
    return b"".join(encode_frame(headers, payload) for headers, payload in frames)


def _decode_split(data: bytes, cuts: list[int]):
    decoder = FrameDecoder()
    out = []
    last = 0
    for cut in sorted(set(cuts)):
        out += decoder.feed(data[last:cut])
        last = cut
    out += decoder.feed(data[last:])
    decoder.close()
    return out


@settings(max_examples=80, deadline=None)
@given(frames=frames_strategy, data=st.data())
def test_any_split_of_valid_bytes_decodes_the_same(frames, data):
    stream = _stream(frames)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=20))
    decoded = _decode_split(stream, cuts)
    assert [(dict(f.headers), f.payload) for f in decoded] == [
        ({k: (v.value if isinstance(v, HeaderValue) else v) for k, v in h.items()}, p) for h, p in frames
    ]


@settings(max_examples=80, deadline=None)
@given(frames=frames_strategy, data=st.data())
def test_any_single_byte_corruption_is_rejected(frames, data):
    stream = bytearray(_stream(frames))
    position = data.draw(st.integers(min_value=0, max_value=len(stream) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    stream[position] ^= flip
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=8))
    with pytest.raises(EventStreamError):
        _decode_split(bytes(stream), cuts)
