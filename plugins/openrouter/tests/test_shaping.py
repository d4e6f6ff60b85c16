"""Requests from doors other than OpenAI's: the IR's reasoning becomes OpenRouter's."""

from __future__ import annotations

import cliproxy_openrouter
import pytest
from cliproxy import Call, ClientRequest, ir
from cliproxy.testing import gateway_app
from cliproxy_openrouter.shaping import reasoning_object


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (ir.Reasoning(budget_tokens=4096), {"max_tokens": 4096}),
        (ir.Reasoning(effort="high"), {"effort": "high"}),
        (ir.Reasoning(effort="max"), {"effort": "xhigh"}),
        (ir.Reasoning(effort="none"), {"enabled": False}),
        (ir.Reasoning(budget_tokens=0), {"enabled": False}),
        (ir.Reasoning(budget_tokens=-1), {"enabled": True}),
        (ir.Reasoning(effort="low", include_thoughts=False), {"effort": "low", "exclude": True}),
        # no amount asked (Codex's summary alone, Gemini CLI's includeThoughts alone, issue 14):
        # nothing that would switch on OpenRouter's default effort
        (ir.Reasoning(summary="auto"), {}),
        (ir.Reasoning(include_thoughts=True), {}),
        (ir.Reasoning(include_thoughts=False), {"exclude": True}),
    ],
)
def test_reasoning_object(reasoning, expected):
    assert reasoning_object(reasoning) == expected


@pytest.fixture
def gateway():
    cfg = {
        "openrouter": [
            {
                "api-key": "sk-or-v1-k",
                "prefix": "batch",
                "provider": {"sort": "throughput", "max_price": {"prompt": 3}},
            }
        ]
    }
    return gateway_app(cfg, plugins=[cliproxy_openrouter]).state.gateway


def call_for(gateway, request: ir.Request, *, wire: str = "anthropic", body: dict | None = None) -> Call:
    client = ClientRequest(
        wire=wire,
        translator=None,
        body=body or {},
        raw=b"",
        model="batch/m",
        stream=True,
        ir=request,
    )
    credential = gateway.credentials[0]
    return Call(client, credential, "anthropic/claude-sonnet-4.5", gateway.host)


@pytest.mark.parametrize(
    ("wire", "reasoning"),
    [("openai-responses", ir.Reasoning(summary="auto")), ("gemini", ir.Reasoning(include_thoughts=True))],
    ids=["codex", "gemini-cli"],
)
def test_a_request_asking_for_no_effort_sends_none(gateway, wire, reasoning):
    """Codex sends only a summary, Gemini CLI only includeThoughts (issue 14)."""
    request = ir.Request(model="batch/m", messages=[ir.Message("user", [ir.TextPart("hi")])], reasoning=reasoning)
    body = gateway.providers["openrouter"].build_body(call_for(gateway, request, wire=wire))
    assert "reasoning" not in body and "reasoning_effort" not in body


def test_anthropic_thinking_budget_and_signed_history_become_openrouter_fields(gateway):
    signed = ir.ReasoningPart("I should call the tool.", {"anthropic": {"signature": "sig-abc"}})
    redacted = ir.ReasoningPart("", {"anthropic": {"redacted_data": "opaque"}})
    request = ir.Request(
        model="batch/m",
        messages=[
            ir.Message("user", [ir.TextPart("weather?")]),
            ir.Message(
                "assistant",
                [signed, redacted, ir.ToolCallPart("call_1", "weather", '{"city":"Paris"}')],
            ),
            ir.Message("tool", [ir.ToolResultPart("call_1", [ir.TextPart("sunny")])]),
        ],
        reasoning=ir.Reasoning(budget_tokens=2048),
        stream=True,
    )
    provider = gateway.providers["openrouter"]
    body = provider.build_body(call_for(gateway, request))
    assert body["reasoning"] == {"max_tokens": 2048}
    assert "reasoning_effort" not in body
    assert body["provider"] == {"sort": "throughput", "max_price": {"prompt": 3}}
    assert body["stream_options"] == {"include_usage": True}
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "I should call the tool.",
            "signature": "sig-abc",
            "format": "anthropic-claude-v1",
            "index": 0,
        },
        {
            "type": "reasoning.encrypted",
            "data": "opaque",
            "format": "anthropic-claude-v1",
            "index": 1,
        },
    ]


def test_openrouter_details_received_earlier_go_back_verbatim(gateway):
    raw = [
        {
            "type": "reasoning.text",
            "text": "t",
            "signature": "s",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    part = ir.ReasoningPart("t", {"anthropic": {"signature": "s"}, "openai-chat": {"reasoning_details": raw}})
    request = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.TextPart("a")]),
            ir.Message("assistant", [part, ir.TextPart("b")]),
            ir.Message("user", [ir.TextPart("c")]),
        ],
    )
    body = gateway.providers["openrouter"].build_body(call_for(gateway, request))
    assert [m.get("reasoning_details") for m in body["messages"] if m["role"] == "assistant"] == [raw]


def test_openai_clients_body_is_left_alone_apart_from_provider_defaults(gateway):
    own = {
        "model": "batch/m",
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "low",
        "reasoning": {"effort": "high"},
        "models": ["a/b", "c/d"],
        "transforms": ["middle-out"],
        "provider": {"sort": "price"},
    }
    request = ir.Request(model="batch/m", messages=[ir.Message("user", [ir.TextPart("hi")])])
    body = gateway.providers["openrouter"].build_body(call_for(gateway, request, wire="openai-chat", body=own))
    assert body["reasoning_effort"] == "low" and body["reasoning"] == {"effort": "high"}
    assert body["models"] == ["a/b", "c/d"] and body["transforms"] == ["middle-out"]
    assert body["provider"] == {"sort": "price", "max_price": {"prompt": 3}}
    assert body["model"] == "anthropic/claude-sonnet-4.5"
