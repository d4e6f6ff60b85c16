"""Responses clients (the ``openai`` SDK, as Codex CLI speaks it) through the gateway to
the fake Codex backend: the body and headers the backend requires, streaming and whole
answers, tools and reasoning, the rebuilt final event, ``previous_response_id`` through
the gateway's store, and compact."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from cliproxy.app import gateway_of
from cliproxy.testing import asgi_client, serve_app
from cliproxy_codex.testing import COMPACT, KEY, RESPONSES, FakeCodex

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)


def sent(backend: FakeCodex, index: int = -1) -> tuple[dict[str, Any], dict[str, str]]:
    requests = backend.server.requests_to(RESPONSES)
    return requests[index].json, requests[index].headers


def test_a_streamed_request_reaches_the_backend_as_it_requires(codex_app, backend):
    with serve_app(codex_app()) as url:
        stream = client(url).responses.create(
            model="gpt-5.5",
            input="hello there",
            max_output_tokens=500,
            temperature=0.2,
            metadata={"purpose": "test"},
            stream=True,
            extra_headers={"session_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "x-codex-turn-metadata": "{}"},
        )
        events = list(stream)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "You said: hello there"
    body, headers = sent(backend)
    assert body["store"] is False and body["stream"] is True and body["instructions"] == ""
    assert body["include"] == ["reasoning.encrypted_content"]
    assert not {"max_output_tokens", "temperature", "metadata"} & set(body)
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}
    ]
    assert headers["chatgpt-account-id"] == "acct-plus-0001" and headers["originator"] == "codex_cli_rs"
    assert headers["session_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert body["prompt_cache_key"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert headers["x-codex-turn-metadata"] == "{}" and headers["user-agent"].startswith("codex_cli_rs/")
    assert headers["authorization"].startswith("Bearer ") and "client-key" not in headers["authorization"]


def test_a_whole_answer_is_folded_from_the_stream(codex_app, backend):
    with serve_app(codex_app()) as url:
        response = client(url).responses.create(model="gpt-5.5", input="fold me", instructions="be brief")
    assert response.output_text == "You said: fold me"
    assert response.usage.input_tokens == 120 and response.usage.output_tokens == 30
    body, _ = sent(backend)
    assert body["stream"] is True and body["instructions"] == "be brief"


@pytest.mark.parametrize("stream", [False, True])
def test_tools_and_reasoning_round_trip(codex_app, backend, stream):
    backend.script = ["tool", "text"]
    with serve_app(codex_app()) as url:
        api = client(url)
        request: dict[str, Any] = {
            "model": "gpt-5.5",
            "tools": [TOOL],
            "reasoning": {"effort": "high", "summary": "auto"},
        }
        if stream:
            with api.responses.stream(input="weather in Paris?", **request) as events:
                first = events.get_final_response()
        else:
            first = api.responses.create(input="weather in Paris?", **request)
        call = next(item for item in first.output if item.type == "function_call")
        reasoning = next(item for item in first.output if item.type == "reasoning")
        assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
        assert reasoning.encrypted_content == "enc-reasoning-1"
        history = [item.model_dump(exclude_none=True) for item in first.output]
        result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
        second = api.responses.create(
            input=[{"role": "user", "content": "weather in Paris?"}, *history, result], store=False, **request
        )
    assert second.output_text.startswith("You said:")
    body, _ = sent(backend)
    kinds = [item.get("type") for item in body["input"]]
    assert kinds[-3:] == ["reasoning", "function_call", "function_call_output"]
    assert body["input"][-3]["encrypted_content"] == "enc-reasoning-1"
    assert body["reasoning"] == {"effort": "high", "summary": "auto"} and body["tools"][0]["name"] == "get_weather"


def test_an_incomplete_final_event_is_rebuilt_from_the_finished_items(codex_app, backend):
    backend.script = ["incomplete"]
    with serve_app(codex_app()) as url, client(url).responses.stream(model="gpt-5.5", input="rebuild") as events:
        final = events.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == "You said: rebuild"


async def test_previous_response_id_is_served_by_the_gateways_store(codex_app, backend):
    app = codex_app()
    auth = {"authorization": f"Bearer {KEY}"}
    async with asgi_client(app) as http:
        first = await http.post(
            "/v1/responses", headers=auth, json={"model": "gpt-5.5", "input": "remember 42", "stream": True}
        )
        final = [json.loads(line[6:]) for line in first.text.splitlines() if line.startswith("data: ")][-1]
        rid = final["response"]["id"]
        second = await http.post(
            "/v1/responses",
            headers=auth,
            json={"model": "gpt-5.5", "input": "what number?", "previous_response_id": rid},
        )
        kept = await http.get(f"/v1/responses/{rid}", headers=auth)
        unknown = await http.post(
            "/v1/responses",
            headers=auth,
            json={"model": "gpt-5.5", "input": "x", "previous_response_id": "resp_nobody"},
        )
    assert second.status_code == 200 and second.json()["previous_response_id"] == rid
    body, _ = sent(backend)
    assert "previous_response_id" not in body
    texts = [item.get("type") for item in body["input"]]
    assert texts == ["message", "reasoning", "message", "message"]
    assert body["input"][1]["encrypted_content"] == "enc-reasoning-1"
    assert body["input"][2]["content"][0]["text"] == "You said: remember 42"
    assert kept.status_code == 200 and kept.json()["id"] == rid
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "previous_response_not_found"
    assert len(backend.bodies) == 2  # the unknown id never reached the backend


async def test_compact_goes_to_the_backends_compact_endpoint(codex_app, backend):
    app = codex_app()
    body = {
        "model": "gpt-5.5",
        "instructions": "you are terse",
        "input": [{"role": "user", "content": "long conversation"}, {"role": "assistant", "content": "ok"}],
        "max_output_tokens": 100,
    }
    async with asgi_client(app) as http:
        answer = await http.post("/v1/responses/compact", headers={"authorization": f"Bearer {KEY}"}, json=body)
        status = (await http.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == 200
    output = answer.json()["output"]
    assert output[-1] == {"type": "compaction", "id": "cmp_1", "encrypted_content": "enc-compacted"}
    upstream = backend.server.requests_to(COMPACT)[0]
    assert upstream.json["model"] == "gpt-5.5" and "max_output_tokens" not in upstream.json
    assert upstream.headers["chatgpt-account-id"] == "acct-plus-0001"
    assert status["requests"] == 1 and status["failures"] == 0


def test_a_client_body_the_backend_cannot_take_is_a_clear_400(codex_app, backend):
    with serve_app(codex_app()) as url:
        answer = httpx.post(
            url + "/v1/responses",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "gpt-5.5", "input": "x", "conversation": "conv_1"},
        )
    assert answer.status_code == 400 and "keeps no conversations" in answer.json()["error"]["message"]
    assert not backend.bodies


async def test_models_come_from_the_backend_per_plan(codex_app, backend):
    app = codex_app(accounts=("acct-plus-0001", "acct-free-0002"))
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        await gateway.discover_models()
        listed = {
            m["id"] for m in (await http.get("/v1/models", headers={"authorization": f"Bearer {KEY}"})).json()["data"]
        }
    free, plus = sorted(gateway.credentials, key=lambda c: c.label)
    assert [m.name for m in plus.discovered] == ["gpt-5.5", "gpt-5.4-mini", "codex-auto-review"]
    assert [m.name for m in free.discovered] == ["gpt-5.4-mini"]
    assert listed == {"gpt-5.5", "gpt-5.4-mini", "codex-auto-review"}
    asked = backend.server.requests_to("/backend-api/codex/models")
    assert {r.query["client_version"] for r in asked} == {"0.171.0"}
    assert {r.headers["chatgpt-account-id"] for r in asked} == {"acct-plus-0001", "acct-free-0002"}


async def test_the_periodic_model_refresh_follows_a_plan_change(codex_app, chatgpt, backend):
    app = codex_app()
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        await gateway.discover_models()
        chatgpt.accounts["acct-plus-0001"]["plan"] = "free"  # the subscription lapsed
        await gateway.providers["codex"].refresh_models(gateway.host)
        listed = {
            m["id"] for m in (await http.get("/v1/models", headers={"authorization": f"Bearer {KEY}"})).json()["data"]
        }
        refused = await http.post(
            "/v1/responses", headers={"authorization": f"Bearer {KEY}"}, json={"model": "gpt-5.5", "input": "x"}
        )
    assert listed == {"gpt-5.4-mini"}
    assert refused.status_code == 404
