"""Copilot's quota (``copilot_internal/user``) in ``/v0/status`` and ``cliproxy status``;
spent premium requests rest the premium models until the reset while the included
models go on; a spent chat allowance rests the account; Copilot's 402 ``quota_exceeded``
rests the model until the known reset instead of the whole credential for half an hour."""

from __future__ import annotations

import datetime as dt
import time

import httpx
from cliproxy.app import gateway_of
from cliproxy.cli import main as cli_main
from cliproxy.testing import Reply, asgi_client, serve_app
from cliproxy_copilot.testing import API, CLAUDE, CODEX, GITHUB_TOKEN, GPT, next_month, usage

AUTH = {"authorization": "Bearer client-key"}
RESET = next_month().strftime("%Y-%m-%dT%H:%M:%SZ")


def chat(model: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


async def test_the_quota_shows_in_status_with_remaining_premium_requests_and_the_reset(copilot, copilot_app):
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    quota = credential["quota"]
    assert quota["plan"] == "individual_pro" and quota["note"] == "chat: unlimited"
    (premium,) = quota["windows"]
    assert premium["name"] == "premium_interactions" and premium["unit"] == "requests"
    assert (premium["limit"], premium["remaining"], premium["used"], premium["used_percent"]) == (300, 120, 180, 60.0)
    assert premium["resets_at"] == RESET
    assert premium["models"] == [CLAUDE, CODEX], "the models premium requests pay for (gpt-4.1 is included)"
    sent = copilot.requests_to("/copilot_internal/user")[-1].headers
    assert sent["authorization"] == f"token {GITHUB_TOKEN}" and sent["editor-version"].startswith("vscode/")


def test_cliproxy_status_shows_the_remaining_premium_requests(copilot, copilot_app, capsys):
    app = copilot_app()
    with serve_app(app) as url:
        for _ in range(200):  # the gateway reads quotas in the background once serving
            if "quota" in httpx.get(url + "/v0/status").json()["credentials"][0]:
                break
            time.sleep(0.05)
        status = cli_main(["status", "--url", url])
    out = capsys.readouterr().out
    assert status == 0
    shown = RESET.replace("T", " ")[:16] + "Z"
    assert (
        f"quota (individual_pro): premium_interactions: 120/300 requests left, resets {shown}; chat: unlimited" in out
    )


async def test_spent_premium_requests_rest_the_premium_models_until_the_reset(copilot, copilot_app):
    copilot.usage = usage(premium_remaining=0)
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        premium = await client.post("/v1/chat/completions", json=chat(CLAUDE), headers=AUTH)
        included = await client.post("/v1/chat/completions", json=chat(GPT), headers=AUTH)
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert premium.status_code == 429 and included.status_code == 200
    assert credential["state"] == "cooling" and credential["unhealthy"] is None
    assert set(credential["cooldowns"]) == {CLAUDE, CODEX}
    assert credential["cooldowns"][CLAUDE]["until"] == RESET
    assert "premium_interactions" in credential["cooldowns"][CLAUDE]["reason"]
    assert [r.path for r in copilot.api_requests()] == [API + "/chat/completions"], "Copilot was not hammered"


async def test_paid_overage_keeps_premium_models_serving(copilot, copilot_app):
    copilot.usage = usage(premium_remaining=-1, overage=True)
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        premium = await client.post("/v1/chat/completions", json=chat(CLAUDE), headers=AUTH)
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert premium.status_code == 200 and credential["state"] == "ok"
    assert "paid overage permitted (301 of 300 used)" in credential["quota"]["note"]


async def test_a_spent_chat_allowance_rests_the_whole_account(copilot, copilot_app):
    spent = usage()
    spent["quota_snapshots"]["chat"] = {
        "entitlement": 50,
        "remaining": 0,
        "unlimited": False,
        "overage_permitted": False,
    }
    copilot.usage = spent
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        included = await client.post("/v1/chat/completions", json=chat(GPT), headers=AUTH)
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert included.status_code == 429
    assert credential["state"] == "unhealthy" and credential["unhealthy"]["until"] == RESET
    assert "chat" in credential["unhealthy"]["reason"]


async def test_copilots_402_quota_exceeded_rests_the_model_until_the_reset(copilot, copilot_app):
    copilot.server.add(
        "POST",
        API + "/v1/messages",
        Reply.json({"error": {"message": "You have no quota", "code": "quota_exceeded"}}, status=402),
    )
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()  # (120 left: the quota did not see it coming)
        refused = await client.post(
            "/v1/messages",
            json={"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": "client-key"},
        )
        included = await client.post("/v1/chat/completions", json=chat(GPT), headers=AUTH)
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert refused.status_code == 429 and refused.json()["type"] == "error"
    assert "You have no quota" in refused.json()["error"]["message"]
    wait = float(refused.headers["retry-after"])
    assert abs(wait - (next_month() - dt.datetime.now(dt.UTC)).total_seconds()) < 120
    assert included.status_code == 200
    assert credential["unhealthy"] is None and set(credential["cooldowns"]) == {CLAUDE}
    assert credential["cooldowns"][CLAUDE]["until"][:13] == RESET[:13]
