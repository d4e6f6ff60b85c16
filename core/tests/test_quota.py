"""Provider.quota: what an account may still use, in /v0/status, resting an exhausted
account until its reset and ending a rest at a known reset."""

from __future__ import annotations

from typing import Any

from cliproxy import (
    Call,
    ConfigNode,
    Cooldown,
    Credential,
    DirectResponse,
    Host,
    ModelEntry,
    Provider,
    Quota,
    QuotaWindow,
    credential_id,
    hookimpl,
    ir,
)
from cliproxy.app import gateway_of
from cliproxy.testing import FakeClock, asgi_client, gateway_app

NOW = 1_800_000_000.0


class MeteredProvider(Provider):
    """Answers "ok"; its accounts' quotas are whatever the test sets in ``windows``."""

    name = "metered"
    config_keys = ("metered",)
    wire = "openai-chat"

    def __init__(self) -> None:
        self.windows: dict[str, list[QuotaWindow]] = {}
        self.asked: list[str] = []

    def load_config(self, key: str, node: ConfigNode, host: Host) -> list[Credential]:
        creds = []
        for i, entry in enumerate(node.nodes(key)):
            name = entry.str("name", required=True)
            entry.done()
            creds.append(
                Credential(
                    id=credential_id(self.name, name),
                    provider=self.name,
                    label=f"metered {i}",
                    models=(ModelEntry("m"),),
                )
            )
        return creds

    async def send(self, call: Call) -> DirectResponse:
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart("ok"),)))

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        self.asked.append(credential.id)
        windows = self.windows.get(credential.id)
        return None if windows is None else Quota(windows=windows, plan="plus")


def app_with(provider: MeteredProvider) -> Any:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(provider)

    return gateway_app({"metered": [{"name": "a"}, {"name": "b"}]}, plugins=[Plugin()])


async def test_quota_is_shown_per_credential_in_status() -> None:
    provider = MeteredProvider()
    app = app_with(provider)
    FakeClock(NOW).install(app)
    a = credential_id("metered", "a")
    provider.windows[a] = [
        QuotaWindow("5h", used_percent=83.0, resets_at=NOW + 3600),
        QuotaWindow("weekly", used=40, limit=100),
    ]
    async with asgi_client(app) as client:
        await gateway_of(app).read_quotas()
        status = (await client.get("/v0/status")).json()
    by_id = {c["id"]: c for c in status["credentials"]}
    quota = by_id[a]["quota"]
    assert quota["plan"] == "plus"
    assert quota["windows"][0] == {"name": "5h", "used_percent": 83.0, "resets_at": "2027-01-15T09:00:00Z"}
    assert quota["windows"][1]["used_percent"] == 40.0 and quota["windows"][1]["limit"] == 100
    assert "quota" not in by_id[credential_id("metered", "b")]  # its provider said nothing for it


async def test_an_exhausted_account_rests_until_its_reset_and_is_used_again_after() -> None:
    provider = MeteredProvider()
    app = app_with(provider)
    clock = FakeClock(NOW).install(app)
    a, b = credential_id("metered", "a"), credential_id("metered", "b")
    provider.windows[a] = [QuotaWindow("premium", remaining=0, limit=300, resets_at=NOW + 600)]
    async with asgi_client(app) as client:
        gateway = gateway_of(app)
        await gateway.read_quotas()
        resting = await gateway.state.cooldowns()
        assert resting[a]["*"].until == NOW + 600 and "quota exhausted: premium" in resting[a]["*"].reason
        assert b not in resting
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        route = gateway.router.resolve("m")
        assert [c.credential.id for c in (await gateway.selector.select(route)).ordered] == [b]
        clock.advance(601)
        assert {c.credential.id for c in (await gateway.selector.select(route)).ordered} == {a, b}


async def test_a_rest_past_a_known_reset_ends_at_the_reset() -> None:
    provider = MeteredProvider()
    app = app_with(provider)
    FakeClock(NOW).install(app)
    a = credential_id("metered", "a")
    provider.windows[a] = [QuotaWindow("5h", used_percent=20.0, resets_at=NOW + 300)]
    async with asgi_client(app) as client:
        gateway = gateway_of(app)
        await gateway.state.set_cooldown(a, None, Cooldown(until=NOW + 3600, reason="usage limit (429)", status=429))
        await gateway.state.set_cooldown(a, "m", Cooldown(until=NOW + 7200, reason="timeout (504)", status=504))
        await gateway.read_quotas()
        resting = (await gateway.state.cooldowns())[a]
        await client.get("/healthz")
    assert resting["*"].until == NOW + 300  # the account rest ends when the window resets
    assert resting["m"].until == NOW + 7200  # an outage is not a quota: left as it was
