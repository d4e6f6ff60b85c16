"""Kiro event stream -> IR events: text, thinking, tools, usage, exceptions, corruption."""

from __future__ import annotations

import pytest
from cliproxy import ErrorKind, GatewayError, ir
from cliproxy_kiro import testing as kt
from cliproxy_kiro.errors import decode_error
from cliproxy_kiro.stream import KiroStreamDecoder, decode_response
from cliproxy_kiro.thinking import ThinkingSplitter
from cliproxy_kiro.translator import KiroTranslator
from hypothesis import given, settings
from hypothesis import strategies as st


def decode(data: bytes, chunk: int | None = None, **kw) -> list[ir.StreamEvent]:
    decoder = KiroStreamDecoder(**kw)
    events: list[ir.StreamEvent] = []
    if chunk:
        for i in range(0, len(data), chunk):
            events += decoder.feed(data[i : i + chunk])
    else:
        events += decoder.feed(data)
    return events + decoder.close()


def fold(events) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()


def test_recorded_text_stream(recording):
    data = recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes()
    events = decode(data)
    assert isinstance(events[0], ir.StreamStart)
    response = fold(events)
    assert response.text == "Hello! How can I help?"
    assert response.finish.reason is ir.FinishReason.STOP
    finish = events[-1]
    assert isinstance(finish, ir.StreamFinish)
    assert finish.provider_metadata == {
        "kiro": {"credits": 0.0125, "credit_unit": "credit", "context_usage_percentage": 1.62}
    }
    # no token counts in the stream: output estimated from the text, input from the caller
    assert finish.usage.estimated and finish.usage.output_tokens == 6 and finish.usage.input_tokens is None
    assert decode(data, input_tokens=42)[-1].usage.input_tokens == 42


def test_recorded_tool_use_streams_fragments(recording):
    data = recording("kiro/SYNTHETIC-tool-use.eventstream.bin").read_bytes()
    events = decode(data)
    deltas = [e.arguments for e in events if isinstance(e, ir.ToolCallDelta)]
    assert deltas == ['{"path": ', '"foo.txt"}']  # passed on as they arrive
    response = fold(events)
    call = next(p for p in response.parts if isinstance(p, ir.ToolCallPart))
    assert (call.id, call.name, call.arguments) == ("tooluse_Q2xhdWRlRXhhbXBsZQ", "read_file", '{"path": "foo.txt"}')
    assert response.finish.reason is ir.FinishReason.TOOL_CALLS
    assert response.text == "I'll read the file."


def test_recorded_exception_after_text_finishes_with_length(recording):
    events = decode(recording("kiro/SYNTHETIC-exception.eventstream.bin").read_bytes())
    response = fold(events)
    assert response.text == "Partial"
    assert response.finish == ir.Finish(ir.FinishReason.LENGTH, "ContentLengthExceededException")


def test_exception_before_any_content_is_an_error():
    events = decode(kt.exception("ContentLengthExceededException", "Input is too long"))
    assert isinstance(events[-1], ir.StreamError)
    error = events[-1].error
    assert error.status == 400 and error.code == "context_length_exceeded" and "Input is too long" in error.message
    throttled = decode(kt.exception("ThrottlingException", "slow down"))[-1]
    assert isinstance(throttled, ir.StreamError) and throttled.error.status == 429
    other = decode(b"".join(kt.text("a")) + kt.exception("InternalServerException", "boom"))[-1]
    assert isinstance(other, ir.StreamError) and other.error.status == 502 and "boom" in other.error.message
    failed = decode(kt.error("InternalFailure", "kaput"))[-1]
    assert isinstance(failed, ir.StreamError) and "kaput" in failed.error.message


def test_token_usage_events_win_over_estimates():
    data = b"".join([*kt.text("hi"), kt.token_usage(120, 7, cache_read=100)])
    usage = decode(data, input_tokens=5)[-1].usage
    assert usage == ir.Usage(input_tokens=120, output_tokens=7, cache_read_tokens=100, cache_write_tokens=0)
    assert not usage.estimated


def test_inline_thinking_becomes_reasoning():
    data = b"".join(kt.text("<think", "ing>Let me see", ".</thin", "king>\n\nThe answer", " is 4."))
    response = fold(decode(data))
    assert [type(p) for p in response.parts] == [ir.ReasoningPart, ir.TextPart]
    assert response.parts[0].text == "Let me see."
    assert response.text == "The answer is 4."


def test_reasoning_events_keep_their_signature():
    data = b"".join([kt.reasoning("step 1. "), kt.reasoning("step 2.", signature="sig-1"), *kt.text("done")])
    response = fold(decode(data))
    reasoning = response.parts[0]
    assert isinstance(reasoning, ir.ReasoningPart)
    assert reasoning.text == "step 1. step 2." and reasoning.provider_metadata == {"kiro": {"signature": "sig-1"}}


def test_shortened_tool_names_come_back_as_the_client_named_them():
    data = b"".join(kt.tool_use("t1", "short_abc", ['{"a": 1}']))
    start = next(
        e for e in decode(data, tool_names={"short_abc": "the_very_long_original"}) if isinstance(e, ir.ToolCallStart)
    )
    assert start.name == "the_very_long_original"


def test_a_tool_call_cut_off_finishes_with_length():
    frames = kt.tool_use("t1", "f", ['{"a": '])[:-1]  # no stop frame
    response = fold(decode(b"".join(frames)))
    assert response.finish.reason is ir.FinishReason.LENGTH


def test_duplicate_tool_frames_after_stop_are_ignored():
    frames = kt.tool_use("t1", "f", ["{}"])
    response = fold(decode(b"".join(frames + frames)))
    assert len([p for p in response.parts if isinstance(p, ir.ToolCallPart)]) == 1


def test_corrupt_and_truncated_streams_are_errors(recording):
    data = bytearray(recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes())
    data[140] ^= 0xFF
    events = decode(bytes(data))
    assert isinstance(events[-1], ir.StreamError)
    assert "broken event stream" in events[-1].error.message and "CRC" in events[-1].error.message
    cut = decode(recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes()[:-5])
    assert isinstance(cut[-1], ir.StreamError) and "mid-frame" in cut[-1].error.message
    empty = decode(b"")
    assert isinstance(empty[-1], ir.StreamError) and "without sending any event" in empty[-1].error.message
    with pytest.raises(GatewayError):
        decode_response(bytes(data))


def test_translator_decodes_whole_bodies_and_errors(recording):
    translator = KiroTranslator()
    data = recording("kiro/SYNTHETIC-tool-use.eventstream.bin").read_bytes()
    assert translator.decode_response(data).finish.reason is ir.FinishReason.TOOL_CALLS
    assert translator.extract_usage({"tokenUsage": {"uncachedInputTokens": 3, "outputTokens": 4}}) == ir.Usage(3, 4)
    assert translator.extract_usage({"content": "x"}) is None


@pytest.mark.parametrize(
    ("status", "headers", "body", "want_status", "want"),
    [
        (
            402,
            {},
            b'{"message":"You have reached the limit.","reason":"MONTHLY_REQUEST_COUNT"}',
            429,
            "quota exhausted",
        ),
        (
            429,
            {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"},
            b'{"message":"Rate exceeded"}',
            429,
            "throttling",
        ),
        (400, {}, b'{"__type":"com.amazon.aws.codewhisperer#ThrottlingException","message":"x"}', 429, "throttling"),
        (
            403,
            {},
            b'{"message":"The bearer token included in the request is invalid."}',
            401,
            "rejected the access token",
        ),
        (400, {}, b'{"message":"Improperly formed request."}', 400, "improperly formed"),
        (
            400,
            {},
            b'{"message":"Input is too long.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}',
            400,
            "longer than the model",
        ),
        (500, {}, b"<html>oops</html>", 500, "oops"),
    ],
)
def test_http_errors(status, headers, body, want_status, want):
    error = decode_error(status, headers, body)
    assert error.status == want_status
    assert want in error.message
    assert error.provider == "kiro"


def test_quota_gets_a_long_retry_hint_and_throttling_honours_retry_after():
    quota = decode_error(402, {}, b'{"message":"limit","reason":"MONTHLY_REQUEST_COUNT"}')
    assert quota.kind is ErrorKind.RATE_LIMITED and quota.code == "quota_exhausted" and quota.retry_after == 3600
    throttled = decode_error(429, {"Retry-After": "7"}, b"{}")
    assert throttled.retry_after == 7


# -- properties -----------------------------------------------------------------------------

pieces = st.lists(
    st.sampled_from(["<thinking>", "</thinking>", "\n", " ", "a", "b<", "<", "thinking", ">", "é"]), max_size=12
)


def _merged(segments):
    out: list[list[str]] = []
    for kind, text in segments:
        if out and out[-1][0] == kind:
            out[-1][1] += text
        elif text:
            out.append([kind, text])
    return out


@settings(max_examples=100, deadline=None)
@given(parts=pieces, data=st.data())
def test_thinking_split_does_not_depend_on_chunk_boundaries(parts, data):
    text = "".join(parts)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=6))))
    whole = ThinkingSplitter()
    expected = _merged(whole.feed(text) + whole.close())
    split = ThinkingSplitter()
    got = []
    last = 0
    for cut in [*cuts, len(text)]:
        got += split.feed(text[last:cut])
        last = cut
    got += split.close()
    assert _merged(got) == expected
    if not text.lstrip().startswith("<thinking>"):
        assert expected == ([["text", text]] if text else [])


stream_frames = st.lists(
    st.one_of(
        st.builds(lambda t: kt.text(t)[0], st.text(max_size=10)),
        st.builds(lambda t: kt.reasoning(t), st.text(min_size=1, max_size=10)),
        st.builds(
            lambda i, f: b"".join(kt.tool_use(f"t{i}", "tool", f)),
            st.integers(0, 3),
            st.lists(st.text(max_size=5), max_size=3),
        ),
        st.just(kt.metering(0.01)),
        st.just(kt.token_usage(10, 5)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(frames=stream_frames, data=st.data())
def test_any_split_of_the_stream_gives_the_same_events_and_folds_to_the_whole_response(frames, data):
    body = b"".join(frames)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(body)), max_size=10))))
    decoder = KiroStreamDecoder()
    split_events = []
    last = 0
    for cut in [*cuts, len(body)]:
        split_events += decoder.feed(body[last:cut])
        last = cut
    split_events += decoder.close()

    assert fold(split_events) == decode_response(body)  # deltas may group differently; content may not
    whole_events = decode(body)
    assert [type(e) for e in whole_events if not isinstance(e, ir.TextDelta | ir.ReasoningDelta)] == [
        type(e) for e in split_events if not isinstance(e, ir.TextDelta | ir.ReasoningDelta)
    ]
