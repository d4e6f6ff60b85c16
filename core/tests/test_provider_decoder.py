"""UpstreamResponse.decoder: a provider may hand the gateway a decoder made for one response."""

from __future__ import annotations

import attrs
import orjson
from cliproxy import Credential, ModelEntry, Provider, UpstreamResponse, hookimpl, ir
from cliproxy.testing import asgi_client, gateway_app

CHUNKS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"quiet "}}]}\n\n',
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"words"},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


class Shouting:
    """Wraps the wire's own decoder; what only this request knew: to shout."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def _loud(self, events):
        return [attrs.evolve(e, text=e.text.upper()) if isinstance(e, ir.TextDelta) else e for e in events]

    def feed(self, data: bytes):
        return self._loud(self.inner.feed(data))

    def close(self):
        return self._loud(self.inner.close())


class ShoutingProvider(Provider):
    name = "shouting"
    config_keys = ("shouting",)
    wire = "openai-chat"

    def load_config(self, key, node, host):
        node.nodes(key)
        return [Credential("shouting", self.name, "shouting", models=(ModelEntry("loud-1"),))]

    async def send(self, call):
        async def chunks():
            for chunk in CHUNKS:
                yield chunk

        decoder = Shouting(call.host.translator("openai-chat").stream_decoder())
        return UpstreamResponse(wire="openai-chat", chunks=chunks(), decoder=decoder)


class Plugin:
    @hookimpl
    def register_providers(self, register):
        register(ShoutingProvider())


async def test_the_providers_decoder_reads_the_stream_for_whole_and_streamed_answers():
    """The client speaks the upstream's wire, so without the decoder the stream would pass
    through untouched; with it, every byte is decoded by it."""
    body = {"model": "loud-1", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(gateway_app({"shouting": [{}]}, plugins=[Plugin()])) as client:
        whole = await client.post("/v1/chat/completions", json=body)
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
    assert whole.json()["choices"][0]["message"]["content"] == "QUIET WORDS"
    texts = [
        orjson.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in streamed.text.splitlines()
        if line.startswith("data: {") and '"choices":[{' in line
    ]
    assert "".join(texts) == "QUIET WORDS"
