"""proxy-url: HTTP and SOCKS proxies, per gateway and per entry, for calls and refreshes."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import cliproxy_openai
import pytest
from cliproxy import ConfigError
from cliproxy.config import load_config
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

ANSWER = Reply.json(
    {
        "id": "1",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "via proxy"}, "finish_reason": "stop"}],
    }
)
BODY = {"model": "m", "messages": [{"role": "user", "content": "x"}]}


class Socks5Server:
    """A minimal SOCKS5 proxy (no auth, CONNECT only) that counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            server = await asyncio.start_server(self._client, sock=self._sock)
            async with server:
                await server.serve_forever()

        self._loop.run_until_complete(main())

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        _version, count = await reader.readexactly(2)
        await reader.readexactly(count)
        writer.write(b"\x05\x00")
        _, _cmd, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


def compat(base_url: str, **entry) -> dict:
    return {"name": "u", "base-url": base_url, "models": ["m"], **entry}


async def test_gateway_http_proxy_carries_the_call():
    with FakeUpstream() as proxy:
        proxy.add("POST", "/v1/chat/completions", ANSWER)
        config = {"proxy-url": proxy.url, "openai-compatibility": [compat("http://upstream.invalid:9/v1")]}
        async with asgi_client(gateway_app(config, plugins=[cliproxy_openai])) as client:
            reply = await client.post("/v1/chat/completions", json=BODY)
    assert reply.json()["choices"][0]["message"]["content"] == "via proxy"
    assert proxy.requests[0].headers["host"] == "upstream.invalid:9"


async def test_entry_proxy_direct_overrides_the_gateway_proxy(upstream):
    upstream.add("POST", "/v1/chat/completions", ANSWER)
    config = {
        "proxy-url": "http://127.0.0.1:9",
        "openai-compatibility": [compat(upstream.url + "/v1", **{"proxy-url": "direct"})],
    }
    async with asgi_client(gateway_app(config, plugins=[cliproxy_openai])) as client:
        reply = await client.post("/v1/chat/completions", json=BODY)
    assert reply.status_code == 200


async def test_socks5_proxy_per_entry(upstream):
    upstream.add("POST", "/v1/chat/completions", ANSWER)
    socks = Socks5Server()
    config = {
        "openai-compatibility": [compat(upstream.url + "/v1", **{"proxy-url": f"socks5://127.0.0.1:{socks.port}"})]
    }
    async with asgi_client(gateway_app(config, plugins=[cliproxy_openai])) as client:
        reply = await client.post("/v1/chat/completions", json=BODY)
    assert reply.json()["choices"][0]["message"]["content"] == "via proxy"
    assert socks.connections >= 1


@pytest.mark.parametrize("value", ["ftp://x:1", "not a url", "socks5://"])
def test_bad_proxy_urls_are_config_errors(value):
    with pytest.raises(ConfigError, match="proxy-url"):
        load_config({"proxy-url": value})


class ProxiedTokenType:
    """Token files whose credentials name their own proxy-url."""

    type = "proxied"
    provider = "proxied"
    refresh_lead = 60.0

    def load(self, path, data, host):
        from cliproxy import Credential, ModelEntry, TokenSet

        cred = Credential(
            "proxied:1", self.provider, path.name, models=(ModelEntry("p-1"),), proxy_url=data["proxy_url"]
        )
        return [(cred, TokenSet("old", "r1", 1))]

    def dump(self, tokens, previous):
        return {**previous, "access_token": tokens.access_token}

    async def refresh(self, tokens, http, proxy):
        from cliproxy import TokenSet

        async with http.post("http://tokens.invalid/token", proxy=proxy) as response:
            data = await response.json()
        return TokenSet(data["access_token"], "r2", 4_000_000_000)


async def test_token_refresh_goes_through_the_credentials_proxy(tmp_path):
    import json

    from cliproxy import DirectResponse, Provider, hookimpl, ir

    class TokenProvider(Provider):
        name = "proxied"
        config_keys = ()

        def load_config(self, key, node, host):
            return []

        async def send(self, call):
            token = await call.host.tokens.access_token(call.credential)
            return DirectResponse(response=ir.Response(id="x", model=call.model, parts=[ir.TextPart(token)]))

    class Plugin:
        @hookimpl
        def register_auth_types(self, register):
            register(ProxiedTokenType())

        @hookimpl
        def register_providers(self, register):
            register(TokenProvider())

    with FakeUpstream() as proxy:
        proxy.add("POST", "/token", Reply.json({"access_token": "fresh"}))
        (tmp_path / "t.json").write_text(json.dumps({"type": "proxied", "proxy_url": proxy.url}))
        app = gateway_app({"auth-dir": str(tmp_path)}, plugins=[Plugin()])
        async with asgi_client(app) as client:
            reply = await client.post(
                "/v1/chat/completions", json={"model": "p-1", "messages": [{"role": "user", "content": "x"}]}
            )
    assert reply.json()["choices"][0]["message"]["content"] == "fresh"
    assert proxy.requests_to("/token")[0].headers["host"] == "tokens.invalid"
