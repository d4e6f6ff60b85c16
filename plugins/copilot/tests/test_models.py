"""Copilot's model list: read from ``{api}/models`` at start-up, again every
``models_refresh`` seconds and on ``POST /v0/models/refresh``; chat models only, those
switched off left out; and used for the endpoint of configured models too."""

from __future__ import annotations

import asyncio

from cliproxy.app import gateway_of
from cliproxy.testing import Reply, asgi_client
from cliproxy_copilot.testing import API, CLAUDE, CODEX, GITHUB_TOKEN, GPT

AUTH = {"authorization": "Bearer client-key"}


async def model_ids(client) -> set[str]:
    return {m["id"] for m in (await client.get("/v1/models", headers=AUTH)).json()["data"]}


def new_model(model: str, **extra) -> dict:
    return {
        "id": model,
        "vendor": "OpenAI",
        "capabilities": {"type": "chat"},
        "supported_endpoints": ["/responses"],
        **extra,
    }


async def test_the_models_listed_are_the_accounts_chat_models_and_refresh_on_request(copilot, copilot_app):
    copilot.models.append(new_model("gpt-switched-off", policy={"state": "disabled"}))
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).discover_models()
        before = await model_ids(client)
        copilot.models = [m for m in copilot.models if m["id"] != GPT] + [new_model("gpt-6-codex")]
        refreshed = await client.post("/v0/models/refresh", json={})
        after = await model_ids(client)
    assert before == {CLAUDE, CODEX, GPT}, "no embeddings, nothing switched off"
    assert refreshed.status_code == 200 and set(refreshed.json()["models"]) == {CLAUDE, CODEX, "gpt-6-codex"}
    assert after == {CLAUDE, CODEX, "gpt-6-codex"}
    sent = copilot.requests_to(API + "/models")[-1].headers
    assert sent["authorization"].startswith("Bearer tid=fake") and sent["copilot-integration-id"] == "vscode-chat"


async def test_the_models_are_read_again_periodically(copilot, copilot_app):
    app = copilot_app()
    gateway_of(app).providers["copilot"].models_refresh = 0.05
    async with asgi_client(app) as client:
        await gateway_of(app).discover_models()
        copilot.models.append(new_model("gpt-6-codex"))
        for _ in range(100):
            if "gpt-6-codex" in await model_ids(client):
                break
            await asyncio.sleep(0.05)
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-6-codex", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
    assert answer.status_code == 200
    assert copilot.api_requests()[-1].path == API + "/responses"


async def test_configured_models_still_go_to_the_endpoint_the_list_names(copilot, copilot_app):
    app = copilot_app([copilot.entry(models=[{"name": CODEX, "alias": "codex"}, {"name": CLAUDE, "alias": "sonnet"}])])
    async with asgi_client(app) as client:
        codex = await client.post(
            "/v1/chat/completions",
            json={"model": "codex", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        sonnet = await client.post(
            "/v1/chat/completions",
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        listed = await model_ids(client)
    assert codex.status_code == sonnet.status_code == 200
    assert [r.path for r in copilot.api_requests()] == [API + "/responses", API + "/v1/messages"]
    assert listed == {"codex", "sonnet"}


async def test_without_a_model_list_requests_go_where_the_model_id_suggests(copilot, copilot_app):
    copilot.server.add("GET", API + "/models", Reply(status=500, body=b"oops", content_type="text/plain"))
    async with asgi_client(copilot_app()) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-5.3-codex", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        listed = await model_ids(client)
    assert answer.status_code == 200
    assert copilot.api_requests()[-1].path == API + "/responses"
    assert {GPT, CLAUDE, CODEX} <= listed, "the built-in catalogue routes meanwhile"
    assert GITHUB_TOKEN not in str(listed)
