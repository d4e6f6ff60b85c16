"""Request shaping: payload rules on the bodies sent upstream, and thinking suffixes on model
names -- through the doors, against fake upstreams of each wire, with the official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import openai
import pytest
from cliproxy.config import ConfigError, load_config
from cliproxy.config.payload import PayloadRules, Rule
from cliproxy.errors import GatewayError
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app, serve_app
from cliproxy.thinking_suffix import split_suffix

KEY = "shaping-key"

CHAT_OK = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
CLAUDE_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
GEMINI_OK = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
}


def answer(request: RecordedRequest) -> Reply:
    if request.path.endswith("/chat/completions"):
        return Reply.json(CHAT_OK)
    if request.path.endswith("/messages"):
        return Reply.json(CLAUDE_OK)
    return Reply.json(GEMINI_OK)


PAYLOAD = {
    "default": [
        {"models": ["gpt-5*"], "params": {"reasoning_effort": "high", "metadata.team": "core"}},
        {"models": ["claude-*"], "params": {"temperature": 1}},
    ],
    "override": [{"models": ["gemini-*"], "wire": "gemini", "params": {"generationConfig.temperature": 0.2}}],
    "filter": [{"models": ["*"], "door": "anthropic", "params": ["top_p"]}],
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        server.add("POST", "/v1/chat/completions", answer)
        server.add("POST", "/v1/messages", answer)
        for model in ("gemini-2.5-flash", "gemini-2.0-flash"):
            server.add("POST", f"/v1beta/models/{model}:generateContent", answer)
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": [KEY],
        "request-retry": 0,
        "payload": PAYLOAD,
        "thinking-suffixes": ["high", "8192"],
        "openai-compatibility": [
            {
                "name": "compat",
                "base-url": upstream.url + "/v1",
                "models": [{"name": "gpt-5-mini", "alias": "g5"}, "gpt-4o"],
            }
        ],
        "claude-api-key": [
            {
                "api-key": "sk-ant",
                "base-url": upstream.url,
                "models": ["claude-sonnet-4-5", "claude-3-5-haiku-20241022"],
            }
        ],
        "gemini-api-key": [
            {"api-key": "g-key", "base-url": upstream.url, "models": ["gemini-2.5-flash", "gemini-2.0-flash"]}
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


def last_body(upstream: FakeUpstream) -> dict[str, Any]:
    return upstream.requests[-1].json


def chat(url: str, model: str, **extra: Any) -> Any:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], **extra)


# -- payload rules -----------------------------------------------------------------------


def test_default_sets_what_is_absent_and_keeps_what_the_client_sent(gateway: str, upstream: FakeUpstream) -> None:
    chat(gateway, "g5")  # matched by the upstream name gpt-5-mini, asked for by its alias
    sent = last_body(upstream)
    assert sent["reasoning_effort"] == "high" and sent["metadata"] == {"team": "core"}
    chat(gateway, "g5", reasoning_effort="low")  # the client said: kept (and passed through)
    assert last_body(upstream)["reasoning_effort"] == "low"
    chat(gateway, "gpt-4o")
    assert "reasoning_effort" not in last_body(upstream)


def test_rules_apply_after_translation_whatever_the_door(gateway: str, upstream: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0)
    client.messages.create(
        model="g5", max_tokens=10, messages=[{"role": "user", "content": "hi"}], extra_body={"top_p": 0.5}
    )
    sent = last_body(upstream)  # Anthropic door -> chat upstream: the chat rule applies, top_p filtered
    assert sent["reasoning_effort"] == "high" and "top_p" not in sent
    client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert last_body(upstream)["temperature"] == 1  # pass-through to Anthropic too
    chat(gateway, "gemini-2.5-flash", temperature=0.9)
    assert last_body(upstream)["generationConfig"]["temperature"] == 0.2  # override beats the client


def test_payload_rules_in_isolation() -> None:
    rules = PayloadRules(
        (
            Rule("default", ("*",), ((("a", "b"), 1), (("list", "0"), "x"))),
            Rule("override", ("m*",), ((("c",), [1]),)),
            Rule("filter", ("*",), ((("d", "e"), None), (("gone", "0"), None))),
        )
    )
    body = {"a": {"b": 5}, "list": [None, 2], "c": 0, "d": {"e": 1, "f": 2}, "gone": [1, 2], "x": "keep"}
    out = rules.apply(body, model="m1", asked="alias", wire="openai-chat", door="openai-chat")
    assert out == {"a": {"b": 5}, "list": ["x", 2], "c": [1], "d": {"f": 2}, "gone": [2], "x": "keep"}
    assert body["d"] == {"e": 1, "f": 2}  # the original is untouched
    untouched = {"q": 1}
    assert rules.apply(untouched, model="zz", asked="zz", wire="w", door="d") is not untouched  # default matched
    assert PayloadRules().apply(untouched, model="m", asked="m", wire="w", door="d") is untouched


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"default": [{"models": ["*"], "params": {"a..b": 1}}]}, "is not a path"),
        ({"filter": [{"models": ["*"], "params": {"a": 1}}]}, "a list of paths"),
        ({"override": [{"params": {"a": 1}}]}, "models"),
        ({"overide": []}, "did you mean 'override'"),
        ({"default": [{"models": ["*"], "params": {"a": 1}, "protocol": "x"}]}, "protocol"),
    ],
)
def test_bad_rules_are_located_config_errors(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"payload": payload})
    assert message in str(error.value)


# -- thinking suffixes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "base", "effort", "budget"),
    [
        ("gpt-5(high)", "gpt-5", "high", None),
        ("m(8192)", "m", None, 8192),
        ("m(0)", "m", "none", 0),
        ("m(none)", "m", "none", 0),
        ("m(auto)", "m", None, -1),
        ("m(-1)", "m", None, -1),
        ("plain", "plain", None, None),
    ],
)
def test_suffixes_parse(name: str, base: str, effort: str | None, budget: int | None) -> None:
    got, reasoning = split_suffix(name)
    assert got == base
    if effort is None and budget is None:
        assert reasoning is None
    else:
        assert reasoning is not None and (reasoning.effort, reasoning.budget_tokens) == (effort, budget)


def test_a_bad_suffix_is_a_400() -> None:
    with pytest.raises(GatewayError) as error:
        split_suffix("m(loud)")
    assert error.value.status == 400 and "not a thinking suffix" in error.value.message


def test_suffixes_reach_each_wire_in_its_own_form(gateway: str, upstream: FakeUpstream) -> None:
    answer = chat(gateway, "g5(high)")
    assert answer.model == "g5(high)"  # answered under the name as asked
    assert last_body(upstream)["reasoning_effort"] == "high"
    assert last_body(upstream)["model"] == "gpt-5-mini"
    chat(gateway, "claude-sonnet-4-5(8192)")
    sent = last_body(upstream)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    chat(gateway, "gemini-2.5-flash(8192)")
    assert last_body(upstream)["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 8192
    chat(gateway, "g5(low)", reasoning_effort="high")  # the suffix wins over the body
    assert last_body(upstream)["reasoning_effort"] == "low"


def test_a_suffix_on_a_model_that_cannot_think_is_a_400(gateway: str, upstream: FakeUpstream) -> None:
    sent_before = len(upstream.requests)
    for model in ("claude-3-5-haiku-20241022(high)", "gemini-2.0-flash(8192)"):
        with pytest.raises(openai.BadRequestError) as error:
            chat(gateway, model)
        assert "cannot think" in str(error.value)
    assert len(upstream.requests) == sent_before  # refused before any upstream call
    answer = chat(gateway, "claude-3-5-haiku-20241022(none)")  # asking for none is fine
    assert answer.choices[0].message.content == "ok"


def test_listed_suffixes_appear_in_the_model_list(gateway: str) -> None:
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=KEY, max_retries=0)
    ids = {m.id for m in client.models.list().data}
    assert {"g5", "g5(high)", "g5(8192)", "claude-sonnet-4-5(high)", "gemini-2.5-flash(8192)"} <= ids
    assert "claude-3-5-haiku-20241022(high)" not in ids and "gemini-2.0-flash(high)" not in ids
