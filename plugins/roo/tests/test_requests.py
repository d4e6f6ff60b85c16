"""Roo Code Cloud through every door with the official SDKs, and what reaches the proxy:
its path and headers, the task id, reasoning, the model list, and refusals."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from cliproxy import ConfigError
from cliproxy.testing import Reply, asgi_client, serve_app

CHAT = "/proxy/v1/chat/completions"
AUTH = {"authorization": "Bearer client-key"}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", ["chat", "responses", "messages", "gemini"])
def test_every_door_gets_the_tool_call(door, stream, roo, roo_app, sdk):
    with serve_app(roo_app()) as url:
        answer = sdk(url, door, "roo/xai/grok-code-fast-1", stream=stream)
    city = "New York City" if stream else "San Francisco"
    calls = [(call.name, call.arguments["city"]) for call in answer.tool_calls]
    assert calls == [("get_weather", city)] and answer.text == ""
    (sent,) = roo.server.requests_to(CHAT)
    assert sent.headers["authorization"] == f"Bearer {roo.token}"
    assert sent.json["model"] == "xai/grok-code-fast-1" and sent.json["tools"][0]["function"]["name"] == "get_weather"


def test_roo_codes_headers_and_the_task_id(roo, roo_app):
    session = "user_abc_account_1234_session_5678"
    with serve_app(roo_app()) as url:
        client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        for user_id in (session, session, None):
            metadata = {"user_id": user_id} if user_id else anthropic.NOT_GIVEN
            client.messages.create(
                model="roo/anthropic/claude-opus-4.6",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                metadata=metadata,
            )
    first, second, third = roo.server.requests_to(CHAT)
    headers = first.headers
    assert headers["x-roo-app-version"] == "3.31.1" and headers["user-agent"] == "RooCode/3.31.1"
    assert headers["http-referer"] == "https://github.com/RooVetGit/Roo-Cline" and headers["x-title"] == "Roo Code"
    assert headers["x-roo-task-id"] == second.headers["x-roo-task-id"] and len(headers["x-roo-task-id"]) == 36
    assert session not in headers["x-roo-task-id"] and "x-roo-task-id" not in third.headers


def test_thinking_becomes_roos_reasoning_and_signatures_go_back(roo, roo_app):
    with serve_app(roo_app()) as url:
        client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        client.messages.create(
            model="roo/anthropic/claude-opus-4.6",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
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
        )
        openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0).chat.completions.create(
            model="roo/xai/grok-code-fast-1",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"reasoning": {"enabled": False}},
        )
    translated, own = (r.json for r in roo.server.requests_to(CHAT))
    assert translated["reasoning"] == {"enabled": True, "effort": "medium"} and "reasoning_effort" not in translated
    assistant = next(m for m in translated["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"][0]["signature"] == "sig-1"
    assert own["reasoning"] == {"enabled": False}  # an OpenAI client's body passes through


def test_the_model_list_comes_from_the_proxy(roo, roo_app):
    with serve_app(roo_app()) as url:
        for _ in range(200):
            ids = [m["id"] for m in httpx.get(url + "/v1/models", headers=AUTH).json()["data"]]
            if "roo/xai/grok-code-fast-1" in ids:
                break
    assert {"roo/xai/grok-code-fast-1", "roo/anthropic/claude-opus-4.6"} <= set(ids)
    assert "roo/anthropic/claude-3.5-sonnet" not in ids and "roo/google/gemini-2.5-flash-image" not in ids
    assert roo.server.requests_to("/proxy/v1/models")[0].headers["authorization"] == f"Bearer {roo.token}"


@pytest.mark.parametrize(
    ("base", "path"),
    [
        (None, "https://api.roocode.com/proxy/v1"),
        ("https://proxy.example/proxy", "https://proxy.example/proxy/v1"),
        ("https://api.roocode.com/v1", "https://api.roocode.com/v1"),
    ],
)
def test_the_base_url_is_the_proxys(base, path, roo, roo_app, monkeypatch):
    monkeypatch.delenv("ROO_CODE_PROVIDER_URL", raising=False)
    entry = {"token": roo.token, **({"base-url": base} if base else {})}
    (credential,) = roo_app([entry]).state.gateway.credentials
    assert credential.settings.base_url == path


def test_the_token_may_come_from_roo_code_cloud_token(roo, roo_app, monkeypatch):
    monkeypatch.setenv("ROO_CODE_CLOUD_TOKEN", roo.token)
    monkeypatch.setenv("ROO_CODE_PROVIDER_URL", roo.url + "/proxy")
    with serve_app(roo_app([{"prefix": "roo"}])) as url:
        openai.OpenAI(base_url=url + "/v1", api_key="client-key").chat.completions.create(
            model="roo/xai/grok-code-fast-1", messages=[{"role": "user", "content": "hi"}]
        )
    assert roo.server.requests_to(CHAT)[0].headers["authorization"] == f"Bearer {roo.token}"


def test_no_token_anywhere_is_a_config_error_that_says_what_to_do(roo_app, monkeypatch):
    monkeypatch.delenv("ROO_CODE_CLOUD_TOKEN", raising=False)
    with pytest.raises(ConfigError) as caught:
        roo_app([{"prefix": "roo"}])
    message = str(caught.value)
    assert "roo[0].token" in message and "ROO_CODE_CLOUD_TOKEN" in message and "cliproxy login roo" in message


@pytest.mark.parametrize(
    ("reply", "status", "words", "state"),
    [
        (
            Reply.json({"error": {"message": "Unauthorized"}}, status=401),
            401,
            "sign in again with `cliproxy login roo`",
            "unhealthy",
        ),
        (Reply.json({"error": {"message": "Insufficient credits"}}, status=402), 402, "add credit", "unhealthy"),
        (
            Reply.json({"error": {"message": "Too many requests"}}, status=429, headers={"Retry-After": "42"}),
            429,
            "Too many",
            "cooling",
        ),
    ],
    ids=["401", "402", "429"],
)
async def test_refusals_rest_the_credential_and_say_what_to_do(reply, status, words, state, roo, roo_app):
    roo.server.add("POST", CHAT, reply)
    async with asgi_client(roo_app(**{"request-retry": 0})) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "roo/xai/grok-code-fast-1", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        entry = (await client.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == status and words in answer.json()["error"]["message"]
    assert entry["state"] == state
    if status == 429:
        assert 40 < entry["cooldowns"]["xai/grok-code-fast-1"]["seconds_left"] <= 42
