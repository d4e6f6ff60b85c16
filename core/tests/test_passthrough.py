"""Pass-through: the model name rewritten, usage collected, events kept whole."""

from __future__ import annotations

import orjson
import pytest
from cliproxy.errors import GatewayError
from cliproxy.passthrough import PassthroughStream, rewrite_model
from cliproxy.sse import MAX_LINE
from cliproxy.testing.strategies import split_points
from cliproxy.wire.openai_chat import OpenAIChat, usage_only_chunk
from hypothesis import given, settings
from hypothesis import strategies as st

STREAM = (
    b'data: {"id":"1","model":"gpt-4.1-2025","choices":[{"index":0,"delta":{"content":"hi \\"model\\": x"}}]}\n\n'
    b'data: {"id":"1","model":"gpt-4.1-2025","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"1","model":"gpt-4.1-2025","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
    b"data: [DONE]\n\n"
)


def run(pieces, drop=None):
    relay = PassthroughStream("alias", OpenAIChat(), drop)
    out = b"".join(relay.feed(p) for p in pieces) + relay.close()
    return out, relay.usage


def test_model_renamed_usage_collected_content_untouched():
    out, usage = run([STREAM])
    assert out.count(b'"model":"alias"') == 3 and b"gpt-4.1-2025" not in out
    assert b'hi \\"model\\": x' in out
    assert (usage.input_tokens, usage.output_tokens) == (3, 4)


def test_usage_chunk_dropped_when_the_client_did_not_ask():
    out, usage = run([STREAM], drop=usage_only_chunk)
    assert b'"usage"' not in out and usage.output_tokens == 4
    assert out.endswith(b"data: [DONE]\n\n")


@settings(max_examples=80, deadline=None)
@given(st.data(), st.booleans())
def test_any_split_gives_the_same_bytes(data, crlf):
    stream = STREAM.replace(b"\n", b"\r\n") if crlf else STREAM
    whole, usage = run([stream])
    pieces = data.draw(split_points(stream))
    assert run(pieces) == (whole, usage)


def test_whole_body_rewrites_only_the_top_level_field():
    body = orjson.dumps({"model": "up", "content": [{"type": "tool_use", "input": {"model": "up"}}]})
    assert orjson.loads(rewrite_model(body, "alias")) == {
        "model": "alias",
        "content": [{"type": "tool_use", "input": {"model": "up"}}],
    }
    assert rewrite_model(b"not json", "alias") == b"not json"
    gemini = orjson.dumps({"candidates": [], "modelVersion": "gemini-x"})
    assert orjson.loads(rewrite_model(gemini, "g", "modelVersion"))["modelVersion"] == "g"


GEMINI_STREAM = (
    b'data: {"candidates":[{"content":{"parts":[{"text":"a \\"modelVersion\\": b"}],"role":"model"},"index":0}],'
    b'"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1},"modelVersion":"gemini-3-pro-preview"}\r\n\r\n'
    b'data: {"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"c2ln"}],"role":"model"},"finishReason":"STOP","index":0}],'
    b'"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"thoughtsTokenCount":7},"modelVersion":"gemini-3-pro-preview"}\r\n\r\n'
)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_gemini_streams_every_event_with_usage(data):
    from cliproxy.wire.gemini import Gemini

    def relay(pieces):
        stream = PassthroughStream("alias", Gemini())
        return b"".join(stream.feed(p) for p in pieces) + stream.close(), stream.usage

    whole, usage = relay([GEMINI_STREAM])
    assert whole == GEMINI_STREAM.replace(b'"modelVersion":"gemini-3-pro-preview"', b'"modelVersion":"alias"')
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (9, 12, 7)
    assert relay(data.draw(split_points(GEMINI_STREAM))) == (whole, usage)


def test_an_event_past_the_line_limit_is_refused_not_held():
    relay = PassthroughStream("gpt", OpenAIChat())
    relay.feed(b"data: " + b"x" * (MAX_LINE // 2))
    with pytest.raises(GatewayError) as refused:
        relay.feed(b"x" * (MAX_LINE // 2 + 10))
    assert refused.value.status == 502


def _chunk(text: str) -> bytes:
    return b'data: {"id":"1","model":"m","choices":[{"index":0,"delta":{"content":' + orjson.dumps(text) + b"}}]}\n\n"


_EVENTS = st.one_of(
    st.sampled_from(["hi", "a message", 'a "usage" word', "usageMetadata", '"error"', "sage"]).map(_chunk),
    st.builds(
        lambda i, o: (
            b'data: {"id":"1","model":"m","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}\n\n'
            % (i, o)
        ),
        st.integers(0, 99),
        st.integers(0, 99),
    ),
    st.just(b'data: {"error":{"message":"overloaded","type":"server_error","code":503}}\n\n'),
    st.just(b'data: {"message":"not an error, nor usage"}\n\n'),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_EVENTS, max_size=12), st.data())
def test_the_scan_finds_what_parsing_every_event_finds(events, data):
    """Searching for markers instead of parsing every event misses no usage and no error,
    and sees none where there is none, however the stream is split."""
    translator = OpenAIChat()
    usage_events = [obj for obj in map(lambda e: orjson.loads(e[6:]), events) if "usage" in obj]
    error_events = [obj for obj in map(lambda e: orjson.loads(e[6:]), events) if isinstance(obj.get("error"), dict)]
    stream = b"".join(events) + b"data: [DONE]\n\n"
    relay = PassthroughStream("m", translator)
    out = b"".join(relay.feed(p) for p in data.draw(split_points(stream))) + relay.close()
    assert out == stream
    expected = usage_events[-1]["usage"] if usage_events else None
    if expected is None:
        assert relay.usage.output_tokens is None
    else:
        assert (relay.usage.input_tokens, relay.usage.output_tokens) == (
            expected["prompt_tokens"],
            expected["completion_tokens"],
        )
    assert (relay.error is not None) == bool(error_events)
