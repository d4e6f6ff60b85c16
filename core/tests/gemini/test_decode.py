"""Gemini upstream answers -> IR: recorded streams and responses, errors, and the stream
properties (arbitrary splits, CRLF or LF, JSON array, folded stream == whole response)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from cliproxy.errors import ErrorKind
from cliproxy.ir import (
    FinishReason,
    ReasoningPart,
    Response,
    ResponseBuilder,
    StreamError,
    StreamEvent,
    StreamFinish,
    TextPart,
    ToolCallPart,
    Usage,
)
from cliproxy.wire.gemini import Gemini
from hypothesis import given, settings
from hypothesis import strategies as st

GEMINI = Gemini()


def decode_stream(data: bytes, cuts: list[int] | None = None) -> list[StreamEvent]:
    decoder = GEMINI.stream_decoder()
    events: list[StreamEvent] = []
    last = 0
    for cut in sorted(set(cuts or [])):
        events += decoder.feed(data[last:cut])
        last = cut
    events += decoder.feed(data[last:])
    return events + decoder.close()


def fold(events: list[StreamEvent]) -> Response:
    builder = ResponseBuilder()
    builder.feed(events)
    return builder.build()


def sse_from_chunks(path: Path, newline: bytes = b"\r\n") -> bytes:
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return b"".join(b"data: " + line + newline + newline for line in lines)


def sig(part: Any) -> str | None:
    return ((part.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")


# -- recorded streams ----------------------------------------------------------------------------


def test_text_stream_keeps_the_signature_on_the_text(recording) -> None:
    response = fold(decode_stream(recording("gemini/DERIVED-google-text.sse.txt").read_bytes()))
    (part,) = response.parts
    assert isinstance(part, TextPart)
    assert part.text == 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
    assert sig(part) is not None and sig(part).startswith("EqsFCqgF")
    assert response.id == "bH6LaZW8Fp_3nsEPqtaSwQ4" and response.model == "gemini-3-pro-preview"
    assert response.finish.reason is FinishReason.STOP and response.finish.raw == "STOP"
    # output = candidates + thoughts; reasoning is the thoughts
    assert response.usage == Usage(input_tokens=9, output_tokens=208, reasoning_tokens=185)


def test_tool_call_stream_signature_rides_on_the_call(recording) -> None:
    response = fold(decode_stream(recording("gemini/DERIVED-google-tool-call.sse.txt").read_bytes()))
    (call,) = response.parts
    assert isinstance(call, ToolCallPart)
    assert call.name == "weather" and orjson.loads(call.arguments) == {"location": "San Francisco"}
    assert sig(call).startswith("EqUCCqIC")
    assert call.id == "gcall_b36LacjwM668nsEP2tbsgQQ_0"
    assert response.finish.reason is FinishReason.TOOL_CALLS and response.finish.raw == "STOP"


def test_thought_parts_and_streamed_function_arguments(recording) -> None:
    events = decode_stream(recording("gemini/DERIVED-vertex-thought-parts-tool-call.sse.txt").read_bytes())
    response = fold(events)
    thought, *calls = response.parts
    assert isinstance(thought, ReasoningPart) and thought.text.startswith("**Processing User Requests**")
    assert [(c.name, orjson.loads(c.arguments)) for c in calls] == [
        ("read_theme", {}),
        ("read_screen", {"id": "A"}),
        ("read_screen", {"id": "B"}),
        ("read_screen", {"id": "C"}),
    ]
    assert sig(calls[0]).startswith("AY89a18a") and all(sig(c) is None for c in calls[1:])
    assert len({c.id for c in calls}) == 4
    # each call's arguments arrive as one complete JSON delta
    deltas = [e.arguments for e in events if e.type == "tool-call-delta"]
    assert deltas == ["{}", '{"id":"A"}', '{"id":"B"}', '{"id":"C"}']
    assert response.usage.input_tokens == 249 and response.usage.output_tokens == 58 + 183


def test_gemini3_chunk_recordings(recording) -> None:
    tool = fold(decode_stream(sse_from_chunks(recording("gemini/vercel-google-tool-call-gemini3.chunks.txt"))))
    assert [type(p).__name__ for p in tool.parts] == ["ToolCallPart"] and sig(tool.parts[0])
    reasoning = fold(decode_stream(sse_from_chunks(recording("gemini/vercel-google-reasoning.chunks.txt"))))
    assert reasoning.text.startswith('There are **3** "r"s in strawberry.') and sig(reasoning.parts[-1])


@pytest.mark.parametrize(
    "name",
    [
        "DERIVED-google-text.sse.txt",
        "DERIVED-google-tool-call.sse.txt",
        "DERIVED-vertex-thought-parts-tool-call.sse.txt",
    ],
)
def test_lf_and_crlf_framing_decode_alike(recording, name: str) -> None:
    crlf = recording(f"gemini/{name}").read_bytes()
    assert fold(decode_stream(crlf.replace(b"\r\n", b"\n"))) == fold(decode_stream(crlf))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [
            "DERIVED-google-text.sse.txt",
            "DERIVED-google-tool-call.sse.txt",
            "DERIVED-vertex-thought-parts-tool-call.sse.txt",
        ]
    ),
    st.lists(st.integers(min_value=0, max_value=20000), max_size=25),
)
def test_splitting_the_bytes_anywhere_changes_nothing(name: str, cuts: list[int]) -> None:
    data = (Path(__file__).parents[3] / "recordings" / "gemini" / name).read_bytes()
    assert decode_stream(data, [c % (len(data) + 1) for c in cuts]) == decode_stream(data)


def test_json_array_stream_decodes_like_sse(recording) -> None:
    lines = [
        orjson.loads(line) for line in recording("gemini/vercel-google-tool-call.chunks.txt").read_bytes().splitlines()
    ]
    array = b"[" + b",\r\n".join(orjson.dumps(line, option=orjson.OPT_INDENT_2) for line in lines) + b"]"
    sse = sse_from_chunks(recording("gemini/vercel-google-tool-call.chunks.txt"))
    assert fold(decode_stream(array, list(range(0, len(array), 7)))) == fold(decode_stream(sse))


def test_error_event_ends_the_stream(recording) -> None:
    first = recording("gemini/DERIVED-google-text.sse.txt").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    error = b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n'
    events = decode_stream(first + error + first)
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.status == 503 and events[-1].error.message == "The model is overloaded."
    assert sum(isinstance(e, StreamError) for e in events) == 1


def test_a_stream_without_finish_reason_is_a_failure(recording) -> None:
    first = recording("gemini/DERIVED-google-text.sse.txt").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    events = decode_stream(first)
    assert isinstance(events[-1], StreamError) and events[-1].error.status == 502


def test_prompt_blocked_before_generation_is_a_content_filter() -> None:
    body = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 7},
    }
    response = GEMINI.decode_response(orjson.dumps(body))
    assert response.parts == () and response.finish.reason is FinishReason.CONTENT_FILTER
    assert response.finish.raw == "PROHIBITED_CONTENT"
    events = decode_stream(b"data: " + orjson.dumps(body) + b"\n\n")
    assert isinstance(events[-1], StreamFinish) and events[-1].finish.reason is FinishReason.CONTENT_FILTER


# -- whole responses -----------------------------------------------------------------------------


def test_whole_responses(recording) -> None:
    text = GEMINI.decode_response(recording("gemini/vercel-google-reasoning.json").read_bytes())
    assert isinstance(text.parts[0], TextPart) and sig(text.parts[0]).startswith("EvsFCvgF")
    assert text.usage == Usage(input_tokens=9, output_tokens=29 + 282, reasoning_tokens=282)
    call = GEMINI.decode_response(recording("gemini/vercel-google-tool-call-gemini3.json").read_bytes())
    assert isinstance(call.parts[0], ToolCallPart) and call.finish.reason is FinishReason.TOOL_CALLS
    assert call.id == "JniLacKqGqH0xs0P0O776As"


def test_cached_and_tool_prompt_tokens() -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 60,
            "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": 3,
            "totalTokenCount": 108,
        },
    }
    response = GEMINI.decode_response(orjson.dumps(body))
    assert response.usage == Usage(input_tokens=105, output_tokens=3, cache_read_tokens=60)
    assert response.finish.reason is FinishReason.LENGTH and response.finish.raw == "MAX_TOKENS"


def test_code_execution_parts_become_text_that_remembers_them() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    result = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}
    body = {
        "candidates": [
            {
                "content": {"parts": [code, result, {"text": "done"}], "role": "model"},
                "finishReason": "STOP",
            }
        ]
    }
    parts = GEMINI.decode_response(orjson.dumps(body)).parts
    assert [p.text for p in parts] == ["```python\nprint(1)\n```", "```\n1\n\n```", "done"]
    assert parts[0].provider_metadata == {"gemini": {"part": code}}


# -- errors --------------------------------------------------------------------------------------


def test_429_retry_delay_becomes_the_cooldown(recording) -> None:
    body = recording("gemini/vercel-google-429-retry-info.json").read_bytes()
    error = GEMINI.decode_error(429, {}, body)
    assert error.status == 429 and error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == pytest.approx(34.4)
    assert error.upstream_type == "RESOURCE_EXHAUSTED"
    assert "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" in error.message


def test_invalid_api_key_rests_the_key(recording) -> None:
    error = GEMINI.decode_error(400, {}, recording("gemini/OBSERVED-error-400-api-key-invalid.json").read_bytes())
    assert error.status == 401 and error.kind is ErrorKind.AUTHENTICATION and error.code == "api_key_invalid"
    assert not error.client_fault


def test_other_errors() -> None:
    missing = GEMINI.decode_error(
        404,
        {},
        b'{"error": {"code": 404, "message": "models/gemini-9 is not found for API version v1beta", "status": "NOT_FOUND"}}',
    )
    assert missing.code == "model_not_found"
    header = GEMINI.decode_error(503, {"retry-after": "7"}, b"upstream connect error")
    assert header.status == 503 and header.retry_after == 7 and header.message == "upstream connect error"
    array = GEMINI.decode_error(400, {}, b'[{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]')
    assert array.message == "bad" and array.client_fault


def test_error_bodies_round_trip_through_the_client_encoding(recording) -> None:
    error = GEMINI.decode_error(429, {}, recording("gemini/vercel-google-429-retry-info.json").read_bytes())
    again = GEMINI.decode_error(429, {}, GEMINI.encode_error(error))
    assert (again.status, again.retry_after, again.upstream_type) == (
        429,
        pytest.approx(34.4),
        "RESOURCE_EXHAUSTED",
    )


# -- folded stream == whole response ---------------------------------------------------------------

_text = st.text(alphabet="abc xyz\n", min_size=1, max_size=12)
_signature = st.one_of(st.none(), st.text(alphabet="ABCDEF0123456789+/", min_size=4, max_size=10))


@st.composite
def responses(draw: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "thought", "call", "image"]))
        signature = draw(_signature)
        if kind in ("text", "thought"):
            part: dict[str, Any] = {"text": draw(_text)}
            if kind == "thought":
                part["thought"] = True
        elif kind == "call":
            part = {
                "functionCall": {
                    "name": draw(st.sampled_from(["f", "g"])),
                    "args": {"a": draw(st.integers(0, 9))},
                }
            }
            if draw(st.booleans()):
                part["functionCall"]["id"] = draw(st.sampled_from(["id1", "id2"]))
        else:
            part = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    usage = {
        "promptTokenCount": draw(st.integers(1, 50)),
        "candidatesTokenCount": draw(st.integers(0, 50)),
    }
    if draw(st.booleans()):
        usage["thoughtsTokenCount"] = draw(st.integers(1, 50))
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": draw(st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY"])),
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
        "responseId": draw(st.sampled_from(["resp-1", "r_2"])),
    }


def stream_of(response: dict[str, Any], data: Any) -> bytes:
    """``response`` streamed the way Gemini streams: text in pieces, the signature on the
    last piece of its part, cumulative usage on every chunk, finishReason on the last."""
    chunks: list[list[dict[str, Any]]] = []
    for part in response["candidates"][0]["content"]["parts"]:
        if "text" not in part:
            chunks.append([copy.deepcopy(part)])
            continue
        text = part["text"]
        cuts = sorted(data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=2, unique=True)))
        pieces = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True) if text[i:j]]
        for k, piece in enumerate(pieces):
            sub = {key: value for key, value in part.items() if key != "thoughtSignature"}
            sub["text"] = piece
            if k == len(pieces) - 1 and "thoughtSignature" in part:
                sub["thoughtSignature"] = part["thoughtSignature"]
            chunks.append([sub])
    chunks.append([{"text": ""}])  # Gemini ends with an empty text part
    out = b""
    for i, parts in enumerate(chunks):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if i == len(chunks) - 1:
            candidate["finishReason"] = response["candidates"][0]["finishReason"]
        chunk = {
            "candidates": [candidate],
            "usageMetadata": response["usageMetadata"],
            "modelVersion": response["modelVersion"],
            "responseId": response["responseId"],
        }
        out += b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"
    return out


@settings(max_examples=80, deadline=None)
@given(responses(), st.data())
def test_folded_stream_equals_whole_response(response: dict[str, Any], data: Any) -> None:
    whole = GEMINI.decode_response(orjson.dumps(response))
    streamed = fold(decode_stream(stream_of(response, data)))
    assert streamed == whole
