"""Gemini signatures through the Anthropic and Responses doors, and OpenAI's encrypted
reasoning through the Anthropic door (pure translators).

A recorded Gemini answer goes to a client, the client's next request echoes what it got
(as Claude Code and Codex do), and the Gemini encoder must put the very signatures Gemini
issued back on their parts -- not the skip-validator sentinel. Likewise a recorded
Responses answer's encrypted reasoning goes back to a Responses upstream (the Codex
backend behind Claude Code), and to no other.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from cliproxy.ir import Finish, FinishReason, Message, ReasoningPart, Request, Response, TextPart, ToolCallPart
from cliproxy.sse import SSEParser
from cliproxy.translate import EncodeContext
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.gemini.request_encode import SKIP_SIGNATURE
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from cliproxy.wire.sealed import PREFIX, Sealed, seal, unseal
from hypothesis import given, settings
from hypothesis import strategies as st

GEMINI = Gemini()
ANTHROPIC = Anthropic()
RESPONSES = OpenAIResponses()
MODEL = "gemini-3-pro-preview"
TOOL = {"name": "weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def signed_call_answer(recording) -> dict[str, Any]:
    """Gemini 3's recorded answer: one functionCall part with its signature."""
    return _json(recording("gemini/vercel-google-tool-call-gemini3.json"))


def signed_thought_answer(recording) -> dict[str, Any]:
    """A thought part (recorded from Vertex) signed with a recorded signature, then the
    recorded signed functionCall."""
    answer = signed_call_answer(recording)
    vertex = recording("gemini/DERIVED-vertex-thought-parts-tool-call.sse.txt").read_text()
    thought = json.loads(vertex.split("data: ")[1])["candidates"][0]["content"]["parts"][0]
    signature = _json(recording("gemini/vercel-google-reasoning.json"))["candidates"][0]["content"]["parts"][0]
    thought = {**thought, "thoughtSignature": signature["thoughtSignature"]}
    answer["candidates"][0]["content"]["parts"].insert(0, thought)
    return answer


def gemini_sse(answer: dict[str, Any]) -> bytes:
    """The answer as a Gemini stream: one event per part, the last with the finish."""
    events = []
    parts = answer["candidates"][0]["content"]["parts"]
    for i, part in enumerate(parts):
        chunk = copy.deepcopy(answer)
        chunk["candidates"][0]["content"]["parts"] = [part]
        if i < len(parts) - 1:
            del chunk["candidates"][0]["finishReason"]
        events.append(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
    return b"".join(events)


def gemini_parts(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return answer["candidates"][0]["content"]["parts"]


def next_gemini_body(request: Request) -> dict[str, Any]:
    return GEMINI.encode_request(request, MODEL)


# -- the Anthropic door ----------------------------------------------------------------------


def anthropic_stream_blocks(data: bytes) -> list[dict[str, Any]]:
    """The content blocks an Anthropic client assembles from a stream (as the SDK does)."""
    parser = SSEParser()
    blocks: dict[int, dict[str, Any]] = {}
    json_text: dict[int, str] = {}
    for event in parser.feed(data) + parser.close():
        obj = orjson.loads(event.data)
        if obj["type"] == "content_block_start":
            blocks[obj["index"]] = dict(obj["content_block"])
        elif obj["type"] == "content_block_delta":
            block, delta = blocks[obj["index"]], obj["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                json_text[obj["index"]] = json_text.get(obj["index"], "") + delta["partial_json"]
        elif obj["type"] == "content_block_stop" and obj["index"] in json_text:
            blocks[obj["index"]]["input"] = json.loads(json_text[obj["index"]])
    return [blocks[i] for i in sorted(blocks)]


def anthropic_blocks(answer: dict[str, Any], *, stream: bool) -> list[dict[str, Any]]:
    ctx = EncodeContext(model=MODEL, body={})
    if not stream:
        response = GEMINI.decode_response(orjson.dumps(answer))
        return orjson.loads(ANTHROPIC.encode_response(response, ctx))["content"]
    decoder = GEMINI.stream_decoder()
    events = decoder.feed(gemini_sse(answer)) + decoder.close()
    encoder = ANTHROPIC.stream_encoder(ctx)
    return anthropic_stream_blocks(encoder.encode(events) + encoder.close())


def anthropic_next_turn(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    call = next(b for b in blocks if b["type"] == "tool_use")
    return {
        "model": MODEL,
        "max_tokens": 1000,
        "tools": [TOOL],
        "messages": [
            {"role": "user", "content": "SF?"},
            {"role": "assistant", "content": blocks},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "foggy"}]},
        ],
    }


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_door_returns_the_function_call_signature(recording, stream: bool) -> None:
    answer = signed_call_answer(recording)
    blocks = anthropic_blocks(answer, stream=stream)
    carrier, call = blocks
    assert carrier["type"] == "thinking" and carrier["thinking"] == "" and carrier["signature"].startswith(PREFIX)
    assert call["type"] == "tool_use" and unseal(carrier["signature"]).call_id == call["id"]
    body = next_gemini_body(ANTHROPIC.decode_request(anthropic_next_turn(blocks)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)
    assert SKIP_SIGNATURE not in orjson.dumps(body).decode()


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_door_returns_the_thought_signature_too(recording, stream: bool) -> None:
    answer = signed_thought_answer(recording)
    blocks = anthropic_blocks(answer, stream=stream)
    assert [b["type"] for b in blocks] == ["thinking", "thinking", "tool_use"]
    thought, _, _ = blocks
    assert thought["thinking"] == gemini_parts(answer)[0]["text"] and unseal(thought["signature"]).call_id is None
    body = next_gemini_body(ANTHROPIC.decode_request(anthropic_next_turn(blocks)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)


def test_a_call_signed_at_its_end_gets_its_carrier_after_it(recording) -> None:
    """Gemini streams a call in pieces (``partialArgs``); the signature may come late."""
    data = recording("gemini/DERIVED-vertex-thought-parts-tool-call.sse.txt").read_bytes()
    lines = [json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")]
    signed = lines[1]["candidates"][0]["content"]["parts"][0]
    late = copy.deepcopy(lines[5])  # the empty part that closes the first streamed call
    late["candidates"][0]["content"]["parts"][0]["thoughtSignature"] = signed["thoughtSignature"]
    lines[5] = late
    decoder = GEMINI.stream_decoder()
    events = decoder.feed(b"".join(b"data: " + orjson.dumps(x) + b"\n\n" for x in lines)) + decoder.close()
    encoder = ANTHROPIC.stream_encoder(EncodeContext(model=MODEL, body={}))
    blocks = anthropic_stream_blocks(encoder.encode(events))
    kinds = [b["type"] for b in blocks]
    assert kinds == ["thinking", "thinking", "tool_use", "tool_use", "thinking", "tool_use", "tool_use"]
    late_carrier, screen_a = blocks[4], blocks[3]
    assert unseal(late_carrier["signature"]).call_id == screen_a["id"]
    request = ANTHROPIC.decode_request(anthropic_next_turn(blocks))
    calls = [p for p in request.messages[1].parts if isinstance(p, ToolCallPart)]
    assert [(p.provider_metadata or {}).get("gemini", {}).get("thoughtSignature") for p in calls] == [
        signed["thoughtSignature"],
        signed["thoughtSignature"],
        None,
        None,
    ]


def test_sealed_thinking_is_never_sent_to_anthropic(recording) -> None:
    blocks = anthropic_blocks(signed_thought_answer(recording), stream=False)
    body = anthropic_next_turn(blocks)
    encoded = ANTHROPIC.encode_request(ANTHROPIC.decode_request(body), "claude-sonnet-4-5")
    assert [b["type"] for b in encoded["messages"][1]["content"]] == ["tool_use"]
    forwarded = ANTHROPIC.forwarded_body(body)
    assert [b["type"] for b in forwarded["messages"][1]["content"]] == ["tool_use"]
    assert body["messages"][1]["content"] == blocks  # the client's body is left alone


def test_forwarded_body_is_the_same_object_without_sealed_blocks() -> None:
    body = {"messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "x"}]}]}
    assert ANTHROPIC.forwarded_body(body) is body
    assert RESPONSES.forwarded_body({"input": "hi"}) == {"input": "hi"}


def test_a_turn_of_sealed_blocks_only_is_left_out() -> None:
    sealed_block = {"type": "thinking", "thinking": "hm", "signature": seal({"gemini": {"thoughtSignature": "s"}})}
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [sealed_block]},
            {"role": "user", "content": "b"},
        ]
    }
    assert ANTHROPIC.forwarded_body(body)["messages"] == [body["messages"][0], body["messages"][2]]


def test_unsealed_foreign_metadata_still_stays_away_from_anthropic() -> None:
    request = Request(
        model="m",
        messages=[
            Message("user", [TextPart("hi")]),
            Message(
                "assistant",
                [
                    ReasoningPart("thought", {"gemini": {"thoughtSignature": "g"}}),
                    ReasoningPart("mine", {"anthropic": {"signature": "a"}}),
                    ToolCallPart("c1", "f", "{}", {"gemini": {"thoughtSignature": "g"}}),
                ],
            ),
        ],
    )
    content = ANTHROPIC.encode_request(request, "claude")["messages"][1]["content"]
    assert content == [
        {"type": "thinking", "thinking": "mine", "signature": "a"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
    ]


def test_calls_without_gemini_values_get_no_carrier() -> None:
    request_body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}],
    }
    ctx = EncodeContext(model="m", body=request_body)
    response = Response(
        id="r",
        model="m",
        parts=[ToolCallPart("c1", "f", "{}", {"openai-responses": {"custom": True}})],
        finish=Finish(FinishReason.TOOL_CALLS),
    )
    assert [b["type"] for b in orjson.loads(ANTHROPIC.encode_response(response, ctx))["content"]] == ["tool_use"]
    assert [i["type"] for i in orjson.loads(RESPONSES.encode_response(response, ctx))["output"]] == ["custom_tool_call"]


# -- the Responses door ------------------------------------------------------------------------


def responses_items(answer: dict[str, Any], *, stream: bool) -> list[dict[str, Any]]:
    ctx = EncodeContext(model=MODEL, body={"model": MODEL})
    if not stream:
        response = GEMINI.decode_response(orjson.dumps(answer))
        return orjson.loads(RESPONSES.encode_response(response, ctx))["output"]
    decoder = GEMINI.stream_decoder()
    events = decoder.feed(gemini_sse(answer)) + decoder.close()
    encoder = RESPONSES.stream_encoder(ctx)
    parser = SSEParser()
    out = parser.feed(encoder.encode(events) + encoder.close()) + parser.close()
    payloads = [orjson.loads(e.data) for e in out]
    added = [p["item"]["type"] for p in payloads if p["type"] == "response.output_item.added"]
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    assert added == [i["type"] for i in done]
    return done


def responses_next_turn(items: list[dict[str, Any]]) -> dict[str, Any]:
    call = next(i for i in items if i["type"] == "function_call")
    return {
        "model": MODEL,
        "input": [
            {"role": "user", "content": "SF?"},
            *items,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "foggy"},
        ],
    }


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("thought", [False, True])
def test_responses_door_returns_the_signatures(recording, stream: bool, thought: bool) -> None:
    answer = signed_thought_answer(recording) if thought else signed_call_answer(recording)
    items = responses_items(answer, stream=stream)
    assert [i["type"] for i in items] == ["reasoning"] * (1 + thought) + ["function_call"]
    carrier, call = items[-2:]
    assert carrier["summary"] == [] and unseal(carrier["encrypted_content"]).call_id == call["call_id"]
    body = next_gemini_body(RESPONSES.decode_request(responses_next_turn(items)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)
    forwarded = RESPONSES.forwarded_body(responses_next_turn(items))
    assert [i.get("type", "message") for i in forwarded["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]


def test_chat_door_already_carries_them(recording) -> None:
    chat = OpenAIChat()
    answer = signed_thought_answer(recording)
    ctx = EncodeContext(model=MODEL, body={})
    message = orjson.loads(chat.encode_response(GEMINI.decode_response(orjson.dumps(answer)), ctx))["choices"][0][
        "message"
    ]
    call = message["tool_calls"][0]
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "SF?"},
            message,
            {"role": "tool", "tool_call_id": call["id"], "content": "foggy"},
        ],
    }
    sent = next_gemini_body(chat.decode_request(body))
    assert sent["contents"][1]["parts"] == gemini_parts(answer)


# -- sealing -----------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_metadata = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in ("@call", "@text")),
    st.dictionaries(st.text(max_size=12), _json_values, max_size=4),
    max_size=3,
)


@given(_metadata, st.none() | st.text(max_size=20), st.booleans())
@settings(max_examples=200)
def test_sealing_round_trips(metadata: dict[str, dict[str, Any]], call_id: str | None, text: bool) -> None:
    call_id = None if text else call_id
    value = seal(metadata, call_id, text=text)
    assert value.startswith(PREFIX) and value.isascii()
    assert unseal(value) == Sealed(metadata, call_id, text)


_carrier_strings = st.one_of(
    st.text(),
    st.text().map(lambda t: PREFIX + t),
    st.binary(max_size=40).map(lambda b: PREFIX + base64.urlsafe_b64encode(b).decode()),
    _json_values.map(lambda v: PREFIX + base64.urlsafe_b64encode(orjson.dumps(v)).decode()),
)


@given(_carrier_strings, st.text(max_size=10))
@settings(max_examples=300)
def test_decoding_never_fails_on_carrier_strings(value: str, text: str) -> None:
    unseal(value)
    anthropic = ANTHROPIC.decode_request(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": text, "signature": value},
                        {"type": "tool_use", "id": "c", "name": "f", "input": {}},
                    ],
                },
            ],
        }
    )
    responses = RESPONSES.decode_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "x"},
                {"type": "reasoning", "summary": [], "encrypted_content": value},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            ],
        }
    )
    for request in (anthropic, responses):
        GEMINI.encode_request(request, MODEL)
        ANTHROPIC.encode_request(request, "claude")
        RESPONSES.encode_request(request, "gpt")


# -- signed text parts -------------------------------------------------------------------------


def signed_text_answer(recording) -> dict[str, Any]:
    """Gemini 3's recorded whole answer: one text part carrying a signature."""
    return _json(recording("gemini/vercel-google-text.json"))


def recorded_text_stream(recording) -> tuple[bytes, list[dict[str, Any]]]:
    """Gemini 3's recorded stream (the signature on an empty text part at the end), and the
    one part Gemini gets back for it: the text, signed."""
    lines = recording("gemini/vercel-google-text.chunks.txt").read_text().splitlines()
    chunks = [json.loads(line) for line in lines if line.strip()]
    parts = [p for chunk in chunks for p in gemini_parts(chunk)]
    assert parts[-1]["text"] == "" and parts[-1]["thoughtSignature"]
    data = b"".join(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n" for chunk in chunks)
    return data, [{"text": "".join(p["text"] for p in parts), "thoughtSignature": parts[-1]["thoughtSignature"]}]


def text_then_call_answer(recording) -> dict[str, Any]:
    """The recorded signed text part, then the recorded signed functionCall."""
    answer = signed_call_answer(recording)
    gemini_parts(answer).insert(0, gemini_parts(signed_text_answer(recording))[0])
    return answer


def thought_then_signed_empty_text(recording) -> dict[str, Any]:
    """A signed thought, then an empty text part carrying only a (recorded) signature."""
    answer = signed_text_answer(recording)
    thought = gemini_parts(signed_thought_answer(recording))[0]
    gemini_parts(answer)[:] = [thought, {"text": "", "thoughtSignature": gemini_parts(answer)[0]["thoughtSignature"]}]
    return answer


def anthropic_echo(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The client's next request: the answer as it came, then a tool result or a question."""
    if any(b["type"] == "tool_use" for b in blocks):
        return anthropic_next_turn(blocks)
    return {
        "model": MODEL,
        "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "SF?"},
            {"role": "assistant", "content": blocks},
            {"role": "user", "content": "and LA?"},
        ],
    }


def responses_echo(items: list[dict[str, Any]]) -> dict[str, Any]:
    if any(i["type"] == "function_call" for i in items):
        return responses_next_turn(items)
    return {"model": MODEL, "input": [{"role": "user", "content": "SF?"}, *items, {"role": "user", "content": "LA?"}]}


def anthropic_stream_of(data: bytes) -> list[dict[str, Any]]:
    decoder = GEMINI.stream_decoder()
    events = decoder.feed(data) + decoder.close()
    encoder = ANTHROPIC.stream_encoder(EncodeContext(model=MODEL, body={}))
    return anthropic_stream_blocks(encoder.encode(events) + encoder.close())


def responses_stream_of(data: bytes) -> list[dict[str, Any]]:
    decoder = GEMINI.stream_decoder()
    events = decoder.feed(data) + decoder.close()
    encoder = RESPONSES.stream_encoder(EncodeContext(model=MODEL, body={"model": MODEL}))
    parser = SSEParser()
    payloads = [orjson.loads(e.data) for e in parser.feed(encoder.encode(events) + encoder.close()) + parser.close()]
    added = [p["item"]["type"] for p in payloads if p["type"] == "response.output_item.added"]
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    assert added == [i["type"] for i in done]
    return done


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_door_returns_the_text_signature(recording, stream: bool) -> None:
    answer = signed_text_answer(recording)
    blocks = anthropic_blocks(answer, stream=stream)
    assert [b["type"] for b in blocks] == ["text", "thinking"]
    text, carrier = blocks
    assert text["text"] == gemini_parts(answer)[0]["text"] and carrier["thinking"] == ""
    signature = gemini_parts(answer)[0]["thoughtSignature"]
    assert unseal(carrier["signature"]) == Sealed({"gemini": {"thoughtSignature": signature}}, text=True)
    body = next_gemini_body(ANTHROPIC.decode_request(anthropic_echo(blocks)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)


def test_anthropic_door_returns_a_streamed_text_signature(recording) -> None:
    """The recorded stream: the signature arrives on an empty text part at the end."""
    data, expected = recorded_text_stream(recording)
    blocks = anthropic_stream_of(data)
    assert [b["type"] for b in blocks] == ["text", "thinking"]
    assert unseal(blocks[1]["signature"]).text
    body = next_gemini_body(ANTHROPIC.decode_request(anthropic_echo(blocks)))
    assert body["contents"][1]["parts"] == expected


@pytest.mark.parametrize("stream", [False, True])
def test_responses_door_returns_the_text_signature(recording, stream: bool) -> None:
    answer = signed_text_answer(recording)
    items = responses_items(answer, stream=stream)
    assert [i["type"] for i in items] == ["message", "reasoning"]
    message, carrier = items
    assert message["content"][0]["text"] == gemini_parts(answer)[0]["text"]
    assert carrier["summary"] == [] and unseal(carrier["encrypted_content"]).text
    body = next_gemini_body(RESPONSES.decode_request(responses_echo(items)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)


def test_responses_door_returns_a_streamed_text_signature(recording) -> None:
    data, expected = recorded_text_stream(recording)
    items = responses_stream_of(data)
    assert [i["type"] for i in items] == ["message", "reasoning"]
    body = next_gemini_body(RESPONSES.decode_request(responses_echo(items)))
    assert body["contents"][1]["parts"] == expected


@pytest.mark.parametrize("door", ["anthropic", "responses"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("shape", ["text_then_call", "thought_then_empty_text"])
def test_text_signatures_come_back_on_their_parts(recording, door: str, stream: bool, shape: str) -> None:
    answer = (
        text_then_call_answer(recording) if shape == "text_then_call" else thought_then_signed_empty_text(recording)
    )
    if door == "anthropic":
        request = ANTHROPIC.decode_request(anthropic_echo(anthropic_blocks(answer, stream=stream)))
    else:
        request = RESPONSES.decode_request(responses_echo(responses_items(answer, stream=stream)))
    body = next_gemini_body(request)
    assert body["contents"][1]["parts"] == gemini_parts(answer)
    assert SKIP_SIGNATURE not in orjson.dumps(body).decode()


def test_a_text_signature_comes_back_when_the_client_drops_the_empty_text_block(recording) -> None:
    answer = thought_then_signed_empty_text(recording)
    blocks = anthropic_blocks(answer, stream=True)
    assert [b["type"] for b in blocks] == ["thinking", "text", "thinking"] and blocks[1]["text"] == ""
    kept = [b for b in blocks if not (b["type"] == "text" and not b["text"])]  # as some clients do
    body = next_gemini_body(ANTHROPIC.decode_request(anthropic_echo(kept)))
    assert body["contents"][1]["parts"] == gemini_parts(answer)


def test_text_carriers_are_never_sent_to_anthropic_or_openai(recording) -> None:
    answer = text_then_call_answer(recording)
    body = anthropic_echo(anthropic_blocks(answer, stream=False))
    assert [b["type"] for b in body["messages"][1]["content"]] == ["text", "thinking", "thinking", "tool_use"]
    encoded = ANTHROPIC.encode_request(ANTHROPIC.decode_request(body), "claude-sonnet-4-5")
    assert encoded["messages"][1]["content"] == [
        {"type": "text", "text": gemini_parts(answer)[0]["text"]},
        {
            "type": "tool_use",
            "id": body["messages"][1]["content"][3]["id"],
            "name": "weather",
            "input": gemini_parts(answer)[1]["functionCall"]["args"],
        },
    ]
    forwarded = ANTHROPIC.forwarded_body(body)
    assert [b["type"] for b in forwarded["messages"][1]["content"]] == ["text", "tool_use"]
    items = responses_items(answer, stream=True)
    assert [i["type"] for i in items] == ["message", "reasoning", "reasoning", "function_call"]
    echo = responses_echo(items)
    forwarded = RESPONSES.forwarded_body(echo)
    assert [i.get("type", "message") for i in forwarded["input"]] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    sent = orjson.dumps(RESPONSES.encode_request(RESPONSES.decode_request(echo), "gpt-5")).decode()
    assert PREFIX not in sent and gemini_parts(answer)[0]["thoughtSignature"] not in sent
    sent = orjson.dumps(OpenAIChat().encode_request(ANTHROPIC.decode_request(body), "gpt-5")).decode()
    assert PREFIX not in sent


def test_text_parts_without_gemini_values_get_no_carrier() -> None:
    ctx = EncodeContext(model="m", body={"model": "m"})
    response = Response(
        id="r",
        model="m",
        parts=[
            TextPart("a", {"anthropic": {"citations": [{"x": 1}]}}),
            TextPart("b", {"openai": {"x": 1}}),
        ],
        finish=Finish(FinishReason.STOP),
    )
    assert [b["type"] for b in orjson.loads(ANTHROPIC.encode_response(response, ctx))["content"]] == ["text", "text"]
    assert [i["type"] for i in orjson.loads(RESPONSES.encode_response(response, ctx))["output"]] == ["message"]


def test_garbled_or_stray_text_carriers_are_ignored() -> None:
    good = seal({"gemini": {"thoughtSignature": "s"}}, text=True)
    record = orjson.loads(base64.urlsafe_b64decode(good[len(PREFIX) :]))
    bad_flag = PREFIX + base64.urlsafe_b64encode(orjson.dumps({**record, "@text": "yes"})).decode()
    both = PREFIX + base64.urlsafe_b64encode(orjson.dumps({**record, "@call": "c"})).decode()
    assert unseal(good) == Sealed({"gemini": {"thoughtSignature": "s"}}, text=True)
    assert unseal(bad_flag) is None and unseal(both) is None
    for value in (bad_flag, both, good[:-3]):
        request = ANTHROPIC.decode_request(
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": "hi"},
                            {"type": "thinking", "thinking": "", "signature": value},
                        ],
                    },
                ],
            }
        )
        parts = GEMINI.encode_request(request, MODEL)["contents"][1]["parts"]
        assert parts[0] == {"text": "hi"}
        assert all("thoughtSignature" not in p for p in parts if p.get("text") == "hi")


# -- any Gemini answer: the doors are transparent to its signatures ------------------------------

_signature = st.text("ABCDEFabcdef0123456789+/=", min_size=1, max_size=12)
_gemini_part = st.one_of(
    st.fixed_dictionaries({"text": st.text(max_size=6)}, optional={"thoughtSignature": _signature}),
    st.fixed_dictionaries(
        {"text": st.text(max_size=6), "thought": st.just(True)}, optional={"thoughtSignature": _signature}
    ),
    st.fixed_dictionaries(
        {"functionCall": st.fixed_dictionaries({"name": st.just("weather"), "args": st.just({"location": "SF"})})},
        optional={"thoughtSignature": _signature},
    ),
)


@given(st.lists(_gemini_part, min_size=1, max_size=6), st.booleans())
@settings(max_examples=150, deadline=None)
def test_both_doors_bring_gemini_back_what_it_would_get_itself(parts: list[dict[str, Any]], stream: bool) -> None:
    answer = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "responseId": "r1",
    }
    response = GEMINI.decode_response(orjson.dumps(answer))
    direct = Request(model=MODEL, messages=[Message("user", [TextPart("SF?")]), Message("assistant", response.parts)])
    expected = [c for c in next_gemini_body(direct)["contents"] if c["role"] == "model"]
    for request in (
        ANTHROPIC.decode_request(anthropic_echo(anthropic_blocks(answer, stream=stream))),
        RESPONSES.decode_request(responses_echo(responses_items(answer, stream=stream))),
    ):
        assert [c for c in next_gemini_body(request)["contents"] if c["role"] == "model"] == expected


# -- OpenAI's encrypted reasoning through the Anthropic door (the Codex backend behind Claude Code) --


RESPONSES_WHOLE = "openai-responses/vercel-openai-reasoning-encrypted-content.1.json"
RESPONSES_STREAM = "openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt"


def openai_reasoning_blocks(recording, *, stream: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A recorded Responses answer with encrypted reasoning, as an Anthropic client gets it;
    and the reasoning item the upstream sent."""
    ctx = EncodeContext(model="gpt-5", body={})
    if not stream:
        raw = recording(RESPONSES_WHOLE).read_bytes()
        item = orjson.loads(raw)["output"][0]
        blocks = orjson.loads(ANTHROPIC.encode_response(RESPONSES.decode_response(raw), ctx))["content"]
        return blocks, item
    recorded = [json.loads(line) for line in recording(RESPONSES_STREAM).read_text().splitlines() if line.strip()]
    end = next(n for n, e in enumerate(recorded) if e["type"] == "response.completed")
    events = recorded[: end + 1]  # the first of the recorded turns: reasoning, then a tool call
    item = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    data = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
    decoder = RESPONSES.stream_decoder()
    encoder = ANTHROPIC.stream_encoder(ctx)
    return anthropic_stream_blocks(encoder.encode(decoder.feed(data) + decoder.close()) + encoder.close()), item


def anthropic_turn_after(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Claude Code's next request: the answer as it came, then the tools' results (or a question)."""
    results = [
        {"type": "tool_result", "tool_use_id": b["id"], "content": "done"} for b in blocks if b["type"] == "tool_use"
    ]
    return {
        "model": "gpt-5",
        "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "go on"},
            {"role": "assistant", "content": blocks},
            {"role": "user", "content": results or "and then?"},
        ],
    }


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_door_carries_openai_encrypted_reasoning_back(recording, stream: bool) -> None:
    blocks, item = openai_reasoning_blocks(recording, stream=stream)
    kinds = [b["type"] for b in blocks]
    assert kinds == ["thinking", "tool_use" if stream else "text"]  # no carrier for the call or the text
    signature = blocks[0]["signature"]
    assert unseal(signature) == Sealed({"openai": {"id": item["id"], "encrypted_content": item["encrypted_content"]}})
    request = ANTHROPIC.decode_request(anthropic_turn_after(blocks))
    sent = RESPONSES.encode_request(request, "gpt-5")["input"]
    reasoning = [i for i in sent if i.get("type") == "reasoning"]
    assert [(i["id"], i["encrypted_content"]) for i in reasoning] == [(item["id"], item["encrypted_content"])]
    assert PREFIX not in orjson.dumps(sent).decode()


@pytest.mark.parametrize("stream", [False, True])
def test_openai_encrypted_reasoning_never_reaches_another_upstream(recording, stream: bool) -> None:
    blocks, item = openai_reasoning_blocks(recording, stream=stream)
    body = anthropic_turn_after(blocks)
    request = ANTHROPIC.decode_request(body)
    to_anthropic = ANTHROPIC.encode_request(request, "claude-sonnet-4-5")
    assert "thinking" not in [b["type"] for b in to_anthropic["messages"][1]["content"]]
    forwarded = ANTHROPIC.forwarded_body(body)  # passed through to an Anthropic upstream
    assert "thinking" not in [b["type"] for b in forwarded["messages"][1]["content"]]
    for sent in (to_anthropic, forwarded, OpenAIChat().encode_request(request, "gpt-5"), next_gemini_body(request)):
        text = orjson.dumps(sent).decode()
        assert PREFIX not in text and item["encrypted_content"] not in text


def test_reasoning_of_other_wires_still_gets_an_empty_signature() -> None:
    """A chat upstream's reasoning (DeepSeek's ``reasoning_content``) is not carried: it
    must not go back to an upstream that refuses it."""
    response = Response(
        id="r",
        model="m",
        parts=[ReasoningPart("hm", {"openai-chat": {"field": "reasoning_content"}}), TextPart("hi")],
        finish=Finish(FinishReason.STOP),
    )
    content = orjson.loads(ANTHROPIC.encode_response(response, EncodeContext(model="m", body={})))["content"]
    assert content[0] == {"type": "thinking", "thinking": "hm", "signature": ""}
