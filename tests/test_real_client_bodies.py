"""What Claude Code 2.1 and Codex 0.171 send, through the gateway to every upstream wire
(issue 14, defects 1, 3, 4 and 5), with the official SDKs as the clients.

The bodies are the recorded constructions of those clients' requests
(``recordings/anthropic/CONSTRUCTED-claude-code-2.1-mid-conversation-system.request.json``,
``recordings/openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json``; their
sources are in the folders' ``README.md``). Each fake upstream records what it received;
the assertions are about that, and about what the client gets back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import openai
import orjson
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

KEY = "client-key"
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
GEMINI = "/v1beta/models/gemini-2.5-flash:{method}"
BETA = "mid-conversation-system-2026-04-07"
NOTE = "<system_instruction>\n{}\n</system_instruction>"
PLAN = "Plan mode is not active. You may run tools that change files when the user asks for it."
STYLE = "The user has set the output style to concise. Keep the final answer to one sentence."
FLAT = [f"multi_agent_v1__{n}" for n in ("spawn_agent", "send_input", "resume_agent", "wait_agent", "close_agent")]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": [KEY],
        "request-retry": 0,
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "gpt-oss-120b", "alias": "oa"}]}
        ],
        "claude-api-key": [
            {"api-key": "sk-ant", "base-url": upstream.url, "models": [{"name": "claude-opus-4-8", "alias": "an"}]}
        ],
        "gemini-api-key": [
            {"api-key": "g-key", "base-url": upstream.url, "models": [{"name": "gemini-2.5-flash", "alias": "ge"}]}
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


@pytest.fixture
def fresh(upstream: FakeUpstream) -> FakeUpstream:
    upstream.clear()
    return upstream


def sent(upstream: FakeUpstream) -> dict[str, Any]:
    (request,) = upstream.requests
    return request.json


# -- what the fake upstreams answer ---------------------------------------------------------------


def chat_text(text: str) -> Reply:
    return Reply.json(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-oss-120b",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }
    )


def chat_stream(delta: dict[str, Any], finish: str) -> Reply:
    def chunk(d: dict[str, Any], reason: str | None = None, usage: dict | None = None) -> dict[str, Any]:
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-oss-120b"}
        body["choices"] = [{"index": 0, "delta": d, "finish_reason": reason}] if usage is None else []
        if usage is not None:
            body["usage"] = usage
        return body

    return Reply.sse_events(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk(delta),
            chunk({}, finish),
            chunk({}, usage={"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}),
        ],
        done=True,
    )


def chat_call(name: str, arguments: str) -> Reply:
    call = {"index": 0, "id": "call_up1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return chat_stream({"tool_calls": [call]}, "tool_calls")


def anthropic_message(content: list[dict[str, Any]], stop: str = "end_turn") -> Reply:
    return Reply.json(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-8",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 5},
        }
    )


def gemini_answer(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25},
        "modelVersion": "gemini-2.5-flash",
    }


# -- Claude Code 2.1: role "system" messages inside messages -------------------------------------


@pytest.fixture
def claude_code(recording) -> dict[str, Any]:
    return json.loads(
        recording("anthropic/CONSTRUCTED-claude-code-2.1-mid-conversation-system.request.json").read_text()
    )


def claude_code_call(url: str, body: dict[str, Any], model: str, *, stream: bool) -> anthropic.types.Message:
    client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
    fields = {k: body[k] for k in ("max_tokens", "messages", "system", "tools", "metadata")}
    extra = {k: body[k] for k in ("thinking", "output_config", "context_management")}
    headers = {"anthropic-beta": f"claude-code-20250219,interleaved-thinking-2025-05-14,{BETA},effort-2025-11-24"}
    if stream:
        with client.messages.stream(model=model, **fields, extra_body=extra, extra_headers=headers) as events:
            return events.get_final_message()
    return client.messages.create(model=model, **fields, extra_body=extra, extra_headers=headers, timeout=60)


def test_claude_code_to_a_chat_upstream_keeps_system_messages_in_place(gateway, fresh, claude_code):
    fresh.add("POST", CHAT, chat_stream({"content": "README.md is the largest."}, "stop"))
    message = claude_code_call(gateway, claude_code, "oa", stream=True)
    assert message.content[-1].text == "README.md is the largest."
    body = sent(fresh)
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "system", "assistant", "tool", "system"]
    assert messages[0]["content"].startswith(
        "x-anthropic-billing-header: cc_version=2.1.197.4e1; cc_entrypoint=sdk-cli;\n\n"
        "You are a Claude agent, built on Anthropic's Claude Agent SDK.\n\n"
    )
    assert messages[2] == {"role": "system", "content": PLAN}
    assert messages[5] == {"role": "system", "content": STYLE}
    assert body["reasoning_effort"] == "high"  # Claude Code asked for it (output_config.effort)


def test_claude_code_to_a_gemini_upstream_gets_system_instruction_and_notes(gateway, fresh, claude_code):
    fresh.add("POST", GEMINI.format(method="generateContent"), Reply.json(gemini_answer([{"text": "README.md"}])))
    message = claude_code_call(gateway, claude_code, "ge", stream=False)
    assert message.content[-1].text == "README.md"
    body = sent(fresh)
    (system,) = body["systemInstruction"]["parts"]
    assert "cc_entrypoint=sdk-cli;\n\nYou are a Claude agent" in system["text"]
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][-1] == {"text": NOTE.format(PLAN)}
    assert "functionResponse" in contents[2]["parts"][0]
    assert contents[2]["parts"][-1] == {"text": NOTE.format(STYLE)}


def test_claude_code_to_an_anthropic_upstream_passes_through_with_the_beta(gateway, fresh, claude_code):
    fresh.add("POST", MESSAGES, anthropic_message([{"type": "text", "text": "README.md"}]))
    message = claude_code_call(gateway, claude_code, "an", stream=False)
    assert message.content[0].text == "README.md"
    (request,) = fresh.requests
    assert [m["role"] for m in request.json["messages"]] == ["user", "system", "assistant", "user", "system"]
    assert BETA in request.headers["anthropic-beta"]


def test_claude_code_count_tokens_with_system_messages_is_counted(gateway, fresh, claude_code):
    client = anthropic.Anthropic(api_key=KEY, base_url=gateway, max_retries=0)
    counted = client.messages.count_tokens(
        model="oa",
        messages=claude_code["messages"],
        system=claude_code["system"],
        tools=claude_code["tools"],
        extra_headers={"anthropic-beta": BETA},
    )
    assert counted.input_tokens > 0
    assert fresh.requests == []  # an OpenAI-compatible upstream cannot count: estimated


def test_a_chat_clients_late_developer_message_reaches_anthropic_in_place_under_the_beta(gateway, fresh):
    fresh.add("POST", MESSAGES, anthropic_message([{"type": "text", "text": "ok"}]))
    client = openai.OpenAI(api_key=KEY, base_url=gateway + "/v1", max_retries=0)
    answer = client.chat.completions.create(
        model="an",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "From now on answer in French."},
        ],
    )
    assert answer.choices[0].message.content == "ok"
    (request,) = fresh.requests
    assert request.json["system"] == "Be brief."
    assert request.json["messages"][1] == {
        "role": "system",
        "content": [{"type": "text", "text": "From now on answer in French."}],
    }
    assert "betas" not in request.json
    assert BETA in request.headers["anthropic-beta"].split(",")


# -- Codex 0.171: namespace tools ---------------------------------------------------------------------


@pytest.fixture
def codex(recording) -> dict[str, Any]:
    return json.loads(recording("openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json").read_text())


def codex_call(url: str, body: dict[str, Any], model: str, *, stream: bool) -> tuple[list[dict], list[dict]]:
    """(output items of the final response, function_call items of output_item.done events)."""
    client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
    fields = {k: v for k, v in body.items() if k not in ("model", "stream")}
    if not stream:
        response = client.responses.create(model=model, **fields)
        return [item.model_dump() for item in response.output], []
    done: list[dict] = []
    final: list[dict] = []
    for event in client.responses.create(model=model, stream=True, **fields):
        if event.type == "response.output_item.done" and event.item.type == "function_call":
            done.append(event.item.model_dump())
        if event.type == "response.completed":
            final = [item.model_dump() for item in event.response.output]
    return final, done


def _calls(items: list[dict]) -> list[dict]:
    return [i for i in items if i["type"] == "function_call"]


def _namespace_of(item: dict) -> str | None:
    # the SDK may not model the field yet; it keeps unknown fields all the same
    return item.get("namespace")


def test_codex_to_a_chat_upstream_flattens_namespaces_and_gets_the_call_back_split(gateway, fresh, codex):
    fresh.add("POST", CHAT, chat_call("multi_agent_v1__wait_agent", '{"targets":["019e8e21"]}'))
    final, done = codex_call(gateway, codex, "oa", stream=True)
    for item in (_calls(final)[0], done[0]):
        assert (item["name"], _namespace_of(item)) == ("wait_agent", "multi_agent_v1")
        assert item["arguments"] == '{"targets":["019e8e21"]}'
    body = sent(fresh)
    names = [t["function"]["name"] for t in body["tools"]]
    assert len(names) == 12 and names[-5:] == FLAT  # 7 tools + 5 members (web_search needs OpenAI)
    history = next(m for m in body["messages"] if m.get("tool_calls"))
    assert history["tool_calls"][0]["function"]["name"] == "multi_agent_v1__spawn_agent"
    assert "reasoning_effort" not in body  # Codex asked only for a summary


def test_codex_to_an_anthropic_upstream(gateway, fresh, codex):
    call = {"type": "tool_use", "id": "toolu_1", "name": "multi_agent_v1__spawn_agent", "input": {"message": "go"}}
    fresh.add("POST", MESSAGES, anthropic_message([call], "tool_use"))
    final, _ = codex_call(gateway, codex, "an", stream=False)
    (item,) = _calls(final)
    assert (item["name"], _namespace_of(item), json.loads(item["arguments"])) == (
        "spawn_agent",
        "multi_agent_v1",
        {"message": "go"},
    )
    body = sent(fresh)
    assert [t["name"] for t in body["tools"]][-5:] == FLAT
    assert "thinking" not in body and "effort" not in body.get("output_config", {})
    uses = [b for m in body["messages"] for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_use"]
    assert uses[0]["name"] == "multi_agent_v1__spawn_agent"


def test_codex_to_a_gemini_upstream_streamed(gateway, fresh, codex):
    answer = gemini_answer([{"functionCall": {"name": "multi_agent_v1__close_agent", "args": {"target": "019e"}}}])
    fresh.add(
        "POST", GEMINI.format(method="streamGenerateContent"), Reply.sse([b"data: " + orjson.dumps(answer) + b"\n\n"])
    )
    final, done = codex_call(gateway, codex, "ge", stream=True)
    for item in (_calls(final)[0], done[0]):
        assert (item["name"], _namespace_of(item)) == ("close_agent", "multi_agent_v1")
    body = sent(fresh)
    declared = [d["name"] for d in body["tools"][0]["functionDeclarations"]]
    assert declared[-5:] == FLAT
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}  # no budget invented
    (instruction,) = body["systemInstruction"]["parts"]
    assert instruction["text"].startswith("You are Codex")
    assert "\n\n<permissions instructions>" in instruction["text"]
