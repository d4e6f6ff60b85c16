"""The Coding Plan's remaining requests as the credential's quota in ``/v0/status``."""

from __future__ import annotations

import asyncio
import time

from cliproxy import gateway_of
from cliproxy.testing import asgi_client

KEY = "mm-api-key-0123456789abcdef"
AUTH = {"authorization": "Bearer client-key"}
REMAINS = "/v1/api/openplatform/coding_plan/remains"


async def status_of(client, until: str = "quota") -> dict:
    for _ in range(200):
        entry = (await client.get("/v0/status")).json()["credentials"][0]
        if until in entry:
            return entry
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {until} in {entry}")


async def test_the_plans_window_shows_in_status(minimax, minimax_app):
    async with asgi_client(minimax_app()) as client:
        status = await status_of(client)
    (window,) = status["quota"]["windows"]  # the speech model's window is not chat's
    assert window["name"] == "MiniMax-M2.5 5h" and window["unit"] == "requests"
    assert (window["limit"], window["remaining"], window["used"]) == (1500, 1263, 237)
    assert window["resets_at"].endswith("Z") and status["quota"]["plan"] == "coding plan"
    assert minimax.server.requests_to(REMAINS)[0].headers["authorization"] == f"Bearer {KEY}"


async def test_the_count_may_be_read_as_what_was_used(minimax, minimax_app):
    entry = {"api-key": KEY, "base-url": minimax.url, "coding-plan-count": "used"}
    async with asgi_client(minimax_app([entry])) as client:
        status = await status_of(client)
    assert status["quota"]["windows"][0]["remaining"] == 237


async def test_an_exhausted_window_rests_the_credential_until_it_resets(minimax, minimax_app):
    minimax.remains["model_remains"][0]["current_interval_usage_count"] = 0
    app = minimax_app()
    async with asgi_client(app) as client:
        await status_of(client)
        await gateway_of(app).read_quotas()  # (the first reading may race the status call)
        status = await status_of(client)
    assert status["state"] == "unhealthy" and "quota exhausted: MiniMax-M2.5 5h" in status["unhealthy"]["reason"]
    resets = minimax.remains["model_remains"][0]["end_time"] / 1000
    assert abs(status["unhealthy"]["seconds_left"] - (resets - time.time())) < 30


async def test_a_key_without_a_plan_gets_a_note(minimax, minimax_app):
    minimax.remains = {"base_resp": {"status_code": 1004, "status_msg": "no coding plan"}}
    async with asgi_client(minimax_app()) as client:
        status = await status_of(client)
    assert status["state"] == "ok" and status["quota"]["windows"] == []
    assert status["quota"]["note"] == "MiniMax reports no Coding Plan quota for this credential: no coding plan (1004)"


async def test_a_used_up_quota_answer_waits_for_the_windows_reset(minimax, minimax_app):
    app = minimax_app(**{"request-retry": 0})
    async with asgi_client(app) as client:
        await status_of(client)
        minimax.failure = {"base_resp": {"status_code": 1028, "status_msg": "token plan usage exceeded"}}
        body = {"model": "MiniMax-M2.5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        answer = await client.post("/v1/messages", json=body, headers=AUTH)
        status = await status_of(client)
    resets = minimax.remains["model_remains"][0]["end_time"] / 1000
    assert answer.status_code == 429 and "quota is used up" in answer.json()["error"]["message"]
    assert abs(float(answer.headers["retry-after"]) - (resets - time.time())) < 30
    assert status["cooldowns"]["MiniMax-M2.5"]["seconds_left"] > 3 * 3600
