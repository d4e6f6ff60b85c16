"""Call.post(decode_error=...): a provider reads error bodies its wire's translator does
not know (MiniMax's ``base_resp`` envelope), from the same bounded, redacted body."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest
from cliproxy import Credential, ErrorKind, GatewayError, ModelEntry, Provider, hookimpl
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

SECRET = "sk-envelope-secret-0123456789"
ENVELOPE = {"base_resp": {"status_code": 1002, "status_msg": f"rate limit exceeded for key {SECRET}"}}


def read_envelope(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    message = orjson.loads(body)["base_resp"]["status_msg"]
    return GatewayError(status=429, kind=ErrorKind.RATE_LIMITED, message=message, retry_after=7)


class EnvelopeProvider(Provider):
    name = "envelope"
    config_keys = ("envelope",)
    wire = "openai-chat"

    def __init__(self, url: str, own_decoder: bool) -> None:
        self.url = url
        self.own_decoder = own_decoder

    def load_config(self, key, node, host):
        node.nodes(key)
        return [Credential("envelope", self.name, "envelope", models=(ModelEntry("m-1"),))]

    async def send(self, call):
        return await call.post(
            self.url + "/chat",
            wire=self.wire,
            json=call.body_for(self.wire),
            headers={"authorization": f"Bearer {SECRET}"},
            decode_error=read_envelope if self.own_decoder else None,
        )


def plugin(url: str, own_decoder: bool) -> object:
    class Plugin:
        @hookimpl
        def register_providers(self, register):
            register(EnvelopeProvider(url, own_decoder))

    return Plugin()


@pytest.mark.parametrize("own_decoder", [True, False], ids=["provider-decoder", "translator"])
async def test_the_providers_decoder_reads_the_error_body(own_decoder, upstream: FakeUpstream):
    upstream.add("POST", "/chat", Reply.json(ENVELOPE, status=400))
    app = gateway_app({"envelope": [{}], "request-retry": 0}, plugins=[plugin(upstream.url, own_decoder)])
    body = {"model": "m-1", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as client:
        answer = await client.post("/v1/chat/completions", json=body)
    message = answer.json()["error"]["message"]
    if own_decoder:
        assert answer.status_code == 429 and answer.headers["retry-after"] == "7"
        assert message == "rate limit exceeded for key [redacted]"  # the decoder saw the redacted body
    else:  # the translator knows no such envelope: the status stands, the words are lost
        assert answer.status_code == 400 and "rate limit" not in message
