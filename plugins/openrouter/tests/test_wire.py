"""OpenRouter's wire quirks through the core ``openai-chat`` translator, on recordings."""

from __future__ import annotations

import pytest
from cliproxy import ErrorKind, GatewayError, ir
from cliproxy.wire.openai_chat import OpenAIChat
from hypothesis import given, settings
from hypothesis import strategies as st

COMMENTS = "openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt"
MIDSTREAM = "openrouter/CONSTRUCTED-stream-midstream-error.sse.txt"
DETAILS = "openrouter/SYNTHETIC-openrouter-sdk-test-reasoning-details.sse.txt"
NONSTREAM = "openrouter/CONSTRUCTED-nonstream-response-reasoning.json"
INBAND = "openrouter/OBSERVED-inband-error-200-nonstream.json"
ERROR = "openrouter/CONSTRUCTED-error-response.json"

T = OpenAIChat()


def decode(data: bytes, cuts: list[int] | None = None) -> list[ir.StreamEvent]:
    decoder = T.stream_decoder()
    events: list[ir.StreamEvent] = []
    start = 0
    for cut in sorted(set(cuts or [])):
        events += decoder.feed(data[start:cut])
        start = cut
    events += decoder.feed(data[start:])
    return events + decoder.close()


def fold(events: list[ir.StreamEvent]) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()


def test_processing_comments_are_dropped_and_cost_is_kept(recording):
    events = decode(recording(COMMENTS).read_bytes())
    texts = [e.text for e in events if isinstance(e, ir.TextDelta)]
    assert texts == ["Hello", "!"]
    response = fold(events)
    assert response.usage.input_tokens == 21 and response.usage.output_tokens == 2
    assert response.usage.cost == pytest.approx(4.35e-06)


def test_error_inside_a_200_stream_ends_it_with_the_upstream_message(recording):
    events = decode(recording(MIDSTREAM).read_bytes())
    assert [e.text for e in events if isinstance(e, ir.TextDelta)] == ["The"]
    assert isinstance(events[-1], ir.StreamError)
    error = events[-1].error
    assert error.message == "Provider disconnected unexpectedly"
    assert error.status == 502 and error.kind is ErrorKind.UPSTREAM
    assert not any(isinstance(e, ir.StreamFinish) for e in events)


def test_error_chunk_with_a_numeric_code_keeps_that_status():
    chunk = b'data: {"id":"gen-1","error":{"code":429,"message":"Rate limited upstream"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n'
    events = decode(chunk)
    assert isinstance(events[-1], ir.StreamError)
    assert events[-1].error.status == 429 and events[-1].error.message == "Rate limited upstream"


def test_reasoning_details_become_ir_reasoning_with_the_signature(recording):
    response = fold(decode(recording(DETAILS).read_bytes()))
    reasoning = [p for p in response.parts if isinstance(p, ir.ReasoningPart)]
    assert [p.text for p in reasoning] == ["Let me think about this step by step. Done."]
    assert reasoning[0].provider_metadata["anthropic"]["signature"].startswith("erX9")
    assert response.text == "Hello! How can I help?"


def test_non_stream_reasoning_usage_and_cost(recording):
    response = T.decode_response(recording(NONSTREAM).read_bytes())
    reasoning = response.parts[0]
    assert isinstance(reasoning, ir.ReasoningPart) and reasoning.text == "The user greets me."
    assert reasoning.provider_metadata["anthropic"]["signature"] == "EqQB..."
    assert response.text == "Hello!"
    assert response.usage.cost == pytest.approx(0.000492)
    assert response.usage.reasoning_tokens == 22


def test_in_band_error_in_a_200_body_is_an_upstream_error(recording):
    with pytest.raises(GatewayError) as caught:
        T.decode_response(recording(INBAND).read_bytes())
    assert caught.value.status == 502
    assert "high demand" in caught.value.message


def test_error_response_maps_status_to_kind(recording):
    error = T.decode_error(402, {"retry-after": "7"}, recording(ERROR).read_bytes())
    assert error.kind is ErrorKind.BILLING
    assert "more credits" in error.message
    assert error.retry_after == 7.0


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("name", [COMMENTS, MIDSTREAM, DETAILS])
def test_arbitrary_splits_never_change_the_events(recording, name, data):
    raw = recording(name).read_bytes()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=12))
    whole = decode(raw)
    split = decode(raw, cuts)
    assert [type(e) for e in split] == [type(e) for e in whole]
    joined = lambda evs, kind: "".join(e.text for e in evs if isinstance(e, kind))  # noqa: E731
    assert joined(split, ir.TextDelta) == joined(whole, ir.TextDelta)
    assert joined(split, ir.ReasoningDelta) == joined(whole, ir.ReasoningDelta)
    if not isinstance(whole[-1], ir.StreamError):
        assert fold(split) == fold(whole)
