"""IR responses -> what a Gemini client receives (whole, SSE, JSON array), read back by the
decoder Gemini's own answers go through."""

from __future__ import annotations

from typing import Any

import attrs
import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Part,
    ReasoningPart,
    Response,
    ResponseBuilder,
    StreamError,
    TextPart,
    ToolCallPart,
    Usage,
    response_events,
)
from cliproxy.translate import EncodeContext
from cliproxy.wire.gemini import Gemini
from hypothesis import given, settings
from hypothesis import strategies as st

GEMINI = Gemini()
THOUGHTS = {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}


def ctx(body: dict[str, Any] | None = None, query: dict[str, str] | None = None) -> EncodeContext:
    return EncodeContext(model="team/gm", body=body or {}, query={"alt": "sse"} if query is None else query)


def read_stream(data: bytes) -> Response:
    decoder = GEMINI.stream_decoder()
    builder = ResponseBuilder()
    builder.feed(decoder.feed(data))
    builder.feed(decoder.close())
    return builder.build()


_sig = st.one_of(st.none(), st.text(alphabet="ABCDEF0123", min_size=3, max_size=6))


def _meta(signature: str | None) -> dict[str, Any] | None:
    return {"gemini": {"thoughtSignature": signature}} if signature else None


@st.composite
def ir_responses(draw: Any) -> Response:
    parts: list[Part] = []
    for i in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "reasoning", "call", "image"]))
        text = draw(st.text(alphabet="ab c\n", min_size=1, max_size=8))
        if kind == "text":
            parts.append(TextPart(text, _meta(draw(_sig))))
        elif kind == "reasoning":
            parts.append(ReasoningPart(text, _meta(draw(_sig))))
        elif kind == "call":
            args = orjson.dumps({"n": draw(st.integers(0, 5))}).decode()
            parts.append(ToolCallPart(f"call_{i}", draw(st.sampled_from(["f", "g"])), args, _meta(draw(_sig))))
        else:
            parts.append(FilePart("image/png", data="iVBORw0K"))
    reasoning = draw(st.integers(1, 20)) if draw(st.booleans()) else None
    usage = Usage(
        input_tokens=draw(st.integers(0, 99)),
        output_tokens=(reasoning or 0) + draw(st.integers(0, 99)),
        reasoning_tokens=reasoning,
    )
    finish = draw(
        st.sampled_from(
            [
                FinishReason.STOP,
                FinishReason.LENGTH,
                FinishReason.CONTENT_FILTER,
                FinishReason.TOOL_CALLS,
            ]
        )
    )
    return Response(id="resp-7", model="upstream-name", parts=parts, finish=Finish(finish), usage=usage)


def expected(response: Response, thoughts: bool) -> Response:
    """What a Gemini client can be told: unsigned thoughts only when asked, neighbouring text
    as one part until a signature ends it, the finish as Gemini names it."""
    parts: list[Part] = []
    for part in response.parts:
        if isinstance(part, ReasoningPart) and not thoughts:
            if not _meta_sig(part):
                continue
            part = attrs.evolve(part, text="")  # the signature without the text
        last = parts[-1] if parts else None
        if isinstance(part, TextPart | ReasoningPart) and type(last) is type(part) and not _meta_sig(last):
            parts[-1] = attrs.evolve(last, text=last.text + part.text, provider_metadata=part.provider_metadata)
            continue
        parts.append(part)
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    reason = response.finish.reason
    if reason in (FinishReason.STOP, FinishReason.TOOL_CALLS):
        reason = FinishReason.TOOL_CALLS if has_calls else FinishReason.STOP
    raw = {FinishReason.LENGTH: "MAX_TOKENS", FinishReason.CONTENT_FILTER: "SAFETY"}.get(reason, "STOP")
    return attrs.evolve(response, model="team/gm", parts=parts, finish=Finish(reason, raw))


def _meta_sig(part: Any) -> str | None:
    return ((part.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")


def without_call_ids(response: Response) -> Response:
    """Decoding notes a call id Gemini gave (``metadata["gemini"]["id"]``); compare without."""
    parts = []
    for part in response.parts:
        if isinstance(part, ToolCallPart) and part.provider_metadata:
            meta = {k: v for k, v in part.provider_metadata["gemini"].items() if k != "id"}
            part = attrs.evolve(part, provider_metadata={"gemini": meta} if meta else None)
        parts.append(part)
    return attrs.evolve(response, parts=parts)


@settings(max_examples=80, deadline=None)
@given(ir_responses(), st.booleans())
def test_streamed_to_a_gemini_client_and_read_back(response: Response, thoughts: bool) -> None:
    encoder = GEMINI.stream_encoder(ctx(THOUGHTS if thoughts else {}))
    data = encoder.encode(response_events(response)) + encoder.close()
    assert without_call_ids(read_stream(data)) == expected(response, thoughts)


@settings(max_examples=60, deadline=None)
@given(ir_responses(), st.booleans())
def test_whole_response_to_a_gemini_client_and_read_back(response: Response, thoughts: bool) -> None:
    body = GEMINI.encode_response(response, ctx(THOUGHTS if thoughts else {}))
    assert without_call_ids(GEMINI.decode_response(body)) == expected(response, thoughts)


@settings(max_examples=40, deadline=None)
@given(ir_responses())
def test_json_array_stream_without_alt_sse(response: Response) -> None:
    encoder = GEMINI.stream_encoder(ctx(query={}))
    assert encoder.media_type == "application/json"
    events = list(response_events(response))
    data = b"".join(encoder.encode([event]) for event in events) + encoder.close()
    chunks = orjson.loads(data)
    assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"]
    assert without_call_ids(read_stream(data)) == expected(response, False)


def test_streams_look_like_gemini() -> None:
    response = Response(
        id="r1",
        model="m",
        parts=[
            TextPart("Hel"),
            TextPart("lo", {"gemini": {"thoughtSignature": "c2ln"}}),
            ToolCallPart("gcall_r1_0", "f", '{"a":1}'),
        ],
        usage=Usage(input_tokens=3, output_tokens=9, reasoning_tokens=4),
    )
    encoder = GEMINI.stream_encoder(ctx())
    data = b"".join(encoder.encode([event]) for event in response_events(response))
    frames = [orjson.loads(frame[6:]) for frame in data.split(b"\r\n\r\n") if frame]
    parts = [p for frame in frames for p in frame["candidates"][0]["content"]["parts"]]
    assert parts == [
        {"text": "Hel"},
        {"text": "lo"},
        {"text": "", "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "f", "args": {"a": 1}}},  # an id the gateway made up is not shown
        {"text": ""},
    ]
    assert all(frame["responseId"] == "r1" and frame["modelVersion"] == "team/gm" for frame in frames)
    assert frames[-1]["candidates"][0]["finishReason"] == "STOP"
    assert frames[-1]["usageMetadata"] == {
        "promptTokenCount": 3,
        "candidatesTokenCount": 5,
        "totalTokenCount": 12,
        "thoughtsTokenCount": 4,
    }


def test_a_failure_mid_stream_ends_with_an_error_element() -> None:
    error = GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="upstream broke off", provider="openai")
    sse = GEMINI.stream_encoder(ctx())
    data = (
        sse.encode([TextDelta_(0, "par")])
        + sse.encode([StreamError(error)])
        + sse.encode([TextDelta_(0, "more")])
        + sse.close()
    )
    frames = [orjson.loads(frame[6:]) for frame in data.split(b"\r\n\r\n") if frame]
    assert frames[-1]["error"]["code"] == 502 and frames[-1]["error"]["status"] == "UNAVAILABLE"
    assert len(frames) == 2  # nothing after the error
    array = GEMINI.stream_encoder(ctx(query={}))
    body = array.encode([TextDelta_(0, "par")]) + array.encode([StreamError(error)]) + array.close()
    elements = orjson.loads(body)
    assert elements[-1]["error"]["message"] == "upstream broke off"


def TextDelta_(index: int, text: str) -> Any:
    from cliproxy.ir import TextDelta

    return TextDelta(index, text)


def test_error_bodies_carry_retry_info_and_the_field() -> None:
    body = orjson.loads(
        GEMINI.encode_error(
            GatewayError(status=429, kind=ErrorKind.RATE_LIMITED, message="slow down", retry_after=12.5)
        )
    )
    assert body["error"]["code"] == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"} in body["error"]["details"]
    bad = orjson.loads(GEMINI.encode_error(GatewayError.invalid("'contents' is required", param="contents")))
    assert bad["error"]["status"] == "INVALID_ARGUMENT"
    assert bad["error"]["details"][-1]["fieldViolations"] == [
        {"field": "contents", "description": "'contents' is required"}
    ]


def test_models_and_counts() -> None:
    from cliproxy.routing import ModelInfo

    models = orjson.loads(
        GEMINI.encode_models([ModelInfo("gemini-2.5-pro", "gemini"), ModelInfo("or/x", "openrouter")])
    )
    assert [m["name"] for m in models["models"]] == ["models/gemini-2.5-pro", "models/or/x"]
    assert "generateContent" in models["models"][0]["supportedGenerationMethods"]
    assert orjson.loads(GEMINI.encode_count(42, ctx())) == {"totalTokens": 42}
