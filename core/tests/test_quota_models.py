"""A quota window that meters only some models (Copilot's premium requests): when it runs
out, those models rest until its reset and the others go on serving; a window of the
whole account still rests the whole account."""

from __future__ import annotations

import time

from cliproxy import Credential, DirectResponse, ModelEntry, Provider, Quota, QuotaWindow, hookimpl, ir
from cliproxy.app import gateway_of
from cliproxy.testing import asgi_client, gateway_app

RESET = time.time() + 7 * 86400


class MeteredProvider(Provider):
    name = "metered"
    config_keys = ("metered",)
    wire = "openai-chat"

    def __init__(self, quota: Quota) -> None:
        self._quota = quota

    def load_config(self, key, node, host):
        node.nodes(key)
        return [Credential("metered:1", self.name, "metered", models=(ModelEntry("premium-1"), ModelEntry("free-1")))]

    async def send(self, call):
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart("ok"),)))

    async def quota(self, credential, host):
        return self._quota


class Plugin:
    def __init__(self, quota: Quota) -> None:
        self.quota = quota

    @hookimpl
    def register_providers(self, register):
        register(MeteredProvider(self.quota))


def chat(model: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def test_exhausted_models_names_each_model_of_an_exhausted_window_with_its_reset():
    quota = Quota(
        windows=[
            QuotaWindow("premium", limit=300, remaining=0, resets_at=RESET, models=("a", "b")),
            QuotaWindow("chat", limit=50, remaining=10, resets_at=RESET),
        ]
    )
    assert quota.exhausted_models() == {"a": RESET, "b": RESET}
    assert quota.exhausted_until() is None, "no window of the whole account ran out"
    assert quota.windows[0].as_dict()["models"] == ["a", "b"] and "models" not in quota.windows[1].as_dict()


async def test_a_spent_window_of_some_models_rests_only_them():
    window = QuotaWindow("premium_interactions", limit=300, remaining=0, resets_at=RESET, models=("premium-1",))
    app = gateway_app({"metered": [{}]}, plugins=[Plugin(Quota(windows=[window]))])
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        free = await client.post("/v1/chat/completions", json=chat("free-1"))
        premium = await client.post("/v1/chat/completions", json=chat("premium-1"))
        cooldowns = await gateway_of(app).state.cooldowns()
    assert free.status_code == 200
    assert premium.status_code == 429 and premium.json()["error"]["code"] == "model_cooldown"
    rest = cooldowns["metered:1"]
    assert set(rest) == {"premium-1"}
    assert abs(rest["premium-1"].until - RESET) < 1 and "premium_interactions" in rest["premium-1"].reason


async def test_a_spent_window_of_the_whole_account_still_rests_the_account():
    window = QuotaWindow("chat", limit=50, remaining=0, resets_at=RESET)
    app = gateway_app({"metered": [{}]}, plugins=[Plugin(Quota(windows=[window]))])
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        free = await client.post("/v1/chat/completions", json=chat("free-1"))
    assert free.status_code == 429
