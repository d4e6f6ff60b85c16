"""The embeddings doors: ``POST /v1/embeddings`` (OpenAI's shape) and Gemini's
``models/{model}:embedContent`` and ``:batchEmbedContents`` (under ``/v1beta`` and ``/v1``).

They are doors like the others (auth, body limits, model prefixes and aliases, credential
pools, cooldowns, failover, usage per client key, the access log, keepalives): the request
is read into an :class:`~cliproxy.embedding.EmbeddingRequest`, dispatched with
``action="embed"`` (which calls ``Provider.embed``), and the vectors are written in the
door's shape. Errors come in the door's wire format (the chat wire's for ``/v1/embeddings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from cliproxy.accounting import settle
from cliproxy.client import ClientRequest
from cliproxy.doors import DoorEndpoint
from cliproxy.eager import finish_shielded
from cliproxy.embedding import EmbeddingRequest, Embeddings
from cliproxy.errors import GatewayError
from cliproxy.estimate import estimate_tokens
from cliproxy.gateway import Gateway
from cliproxy.ir import Usage
from cliproxy.outcome import Outcome
from cliproxy.rate_headers import with_rate_headers
from cliproxy.respond import JSON_HEADERS
from cliproxy.translate import ClientTranslator, Door
from cliproxy.wire import openai_embeddings
from cliproxy.wire.gemini import embeddings as gemini_embeddings

__all__ = ["EmbeddingsDoor", "embedding_routes"]


@attrs.frozen
class EmbeddingCodec:
    """How one door reads its requests and writes its answers."""

    decode: Callable[[Mapping[str, Any]], EmbeddingRequest]
    encode: Callable[[Embeddings, ClientRequest], bytes]


def _openai_encode(answer: Embeddings, client: ClientRequest) -> bytes:
    encoding = client.body.get("encoding_format") or "float"  # (checked when the request was read)
    return openai_embeddings.encode_response(answer, client.model, encoding)


OPENAI = EmbeddingCodec(
    decode=lambda body: openai_embeddings.decode_request(body)[0],
    encode=_openai_encode,
)
GEMINI_SINGLE = EmbeddingCodec(
    decode=lambda body: gemini_embeddings.decode_request(body, batch=False),
    encode=lambda answer, client: gemini_embeddings.encode_response(answer, batch=False),
)
GEMINI_BATCH = EmbeddingCodec(
    decode=lambda body: gemini_embeddings.decode_request(body, batch=True),
    encode=lambda answer, client: gemini_embeddings.encode_response(answer, batch=True),
)


class EmbeddingsDoor(DoorEndpoint):
    """One embeddings door; ``translator`` gives its error shape."""

    def __init__(
        self, gateway: Gateway, translator: ClientTranslator, door: Door, codec: EmbeddingCodec, label: str
    ) -> None:
        super().__init__(gateway, translator, door)
        self.codec = codec
        self.label = label

    async def _client_request(
        self, scope: Scope, receive: Receive, headers: dict[str, str], task: asyncio.Task[Any] | None
    ) -> ClientRequest | None:
        client = await super()._client_request(scope, receive, headers, task)
        if client is None:
            return None
        if client.thinking is not None:
            raise GatewayError.invalid(
                f"'{client.model}' has a thinking suffix; embedding models do not think: drop it", param="model"
            )
        return attrs.evolve(client, action="embed", embedding=self.codec.decode(client.body))

    async def _respond(self, gateway: Gateway, outcome: Outcome, send: Send) -> None:
        answer = outcome.result
        assert isinstance(answer, Embeddings)
        sent: tuple[Usage, GatewayError | None] | None = None
        try:
            body = self.codec.encode(answer, outcome.call.client)
            headers = with_rate_headers(outcome.call.client, JSON_HEADERS)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            sent = (Usage(input_tokens=counted_tokens(answer, outcome.call.client.embedding)), None)
        finally:
            await finish_shielded(settle(gateway, outcome, sent))


def counted_tokens(answer: Embeddings, request: EmbeddingRequest | None) -> int | None:
    """The input tokens an embeddings request is counted for: what the upstream reported,
    else (Gemini's API reports none) an estimate from the inputs -- four characters a
    token, a token-id input its length -- so usage, budgets and ``tpm`` do not count it
    as free."""
    if answer.input_tokens is not None or request is None:
        return answer.input_tokens
    return sum(estimate_tokens(item) if isinstance(item, str) else len(item) for item in request.inputs)


def embedding_routes(gateway: Gateway) -> list[BaseRoute]:
    """The embeddings doors of the wires the gateway serves."""
    translators = gateway.translators
    routes: list[BaseRoute] = []
    if translators.has_client("openai-chat"):
        door = Door("/v1/embeddings", stream=False)
        endpoint = EmbeddingsDoor(gateway, translators.client("openai-chat"), door, OPENAI, "openai-embeddings")
        routes.append(Route(door.path, endpoint, methods=["POST"]))
    if translators.has_client("gemini"):
        for version in ("v1beta", "v1"):
            for method, codec in (("embedContent", GEMINI_SINGLE), ("batchEmbedContents", GEMINI_BATCH)):
                door = Door(f"/{version}/models/{{model:path}}:{method}", model_param="model", stream=False)
                endpoint = EmbeddingsDoor(gateway, translators.client("gemini"), door, codec, "gemini-embeddings")
                routes.append(Route(door.path, endpoint, methods=["POST"]))
    return routes
