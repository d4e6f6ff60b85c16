"""Only upstream answers move the cooldown table.

A failure the gateway causes itself -- a provider that raises, a request body the door or
a translator refuses -- must not rest a credential: otherwise one client's odd request
rests a model for every other client (a tenant could keep a model down by repeating it).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from cliproxy import Call, ConfigNode, Credential, DirectResponse, ModelEntry, Provider, credential_id, hookimpl, ir
from cliproxy.testing import asgi_client, gateway_app


class TouchyProvider(Provider):
    """Answers "ok", but raises on a request whose user text says ``boom``."""

    name = "touchy"
    config_keys = ("touchy",)
    wire = "openai-chat"

    def load_config(self, key: str, node: ConfigNode, host: Any) -> list[Credential]:
        credentials = []
        for i, entry in enumerate(node.nodes(key)):
            models = tuple(ModelEntry(m) for m in entry.str_list("models"))
            entry.done()
            credentials.append(
                Credential(id=credential_id(self.name, str(i)), provider=self.name, label=f"touchy-{i}", models=models)
            )
        return credentials

    async def send(self, call: Call) -> DirectResponse:
        text = call.request.messages[-1].text
        if "boom" in text:
            raise ValueError("a bug in the provider")
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart("ok"),)))


class TouchyPlugin:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(TouchyProvider())


def chat(text: str) -> dict[str, Any]:
    return {"model": "touchy-model", "messages": [{"role": "user", "content": text}]}


async def _status(client: httpx.AsyncClient) -> list[Any]:
    return [c.get("cooldowns") for c in (await client.get("/v0/status")).json()["credentials"]]


def app() -> Any:
    config = {
        "api-keys": ["attacker", "victim"],
        "request-retry": 2,
        "touchy": [{"models": ["touchy-model"]}, {"models": ["touchy-model"]}],
    }
    return gateway_app(config, plugins=[TouchyPlugin()])


async def test_a_provider_that_raises_rests_nothing_and_is_not_failed_over(caplog) -> None:
    async with asgi_client(app()) as client:
        for _ in range(3):
            bad = await client.post(
                "/v1/chat/completions", json=chat("boom"), headers={"authorization": "Bearer attacker"}
            )
            assert bad.status_code == 500
            assert "touchy failed unexpectedly (ValueError)" in bad.json()["error"]["message"]
            assert "Traceback" not in bad.text
        assert all(not rests for rests in await _status(client))
        good = await client.post("/v1/chat/completions", json=chat("hello"), headers={"authorization": "Bearer victim"})
    assert good.status_code == 200 and good.json()["choices"][0]["message"]["content"] == "ok"
    raised = [r for r in caplog.records if r.name == "cliproxy.pipeline" and "failed unexpectedly" in r.getMessage()]
    assert len(raised) == 3  # once per request: the other credential was not tried with it


async def test_a_request_the_translator_refuses_is_not_blamed_on_the_provider(caplog) -> None:
    caplog.set_level(logging.INFO)
    async with asgi_client(app()) as client:
        refused = await client.post(
            "/v1/chat/completions",
            json={"model": "touchy-model", "messages": [{"role": "wizard", "content": "hi"}]},
            headers={"authorization": "Bearer attacker"},
        )
        assert refused.status_code == 400
        assert all(not c for c in await _status(client))
    blamed = [r.getMessage() for r in caplog.records if "touchy" in r.getMessage() and "reject" in r.getMessage()]
    assert blamed == []
