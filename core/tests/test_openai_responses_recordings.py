"""The ``openai-responses`` translator on recorded Responses traffic (OpenAI, Codex,
Copilot): pure functions, no network."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pydantic
import pytest
from cliproxy import GatewayError
from cliproxy.errors import ErrorKind
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
    response_events,
)
from cliproxy.sse import SSEParser
from cliproxy.translate import EncodeContext
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseStreamEvent

RECORDINGS = Path(__file__).parents[2] / "recordings"
T = OpenAIResponses()
EVENT = pydantic.TypeAdapter(ResponseStreamEvent)

AIBRIDGE_STREAMS = sorted(p.name for p in (RECORDINGS / "openai-responses").glob("aibridge-*.stream.sse.txt"))
CHUNK_FILES = [
    "openai-responses/vercel-openai-custom-tool.1.chunks.txt",
    "openai-responses/vercel-openai-error.1.chunks.txt",
    "openai-responses/vercel-openai-phase.1.chunks.txt",
    "openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt",
    "openai-responses/vercel-openai-text-basic.chunks.txt",
    "copilot/vercel-github-copilot-responses-id-rotation.chunks.txt",
]


def sse_from_chunks(path: Path) -> list[bytes]:
    """A ``.chunks.txt`` recording as SSE streams, one per ``response.created`` (some files
    hold several conversations' turns back to back)."""
    streams: list[list[bytes]] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("type") == "response.created" or not streams:
            streams.append([])
        streams[-1].append(b"event: " + obj["type"].encode() + b"\ndata: " + line + b"\n\n")
    return [b"".join(s) for s in streams]


def split_sse(data: bytes) -> list[bytes]:
    """A recorded ``.sse.txt`` file as streams, one per ``response.created``."""
    events = [e + b"\n\n" for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    streams: list[list[bytes]] = []
    for event in events:
        if b"event: response.created" in event or not streams:
            streams.append([])
        streams[-1].append(event)
    return [b"".join(s) for s in streams]


def all_streams() -> list[tuple[str, bytes]]:
    out = []
    for name in AIBRIDGE_STREAMS:
        for i, data in enumerate(split_sse((RECORDINGS / "openai-responses" / name).read_bytes())):
            out.append((f"{name}#{i}", data))
    out.extend(
        (f"{name}#{i}", data)
        for i, data in enumerate(
            split_sse(
                (RECORDINGS / "openai-responses/DERIVED-vercel-reasoning-function-call-multiturn.sse.txt").read_bytes()
            )
        )
        for name in ["DERIVED-multiturn"]
    )
    for name in CHUNK_FILES:
        for i, data in enumerate(sse_from_chunks(RECORDINGS / name)):
            out.append((f"{name}#{i}", data))
    return out


STREAMS = all_streams()
STREAM_IDS = [name for name, _ in STREAMS]


def decode(data: bytes, pieces: list[bytes] | None = None):
    decoder = T.stream_decoder()
    events = []
    for piece in pieces or [data]:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


def comparable(events):
    """Events with errors (compared by identity) replaced by their fields."""
    return [(e.error.status, e.error.message, e.error.code) if isinstance(e, StreamError) else e for e in events]


def fold(events):
    builder = ResponseBuilder()
    builder.feed(events)
    return builder.build()


def recorded_events(data: bytes) -> list[dict]:
    parser = SSEParser()
    return [json.loads(e.data) for e in parser.feed(data) + parser.close()]


def completed_object(data: bytes) -> dict | None:
    for obj in recorded_events(data):
        if obj.get("type") == "response.completed":
            return obj["response"]
    return None


def strip_ids(parts):
    """Parts without provider metadata (Copilot rotates item ids between events)."""
    out = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(TextPart(p.text))
        elif isinstance(p, ReasoningPart):
            out.append(ReasoningPart(p.text))
        elif isinstance(p, ToolCallPart):
            out.append(ToolCallPart(p.id, p.name, p.arguments))
        else:
            out.append(p)
    return out


def has_encrypted(part) -> bool:
    return bool(
        isinstance(part, ReasoningPart) and (part.provider_metadata or {}).get("openai", {}).get("encrypted_content")
    )


def without_encrypted(parts):
    out = []
    for p in parts:
        if isinstance(p, ReasoningPart) and p.provider_metadata:
            own = {k: v for k, v in p.provider_metadata["openai"].items() if k != "encrypted_content"}
            p = ReasoningPart(p.text, {"openai": own})
        out.append(p)
    return out


# -- decoding streams ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data"), STREAMS, ids=STREAM_IDS)
def test_every_recorded_stream_has_a_well_formed_lifecycle(name, data):
    events = decode(data)
    assert isinstance(events[0], StreamStart)
    terminal = [e for e in events if isinstance(e, StreamFinish | StreamError)]
    assert len(terminal) == 1 and events[-1] is terminal[0]
    open_blocks: dict[int, str] = {}
    for event in events[1:-1]:
        kind = event.type.rsplit("-", 1)
        if event.type.endswith("-start"):
            assert event.index not in open_blocks
            open_blocks[event.index] = kind[0]
        elif event.type.endswith("-delta"):
            assert open_blocks.get(event.index) == kind[0]
        elif event.type.endswith("-end"):
            assert open_blocks.pop(event.index) == kind[0]
    assert not open_blocks or isinstance(events[-1], StreamError)


@pytest.mark.parametrize(
    ("name", "data"), [s for s in STREAMS if completed_object(s[1])], ids=[n for n, d in STREAMS if completed_object(d)]
)
def test_folded_stream_equals_the_completed_response(name, data):
    """The stream folds to what decoding the recorded ``response.completed`` object gives."""
    folded = fold(decode(data))
    whole = T.decode_response(orjson.dumps(completed_object(data)))
    if "copilot" in name:  # item ids rotate per event: compare without them
        assert strip_ids(folded.parts) == strip_ids(whole.parts)
    else:
        # OpenAI encrypts reasoning afresh each time it serialises it: the done item's and
        # the completed response's encrypted_content differ, both valid.
        assert without_encrypted(folded.parts) == without_encrypted(whole.parts)
        assert [has_encrypted(p) for p in folded.parts] == [has_encrypted(p) for p in whole.parts]
    assert folded.finish == whole.finish
    assert folded.usage == whole.usage
    assert folded.model == whole.model
    if "copilot" not in name:  # Copilot rotates the response id too
        assert folded.id == whole.id


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_arbitrary_splits_never_change_the_events(data):
    name, raw = data.draw(st.sampled_from(STREAMS), label="stream")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts"))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert comparable(decode(raw, pieces)) == comparable(decode(raw)), name


def test_simple_text_stream():
    data = (RECORDINGS / "openai-responses/aibridge-responses_streaming_simple.stream.sse.txt").read_bytes()
    events = decode(data)
    response = fold(events)
    done = next(e for e in recorded_events(data) if e["type"] == "response.output_text.done")
    assert response.text == done["text"]
    deltas = [e for e in recorded_events(data) if e["type"] == "response.output_text.delta"]
    assert sum(1 for e in events if e.type == "text-delta") == len(deltas)  # one IR delta per upstream delta
    assert response.finish.reason is FinishReason.STOP
    assert response.usage.input_tokens == 11 and response.usage.output_tokens == 18


def test_copilot_rotating_item_ids_are_correlated_by_output_index(recording):
    (data,) = sse_from_chunks(recording("copilot/vercel-github-copilot-responses-id-rotation.chunks.txt"))
    response = fold(decode(data))
    assert [type(p) for p in response.parts] == [ReasoningPart, TextPart]
    assert response.parts[0].text == "**Counting character occurrences**"
    done = next(e for e in recorded_events(data) if e["type"] == "response.output_text.done")
    assert response.text == done["text"]
    assert response.parts[1].provider_metadata["openai-responses"]["phase"] == "final_answer"
    assert response.usage.reasoning_tokens == 44 and response.usage.output_tokens == 105


def test_reasoning_keeps_encrypted_content_and_id(recording):
    data = sse_from_chunks(recording("openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt"))[0]
    response = fold(decode(data))
    reasoning = response.parts[0]
    assert isinstance(reasoning, ReasoningPart)
    item = next(e["item"] for e in recorded_events(data) if e["type"] == "response.output_item.done")
    assert reasoning.provider_metadata == {"openai": {"id": item["id"], "encrypted_content": item["encrypted_content"]}}
    assert reasoning.text == "\n\n".join(s["text"] for s in item["summary"])
    call = response.parts[1]
    assert isinstance(call, ToolCallPart) and call.name == "calculator" and json.loads(call.arguments)
    assert response.finish.reason is FinishReason.TOOL_CALLS


def test_two_reasoning_items_stay_two_parts(recording):
    data = recording(
        "openai-responses/aibridge-responses_streaming_multi_reasoning_builtin_tool.stream.sse.txt"
    ).read_bytes()
    parts = fold(decode(data)).parts
    assert [type(p) for p in parts] == [ReasoningPart, ReasoningPart, ToolCallPart]
    assert parts[0].provider_metadata["openai"]["id"] != parts[1].provider_metadata["openai"]["id"]


def test_parallel_function_calls(recording):
    data = recording(
        "openai-responses/aibridge-responses_streaming_single_builtin_tool_parallel.stream.sse.txt"
    ).read_bytes()
    calls = [p for p in fold(decode(data)).parts if isinstance(p, ToolCallPart)]
    assert len(calls) == 2 and len({c.id for c in calls}) == 2
    assert all(isinstance(json.loads(c.arguments), dict) for c in calls)


def test_custom_tool_input_becomes_input_arguments(recording):
    data = recording("openai-responses/aibridge-responses_streaming_custom_tool.stream.sse.txt").read_bytes()
    call = next(p for p in fold(decode(data)).parts if isinstance(p, ToolCallPart))
    item = next(
        e["item"]
        for e in recorded_events(data)
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "custom_tool_call"
    )
    assert json.loads(call.arguments) == {"input": item["input"]}
    assert call.provider_metadata == {"openai-responses": {"custom": True}}


@pytest.mark.parametrize(
    ("name", "message", "status"),
    [
        ("openai-responses/aibridge-responses_streaming_stream_error.stream.sse.txt", "Something went wrong", 502),
        (
            "openai-responses/aibridge-responses_streaming_stream_failure.stream.sse.txt",
            "The model failed to generate a response.",
            502,
        ),
    ],
)
def test_error_events_end_the_stream(recording, name, message, status):
    events = decode(recording(name).read_bytes())
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.message == message and events[-1].error.status == status
    assert sum(isinstance(e, StreamError) for e in events) == 1
    assert events[-2].type == "text-end"  # the open text block was closed first


def test_nested_error_event_shape(recording):
    (data,) = sse_from_chunks(recording("openai-responses/vercel-openai-error.1.chunks.txt"))
    events = decode(data)
    assert isinstance(events[-1], StreamError)
    error = events[-1].error
    assert error.status == 429 and error.kind is ErrorKind.BILLING and error.code == "insufficient_quota"
    assert "exceeded your current quota" in error.message


def test_incomplete_response_finishes_with_length():
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "m", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "msg_1", "type": "message", "content": []},
        },
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hel"},
        {
            "type": "response.incomplete",
            "response": {
                "id": "resp_1",
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "usage": {"input_tokens": 3, "output_tokens": 16},
            },
        },
    ]
    data = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
    response = fold(decode(data))
    assert response.text == "Hel"
    assert response.finish.reason is FinishReason.LENGTH
    assert response.usage.output_tokens == 16


def test_a_stream_cut_short_is_an_error(recording):
    data = recording("openai-responses/aibridge-responses_streaming_simple.stream.sse.txt").read_bytes()
    events = decode(data[: len(data) // 2])
    assert isinstance(events[-1], StreamError) and events[-1].error.status == 502


def test_items_sent_whole_without_deltas():
    """Servers that only send ``output_item.done`` still produce the whole item."""
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "m"}},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "think"}],
            },
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {"id": "msg_1", "type": "message", "content": [{"type": "output_text", "text": "hi"}]},
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
        },
        {"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}},
    ]
    data = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)
    parts = fold(decode(data)).parts
    assert parts == (
        ReasoningPart("think", {"openai": {"id": "rs_1"}}),
        TextPart("hi", {"openai-responses": {"id": "msg_1"}}),
        ToolCallPart("c1", "f", '{"a":1}'),
    )


# -- decoding whole responses and errors -------------------------------------------------------


def test_blocking_responses_decode(recording):
    simple = T.decode_response(
        recording("openai-responses/aibridge-responses_blocking_simple.nonstream.json").read_bytes()
    )
    assert simple.text.startswith("Why did the scarecrow")
    assert simple.finish.reason is FinishReason.STOP and simple.usage.total_tokens == 29
    tool = T.decode_response(
        recording("openai-responses/aibridge-responses_blocking_single_builtin_tool.nonstream.json").read_bytes()
    )
    assert [type(p) for p in tool.parts] == [ReasoningPart, ToolCallPart]
    assert tool.parts[1].id == "call_CJSaa2u51JG996575oVljuNq" and json.loads(tool.parts[1].arguments) == {
        "a": 3,
        "b": 5,
    }
    assert tool.finish.reason is FinishReason.TOOL_CALLS


def test_phase_messages_decode_as_two_text_parts(recording):
    response = T.decode_response(recording("openai-responses/vercel-openai-phase.1.json").read_bytes())
    texts = [p for p in response.parts if isinstance(p, TextPart)]
    assert [t.provider_metadata["openai-responses"]["phase"] for t in texts] == ["commentary", "final_answer"]


def test_http_error_bodies(recording):
    reply = recording("openai-responses/aibridge-responses_streaming_http_error.stream.http.txt").read_bytes()
    body = reply.split(b"\n\n", 1)[1]
    error = T.decode_error(429, {}, body)
    assert error.status == 429 and error.kind is ErrorKind.RATE_LIMITED and "Rate limit" in error.message
    quota = T.decode_error(
        429, {"retry-after": "7"}, recording("openai-responses/vercel-openai-error.1.json").read_bytes()
    )
    assert quota.retry_after == 7 and quota.code == "insufficient_quota"
    temperature = T.decode_error(
        400, {}, recording("openai-responses/vercel-reasoning-model-temperature-error.json").read_bytes()
    )
    assert temperature.status == 400 and temperature.param == "temperature"


def test_failed_response_body_raises():
    body = orjson.dumps(
        {
            "id": "resp_1",
            "object": "response",
            "status": "failed",
            "error": {"code": "server_error", "message": "boom"},
            "output": [],
        }
    )
    with pytest.raises(GatewayError, match="boom") as caught:
        T.decode_response(body)
    assert caught.value.status == 502


def test_usage_is_extracted_from_stream_events_and_bodies(recording):
    data = recording("openai-responses/aibridge-responses_streaming_simple.stream.sse.txt").read_bytes()
    completed = next(e for e in recorded_events(data) if e["type"] == "response.completed")
    usage = T.extract_usage(completed)
    assert usage is not None and usage.input_tokens == 11 and usage.output_tokens == 18
    created = next(e for e in recorded_events(data) if e["type"] == "response.created")
    assert T.extract_usage(created) is None
    body = json.loads(recording("openai-responses/aibridge-responses_blocking_simple.nonstream.json").read_text())
    assert T.extract_usage(body).output_tokens == 18


# -- encoding for Responses clients ------------------------------------------------------------


def encode_stream(events, body=None) -> bytes:
    encoder = T.stream_encoder(EncodeContext(model="client-model", body=body or {}, created=1700000000))
    return encoder.encode(events) + encoder.close()


def sdk_replay(data: bytes, tools=()) -> tuple[list[dict], ResponseStreamState]:
    """Check every event against the SDK's types and feed them to its stream accumulator."""
    parser = SSEParser()
    events = parser.feed(data) + parser.close()
    state = ResponseStreamState(input_tools=list(tools), text_format=omit)
    objs = []
    for i, sse in enumerate(events):
        obj = json.loads(sse.data)
        assert sse.event == obj["type"]
        assert obj["sequence_number"] == i
        state.handle_event(EVENT.validate_python(obj))
        objs.append(obj)
    return objs, state


@pytest.mark.parametrize(("name", "data"), STREAMS, ids=STREAM_IDS)
def test_reencoded_streams_satisfy_the_openai_sdk(name, data):
    tools = [{"type": "custom", "name": "code_exec"}] if "custom" in name else []
    events = decode(data)
    objs, state = sdk_replay(encode_stream(events, {"tools": tools}), tools)
    kinds = [o["type"] for o in objs]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    if isinstance(events[-1], StreamError):
        assert kinds[-2:] == ["error", "response.failed"]
        return
    assert kinds[-1] == "response.completed"
    final = SDKResponse.model_validate(objs[-1]["response"])
    assert final.model == "client-model"
    # what the SDK accumulated is what the stream said
    folded = fold(events)
    assert state._completed_response is not None
    assert state._completed_response.output_text == folded.text
    # and decoding our own stream gives the same response back
    again = fold(decode(encode_stream(events, {"tools": tools})))
    assert strip_ids(again.parts) == strip_ids(folded.parts)
    assert again.usage.input_tokens == folded.usage.input_tokens
    assert again.finish.reason == folded.finish.reason


def test_argument_fragments_pass_on_one_event_each(recording):
    data = sse_from_chunks(recording("openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt"))[0]
    upstream = [e for e in recorded_events(data) if e["type"] == "response.function_call_arguments.delta"]
    objs, _ = sdk_replay(encode_stream(decode(data)))
    ours = [o for o in objs if o["type"] == "response.function_call_arguments.delta"]
    assert [o["delta"] for o in ours] == [e["delta"] for e in upstream]
    item = next(
        o["item"] for o in objs if o["type"] == "response.output_item.done" and o["item"]["type"] == "reasoning"
    )
    assert item["encrypted_content"].startswith("gAAAA")  # OpenAI's own, passed on unchanged


def test_reasoning_from_another_provider_round_trips_sealed():
    """A Claude signature reaches a Responses client sealed in ``encrypted_content`` and
    comes back from it unchanged."""
    meta = {"anthropic": {"signature": "sig-123"}}
    events = [
        StreamStart("msg_1", "claude"),
        ReasoningStart(0),
        ReasoningDelta(0, "thinking..."),
        ReasoningEnd(0, meta),
        TextStart(1),
        TextDelta(1, "answer"),
        TextEnd(1),
        StreamFinish(Finish(FinishReason.STOP), Usage(input_tokens=5, output_tokens=7)),
    ]
    objs, _ = sdk_replay(encode_stream(events))
    item = next(
        o["item"] for o in objs if o["type"] == "response.output_item.done" and o["item"]["type"] == "reasoning"
    )
    assert item["summary"] == [{"type": "summary_text", "text": "thinking..."}]
    request = T.decode_request(
        {"model": "m", "input": [{"role": "user", "content": "hi"}, item, {"role": "user", "content": "more"}]}
    )
    reasoning = request.messages[1].parts[0]
    assert reasoning == ReasoningPart("thinking...", meta)
    # and it is never sent to OpenAI, which could not read it
    body = T.encode_request(request, "gpt-5")
    assert not any(i.get("type") == "reasoning" for i in body["input"])


def test_encoded_whole_response_satisfies_the_sdk(recording):
    response = T.decode_response(
        recording("openai-responses/aibridge-responses_blocking_single_builtin_tool.nonstream.json").read_bytes()
    )
    ctx = EncodeContext(model="client-model", body={"tools": [], "temperature": 0.2}, created=1)
    obj = json.loads(T.encode_response(response, ctx))
    parsed = SDKResponse.model_validate(obj)
    assert parsed.model == "client-model" and parsed.status == "completed" and parsed.temperature == 0.2
    assert [o.type for o in parsed.output] == ["reasoning", "function_call"]
    assert parsed.usage is not None and parsed.usage.total_tokens == 76
    assert T.decode_response(orjson.dumps(obj)).parts == response.parts


def test_length_finish_is_an_incomplete_response():
    response = Response(id="x", model="m", parts=[TextPart("cut")], finish=Finish(FinishReason.LENGTH))
    obj = json.loads(T.encode_response(response, EncodeContext(model="m", body={})))
    assert obj["status"] == "incomplete" and obj["incomplete_details"] == {"reason": "max_output_tokens"}
    assert obj["id"].startswith("resp_")
    events = list(response_events(response))
    objs, _ = sdk_replay(encode_stream(events))
    assert objs[-1]["type"] == "response.incomplete"


def test_stream_error_before_any_content():
    objs, _ = sdk_replay(encode_stream([StreamError(GatewayError.from_status(429, "slow down"))]))
    assert [o["type"] for o in objs] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert objs[2]["message"] == "slow down" and objs[2]["code"] == "rate_limit_exceeded"
    assert objs[3]["response"]["error"]["code"] == "rate_limit_exceeded"


# -- requests ------------------------------------------------------------------------------------


def test_all_fields_request_decodes(recording):
    body = json.loads(recording("openai-responses/CONSTRUCTED-request-all-fields.json").read_text())
    body.pop("_comment")
    request = T.decode_request(body)
    assert request.model == "gpt-5" and request.stream is True and request.max_tokens == 2048
    system, user, assistant, tool = request.messages
    assert system.role == "system" and system.text == "You are a helpful assistant."
    assert user.parts[0] == TextPart("Weather in Paris? Also see image.")
    image = user.parts[1]
    assert (
        image.media_type == "image/png"
        and image.data == "iVBORw0KGgo..."
        and image.provider_metadata["openai-responses"]["detail"] == "auto"
    )
    assert assistant.parts == (ToolCallPart("call_abc123", "get_weather", '{"city":"Paris"}'),)
    assert tool.parts == (ToolResultPart("call_abc123", [TextPart('{"temp_c":18}')], name="get_weather"),)
    assert request.tools[0].name == "get_weather" and request.tools[0].strict is True
    assert request.tool_choice.type == "auto"
    assert request.reasoning.effort == "medium" and request.reasoning.summary == "auto"
    assert request.response_format.type == "text"
    assert request.extras["openai-responses"] == {"include": ["reasoning.encrypted_content"], "store": False}


def test_codex_request_decodes_and_reencodes(recording):
    body = json.loads(recording("openai-responses/aibridge-responses_streaming_codex_example.request.json").read_text())
    request = T.decode_request(body)
    roles = [m.role for m in request.messages]
    assert roles[0] == "system" and roles.count("assistant") == 2
    # consecutive user items stay separate messages; reasoning + reply form one assistant turn
    first_assistant = request.messages[roles.index("assistant")]
    assert [type(p) for p in first_assistant.parts] == [ReasoningPart, TextPart]
    assert first_assistant.parts[0].provider_metadata["openai"]["encrypted_content"].startswith("gAAAA")
    custom = next(t for t in request.tools if t.name == "apply_patch")
    assert (
        custom.parameters["required"] == ["input"]
        and "grammar" in custom.parameters["properties"]["input"]["description"]
    )
    assert request.extras["openai-responses"]["prompt_cache_key"] == body["prompt_cache_key"]
    again = T.encode_request(request, "gpt-5-codex")
    assert again["instructions"] == body["instructions"]
    assert again["tools"] == body["tools"]  # custom tools go back as they came
    reasoning_items = [i for i in again["input"] if i.get("type") == "reasoning"]
    original = [i for i in body["input"] if i.get("type") == "reasoning"]
    assert [i["encrypted_content"] for i in reasoning_items] == [i["encrypted_content"] for i in original]
    assert again["store"] is False and again["include"] == ["reasoning.encrypted_content"]
    assert again["prompt_cache_key"] == body["prompt_cache_key"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"previous_response_id": "resp_1", "input": "hi"}, "previous_response_id"),
        ({"conversation": "conv_1", "input": "hi"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}, "input": "hi"}, "prompt"),
        ({"background": True, "input": "hi"}, "background"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].id"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
            "input[0].content[0].file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}]},
            "input[0].content[0].file_id",
        ),
        ({"input": [{"type": "computer_call", "call_id": "c"}]}, "input[0].type"),
        ({"input": 5}, "input"),
        ({}, "input"),
        ({"input": "hi", "tool_choice": 3}, "tool_choice"),
        ({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ],
)
def test_bad_or_stateful_requests_are_refused_clearly(body, param):
    with pytest.raises(GatewayError) as caught:
        T.decode_request({"model": "m", **body})
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.message


def test_stateful_refusal_says_how_to_fix():
    with pytest.raises(GatewayError) as caught:
        T.decode_request({"model": "m", "previous_response_id": "resp_1", "input": "hi"})
    assert "stateless" in caught.value.message and "'input'" in caught.value.message


def test_server_tool_records_are_dropped_from_history():
    request = T.decode_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "news?"},
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "news"},
                },
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Here."}]},
            ],
        }
    )
    assert [m.role for m in request.messages] == ["user", "assistant"]


def test_built_in_tools_are_provider_tools_for_this_wire():
    request = T.decode_request(
        {"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}}
    )
    assert request.tools == (ProviderTool("openai-responses", {"type": "web_search"}),)
    body = T.encode_request(request, "gpt-5")
    assert body["tools"] == [{"type": "web_search"}]
    assert "tools" not in OpenAIChat().encode_request(request, "other")  # no other wire gets it


def test_encode_request_maps_chat_concepts():
    request = Request(
        model="x",
        messages=[
            Message("system", [TextPart("be brief")]),
            Message(
                "user",
                [
                    TextPart("look"),
                    FilePart("image/png", data="AAAA"),
                    FilePart("application/pdf", url="https://x/y.pdf", filename="y.pdf"),
                ],
            ),
            Message(
                "assistant",
                [
                    ReasoningPart("hm", {"anthropic": {"signature": "s"}}),
                    TextPart("calling"),
                    ToolCallPart("c1", "f", "{}"),
                ],
            ),
            Message("tool", [ToolResultPart("c1", [TextPart("ok"), FilePart("image/png", data="BBBB")])]),
            Message("system", [TextPart("later note")]),
        ],
        tools=[Tool("f", "does f", {"type": "object"})],
        tool_choice=ToolChoice("tool", "f"),
        max_tokens=4,
        stop=("x",),
        seed=3,
        reasoning=Reasoning(budget_tokens=1000, include_thoughts=True),
        response_format=ResponseFormat("json_schema", schema={"type": "object"}, name="out", strict=True),
        stream=True,
        metadata={"user": "u1", "n": 3},
    )
    body = T.encode_request(request, "gpt-5")
    assert body["instructions"] == "be brief"
    user, message, call, output, later = body["input"]
    assert user["content"][1] == {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
    assert user["content"][2] == {"type": "input_file", "file_url": "https://x/y.pdf", "filename": "y.pdf"}
    assert message == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "calling", "annotations": []}],
    }
    assert call == {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    assert output["type"] == "function_call_output" and output["output"][0] == {"type": "input_text", "text": "ok"}
    assert later == {"role": "developer", "content": "later note"}
    assert body["tool_choice"] == {"type": "function", "name": "f"}
    assert body["max_output_tokens"] == 16  # OpenAI's minimum
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}
    }
    assert body["metadata"] == {"user": "u1"}
    assert body["stream"] is True and body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert not {"stop", "seed"} & body.keys()


def test_input_tokens_door_encoding():
    assert json.loads(T.encode_count(42, EncodeContext(model="m", body={}))) == {
        "object": "response.input_tokens",
        "input_tokens": 42,
    }


def test_refusals_stream_as_refusal_parts():
    meta = {"openai-responses": {"refusal": True}}
    response = Response(id="resp_1", model="m", parts=[TextPart("I can't help with that.", meta)])
    events = [
        StreamStart("resp_1"),
        TextStart(0, meta),
        TextDelta(0, "I can't help with that."),
        TextEnd(0, meta),
        StreamFinish(Finish()),
    ]
    objs, _ = sdk_replay(encode_stream(events))
    kinds = [o["type"] for o in objs]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    assert objs[-1]["response"]["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help with that."}]
    assert (
        T.decode_response(T.encode_response(response, EncodeContext(model="m", body={})))
        .parts[0]
        .provider_metadata["openai-responses"]["refusal"]
        is True
    )


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files. FREEFORM: do not wrap the patch in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"},
}


def test_custom_tools_reach_other_upstreams_as_functions_taking_input():
    request = T.decode_request(
        {
            "model": "m",
            "input": "fix it",
            "tools": [APPLY_PATCH],
            "tool_choice": {"type": "custom", "name": "apply_patch"},
        }
    )
    chat = OpenAIChat().encode_request(request, "other")
    function = chat["tools"][0]["function"]
    assert function["name"] == "apply_patch" and function["parameters"]["required"] == ["input"]
    assert "start: begin_patch" in function["parameters"]["properties"]["input"]["description"]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    # and back to a Responses upstream exactly as the client declared it
    body = T.encode_request(request, "gpt-5-codex")
    assert body["tools"] == [APPLY_PATCH] and body["tool_choice"] == {"type": "custom", "name": "apply_patch"}


def test_another_upstreams_call_of_a_custom_tool_reaches_the_client_as_custom():
    patch = '*** Begin Patch\n*** Add File: a.txt\n+hi "there"\n*** End Patch'
    arguments = json.dumps({"input": patch})
    events = [
        StreamStart("msg_1", "claude"),
        ToolCallStart(0, "toolu_1", "apply_patch"),
        *[ToolCallDelta(0, arguments[i : i + 7]) for i in range(0, len(arguments), 7)],
        ToolCallEnd(0),
        StreamFinish(Finish(FinishReason.TOOL_CALLS)),
    ]
    objs, _ = sdk_replay(encode_stream(events, {"tools": [APPLY_PATCH]}), [APPLY_PATCH])
    item = objs[-1]["response"]["output"][0]
    assert item["type"] == "custom_tool_call" and item["input"] == patch and item["call_id"] == "toolu_1"
    assert "".join(o["delta"] for o in objs if o["type"] == "response.custom_tool_call_input.delta") == patch
    whole = json.loads(T.encode_response(fold(events), EncodeContext(model="m", body={"tools": [APPLY_PATCH]})))
    assert whole["output"][0]["type"] == "custom_tool_call" and whole["output"][0]["input"] == patch
    # the next turn's history goes back to the other upstream as the same function call
    request = T.decode_request(
        {
            "model": "m",
            "tools": [APPLY_PATCH],
            "input": [
                {"role": "user", "content": "add a.txt"},
                {"type": "custom_tool_call", "call_id": "toolu_1", "name": "apply_patch", "input": patch},
                {"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done"},
            ],
        }
    )
    call = request.messages[1].parts[0]
    assert json.loads(call.arguments) == {"input": patch}
    assert request.messages[2].parts[0] == ToolResultPart(
        "toolu_1", [TextPart("Done")], name="apply_patch", provider_metadata={"openai-responses": {"custom": True}}
    )
    again = T.encode_request(request, "gpt-5-codex")["input"]
    assert again[1] == {"type": "custom_tool_call", "call_id": "toolu_1", "name": "apply_patch", "input": patch}
    assert again[2] == {"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done"}
