"""Properties of the ``anthropic`` translator: round trips, stream == whole, any byte split."""

from __future__ import annotations

import base64
from pathlib import Path

import attrs
import orjson
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    Response,
    ResponseBuilder,
    ResponseFormat,
    StreamError,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    response_events,
)
from cliproxy.testing import strategies as shared
from cliproxy.translate import EncodeContext
from cliproxy.wire.anthropic import Anthropic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = Anthropic()
RECORDINGS = Path(__file__).resolve().parents[2] / "recordings" / "anthropic"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(min_size=1, max_size=12).map(str.strip).filter(bool)
cache = st.sampled_from([None, {"anthropic": {"cache_control": {"type": "ephemeral"}}}])
ids = st.uuids().map(lambda u: "toolu_" + u.hex[:16])  # unique, as Anthropic's are
names = st.text("abcdefgh_", min_size=1, max_size=8)
args = st.dictionaries(names, st.one_of(st.integers(-5, 5), text, st.booleans()), max_size=3).map(
    lambda d: orjson.dumps(d).decode()
)
signature = st.binary(min_size=6, max_size=12).map(lambda raw: base64.b64encode(raw).decode())


@st.composite
def user_parts(draw):
    parts = draw(
        st.lists(
            st.one_of(
                st.builds(TextPart, text, cache),
                st.builds(lambda d: FilePart("image/png", data=d), signature),
                st.builds(lambda n: FilePart("image/jpeg", url=f"https://img.example/{n}.jpg"), names),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return Message("user", parts)


@st.composite
def assistant(draw):
    parts = []
    if draw(st.booleans()):
        parts.append(ReasoningPart(draw(text), {"anthropic": {"signature": draw(signature)}}))
    if draw(st.booleans()):
        parts.append(ReasoningPart("", {"anthropic": {"redacted_data": draw(signature)}}))
    parts.extend(TextPart(t) for t in draw(st.lists(text, max_size=2)))
    calls = [ToolCallPart(draw(ids), draw(names), draw(args)) for _ in range(draw(st.integers(0, 2)))]
    parts.extend(calls)
    if not parts:
        parts.append(TextPart(draw(text)))
    return Message("assistant", parts), calls


@st.composite
def conversations(draw):
    messages = []
    if draw(st.booleans()):
        messages.append(Message("system", draw(st.lists(st.builds(TextPart, text, cache), min_size=1, max_size=2))))
    messages.append(draw(user_parts()))
    for _ in range(draw(st.integers(0, 3))):
        reply, calls = draw(assistant())
        messages.append(reply)
        if calls:
            results = [
                ToolResultPart(
                    call.id, draw(st.lists(st.builds(TextPart, text), max_size=2)), draw(st.booleans()), call.name
                )
                for call in calls
            ]
            messages.append(Message("tool", results))
            if draw(st.booleans()):
                messages.append(draw(user_parts()))
        else:
            messages.append(draw(user_parts()))
    return messages


@st.composite
def requests(draw):
    max_tokens = draw(st.integers(1025, 64000))
    reasoning = draw(
        st.one_of(
            st.none(),
            st.just(Reasoning(effort="none")),
            st.integers(1024, max_tokens - 1).map(lambda n: Reasoning(budget_tokens=n)),
            st.sampled_from([None, "low", "high", "max"]).map(lambda e: Reasoning(effort=e, budget_tokens=-1)),
        )
    )
    thinking = reasoning is not None and not reasoning.disabled
    tools = draw(
        st.lists(
            st.builds(
                Tool,
                names,
                st.one_of(st.none(), text),
                st.just({"type": "object", "properties": {"q": {"type": "string"}}}),
                st.sampled_from([None, True]),
                cache,
            ),
            max_size=2,
            unique_by=lambda t: t.name,
        )
    )
    choice = parallel = None
    if tools:
        kinds = ["auto", "none"] if thinking else ["auto", "none", "required", "tool"]
        kind = draw(st.sampled_from([None, *kinds]))
        if kind is not None:
            choice = ToolChoice(kind, tools[0].name if kind == "tool" else None)
            if kind != "none":
                parallel = draw(st.sampled_from([None, False]))
    return Request(
        model="claude-test",
        messages=draw(conversations()),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        temperature=draw(st.sampled_from([None, 1])) if thinking else draw(st.one_of(st.none(), st.floats(0, 1))),
        top_p=draw(st.sampled_from([None, 0.95, 1.0])) if thinking else draw(st.one_of(st.none(), st.floats(0, 1))),
        top_k=None if thinking else draw(st.one_of(st.none(), st.integers(1, 100))),
        stop=draw(st.lists(text, max_size=2)),
        reasoning=reasoning,
        response_format=draw(st.sampled_from([None, ResponseFormat("json_schema", schema={"type": "object"})])),
        stream=draw(st.booleans()),
        metadata=draw(st.one_of(st.none(), text.map(lambda u: {"user_id": u}))),
        extras=draw(st.sampled_from([{}, {"anthropic": {"container": "c-1", "service_tier": "auto"}}])),
    )


@given(requests())
@SETTINGS
def test_request_round_trips_through_the_wire(request):
    body = orjson.loads(orjson.dumps(T.encode_request(request, request.model)))
    assert T.decode_request(body) == request


_FINISHES = [
    Finish(FinishReason.STOP, "end_turn"),
    Finish(FinishReason.STOP, "stop_sequence"),
    Finish(FinishReason.LENGTH, "max_tokens"),
    Finish(FinishReason.TOOL_CALLS, "tool_use"),
    Finish(FinishReason.CONTENT_FILTER, "refusal"),
    Finish(FinishReason.OTHER, "pause_turn"),
]


@st.composite
def responses(draw):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        parts.append(
            draw(
                st.one_of(
                    st.builds(TextPart, st.text(max_size=10)),
                    st.builds(
                        lambda t, s: ReasoningPart(t, {"anthropic": {"signature": s}}), st.text(max_size=10), signature
                    ),
                    st.builds(lambda s: ReasoningPart("", {"anthropic": {"redacted_data": s}}), signature),
                    st.builds(ToolCallPart, ids, names, args),
                )
            )
        )
    finish = draw(st.sampled_from(_FINISHES))
    read, write, plain = draw(st.integers(0, 500)), draw(st.integers(0, 500)), draw(st.integers(0, 500))
    usage = Usage(
        input_tokens=plain + read + write,
        output_tokens=draw(st.integers(0, 900)),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )
    meta = {"anthropic": {"stop_sequence": draw(text)}} if finish.raw == "stop_sequence" else None
    return Response(
        id="msg_" + draw(signature),
        model="claude-test",
        parts=parts,
        finish=finish,
        usage=usage,
        provider_metadata=meta,
    )


def ctx(model: str) -> EncodeContext:
    return EncodeContext(model=model, body={})


@given(responses())
@SETTINGS
def test_response_round_trips_through_the_wire(response):
    assert T.decode_response(T.encode_response(response, ctx(response.model))) == response


@given(responses(), st.lists(st.integers(0, 10_000), max_size=8))
@SETTINGS
def test_streamed_response_folds_to_the_whole_one(response, cuts):
    encoder = T.stream_encoder(ctx(response.model))
    data = b"".join(encoder.encode([event]) for event in response_events(response)) + encoder.close()
    decoder = T.stream_decoder()
    events = []
    last = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        events.extend(decoder.feed(data[last:cut]))
        last = cut
    events.extend(decoder.feed(data[last:]))
    events.extend(decoder.close())
    builder = ResponseBuilder()
    builder.feed(events)
    assert builder.build() == T.decode_response(T.encode_response(response, ctx(response.model)))


_STREAMS = sorted(RECORDINGS.glob("*.sse.txt"))


def comparable(events: list) -> list:
    """Events with errors as plain values (GatewayError compares by identity)."""
    return [
        ("error", e.error.status, e.error.kind, e.error.message) if isinstance(e, StreamError) else e for e in events
    ]


@given(st.sampled_from(_STREAMS), st.lists(st.integers(0, 100_000), max_size=12))
@settings(max_examples=80, deadline=None)
def test_any_split_of_upstream_bytes_gives_the_same_events(path, cuts):
    data = path.read_bytes()
    whole = T.stream_decoder()
    expected = whole.feed(data) + whole.close()
    decoder = T.stream_decoder()
    events = []
    last = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        events.extend(decoder.feed(data[last:cut]))
        last = cut
    events.extend(decoder.feed(data[last:]))
    events.extend(decoder.close())
    assert comparable(events) == comparable(expected)


# -- the shared IR strategies (what every wire is checked against) -----------------------------


@given(shared.requests(reasoning=False))
@SETTINGS
def test_shared_requests_survive_the_wire(request):
    body = orjson.loads(orjson.dumps(T.encode_request(request, request.model)))
    expected = attrs.evolve(request, max_tokens=request.max_tokens or 8192)
    assert T.decode_request(body) == expected


@given(shared.responses(), st.data())
@SETTINGS
def test_shared_responses_stream_and_whole_agree(response, data):
    whole = T.decode_response(T.encode_response(response, ctx(response.model)))
    usage = response.usage
    assert whole.usage == attrs.evolve(
        usage, reasoning_tokens=None, cache_read_tokens=usage.cache_read_tokens or 0, cache_write_tokens=0
    )
    assert whole.finish.reason == response.finish.reason
    assert whole.parts == response.parts
    encoder = T.stream_encoder(ctx(response.model))
    streamed = encoder.encode(response_events(response)) + encoder.close()
    builder = ResponseBuilder()
    builder.feed(shared.decode_in_pieces(T.stream_decoder(), data.draw(shared.split_points(streamed))))
    assert builder.build() == whole
