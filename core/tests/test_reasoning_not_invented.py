"""No encoder invents an amount of reasoning (issue 14, defect 5).

Codex 0.171 asks only for a reasoning summary when it does not know the model's effort
(``reasoning: {"summary": "auto"}``, see
``recordings/openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json``);
Gemini CLI 0.61 asks only for thoughts (``thinkingConfig: {"includeThoughts": true}``, the
shape its ``generationConfig`` has in issue 14's report). Neither asked for an effort, so no
upstream may get one; a client that does ask still gets exactly what it asked for.
"""

from __future__ import annotations

import json

import pytest
from cliproxy.ir import Message, Reasoning, Request, TextPart
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses

RESPONSES, CHAT, ANTHROPIC, GEMINI = OpenAIResponses(), OpenAIChat(), Anthropic(), Gemini()

GEMINI_CLI = {
    "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}],
    "systemInstruction": {"role": "user", "parts": [{"text": "You are an interactive CLI agent."}]},
    "generationConfig": {"temperature": 0, "topP": 1, "thinkingConfig": {"includeThoughts": True}},
}


@pytest.fixture
def codex(recording) -> dict:
    return json.loads(recording("openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json").read_text())


@pytest.fixture(params=["codex", "gemini-cli"])
def no_effort(request, codex) -> Request:
    if request.param == "codex":
        return RESPONSES.decode_request(codex)
    return GEMINI.decode_request(GEMINI_CLI, model="core-model")


def test_chat_gets_no_reasoning_effort(no_effort):
    assert "reasoning_effort" not in CHAT.encode_request(no_effort, "gpt-oss-120b")


def test_responses_gets_the_summary_and_no_effort(no_effort):
    body = RESPONSES.encode_request(no_effort, "gpt-5")
    assert body["reasoning"] == {"summary": "auto"}


def test_anthropic_gets_no_thinking_and_no_effort(no_effort):
    body = ANTHROPIC.encode_request(no_effort, "claude-sonnet-4-5")
    assert "thinking" not in body
    assert "effort" not in body.get("output_config", {})


@pytest.mark.parametrize("model", ["gemini-2.5-pro", "gemini-3-pro-preview", "some-gemini-compatible-model"])
def test_gemini_gets_thoughts_and_no_level_or_budget(no_effort, model):
    config = GEMINI.encode_request(no_effort, model)["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True}


def _asking(reasoning: Reasoning) -> Request:
    return Request(model="m", messages=[Message("user", [TextPart("hi")])], reasoning=reasoning)


def test_an_effort_the_client_asked_for_still_goes_everywhere():
    request = _asking(Reasoning(effort="high"))
    assert CHAT.encode_request(request, "o3")["reasoning_effort"] == "high"
    assert RESPONSES.encode_request(request, "gpt-5")["reasoning"] == {"effort": "high"}
    assert ANTHROPIC.encode_request(request, "claude-x")["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert GEMINI.encode_request(request, "gemini-3-pro-preview")["generationConfig"]["thinkingConfig"] == {
        "thinkingLevel": "high",
        "includeThoughts": True,
    }


def test_a_budget_the_client_asked_for_becomes_the_nearest_level():
    request = _asking(Reasoning(budget_tokens=2000))
    assert CHAT.encode_request(request, "o3")["reasoning_effort"] == "medium"
    assert RESPONSES.encode_request(request, "gpt-5")["reasoning"]["effort"] == "medium"


def test_let_the_model_decide_sends_no_effort_where_the_wire_has_only_efforts():
    request = _asking(Reasoning(budget_tokens=-1))  # Anthropic adaptive, Gemini dynamic
    assert "reasoning_effort" not in CHAT.encode_request(request, "o3")
    assert "effort" not in RESPONSES.encode_request(request, "gpt-5").get("reasoning", {})
    assert ANTHROPIC.encode_request(request, "claude-x")["thinking"] == {"type": "adaptive"}


def test_requested_level_and_budget_never_default():
    assert Reasoning(summary="auto").requested_level() is None
    assert Reasoning(summary="auto").requested_budget() is None
    assert Reasoning(include_thoughts=True, budget_tokens=-1).requested_level() is None
    assert Reasoning(budget_tokens=-1).requested_budget() == -1
    assert Reasoning(effort="low").requested_budget() == 1024
    assert Reasoning(budget_tokens=30000).requested_level() == "xhigh"
