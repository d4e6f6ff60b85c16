"""The SSE parser: framing rules and arbitrary splits."""

from __future__ import annotations

import pytest
from cliproxy.errors import GatewayError
from cliproxy.sse import MAX_LINE, SSEEvent, SSEParser, frame
from cliproxy.testing.strategies import split_points
from hypothesis import given, settings
from hypothesis import strategies as st


def parse(*pieces: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for piece in pieces for e in parser.feed(piece)]
    return events + parser.close()


def test_named_and_unnamed_events():
    data = b'event: message_start\ndata: {"a":1}\n\ndata: {"b":2}\n\n'
    assert parse(data) == [SSEEvent("message_start", b'{"a":1}'), SSEEvent(None, b'{"b":2}')]


def test_comments_and_unknown_fields_are_dropped():
    data = b": OPENROUTER PROCESSING\n\nid: 7\nretry: 100\ndata: x\n\n"
    assert parse(data) == [SSEEvent(None, b"x")]


def test_multiline_data_joins_with_newlines_and_space_after_colon_is_optional():
    assert parse(b"data:a\ndata: b\n\n") == [SSEEvent(None, b"a\nb")]


def test_crlf_and_cr_line_endings():
    assert parse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n") == [
        SSEEvent(None, b"a"),
        SSEEvent(None, b"b"),
        SSEEvent(None, b"c"),
    ]


def test_unterminated_last_event_is_flushed_on_close():
    assert parse(b"data: tail") == [SSEEvent(None, b"tail")]


def test_frame():
    assert frame(b"{}") == b"data: {}\n\n"
    assert frame(b"{}", "ping") == b"event: ping\ndata: {}\n\n"


events = st.lists(
    st.tuples(
        st.none() | st.from_regex(r"[a-z_.]{1,12}", fullmatch=True), st.from_regex(r"[ -~]{0,30}", fullmatch=True)
    ),
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(st.data(), events, st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_any_split_gives_the_same_events(data, items, newline):
    raw = b""
    for name, payload in items:
        if name:
            raw += b"event: " + name.encode() + newline
        raw += b"data: " + payload.encode() + newline + newline
    expected = [SSEEvent(name, payload.encode()) for name, payload in items]
    assert parse(raw) == expected
    assert parse(*data.draw(split_points(raw))) == expected


pieces = st.lists(
    st.sampled_from(
        [
            b"data: ",
            b"data:",
            b"event: ",
            b"event:",
            b"x",
            b"{}",
            b"\n",
            b"\n\n",
            b"\r",
            b"\r\n",
            b": c",
            b"id: 1",
            b" ",
        ]
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(st.data(), pieces)
def test_whole_events_at_once_parse_as_line_by_line(data, parts):
    """Whole events are cut out by search, a byte at a time goes line by line: the same."""
    raw = b"".join(parts)
    one_by_one = parse(*(raw[i : i + 1] for i in range(len(raw))))
    assert parse(raw) == one_by_one
    assert parse(*data.draw(split_points(raw))) == one_by_one


def test_a_line_past_the_limit_is_refused_not_held():
    parser = SSEParser()
    parser.feed(b"data: " + b"x" * (MAX_LINE // 2))
    with pytest.raises(GatewayError) as refused:
        parser.feed(b"x" * (MAX_LINE // 2 + 10))
    assert refused.value.status == 502 and "longer than" in refused.value.message
