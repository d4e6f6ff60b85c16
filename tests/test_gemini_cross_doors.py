"""Gemini credentials behind the Anthropic and Responses doors (anthropic and openai SDKs),
against a fake Gemini API replaying the recordings: tool loops that send Gemini its own
signatures back, sealed through the clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import cliproxy_claude
import cliproxy_gemini
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app
from cliproxy.wire.gemini.request_encode import SKIP_SIGNATURE
from cliproxy.wire.sealed import seal

RECORDINGS = Path(__file__).parents[1] / "recordings" / "gemini"
PRO = "/v1beta/models/gemini-3-pro-preview"
TOOLS = [
    {
        "name": "weather",
        "description": "Weather for a place",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string", "minLength": 2}},
            "required": ["location"],
            "additionalProperties": False,
        },
    }
]


@pytest.fixture
def url(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": ["client-key"],
        "gemini-api-key": [{"api-key": "AIza-k", "base-url": upstream.url, "models": ["gemini-3-pro-preview"]}],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_gemini])) as base:
        yield base


def test_anthropic_client_tool_loop_with_thinking(upstream: FakeUpstream, url: str) -> None:
    upstream.add(
        "POST",
        PRO + ":streamGenerateContent",
        Reply.sse_file(RECORDINGS / "DERIVED-google-tool-call.sse.txt"),
    )
    upstream.add(
        "POST",
        PRO + ":generateContent",
        Reply.json(json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())),
    )
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 2000}
    with client.messages.stream(
        model="gemini-3-pro-preview",
        max_tokens=1000,
        tools=TOOLS,
        thinking=thinking,
        messages=[{"role": "user", "content": "SF?"}],
    ) as stream:
        first = stream.get_final_message()
    carrier, call = first.content
    assert carrier.type == "thinking" and carrier.thinking == "" and carrier.signature.startswith("cliproxy.v1:")
    assert call.type == "tool_use" and call.name == "weather" and call.input == {"location": "San Francisco"}
    assert first.stop_reason == "tool_use"
    sent = upstream.requests_to(PRO + ":streamGenerateContent")[0].json
    assert sent["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "OBJECT",
        "properties": {"location": {"type": "STRING", "minLength": 2}},
        "required": ["location"],
    }
    assert sent["generationConfig"] == {
        "maxOutputTokens": 1000,
        "thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True},
    }

    history = [
        {"role": "user", "content": "SF?"},
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "foggy"}],
        },
    ]
    second = client.messages.create(
        model="gemini-3-pro-preview",
        max_tokens=1000,
        tools=TOOLS,
        thinking=thinking,
        messages=history,
    )
    text, text_carrier = second.content[-2:]
    assert text.type == "text" and text.text.startswith("There are **3**")
    # The answer's signed text part is followed by the carrier of its signature.
    assert text_carrier.type == "thinking" and text_carrier.signature.startswith("cliproxy.v1:")
    assert second.usage.output_tokens == 29 + 282
    contents = upstream.requests_to(PRO + ":generateContent")[0].json["contents"]
    # Gemini's signature came back through the carrier block, onto its functionCall part.
    signature = json.loads((RECORDINGS / "DERIVED-google-tool-call.sse.txt").read_text().split("data: ")[1])
    assert contents[1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "weather", "args": {"location": "San Francisco"}},
                "thoughtSignature": signature["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
            }
        ],
    }
    assert SKIP_SIGNATURE not in json.dumps(contents)
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "weather", "response": {"output": "foggy"}}}],
    }


def test_responses_client(upstream: FakeUpstream, url: str) -> None:
    upstream.add(
        "POST",
        PRO + ":generateContent",
        Reply.json(json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())),
    )
    client = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
    answer = client.responses.create(
        model="gemini-3-pro-preview",
        input="how many r in strawberry?",
        reasoning={"effort": "low"},
        max_output_tokens=500,
    )
    assert answer.output_text.startswith("There are **3**")
    assert answer.usage.output_tokens_details.reasoning_tokens == 282
    sent = upstream.requests_to(PRO + ":generateContent")[0].json
    assert sent["generationConfig"] == {
        "maxOutputTokens": 500,
        "thinkingConfig": {"thinkingLevel": "low", "includeThoughts": True},
    }


# -- Gemini's signatures round-trip through the Anthropic and Responses doors -------------------


def _signed_answer() -> dict:
    """Gemini 3's recorded signed functionCall, after a recorded thought part signed with a
    recorded signature."""
    answer = json.loads((RECORDINGS / "vercel-google-tool-call-gemini3.json").read_text())
    vertex = (RECORDINGS / "DERIVED-vertex-thought-parts-tool-call.sse.txt").read_text()
    thought = json.loads(vertex.split("data: ")[1])["candidates"][0]["content"]["parts"][0]
    reasoning = json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())
    thought["thoughtSignature"] = reasoning["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    answer["candidates"][0]["content"]["parts"].insert(0, thought)
    return answer


def _gemini_replies(stream: bool) -> tuple[str, list[Reply], list[dict]]:
    """(path, the two turns' replies, the parts Gemini signed in turn one)."""
    answer = _signed_answer()
    parts = answer["candidates"][0]["content"]["parts"]
    final = json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())
    if not stream:
        return PRO + ":generateContent", [Reply.json(answer), Reply.json(final)], parts
    chunks = []
    for i, part in enumerate(parts):
        chunk = json.loads(json.dumps(answer))
        chunk["candidates"][0]["content"]["parts"] = [part]
        if i < len(parts) - 1:
            del chunk["candidates"][0]["finishReason"]
        chunks.append(chunk)
    return PRO + ":streamGenerateContent", [Reply.sse_events(chunks), Reply.sse_events([final])], parts


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_sdk_sends_gemini_its_signatures_back(upstream: FakeUpstream, url: str, stream: bool) -> None:
    path, replies, signed = _gemini_replies(stream)
    upstream.add("POST", path, replies)
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 2000}
    ask = {"model": "gemini-3-pro-preview", "max_tokens": 1000, "tools": TOOLS, "thinking": thinking}
    history: list[dict] = [{"role": "user", "content": "SF?"}]
    messages = []
    for _ in range(2):
        if stream:
            with client.messages.stream(**ask, messages=history) as events:
                kinds = {event.type for event in events}  # the SDK parses every event
                message = events.get_final_message()
            assert {"content_block_start", "content_block_stop", "message_stop"} <= kinds
            assert "signature" in kinds or message.stop_reason != "tool_use"
        else:
            message = client.messages.create(**ask, messages=history)
        messages.append(message)
        if message.stop_reason == "tool_use":
            call = message.content[-1]
            history += [
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "foggy"}]},
            ]
    first, second = messages
    assert [b.type for b in first.content] == ["thinking", "thinking", "tool_use"]
    assert first.content[1].thinking == "" and first.content[2].input == {"location": "San Francisco"}
    assert [b.type for b in second.content] == ["text", "thinking"]  # the signed text, its carrier
    assert second.content[0].text.startswith("There are **3**")
    sent = upstream.requests_to(path)[1].json["contents"]
    assert sent[1] == {"role": "model", "parts": signed}
    assert sent[1]["parts"][1]["thoughtSignature"] != SKIP_SIGNATURE


def test_anthropic_sdk_stream_sends_gemini_its_text_signature_back(upstream: FakeUpstream, url: str) -> None:
    """Gemini signs the answer's text: in a stream the signature comes on an empty text
    part at the end. Turn two must bring it back on the text part."""
    recorded = (RECORDINGS / "DERIVED-google-text.sse.txt").read_text()
    chunks = [json.loads(line[6:]) for line in recorded.splitlines() if line.startswith("data: ")]
    parts = [p for chunk in chunks for p in chunk["candidates"][0]["content"]["parts"]]
    signature = parts[-1]["thoughtSignature"]
    final = json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())
    path = PRO + ":streamGenerateContent"
    upstream.add("POST", path, [Reply.sse_file(RECORDINGS / "DERIVED-google-text.sse.txt"), Reply.sse_events([final])])
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    history: list[dict] = [{"role": "user", "content": "how many r in strawberry?"}]
    for _ in range(2):
        with client.messages.stream(model="gemini-3-pro-preview", max_tokens=1000, messages=history) as events:
            message = events.get_final_message()
        history += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
            {"role": "user", "content": "and in raspberry?"},
        ]
    first = history[1]["content"]
    assert [b["type"] for b in first] == ["text", "thinking"]
    assert first[1]["thinking"] == "" and first[1]["signature"].startswith("cliproxy.v1:")
    sent = upstream.requests_to(path)[1].json["contents"]
    text = "".join(p["text"] for p in parts)
    assert sent == [
        {"role": "user", "parts": [{"text": "how many r in strawberry?"}]},
        {"role": "model", "parts": [{"text": text, "thoughtSignature": signature}]},
        {"role": "user", "parts": [{"text": "and in raspberry?"}]},
    ]


RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": "weather",
        "description": "Weather for a place",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    }
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_openai_sdk_responses_sends_gemini_its_signatures_back(upstream: FakeUpstream, url: str, stream: bool) -> None:
    path, replies, signed = _gemini_replies(stream)
    upstream.add("POST", path, replies)
    client = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
    ask = {"model": "gemini-3-pro-preview", "tools": RESPONSES_TOOLS, "store": False, "reasoning": {"effort": "high"}}
    history: list = [{"role": "user", "content": "SF?"}]
    answers = []
    for _ in range(2):
        if stream:
            events = list(client.responses.create(**ask, input=history, stream=True))  # the SDK parses each
            added = [e.item.type for e in events if e.type == "response.output_item.added"]
            answer = events[-1].response
            assert events[-1].type == "response.completed" and added == [i.type for i in answer.output]
        else:
            answer = client.responses.create(**ask, input=history)
        answers.append(answer)
        calls = [i for i in answer.output if i.type == "function_call"]
        if calls:
            history += [i.model_dump(exclude_none=True) for i in answer.output]
            history.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "foggy"})
    first, second = answers
    assert [i.type for i in first.output] == ["reasoning", "reasoning", "function_call"]
    assert first.output[1].summary == [] and first.output[1].encrypted_content.startswith("cliproxy.v1:")
    assert second.output_text.startswith("There are **3**")
    sent = upstream.requests_to(path)[1].json["contents"]
    assert sent[1] == {"role": "model", "parts": signed}


def test_sealed_thinking_is_not_forwarded_to_claude(upstream: FakeUpstream) -> None:
    """Claude Code switching from Gemini to Claude mid-conversation: its body passes
    through, less the blocks the gateway sealed for Gemini."""
    upstream.add(
        "POST",
        "/v1/messages",
        Reply.json(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "ok"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
        ),
    )
    config = {
        "api-keys": ["client-key"],
        "claude-api-key": [
            {
                "api-key": "sk-ant",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5", "alias": "claude-next"}],
            }
        ],
    }
    thought = {"type": "thinking", "thinking": "hm", "signature": seal({"gemini": {"thoughtSignature": "g"}})}
    carrier = {"type": "thinking", "thinking": "", "signature": seal({"gemini": {"thoughtSignature": "g"}}, "toolu_1")}
    call = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"location": "SF"}}
    said = {"type": "text", "text": "Checking."}
    said_carrier = {
        "type": "thinking",
        "thinking": "",
        "signature": seal({"gemini": {"thoughtSignature": "t"}}, text=True),
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_claude])) as base:
        client = anthropic.Anthropic(api_key="client-key", base_url=base, max_retries=0)
        answer = client.messages.create(
            model="claude-next",
            max_tokens=100,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "SF?"},
                {"role": "assistant", "content": [thought, said, said_carrier, carrier, call]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "foggy"}]},
            ],
        )
    assert answer.content[0].text == "ok"
    sent = upstream.requests_to("/v1/messages")[0].json
    assert sent["messages"][1] == {"role": "assistant", "content": [said, call]}
    assert sent["tools"] == TOOLS
