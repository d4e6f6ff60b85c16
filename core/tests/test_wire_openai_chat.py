"""The openai-chat translator: recorded streams, round trips, stream/whole equivalence."""

from __future__ import annotations

import json

import attrs
import orjson
import pytest
from cliproxy import GatewayError, ir
from cliproxy.testing.strategies import decode_in_pieces, requests, responses, split_points
from cliproxy.translate import EncodeContext
from cliproxy.wire.openai_chat import OpenAIChat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CHAT = OpenAIChat()
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_stream(data: bytes) -> list[ir.StreamEvent]:
    return decode_in_pieces(CHAT.stream_decoder(), [data])


def fold(events: list[ir.StreamEvent]) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()


def sse_from_chunks(path) -> bytes:
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return b"".join(b"data: " + line + b"\n\n" for line in lines) + b"data: [DONE]\n\n"


# -- recorded traffic ----------------------------------------------------------------------


def test_recorded_text_stream_equals_its_whole_response(recording):
    stream = fold(decode_stream(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt").read_bytes()))
    assert stream.text.startswith("**Holiday Name:**")
    assert stream.finish.reason is ir.FinishReason.STOP
    assert stream.usage.input_tokens and stream.usage.output_tokens
    whole = CHAT.decode_response(recording("openai-chat/vercel-openai-text.json").read_bytes())
    assert whole.text.startswith("**Holiday Name:**") and whole.usage.input_tokens


def test_recorded_parallel_tool_calls(recording):
    events = decode_stream(recording("openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt").read_bytes())
    deltas = [e for e in events if isinstance(e, ir.ToolCallDelta)]
    assert len(deltas) > 4, "fragments must be passed on one by one"
    response = fold(events)
    calls = [p for p in response.parts if isinstance(p, ir.ToolCallPart)]
    assert [c.name for c in calls] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(calls[0].arguments)["city"] == "Edinburgh"
    assert json.loads(calls[1].arguments)["exchange"] == "NASDAQ"
    assert response.finish.reason is ir.FinishReason.TOOL_CALLS


def test_recorded_whole_tool_call_in_one_delta_with_reasoning(recording):
    events = decode_stream(sse_from_chunks(recording("openai-chat/vercel-compat-xai-tool-call.chunks.txt")))
    response = fold(events)
    kinds = [type(p).__name__ for p in response.parts]
    assert kinds[0] == "ReasoningPart" and "ToolCallPart" in kinds
    assert response.parts[0].provider_metadata == {"openai-chat": {"field": "reasoning_content"}}


def test_recorded_midstream_error_becomes_a_stream_error(recording):
    events = decode_stream(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt").read_bytes())
    assert isinstance(events[-1], ir.StreamError)
    assert "server had an error" in events[-1].error.message
    assert any(isinstance(e, ir.TextDelta) for e in events)


def test_recorded_azure_filter_chunk_does_not_blank_the_id(recording):
    events = decode_stream(sse_from_chunks(recording("openai-chat/vercel-azure-model-router.1.chunks.txt")))
    start = next(e for e in events if isinstance(e, ir.StreamStart))
    assert start.id and start.id.startswith("chatcmpl-")
    assert fold(events).text


def test_recorded_tool_index_starting_at_one(recording):
    data = recording("openai-chat/vercel-compat-anthropic-fallback-tool-call.sse").read_bytes()
    response = fold(decode_stream(data))
    calls = [p for p in response.parts if isinstance(p, ir.ToolCallPart)]
    assert len(calls) == 1 and calls[0].name


def test_recorded_reasoning_and_usage_on_finish_chunk(recording):
    response = fold(
        decode_stream(sse_from_chunks(recording("local-openai-compat/vercel-deepseek-tool-call.chunks.txt")))
    )
    assert isinstance(response.parts[0], ir.ReasoningPart)
    assert response.usage.input_tokens and response.usage.output_tokens


def test_openrouter_comments_and_reasoning_details(recording):
    data = recording("openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt").read_bytes()
    assert b": OPENROUTER PROCESSING" in data
    response = fold(decode_stream(data))
    assert response.text and response.usage.cost is not None
    details = fold(
        decode_stream(recording("openrouter/SYNTHETIC-openrouter-sdk-test-reasoning-details.sse.txt").read_bytes())
    )
    reasoning = next(p for p in details.parts if isinstance(p, ir.ReasoningPart))
    assert reasoning.provider_metadata["anthropic"]["signature"]


def test_openrouter_error_inside_a_200_stream(recording):
    events = decode_stream(recording("openrouter/CONSTRUCTED-stream-midstream-error.sse.txt").read_bytes())
    assert isinstance(events[-1], ir.StreamError)
    assert events[-1].error.message == "Provider disconnected unexpectedly"  # the upstream's own words
    numeric = b'data: {"id":"g","error":{"code":429,"message":"slow down"},"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}\n\n'
    assert decode_stream(numeric)[-1].error.status == 429


def test_openrouter_error_inside_a_200_body_keeps_its_code(recording):
    with pytest.raises(GatewayError) as caught:
        CHAT.decode_response(recording("openrouter/OBSERVED-inband-error-200-nonstream.json").read_bytes())
    assert caught.value.status == 502 and "high demand" in caught.value.message
    body = (
        b'{"choices":[{"message":{"content":""},"finish_reason":"error","error":{"code":503,"message":"no provider"}}]}'
    )
    with pytest.raises(GatewayError) as caught:
        CHAT.decode_response(body)
    assert caught.value.status == 503


def test_stream_without_done_or_finish_is_an_error():
    data = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
    events = decode_stream(data)
    assert isinstance(events[-1], ir.StreamError)
    assert "ended before" in events[-1].error.message


def test_error_bodies(recording):
    error = CHAT.decode_error(
        400, {}, recording("openai-chat/vercel-reasoning-model-legacy-parameter-error.json").read_bytes()
    )
    assert error.status == 400 and error.param == "max_tokens" and error.client_fault
    legacy = CHAT.decode_error(
        404, {}, recording("local-openai-compat/CONSTRUCTED-vllm-error-legacy.json").read_bytes()
    )
    assert legacy.status == 404 and legacy.message
    limited = CHAT.decode_error(429, {"retry-after": "7"}, b'{"error": {"message": "slow down"}}')
    assert limited.retry_after == 7 and limited.kind == "rate_limited"
    assert CHAT.decode_error(502, {}, b"<html>bad gateway</html>").message == "<html>bad gateway</html>"


def test_encode_error_shape():
    body = orjson.loads(CHAT.encode_error(GatewayError.invalid("bad thing", param="messages[0]")))
    assert body == {
        "error": {"message": "bad thing", "type": "invalid_request_error", "param": "messages[0]", "code": None}
    }


def test_decoding_requests_rejects_bad_shapes():
    with pytest.raises(GatewayError, match="'messages' is required"):
        CHAT.decode_request({"model": "m"})
    with pytest.raises(GatewayError) as caught:
        CHAT.decode_request({"model": "m", "messages": [{"role": "user", "content": 5}]})
    assert caught.value.param == "messages[0].content"
    with pytest.raises(GatewayError, match="role"):
        CHAT.decode_request({"model": "m", "messages": [{"role": "wizard", "content": "x"}]})
    with pytest.raises(GatewayError) as caught:
        CHAT.decode_request({"model": "m", "messages": [], "temperature": "hot"})
    assert caught.value.param == "temperature"


def test_full_request_decodes(recording):
    body = json.loads(recording("openai-chat/CONSTRUCTED-request-all-fields.json").read_text())
    request = CHAT.decode_request(body)
    assert request.messages and request.model
    assert request.extras_for("openai-chat"), "unmodelled fields are kept for OpenAI upstreams"
    again = CHAT.encode_request(request, request.model)
    for key, value in request.extras_for("openai-chat").items():
        assert again[key] == value


# -- properties ----------------------------------------------------------------------------


def _normalize_request(request: ir.Request) -> ir.Request:
    """What the openai-chat wire cannot carry: a reasoning level it lacks, the stream flag
    (it lives in the body, set by the door)."""
    messages = []
    for message in request.messages:
        parts = [p for p in message.parts if not isinstance(p, ir.ReasoningPart)]
        if message.role == "assistant":
            texts = [p for p in parts if isinstance(p, ir.TextPart)]
            others = [p for p in parts if not isinstance(p, ir.TextPart)]
            parts = ([ir.TextPart("".join(t.text for t in texts))] if texts else []) + others
        messages.append(attrs.evolve(message, parts=parts))
    return attrs.evolve(request, messages=messages, extras={})


@PROPERTY
@given(requests())
def test_request_round_trip(request):
    body = CHAT.encode_request(request, request.model)
    orjson.dumps(body)  # JSON-serializable
    decoded = CHAT.decode_request(body)
    assert _normalize_request(decoded) == _normalize_request(request)


def _normalize_response(response: ir.Response) -> ir.Response:
    parts: list[ir.Part] = []
    reasoning = "".join(p.text for p in response.parts if isinstance(p, ir.ReasoningPart))
    if reasoning:
        parts.append(ir.ReasoningPart(reasoning))
    text = "".join(p.text for p in response.parts if isinstance(p, ir.TextPart))
    if text:
        parts.append(ir.TextPart(text))
    parts.extend(attrs.evolve(p, provider_metadata=None) for p in response.parts if isinstance(p, ir.ToolCallPart))
    usage = attrs.evolve(response.usage, cache_read_tokens=response.usage.cache_read_tokens or None)
    return ir.Response(id="", model="", parts=parts, finish=ir.Finish(response.finish.reason), usage=usage)


CTX = EncodeContext(model="model-x", body={"stream_options": {"include_usage": True}}, created=1)


@PROPERTY
@given(responses())
def test_whole_response_round_trip(response):
    decoded = CHAT.decode_response(CHAT.encode_response(response, CTX))
    assert decoded.model == "model-x"
    assert _normalize_response(decoded) == _normalize_response(response)


@PROPERTY
@given(st.data(), responses())
def test_stream_folds_to_the_whole_response_however_it_is_split(data, response):
    encoder = CHAT.stream_encoder(CTX)
    wire = encoder.encode(list(ir.response_events(response))) + encoder.close()
    pieces = data.draw(split_points(wire))
    streamed = fold(decode_in_pieces(CHAT.stream_decoder(), pieces))
    whole = CHAT.decode_response(CHAT.encode_response(response, CTX))
    assert _normalize_response(streamed) == _normalize_response(whole) == _normalize_response(response)


@PROPERTY
@given(data=st.data())
def test_recorded_streams_decode_the_same_however_split(data, recording):
    name = data.draw(
        st.sampled_from(
            [
                "openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt",
                "openai-chat/DERIVED-vercel-openai-text.sse.txt",
                "openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt",
                "local-openai-compat/CONSTRUCTED-llamacpp-server-stream-reasoning-usage-timings.sse.txt",
            ]
        )
    )
    raw = recording(name).read_bytes()
    crlf = data.draw(st.booleans())
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    whole = decode_stream(raw)
    pieces = data.draw(split_points(raw))
    assert decode_in_pieces(CHAT.stream_decoder(), pieces) == whole


def test_signatures_travel_in_reasoning_details():
    meta = {"anthropic": {"signature": "sig-123"}}
    response = ir.Response(id="r", model="m", parts=[ir.ReasoningPart("thinking", meta), ir.TextPart("answer")])
    body = orjson.loads(CHAT.encode_response(response, CTX))
    details = body["choices"][0]["message"]["reasoning_details"]
    assert details == [
        {
            "type": "reasoning.text",
            "text": "thinking",
            "signature": "sig-123",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    request = CHAT.decode_request(
        {"model": "m", "messages": [{"role": "user", "content": "q"}, body["choices"][0]["message"]]}
    )
    reasoning = request.messages[1].parts[0]
    assert isinstance(reasoning, ir.ReasoningPart) and reasoning.provider_metadata["anthropic"] == {
        "signature": "sig-123"
    }


def test_gemini_tool_call_signatures_travel_in_extra_content():
    meta = {"gemini": {"thoughtSignature": "g-sig"}}
    response = ir.Response(id="r", model="m", parts=[ir.ToolCallPart("c1", "f", "{}", meta)])
    message = orjson.loads(CHAT.encode_response(response, CTX))["choices"][0]["message"]
    assert message["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": "g-sig"}}
    request = CHAT.decode_request({"model": "m", "messages": [{"role": "user", "content": "q"}, message]})
    assert request.messages[1].parts[0].provider_metadata == meta
