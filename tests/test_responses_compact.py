"""``POST /v1/responses/compact`` for a model whose upstream has no compact endpoint: a
clear 400 in OpenAI's shape, nothing sent upstream, nothing rested. (The Codex plugin's
tests cover a provider that compacts.)"""

from __future__ import annotations

from typing import Any

import cliproxy_openai
import openai
import pytest
from cliproxy.app import gateway_of
from cliproxy.testing import FakeUpstream, asgi_client, gateway_app, serve_app

KEY = "client-key"


def config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "api-keys": [KEY],
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "gpt-4o", "alias": "oa"}]},
            {
                "name": "responses",
                "wire": "responses",
                "base-url": upstream.url + "/v1",
                "models": [{"name": "gpt-5", "alias": "rs"}],
            },
        ],
    }


@pytest.mark.parametrize("model", ["oa", "rs"])
async def test_compact_on_an_upstream_without_a_compact_endpoint_is_a_clear_400(upstream, model):
    app = gateway_app(config(upstream), plugins=[cliproxy_openai])
    body = {"model": model, "input": [{"role": "user", "content": "hi"}], "instructions": "be brief"}
    async with asgi_client(app) as http:
        answer = await http.post("/v1/responses/compact", json=body, headers={"authorization": f"Bearer {KEY}"})
        cooldowns = await gateway_of(app).state.cooldowns()
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "compact_not_supported" and "/v1/responses/compact" in error["message"]
    assert "openai" in error["message"] and "whole conversation" in error["message"]
    assert not upstream.requests and not cooldowns


def test_the_openai_sdk_sees_the_400(upstream):
    with serve_app(gateway_app(config(upstream), plugins=[cliproxy_openai])) as url:
        client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.post("/responses/compact", body={"model": "oa", "input": []}, cast_to=object)
    assert caught.value.status_code == 400 and "compact endpoint" in str(caught.value)
