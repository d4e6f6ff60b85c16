"""What reaches Kilo: headers (organization, task id from the client's session), the
Responses endpoint for GPT-5 and o-series models, the model list and default model, the
reasoning of translated requests, and config errors."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from cliproxy import ConfigError
from cliproxy.testing import Reply, serve_app

CHAT = "/api/gateway/chat/completions"
RESPONSES = "/api/openrouter/responses"


def chat(url: str, model: str, **extra) -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], **extra)


def claude(url: str, model: str, session: str | None = None, **extra) -> anthropic.types.Message:
    client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
    metadata = {"user_id": session} if session else anthropic.NOT_GIVEN
    messages = extra.pop("messages", [{"role": "user", "content": "hi"}])
    return client.messages.create(model=model, max_tokens=1024, messages=messages, metadata=metadata, **extra)


def test_the_task_id_follows_the_clients_session_without_revealing_it(kilo, kilo_app):
    session_a = "user_abc_account_1234_session_5678-aaaa"
    with serve_app(kilo_app()) as url:
        claude(url, "kilo/anthropic/claude-sonnet-4.5", session_a)
        claude(url, "kilo/anthropic/claude-sonnet-4.5", session_a)
        claude(url, "kilo/anthropic/claude-sonnet-4.5", "user_abc_account_1234_session_other")
        claude(url, "kilo/anthropic/claude-sonnet-4.5")
        chat(url, "kilo/anthropic/claude-sonnet-4.5", prompt_cache_key="codex-thread-1")
    tasks = [r.headers.get("x-kilocode-taskid") for r in kilo.server.requests_to(CHAT)]
    assert tasks[0] == tasks[1] and tasks[0] != tasks[2]
    assert tasks[3] is None  # no session named: no task id
    assert tasks[4] and tasks[4] not in tasks[:3]
    assert all(len(t) == 36 and session_a not in t for t in tasks if t)
    assert "x-kilocode-organizationid" not in kilo.server.requests_to(CHAT)[0].headers  # personal account


@pytest.mark.parametrize("stream", [False, True])
def test_gpt5_models_go_to_the_responses_endpoint(stream, kilo, kilo_app):
    with serve_app(kilo_app()) as url:
        answer = chat(url, "kilo/openai/gpt-5.1", stream=stream)
        text = (
            "".join(c.choices[0].delta.content or "" for c in answer if c.choices)
            if stream
            else answer.choices[0].message.content
        )
    assert text.startswith("Why did the scarecrow")
    assert not kilo.server.requests_to(CHAT)
    (sent,) = kilo.server.requests_to(RESPONSES)
    assert sent.json["model"] == "openai/gpt-5.1" and sent.json["input"]
    assert sent.headers["authorization"] == f"Bearer {kilo.token}"


def test_a_chat_refusal_naming_responses_is_retried_there_and_remembered(kilo, kilo_app):
    entry = {"api-key": kilo.token, "base-url": kilo.url, "models": ["openai/chatgpt-4o-latest"]}
    with serve_app(kilo_app([entry])) as url:
        first = chat(url, "openai/chatgpt-4o-latest")
        second = chat(url, "openai/chatgpt-4o-latest")
    assert first.choices[0].message.content.startswith("Why did") and second.choices[0].message.content.startswith(
        "Why did"
    )
    assert len(kilo.server.requests_to(CHAT)) == 1  # refused once, then sent to Responses straight away
    assert len(kilo.server.requests_to(RESPONSES)) == 2


def test_models_come_from_the_gateway_and_the_default_has_an_alias(kilo, kilo_app, models_of):
    with serve_app(kilo_app()) as url:
        ids = models_of(url, "kilo/kilo-default")
        answer = chat(url, "kilo/kilo-default")
    assert "kilo/anthropic/claude-sonnet-4.5" in ids and "kilo/x-ai/grok-code-fast-1:free" in ids
    assert "kilo/google/gemini-2.5-flash-image" in ids  # makes text too
    assert "kilo/black-forest-labs/flux" not in ids  # images only
    assert answer.choices[0].message.content.startswith("The question")
    assert kilo.server.requests_to(CHAT)[-1].json["model"] == "anthropic/claude-sonnet-4.5"  # from /api/defaults


def test_an_organization_lists_its_own_models_and_default(kilo, kilo_app, models_of):
    entry = {
        "api-key": kilo.token,
        "base-url": kilo.url + "/api/gateway",
        "organization-id": "org-acme",
        "prefix": "acme",
    }
    with serve_app(kilo_app([entry])) as url:
        ids = models_of(url, "acme/kilo-default")
        chat(url, "acme/kilo-default")
        chat(url, "acme/openai/o4-mini")
    assert "acme/anthropic/claude-opus-4.5" in ids and "acme/anthropic/claude-sonnet-4.5" not in ids
    listing = kilo.server.requests_to("/api/organizations/org-acme/models")[0]
    assert listing.headers["x-kilocode-organizationid"] == "org-acme"
    assert kilo.server.requests_to(CHAT)[0].json["model"] == "anthropic/claude-opus-4.5"
    assert kilo.server.requests_to(RESPONSES)[0].json["model"] == "openai/o4-mini"
    assert not kilo.server.requests_to("/api/gateway/models")


def test_thinking_from_an_anthropic_client_becomes_openrouter_reasoning(kilo, kilo_app):
    with serve_app(kilo_app()) as url:
        claude(
            url,
            "kilo/anthropic/claude-sonnet-4.5",
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Use the tool.", "signature": "sig-1"},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
            ],
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        )
    body = kilo.server.requests_to(CHAT)[0].json
    assert body["reasoning"] == {"max_tokens": 2048} and "reasoning_effort" not in body
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"][0]["signature"] == "sig-1"


def test_an_openai_clients_body_passes_through(kilo, kilo_app):
    with serve_app(kilo_app()) as url:
        chat(
            url,
            "kilo/anthropic/claude-sonnet-4.5",
            extra_body={"provider": {"sort": "price"}, "reasoning": {"effort": "low"}},
        )
    body = kilo.server.requests_to(CHAT)[0].json
    assert body["provider"] == {"sort": "price"} and body["reasoning"] == {"effort": "low"}


def test_the_key_may_come_from_kilo_api_key(kilo, kilo_app, monkeypatch):
    monkeypatch.setenv("KILO_API_KEY", kilo.token)
    monkeypatch.setenv("KILO_ORG_ID", "org-acme")
    with serve_app(kilo_app([{"base-url": kilo.url, "prefix": "kilo"}])) as url:
        chat(url, "kilo/anthropic/claude-sonnet-4.5")
    sent = kilo.server.requests_to(CHAT)[0]
    assert sent.headers["authorization"] == f"Bearer {kilo.token}"
    assert sent.headers["x-kilocode-organizationid"] == "org-acme"


def test_no_key_anywhere_is_a_config_error_that_says_what_to_do(kilo_app, monkeypatch):
    monkeypatch.delenv("KILO_API_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        kilo_app([{"prefix": "kilo"}])
    message = str(caught.value)
    assert "kilo[0].api-key" in message and "KILO_API_KEY" in message and "cliproxy login kilo" in message


def test_a_refused_token_rests_the_credential(kilo, kilo_app):
    kilo.server.add("POST", CHAT, Reply.json({"error": {"message": "Invalid token", "code": 401}}, status=401))
    with serve_app(kilo_app()) as url:
        with pytest.raises(openai.AuthenticationError):
            chat(url, "kilo/anthropic/claude-sonnet-4.5")
        status = httpx.get(url + "/v0/status").json()["credentials"][0]
    assert status["state"] == "unhealthy" and "Invalid token" in status["unhealthy"]["reason"]
    assert "sign in again with `cliproxy login kilo`, or replace the entry's api-key" in status["unhealthy"]["reason"]
