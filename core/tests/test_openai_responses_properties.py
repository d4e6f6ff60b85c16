"""Properties of the ``openai-responses`` translator: round trips through the wire, a
streamed response folds to the whole one, and splitting bytes never matters."""

from __future__ import annotations

import string

import attrs
import orjson
import pydantic
from cliproxy import GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Message,
    ProviderTool,
    Reasoning,
    ReasoningPart,
    Request,
    Response,
    ResponseBuilder,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    response_events,
)
from cliproxy.sse import SSEParser
from cliproxy.testing import strategies as shared
from cliproxy.translate import EncodeContext
from cliproxy.wire.openai_responses import OpenAIResponses
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

T = OpenAIResponses()
EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
WIRE = "openai-responses"

words = st.text(max_size=24)
names = st.text(string.ascii_letters + "_", min_size=1, max_size=12)
ids = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10)
json_args = st.dictionaries(names, st.one_of(st.integers(-5, 5), words, st.booleans()), max_size=3).map(
    lambda d: orjson.dumps(d).decode()
)
images = st.builds(
    lambda data, detail: FilePart(
        "image/png",
        data=data,
        provider_metadata={WIRE: {"detail": detail}, "openai-chat": {"detail": detail}} if detail else None,
    ),
    st.sampled_from(["iVBORw0KGgo=", "AAAA", "QUJD"]),
    st.sampled_from([None, "low", "high", "auto"]),
)
reasoning_parts = st.builds(
    lambda text, rid, enc: ReasoningPart(text, {"openai": {"id": "rs_" + rid, "encrypted_content": enc}}),
    words,
    ids,
    st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=20),
)


@st.composite
def conversations(draw) -> list[Message]:
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(Message("system", [TextPart(draw(words.filter(bool)))]))
    pending_calls: list[ToolCallPart] = []
    last = None
    for _ in range(draw(st.integers(1, 5))):
        options = ["user"]
        if last != "assistant":
            options.append("assistant")
        if pending_calls:
            options = ["tool"]
        role = draw(st.sampled_from(options))
        if role == "user":
            parts = draw(st.lists(st.one_of(words.map(TextPart), images), min_size=1, max_size=3))
            messages.append(Message("user", parts))
        elif role == "assistant":
            parts = []
            if draw(st.booleans()):
                parts.append(draw(reasoning_parts))
            for _ in range(draw(st.integers(0, 2))):
                phase = draw(st.sampled_from([None, "commentary", "final_answer"]))
                parts.append(TextPart(draw(words), {WIRE: {"phase": phase}} if phase else None))
            for i in range(draw(st.integers(0 if parts else 1, 2))):
                parts.append(ToolCallPart(f"call_{len(messages)}_{i}", draw(names), draw(json_args)))
            pending_calls = [p for p in parts if isinstance(p, ToolCallPart)]
            messages.append(Message("assistant", parts))
        else:
            results = [
                ToolResultPart(call.id, [TextPart(draw(words.filter(bool)))], name=call.name) for call in pending_calls
            ]
            pending_calls = []
            messages.append(Message("tool", results))
        last = role
    if draw(st.booleans()):
        messages.append(Message("system", [TextPart(draw(words.filter(bool)))]))
    return messages


function_tools = st.builds(
    Tool,
    name=names,
    description=st.one_of(st.none(), words.filter(bool)),
    parameters=st.just({"type": "object", "properties": {"x": {"type": "string"}}}),
    strict=st.one_of(st.none(), st.booleans()),
)


@st.composite
def requests(draw) -> Request:
    tools = draw(st.lists(function_tools, max_size=3, unique_by=lambda t: t.name))
    if draw(st.booleans()):
        tools.append(ProviderTool(WIRE, {"type": "web_search"}))
    choice = None
    if tools:
        choices = [None, ToolChoice("auto"), ToolChoice("none"), ToolChoice("required")]
        choices += [ToolChoice("tool", t.name) for t in tools if isinstance(t, Tool)]
        choice = draw(st.sampled_from(choices))
    formats = [
        None,
        ResponseFormat("text"),
        ResponseFormat("json_object"),
        ResponseFormat("json_schema", schema={"type": "object"}, name="out", strict=True, description="the answer"),
    ]
    return Request(
        model="m",
        messages=draw(conversations()),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=draw(st.one_of(st.none(), st.booleans())) if tools else None,
        max_tokens=draw(st.one_of(st.none(), st.integers(16, 100000))),
        temperature=draw(st.one_of(st.none(), st.floats(0, 2))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1))),
        reasoning=draw(
            st.one_of(
                st.none(),
                st.builds(
                    Reasoning,
                    effort=st.sampled_from(["minimal", "low", "medium", "high"]),
                    summary=st.sampled_from([None, "auto", "detailed"]),
                ),
            )
        ),
        response_format=draw(st.sampled_from(formats)),
        stream=draw(st.booleans()),
        metadata=draw(st.one_of(st.none(), st.dictionaries(names, words, min_size=1, max_size=2))),
    )


@settings(max_examples=80, deadline=None)
@given(requests())
def test_request_round_trips_through_the_wire(request):
    body = T.encode_request(request, "m")
    decoded = T.decode_request(orjson.loads(orjson.dumps(body)))
    # the gateway asks for statelessness; everything else comes back as it was
    extras = dict(decoded.extras.get(WIRE, {}))
    assert extras.pop("store") is False
    if request.reasoning is not None:
        assert extras.pop("include") == ["reasoning.encrypted_content"]
    assert not extras
    assert attrs.evolve(decoded, extras={}) == request


@st.composite
def responses(draw) -> Response:
    parts = []
    msg = None
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "reasoning", "call", "image"]))
        if kind == "text":
            if msg is None or draw(st.booleans()):
                msg = "msg_" + draw(ids)
            parts.append(TextPart(draw(words), {WIRE: {"id": msg}}))
            continue
        msg = None
        if kind == "reasoning":
            parts.append(draw(reasoning_parts))
        elif kind == "call":
            parts.append(
                ToolCallPart(f"call_{len(parts)}_" + draw(ids), draw(names), draw(json_args))
            )  # ids are unique
        else:
            parts.append(FilePart("image/png", data=draw(st.sampled_from(["iVBORw0KGgo=", "AAAA"]))))
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    reason = draw(
        st.sampled_from(
            [FinishReason.TOOL_CALLS]
            if has_calls
            else [FinishReason.STOP, FinishReason.LENGTH, FinishReason.CONTENT_FILTER]
        )
    )
    counts = st.integers(0, 10**6)
    usage = Usage(
        input_tokens=draw(counts),
        output_tokens=draw(counts),
        cache_read_tokens=draw(counts),
        cache_write_tokens=draw(st.one_of(st.none(), st.integers(1, 1000))),
        reasoning_tokens=draw(counts),
    )
    return Response(
        id="resp_" + draw(ids),
        model="client-model",
        parts=parts,
        finish=Finish(reason),
        usage=usage,
        created=draw(st.integers(1, 2**31)),
    )


CTX = EncodeContext(model="client-model", body={}, created=5)


def same_response(a: Response, b: Response, *, item_ids: bool = True) -> None:
    def norm(parts):
        if item_ids:
            return list(parts)
        out = []
        for p in parts:  # streams replayed from whole responses name items afresh
            if isinstance(p, TextPart):
                p = TextPart(p.text)
            elif isinstance(p, ReasoningPart):
                p = ReasoningPart(
                    p.text, {"openai": {"encrypted_content": p.provider_metadata["openai"]["encrypted_content"]}}
                )
            out.append(p)
        return out

    assert norm(a.parts) == norm(b.parts)
    assert a.finish.reason == b.finish.reason
    assert a.usage == b.usage
    assert (a.id, a.model, a.created) == (b.id, b.model, b.created)


@settings(max_examples=80, deadline=None)
@given(responses())
def test_whole_response_round_trips(response):
    same_response(T.decode_response(T.encode_response(response, CTX)), response)


@settings(max_examples=80, deadline=None)
@given(responses(), st.data())
def test_stream_folds_to_the_whole_response_however_it_is_split(response, data):
    encoder = T.stream_encoder(CTX)
    raw = b"".join(encoder.encode([event]) for event in response_events(response)) + encoder.close()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    decoder = T.stream_decoder()
    builder = ResponseBuilder()
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        builder.feed(decoder.feed(raw[a:b]))
    builder.feed(decoder.close())
    whole = T.decode_response(T.encode_response(response, CTX))
    same_response(builder.build(), whole, item_ids=False)
    # and the openai SDK accepts every event, in order
    state = ResponseStreamState(input_tools=[], text_format=omit)
    parser = SSEParser()
    for number, event in enumerate(parser.feed(raw) + parser.close()):
        parsed = EVENT.validate_json(event.data)
        assert parsed.sequence_number == number
        state.handle_event(parsed)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), words),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
    max_leaves=12,
)
shaped_bodies = st.fixed_dictionaries(
    {"model": st.just("m")},
    optional={
        "input": st.one_of(
            words,
            st.lists(
                st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(
                                ["message", "function_call", "function_call_output", "reasoning", "custom_tool_call"]
                            )
                        },
                        optional={
                            "role": st.sampled_from(["user", "assistant", "system"]),
                            "content": json_values,
                            "call_id": json_values,
                            "name": json_values,
                            "output": json_values,
                            "summary": json_values,
                            "arguments": json_values,
                        },
                    ),
                ),
                max_size=4,
            ),
        ),
        "instructions": json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "reasoning": json_values,
        "text": json_values,
        "max_output_tokens": json_values,
        "temperature": json_values,
        "metadata": json_values,
    },
)


@settings(max_examples=100, deadline=None)
@given(shaped_bodies)
def test_any_body_decodes_or_fails_with_a_400(body):
    try:
        T.decode_request(body)
    except GatewayError as error:
        assert error.status == 400 and error.message


# -- the project's shared IR strategies, restricted to what the Responses API can express --------


def _zeros(usage: Usage) -> Usage:
    """Responses always reports cached and reasoning tokens: unknown becomes 0."""
    return attrs.evolve(
        usage, cache_read_tokens=usage.cache_read_tokens or 0, reasoning_tokens=usage.reasoning_tokens or 0
    )


@settings(max_examples=60, deadline=None)
@given(shared.requests(sampling=False))
def test_shared_requests_round_trip(request):
    decoded = T.decode_request(orjson.loads(orjson.dumps(T.encode_request(request, request.model))))
    expected = attrs.evolve(request, max_tokens=None if request.max_tokens is None else max(request.max_tokens, 16))
    assert attrs.evolve(decoded, extras={}) == expected


@settings(max_examples=60, deadline=None)
@given(
    shared.responses(
        reasoning_metadata=lambda draw: {"openai": {"id": "rs_" + draw(ids), "encrypted_content": draw(ids)}}
    ),
    st.data(),
)
def test_shared_responses_stream_and_whole_agree(response, data):
    response = attrs.evolve(response, model="client-model", usage=_zeros(response.usage), created=9)
    whole = T.decode_response(T.encode_response(response, CTX))
    same_response(whole, response, item_ids=False)  # message ids are the encoder's own
    encoder = T.stream_encoder(CTX)
    raw = b"".join(encoder.encode([event]) for event in response_events(response))
    pieces = data.draw(shared.split_points(raw))
    streamed = ResponseBuilder()
    streamed.feed(shared.decode_in_pieces(T.stream_decoder(), pieces))
    same_response(streamed.build(), whole, item_ids=False)
