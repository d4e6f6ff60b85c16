"""The Host: what plugins are handed instead of the gateway, also while a reload stages
a new config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cliproxy
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    Host,
    ModelEntry,
    Provider,
    credential_id,
    hookimpl,
    ir,
)
from cliproxy.app import gateway_of, reload_app
from cliproxy.gateway import Gateway
from cliproxy.testing import asgi_client, gateway_app

PLUGIN_SOURCES = sorted(Path(__file__).parents[2].glob("plugins/*/src/**/*.py")) + sorted(
    Path(__file__).parents[2].glob("examples/*/src/**/*.py")
)


class Recorder(Provider):
    """Records what it is handed, and answers with the config's greeting."""

    name = "recorder"
    config_keys = ("recorder",)
    wire = "openai-chat"

    def __init__(self) -> None:
        self.handed: list[tuple[str, Any]] = []

    def load_config(self, key: str, node: ConfigNode, host: Host) -> list[Credential]:
        self.handed.append(("load_config", host))
        block = node.node(key)
        greeting = block.str("greeting", required=True)
        block.done()
        return [
            Credential(
                id=credential_id(self.name, greeting), provider=self.name, label=greeting, models=(ModelEntry("m"),)
            )
        ]

    async def send(self, call: Call) -> DirectResponse:
        self.handed.append(("send", call.host))
        greeting = call.host.config.root.node("recorder").str("greeting")
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart(greeting),)))

    async def start(self, host: Host) -> None:
        self.handed.append(("start", host))
        assert [c.label for c in host.credentials(self.name)] == ["hello"]


def app_for(provider: Recorder, tmp_path: Path, greeting: str = "hello") -> Any:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(provider)

    return gateway_app({"recorder": {"greeting": greeting}, "auth-dir": str(tmp_path)}, plugins=[Plugin()])


async def test_plugins_get_a_host_never_the_gateway(tmp_path: Path) -> None:
    provider = Recorder()
    app = app_for(provider, tmp_path)
    async with asgi_client(app) as client:
        answer = await client.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
        )
    assert answer.json()["choices"][0]["message"]["content"] == "hello"
    assert [where for where, _ in provider.handed] == ["load_config", "start", "send"]
    for _, handed in provider.handed:
        assert isinstance(handed, Host) and not isinstance(handed, Gateway)
    host = gateway_of(app).host
    assert host.auth_dir == tmp_path and host.clock() > 0
    assert host.translator("anthropic").name == "anthropic"


async def test_a_reload_stages_the_new_config_on_a_host_of_its_own(tmp_path: Path) -> None:
    provider = Recorder()
    app = app_for(provider, tmp_path)
    async with asgi_client(app) as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        before = (await client.post("/v1/chat/completions", json=body)).json()
        result = await reload_app(app, {"recorder": {"greeting": "bonjour"}, "auth-dir": str(tmp_path)})
        after = (await client.post("/v1/chat/completions", json=body)).json()
    loads = [host for where, host in provider.handed if where == "load_config"]
    assert loads[1].config.root.node("recorder").str("greeting") == "bonjour"  # it saw the new config
    assert loads[1] is not gateway_of(app).host
    assert result.credentials_added == ("bonjour",) and result.credentials_removed == ("hello",)
    assert before["choices"][0]["message"]["content"] == "hello"
    assert after["choices"][0]["message"]["content"] == "bonjour"


def test_no_plugin_module_mentions_the_gateway() -> None:
    """Plugins use the public contract only: no plugin module imports or annotates the
    internal Gateway, or reaches into ``gateway.<attribute>``."""
    offenders = []
    for path in PLUGIN_SOURCES:
        text = path.read_text()
        if "cliproxy.gateway" in text or "Gateway" in text.replace("GatewayError", "") or "gateway." in text:
            offenders.append(str(path))
    assert offenders == []


def test_the_public_api_exports_the_contract() -> None:
    for name in (
        "Host",
        "Provider",
        "Call",
        "AuthType",
        "Quota",
        "QuotaWindow",
        "StateStore",
        "TokenManager",
        "reload_app",
    ):
        assert name in cliproxy.__all__ and getattr(cliproxy, name) is not None
