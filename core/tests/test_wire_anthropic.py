"""The ``anthropic`` translator on recorded wire traffic (pure functions, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Message,
    ProviderTool,
    Reasoning,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningPart,
    ReasoningStart,
    Request,
    Response,
    ResponseBuilder,
    ResponseFormat,
    StreamError,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    TextPart,
    TextStart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from cliproxy.sse import SSEParser
from cliproxy.testing import Reply
from cliproxy.translate import EncodeContext
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.sealed import seal

T = Anthropic()
CTX = EncodeContext(model="client-model", body={})


def decode_stream(data: bytes) -> list:
    decoder = T.stream_decoder()
    return decoder.feed(data) + decoder.close()


def fold(events) -> Response:
    builder = ResponseBuilder()
    builder.feed(events)
    return builder.build()


def sse_bytes(path: Path) -> bytes:
    if path.name.endswith(".chunks.txt"):
        return b"".join(Reply.chunks_file(path, named=True).chunks or ())
    return path.read_bytes()


def client_events(data: bytes) -> list[tuple[str | None, dict]]:
    parser = SSEParser()
    return [(e.event, orjson.loads(e.data)) for e in parser.feed(data) + parser.close()]


# -- stream decoding -----------------------------------------------------------------------


def test_every_stream_recording_decodes_to_one_terminal_event(recording):
    folder = recording("anthropic/README.md").parent
    files = sorted([*folder.glob("*.sse.txt"), *folder.glob("*.chunks.txt")])
    assert len(files) >= 17
    for path in files:
        events = decode_stream(sse_bytes(path))
        assert isinstance(events[0], StreamStart), path.name
        terminal = [e for e in events if isinstance(e, StreamFinish | StreamError)]
        assert len(terminal) == 1 and events[-1] is terminal[0], path.name


def test_tool_input_fragments_are_passed_on_one_by_one(recording):
    events = decode_stream(recording("anthropic/anthropic-sdk-tool_use_response.sse.txt").read_bytes())
    deltas = [e.arguments for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == ['{"locati', 'on": "P', "ar", 'is"}']
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.id, start.name) == ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather")
    assert start.provider_metadata == {"anthropic": {"caller": {"type": "direct"}}}
    # the fragments come before the block's end, not gathered up at content_block_stop
    assert events.index(next(e for e in events if isinstance(e, ToolCallDelta))) < events.index(
        next(e for e in events if isinstance(e, ToolCallEnd))
    )
    response = fold(events)
    assert response.text == "I'll check the current weather in Paris for you."
    call = response.parts[1]
    assert isinstance(call, ToolCallPart) and json.loads(call.arguments) == {"location": "Paris"}
    assert response.finish == Finish(FinishReason.TOOL_CALLS, "tool_use")
    assert response.usage == Usage(input_tokens=377, output_tokens=65, cache_read_tokens=0, cache_write_tokens=0)


def test_tool_input_fragments_survive_a_split_inside_each_event(recording):
    data = recording("anthropic/docs-example-tool-use.sse.txt").read_bytes()
    decoder = T.stream_decoder()
    events = []
    for i in range(0, len(data), 7):
        events.extend(decoder.feed(data[i : i + 7]))
    events.extend(decoder.close())
    assert events == decode_stream(data)
    args = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert json.loads(args) == {"location": "San Francisco, CA", "unit": "fahrenheit"}


def test_thinking_signature_rides_on_the_reasoning_end(recording):
    events = decode_stream(recording("anthropic/DERIVED-vercel-thinking-signature.sse.txt").read_bytes())
    end = next(e for e in events if isinstance(e, ReasoningEnd))
    assert end.provider_metadata["anthropic"]["signature"].startswith("EvQBCkYICxgC")
    start = next(e for e in events if isinstance(e, ReasoningStart))
    assert start.provider_metadata is None
    response = fold(events)
    assert isinstance(response.parts[0], ReasoningPart)
    assert response.parts[0].text.endswith("= 185")
    assert response.text == "925 ÷ 5 = 185"


def test_docs_extended_thinking_and_missing_usage(recording):
    events = decode_stream(recording("anthropic/docs-example-extended-thinking.sse.txt").read_bytes())
    response = fold(events)
    assert response.parts[0].provider_metadata == {
        "anthropic": {"signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."}
    }
    assert response.text == "27 * 453 = 12,231"
    assert not response.usage


def test_ping_is_ignored_and_cache_tokens_count_as_input(recording):
    events = decode_stream(recording("anthropic/aibridge-anthropic_single_builtin_tool.stream.sse.txt").read_bytes())
    usage = fold(events).usage
    assert usage.cache_read_tokens == 13993 and usage.cache_write_tokens == 22
    assert usage.input_tokens == 2 + 13993 + 22


def test_mid_stream_overloaded_error_becomes_a_stream_error(recording):
    events = decode_stream(recording("anthropic/CONSTRUCTED-stream-midstream-overloaded-error.sse.txt").read_bytes())
    assert [type(e) for e in events] == [StreamStart, StreamError]
    error = events[-1].error
    assert (error.status, error.kind, error.message) == (529, ErrorKind.OVERLOADED, "Overloaded")


def test_error_right_after_an_empty_block_start_can_still_fail_over(recording):
    events = decode_stream(recording("anthropic/aibridge-anthropic_stream_error.stream.sse.txt").read_bytes())
    assert [type(e) for e in events] == [StreamStart, StreamError]
    assert events[-1].error.status == 500 and events[-1].error.upstream_type == "api_error"


def test_a_stream_that_ends_without_message_stop_is_an_error(recording):
    data = recording("anthropic/docs-example-basic.sse.txt").read_bytes()
    cut = data[: data.index(b"event: message_delta")]
    events = decode_stream(cut)
    assert isinstance(events[-1], StreamError)
    assert "message_stop" in events[-1].error.message
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", "!"]


def test_max_tokens_mid_tool_input_keeps_the_partial_arguments(recording):
    events = decode_stream(recording("anthropic/anthropic-sdk-incomplete_partial_json_response.sse.txt").read_bytes())
    response = fold(events)
    assert response.finish == Finish(FinishReason.LENGTH, "max_tokens")
    call = response.parts[1]
    assert isinstance(call, ToolCallPart) and call.arguments.startswith('{"filename": "taxes.txt')


def test_server_tool_blocks_are_left_out(recording):
    response = fold(decode_stream(recording("anthropic/docs-example-web-search-ELIDED.sse.txt").read_bytes()))
    assert all(isinstance(p, TextPart) for p in response.parts)
    assert response.text.startswith("I'll check the current weather in New York City for you.")
    assert response.usage.input_tokens == 10682


def test_tool_without_arguments_and_interleaved_pings(recording):
    events = decode_stream(sse_bytes(recording("anthropic/vercel-anthropic-tool-no-args.chunks.txt")))
    assert not [e for e in events if isinstance(e, ToolCallDelta)]
    call = fold(events).parts[1]
    assert isinstance(call, ToolCallPart) and (call.name, call.arguments) == ("updateIssueList", "{}")


def test_message_delta_usage_is_cumulative_and_wins(recording):
    usage = fold(
        decode_stream(sse_bytes(recording("anthropic/vercel-anthropic-message-delta-input-tokens.chunks.txt")))
    ).usage
    assert (usage.input_tokens, usage.output_tokens) == (61, 2)


def test_stop_sequence_is_kept():
    data = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"output_tokens":2}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    response = fold(decode_stream(data))
    assert response.finish == Finish(FinishReason.STOP, "stop_sequence")
    body = orjson.loads(T.encode_response(response, CTX))
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "END")


def test_redacted_thinking_and_citations_in_a_stream():
    data = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m"}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"ENC"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"x"}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"t"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    response = fold(decode_stream(data))
    assert response.parts[0] == ReasoningPart("", {"anthropic": {"redacted_data": "ENC"}})
    assert response.parts[1].provider_metadata == {
        "anthropic": {"citations": [{"type": "char_location", "cited_text": "x"}]}
    }


# -- whole responses -----------------------------------------------------------------------


def test_nonstream_recordings_decode(recording):
    simple = T.decode_response(recording("anthropic/aibridge-anthropic_simple.nonstream.json").read_bytes())
    assert isinstance(simple.parts[0], ReasoningPart) and simple.parts[0].provider_metadata is None
    assert simple.text.startswith("This is a famous philosophical question")
    assert simple.usage == Usage(input_tokens=18, output_tokens=254, cache_read_tokens=0, cache_write_tokens=0)

    multi = T.decode_response(
        recording("anthropic/aibridge-anthropic_multi_thinking_builtin_tool.nonstream.json").read_bytes()
    )
    kinds = [type(p) for p in multi.parts]
    assert kinds == [ReasoningPart, ReasoningPart, ToolCallPart]
    assert multi.parts[1].provider_metadata["anthropic"]["signature"].startswith("Aa1BCk")
    assert json.loads(multi.parts[2].arguments) == {"file_path": "/tmp/blah/foo"}
    assert multi.usage.input_tokens == 5 + 23490 and multi.usage.cache_read_tokens == 23490
    assert multi.finish == Finish(FinishReason.TOOL_CALLS, "tool_use")

    parallel = T.decode_response(
        recording("anthropic/aibridge-anthropic_single_builtin_tool_parallel.nonstream.json").read_bytes()
    )
    assert [p.id for p in parallel.parts if isinstance(p, ToolCallPart)] == [
        "toolu_01ParallelBlockFirst0000",
        "toolu_01ParallelBlockSecond000",
    ]

    fetch = T.decode_response(recording("anthropic/vercel-anthropic-web-fetch-tool.error.json").read_bytes())
    assert [type(p) for p in fetch.parts] == [TextPart, TextPart]

    opus = T.decode_response(recording("anthropic/vercel-anthropic-claude-opus-5-reasoning-high.1.json").read_bytes())
    assert opus.model == "claude-opus-5" and opus.parts[0].provider_metadata["anthropic"]["signature"].startswith(
        "CAIS"
    )

    forced = T.decode_response(recording("anthropic/vercel-anthropic-json-tool.1.json").read_bytes())
    assert json.loads(forced.parts[0].arguments)["elements"][3]["location"] == "Berlin"


def test_error_body_in_a_200_is_raised():
    with pytest.raises(GatewayError) as caught:
        T.decode_response(b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert caught.value.status == 529


def test_encode_response_shape():
    response = Response(
        id="chatcmpl-1",
        model="upstream",
        parts=[
            ReasoningPart("hmm", {"gemini": {"thoughtSignature": "g"}}),
            TextPart("hi"),
            ToolCallPart("call_1", "f", '{"a": 1}'),
            ToolCallPart("call_2", "g", '{"truncated'),
        ],
        finish=Finish(FinishReason.TOOL_CALLS, "tool_calls"),
        usage=Usage(input_tokens=100, output_tokens=7, cache_read_tokens=60, cache_write_tokens=10),
    )
    body = orjson.loads(T.encode_response(response, CTX))
    assert body["type"] == "message" and body["role"] == "assistant" and body["model"] == "client-model"
    assert body["content"] == [
        # Gemini's signature rides sealed in the signature Anthropic clients echo back.
        {"type": "thinking", "thinking": "hmm", "signature": seal({"gemini": {"thoughtSignature": "g"}})},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
        {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
    ]
    assert body["stop_reason"] == "tool_use" and body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": 30,
        "cache_creation_input_tokens": 10,
        "cache_read_input_tokens": 60,
        "output_tokens": 7,
    }


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        (Finish(FinishReason.STOP, "stop"), "end_turn"),
        (Finish(FinishReason.LENGTH, "MAX_TOKENS"), "max_tokens"),
        (Finish(FinishReason.LENGTH, "model_context_window_exceeded"), "model_context_window_exceeded"),
        (Finish(FinishReason.CONTENT_FILTER, "SAFETY"), "refusal"),
        (Finish(FinishReason.OTHER, "pause_turn"), "pause_turn"),
        (Finish(FinishReason.OTHER, "weird"), "end_turn"),
    ],
)
def test_stop_reasons_for_clients(finish, expected):
    body = orjson.loads(T.encode_response(Response(id="msg_1", model="m", parts=[], finish=finish), CTX))
    assert body["stop_reason"] == expected


# -- errors --------------------------------------------------------------------------------


def test_decode_errors_from_recordings(recording):
    too_long = Reply.http_file(recording("anthropic/aibridge-anthropic_non_stream_error.nonstream.http.txt"))
    error = T.decode_error(too_long.status, too_long.headers, too_long.body)
    assert (error.status, error.kind, error.code) == (400, ErrorKind.INVALID_REQUEST, "context_length_exceeded")
    assert error.message.startswith("prompt is too long")

    limited = Reply.http_file(recording("anthropic/CONSTRUCTED-error-429-rate-limit.http.txt"))
    error = T.decode_error(limited.status, {k.lower(): v for k, v in limited.headers.items()}, limited.body)
    assert (error.status, error.kind, error.retry_after) == (429, ErrorKind.RATE_LIMITED, 20.0)

    overloaded = Reply.http_file(recording("anthropic/CONSTRUCTED-error-529-overloaded.http.txt"))
    error = T.decode_error(overloaded.status, {}, overloaded.body)
    assert (error.status, error.kind, error.upstream_type) == (529, ErrorKind.OVERLOADED, "overloaded_error")


def test_retry_after_ms_wins_and_non_json_bodies_are_readable():
    error = T.decode_error(429, {"retry-after-ms": "1500", "retry-after": "9"}, b"")
    assert error.retry_after == 1.5
    error = T.decode_error(502, {}, b"<html>bad gateway</html>")
    assert error.status == 502 and "bad gateway" in error.message


@pytest.mark.parametrize(
    ("status", "kind", "wire_type"),
    [
        (400, ErrorKind.INVALID_REQUEST, "invalid_request_error"),
        (413, ErrorKind.REQUEST_TOO_LARGE, "invalid_request_error"),
        (401, ErrorKind.AUTHENTICATION, "authentication_error"),
        (402, ErrorKind.BILLING, "billing_error"),
        (403, ErrorKind.PERMISSION, "permission_error"),
        (404, ErrorKind.NOT_FOUND, "not_found_error"),
        (429, ErrorKind.RATE_LIMITED, "rate_limit_error"),
        (500, ErrorKind.INTERNAL, "api_error"),
        (504, ErrorKind.TIMEOUT, "timeout_error"),
        (529, ErrorKind.OVERLOADED, "overloaded_error"),
    ],
)
def test_encode_error_types(status, kind, wire_type):
    body = orjson.loads(T.encode_error(GatewayError(status=status, kind=kind, message="m")))
    assert body["type"] == "error" and body["error"] == {"type": wire_type, "message": "m"}
    assert body["request_id"].startswith("req_")
    # and back: what we send a client decodes to the same kind
    assert T.decode_error(status, {}, orjson.dumps(body)).kind in (kind, ErrorKind.UPSTREAM)


# -- requests: decode ------------------------------------------------------------------------


def all_fields(recording) -> dict:
    body = json.loads(recording("anthropic/CONSTRUCTED-request-all-fields.json").read_text())
    body.pop("_comment")
    return body


def test_decode_request_with_every_field(recording):
    request = T.decode_request(all_fields(recording))
    assert request.model == "claude-sonnet-4-5-20250929" and request.max_tokens == 16000 and request.stream
    system, user, assistant, tool = request.messages
    assert system == Message(
        "system", [TextPart("You are a coding agent.", {"anthropic": {"cache_control": {"type": "ephemeral"}}})]
    )
    assert user.parts[1] == FilePart("image/png", data="iVBORw0KGgo...")
    assert assistant.parts[0] == ReasoningPart(
        "I should read it.", {"anthropic": {"signature": "<signature from previous response>"}}
    )
    assert assistant.parts[1] == ToolCallPart("toolu_01ABC", "read_file", '{"path":"foo.txt"}')
    result = tool.parts[0]
    assert tool.role == "tool" and isinstance(result, ToolResultPart)
    assert (result.call_id, result.name, result.text, result.is_error) == ("toolu_01ABC", "read_file", "hello", False)
    assert result.provider_metadata == {"anthropic": {"cache_control": {"type": "ephemeral", "ttl": "5m"}}}
    assert request.tool_choice == ToolChoice("auto") and request.parallel_tool_calls is True
    assert request.reasoning == Reasoning(budget_tokens=8000)
    assert request.stop == ("\n\nHuman:",) and request.metadata == {"user_id": "opaque-user-hash"}


def test_tool_results_come_first_then_the_rest_of_the_user_turn():
    request = T.decode_request(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "also this"},
                        {"type": "tool_result", "tool_use_id": "t1", "content": "done", "is_error": True},
                    ],
                },
            ],
        }
    )
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant", "tool", "user"]
    assert request.messages[2].parts[0] == ToolResultPart("t1", [TextPart("done")], is_error=True, name="f")
    assert request.messages[3].parts == (TextPart("also this"),)


def test_decode_thinking_variants_tools_and_choices():
    base = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert T.decode_request({**base, "thinking": {"type": "disabled"}}).reasoning == Reasoning(effort="none")
    adaptive = T.decode_request({**base, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}})
    assert adaptive.reasoning == Reasoning(effort="high", budget_tokens=-1)
    assert T.decode_request({**base, "output_config": {"effort": "low"}}).reasoning == Reasoning(effort="low")
    request = T.decode_request(
        {
            **base,
            "tools": [
                {"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
            "container": "c-1",
        }
    )
    assert request.tools[0] == Tool(
        "f", None, {"type": "object"}, None, {"anthropic": {"cache_control": {"type": "ephemeral"}}}
    )
    assert request.tools[1] == ProviderTool(
        "anthropic", {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    )
    assert request.tool_choice == ToolChoice("required") and request.parallel_tool_calls is False
    assert request.response_format == ResponseFormat("json_schema", schema={"type": "object"})
    assert request.extras == {"anthropic": {"container": "c-1"}}
    named = T.decode_request({**base, "tool_choice": {"type": "tool", "name": "f"}})
    assert named.tool_choice == ToolChoice("tool", "f")


def test_documents_and_url_images_decode():
    request = T.decode_request(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                            "title": "T",
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                    ],
                }
            ],
        }
    )
    image, pdf, notes = request.messages[0].parts
    assert image == FilePart("image/png", url="https://x/cat.png")
    assert pdf == FilePart(
        "application/pdf", data="JVBE", provider_metadata={"anthropic": {"document": {"title": "T"}}}
    )
    assert notes == TextPart("notes", {"anthropic": {"document": {}}})
    body = T.encode_request(request, "m")
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "T",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": 5}}
                        ],
                    },
                ],
            },
            "messages[2].content[0].source.data",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}]}
                ],
            },
            "messages[0].content[0].input",
        ),
        ({"model": "m", "messages": [], "system": 5}, "system"),
        ({"model": "m", "messages": [], "tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"model": "m", "messages": [], "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"model": "m", "messages": [], "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"model": "m", "messages": [], "max_tokens": "lots"}, "max_tokens"),
        ({"model": "m", "messages": [], "stop_sequences": [1]}, "stop_sequences"),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}
                ],
            },
            "messages[0].content[0].source",
        ),
    ],
)
def test_bad_requests_name_the_field(body, param):
    with pytest.raises(GatewayError) as caught:
        T.decode_request(body)
    assert caught.value.status == 400 and caught.value.param == param
    assert param in caught.value.message


# -- requests: encode ----------------------------------------------------------------------


def test_unsigned_and_foreign_reasoning_never_reaches_anthropic():
    request = Request(
        model="m",
        messages=[
            Message("user", [TextPart("q")]),
            Message(
                "assistant",
                [
                    ReasoningPart("gemini thought", {"gemini": {"thoughtSignature": "sig-g"}}),
                    ReasoningPart("plain thought"),
                    ReasoningPart("claude thought", {"anthropic": {"signature": "sig-a"}}),
                    ReasoningPart("", {"anthropic": {"redacted_data": "ENC"}}),
                    TextPart("a"),
                ],
            ),
            Message("user", [TextPart("next")]),
        ],
    )
    body = T.encode_request(request, "claude-x")
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "claude thought", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "a"},
    ]


def test_tool_messages_merge_into_alternating_user_turns():
    request = Request(
        model="m",
        messages=[
            Message("system", [TextPart("be brief")]),
            Message("user", [TextPart("one")]),
            Message("user", [TextPart("two")]),
            Message("assistant", [TextPart(""), ToolCallPart("c1", "f", '{"x":1}'), ToolCallPart("c2", "f", "")]),
            Message("tool", [ToolResultPart("c1", [TextPart("r1")])]),
            Message("user", [TextPart("and")]),
            Message("tool", [ToolResultPart("c2", [], is_error=True)]),
            Message("system", [TextPart("late system note")]),
        ],
        max_tokens=100,
    )
    body = T.encode_request(request, "claude-x")
    assert body["system"] == "be brief"
    # the late system message stays where it was, after the user turn, under the beta
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "system"]
    assert body["messages"][3]["content"] == [{"type": "text", "text": "late system note"}]
    assert body["betas"] == ["mid-conversation-system-2026-04-07"]
    assert body["messages"][0]["content"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "c2", "name": "f", "input": {}},
    ]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "r1"}]},
        {"type": "tool_result", "tool_use_id": "c2", "is_error": True},
        {"type": "text", "text": "and"},
    ]
    assert body["max_tokens"] == 100


def test_cache_control_survives_the_ir(recording):
    body = all_fields(recording)
    encoded = T.encode_request(T.decode_request(body), body["model"])
    assert encoded["system"] == body["system"]
    del body["messages"][2]["content"][0]["is_error"]  # false is the default and is left out
    assert encoded["messages"] == body["messages"]
    cached = dict(body, tools=[{**body["tools"][0], "cache_control": {"type": "ephemeral"}}])
    assert T.encode_request(T.decode_request(cached), "m")["tools"] == cached["tools"]


def test_max_tokens_defaults_and_thinking_budget_room():
    plain = Request(model="m", messages=[Message("user", [TextPart("q")])])
    assert T.encode_request(plain, "m")["max_tokens"] == 8192
    high = plain.__class__(model="m", messages=plain.messages, reasoning=Reasoning(effort="high"))
    body = T.encode_request(high, "m")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert body["max_tokens"] > 24576
    tight = Request(model="m", messages=plain.messages, reasoning=Reasoning(budget_tokens=5000), max_tokens=3000)
    assert T.encode_request(tight, "m")["thinking"] == {"type": "enabled", "budget_tokens": 2999}
    tiny = Request(model="m", messages=plain.messages, reasoning=Reasoning(budget_tokens=5000), max_tokens=500)
    assert "thinking" not in T.encode_request(tiny, "m")
    small = Request(model="m", messages=plain.messages, reasoning=Reasoning(effort="minimal"))
    assert T.encode_request(small, "m")["thinking"]["budget_tokens"] == 1024
    off = Request(model="m", messages=plain.messages, reasoning=Reasoning(effort="none"))
    assert T.encode_request(off, "m")["thinking"] == {"type": "disabled"}
    auto = Request(model="m", messages=plain.messages, reasoning=Reasoning(effort="xhigh", budget_tokens=-1))
    body = T.encode_request(auto, "m")
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "xhigh"}


def test_sampling_and_forced_tools_follow_the_thinking_rules():
    messages = [Message("user", [TextPart("q")])]
    tools = [Tool("f")]
    thinking = Request(
        model="m",
        messages=messages,
        tools=tools,
        tool_choice=ToolChoice("tool", "f"),
        reasoning=Reasoning(budget_tokens=2048),
        temperature=0.2,
        top_p=0.5,
        top_k=40,
    )
    body = T.encode_request(thinking, "m")
    assert "temperature" not in body and body["top_p"] == 0.95 and "top_k" not in body
    assert body["tool_choice"] == {"type": "auto"}
    plain = Request(
        model="m",
        messages=messages,
        tools=tools,
        tool_choice=ToolChoice("required"),
        parallel_tool_calls=False,
        temperature=0.2,
        top_k=40,
    )
    body = T.encode_request(plain, "m")
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert (body["temperature"], body["top_k"]) == (0.2, 40)
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_images_structured_output_metadata_and_provider_tools():
    request = Request(
        model="m",
        messages=[
            Message(
                "user", [TextPart("what"), FilePart("image/jpeg", data="AAAA"), FilePart("image/*", url="https://x/y")]
            ),
            Message("assistant", [TextPart("It is   ")]),
        ],
        tools=[
            ProviderTool("anthropic", {"type": "web_search_20250305", "name": "web_search"}),
            ProviderTool("gemini", {"googleSearch": {}}),
        ],
        response_format=ResponseFormat("json_schema", schema={"type": "object", "properties": {}}),
        metadata={"user": "u-1"},
        stop=("STOP",),
        stream=True,
    )
    body = T.encode_request(request, "m")
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y"}},
    ]
    assert body["messages"][1]["content"] == [{"type": "text", "text": "It is"}]  # no trailing space in a prefill
    assert body["tools"] == [{"type": "web_search_20250305", "name": "web_search"}]
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}}
    assert body["metadata"] == {"user_id": "u-1"} and body["stop_sequences"] == ["STOP"] and body["stream"] is True


def test_audio_input_is_a_clear_400():
    request = Request(model="m", messages=[Message("user", [FilePart("audio/wav", data="AA")])])
    with pytest.raises(GatewayError) as caught:
        T.encode_request(request, "m")
    assert caught.value.status == 400 and "audio/wav" in caught.value.message


def test_system_only_conversation_gets_a_user_turn():
    body = T.encode_request(Request(model="m", messages=[Message("system", [TextPart("sys")])]), "m")
    assert body["system"] == "sys" and body["messages"][0]["role"] == "user"


# -- stream encoding -----------------------------------------------------------------------


def test_stream_encoder_writes_the_exact_event_sequence():
    encoder = T.stream_encoder(CTX)
    events = [
        StreamStart("chatcmpl-9", "up"),
        ReasoningStart(0),
        ReasoningDelta(0, "think"),
        ReasoningEnd(0, {"openai-chat": {"field": "reasoning_content"}}),
        TextStart(1),
        TextDelta(1, "Hi"),
        TextEnd(1),
        ToolCallStart(2, "call_1", "get_weather"),
        ToolCallDelta(2, '{"city":'),
        ToolCallDelta(2, '"Paris"}'),
        ToolCallEnd(2),
        StreamFinish(
            Finish(FinishReason.TOOL_CALLS, "tool_calls"), Usage(input_tokens=50, output_tokens=9, cache_read_tokens=20)
        ),
    ]
    data = b"".join(encoder.encode([e]) for e in events) + encoder.close()
    sent = client_events(data)
    assert [name for name, _ in sent] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == payload["type"] for name, payload in sent)
    assert sent[0][1]["message"]["model"] == "client-model" and sent[0][1]["message"]["id"] == "chatcmpl-9"
    assert sent[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    }
    assert sent[3][1]["delta"] == {"type": "signature_delta", "signature": ""}  # foreign reasoning: empty signature
    assert [p["index"] for n, p in sent if n.startswith("content_block")] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert sent[8][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    assert [p["delta"]["partial_json"] for n, p in sent[9:11]] == ['{"city":', '"Paris"}']
    assert sent[12][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20,
            "output_tokens": 9,
        },
    }


def test_stream_encoder_keeps_anthropic_signatures_and_reports_errors():
    encoder = T.stream_encoder(CTX)
    data = encoder.encode(
        [
            ReasoningStart(0),
            ReasoningDelta(0, "t"),
            ReasoningEnd(0, {"anthropic": {"signature": "SIG"}}),
            ReasoningStart(1),
            ReasoningEnd(1, {"anthropic": {"redacted_data": "ENC"}}),
            StreamError(GatewayError(status=529, kind=ErrorKind.OVERLOADED, message="Overloaded")),
        ]
    )
    sent = client_events(data)
    assert sent[0][0] == "message_start"  # synthesized when the upstream gave no start
    assert {"type": "signature_delta", "signature": "SIG"} in [p.get("delta") for _, p in sent]
    assert sent[-3][1]["content_block"] == {"type": "redacted_thinking", "data": "ENC"}
    assert sent[-1][0] == "error"
    assert sent[-1][1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_error_before_anything_is_a_lone_error_event():
    data = T.stream_encoder(CTX).encode(
        [StreamError(GatewayError(status=429, kind=ErrorKind.RATE_LIMITED, message="slow"))]
    )
    assert client_events(data) == [("error", orjson.loads(data.split(b"data: ")[1]))]


def test_count_door_body():
    assert orjson.loads(T.encode_count(42, CTX)) == {"input_tokens": 42}
    assert {d.path: d.action for d in T.doors} == {
        "/v1/messages": "generate",
        "/v1/messages/count_tokens": "count_tokens",
    }


def test_extract_usage_from_stream_events_and_messages():
    start = {
        "type": "message_start",
        "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 10, "output_tokens": 1}},
    }
    assert T.extract_usage(start) == Usage(input_tokens=15, output_tokens=1, cache_read_tokens=10)
    delta = {"type": "message_delta", "usage": {"output_tokens": 30}}
    assert T.extract_usage(delta) == Usage(output_tokens=30)
    assert T.extract_usage({"type": "ping"}) is None


def test_every_recorded_request_survives_decode_and_encode(recording):
    folder = recording("anthropic/README.md").parent
    for path in sorted(folder.glob("*.request.json")):
        body = json.loads(path.read_text())
        request = T.decode_request(body)
        encoded = T.encode_request(request, body["model"])
        assert encoded["messages"] == [
            {
                **m,
                "content": [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"],
            }
            for m in body["messages"]
        ], path.name
        for key in ("model", "max_tokens", "temperature", "tools", "stream"):
            assert encoded.get(key) == body.get(key), (path.name, key)


def test_every_recorded_message_reaches_clients_in_a_shape_the_sdk_accepts(recording):
    from anthropic.types import Message as SDKMessage

    folder = recording("anthropic/README.md").parent
    files = [p for p in sorted(folder.glob("*.json")) if "request" not in p.name and "count_tokens" not in p.name]
    assert len(files) >= 9
    for path in files:
        response = T.decode_response(path.read_bytes())
        body = orjson.loads(T.encode_response(response, CTX))
        message = SDKMessage.model_validate(body)
        assert message.model == "client-model" and message.usage.output_tokens == response.usage.output_tokens, (
            path.name
        )
        assert T.decode_response(orjson.dumps(body)).parts == response.parts, path.name
