"""The ``/v1/responses`` doors with the gateway's response store.

A request naming a ``previous_response_id`` the gateway kept for the same caller gets
that conversation in front of its input (the new request's ``instructions`` apply, as on
OpenAI); an id nobody kept -- or kept for another caller -- gets OpenAI's 404, unless the
model is served by a Responses upstream, which keeps its own responses and receives the
request as sent. After a successful answer to a request with ``store`` not false,
produced by the gateway rather than passed through from a Responses upstream, the answer
is kept for its caller, linked to the answer it continued (see
:mod:`cliproxy.response_store`).

``GET`` and ``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items`` read
and forget what the gateway kept for the caller; responses a Responses upstream keeps
itself are not in the gateway's store, so these endpoints do not see them. A Responses
upstream that keeps nothing (``Provider.stores_responses`` False: the Codex backend) is
treated like an upstream of another wire: the gateway keeps and continues its answers.

``POST /v1/responses/compact`` goes to the model's provider (``Provider.compact``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import orjson
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from cliproxy.asgi import header_map, query_map
from cliproxy.auth import ANONYMOUS
from cliproxy.client import ClientIdentity, ClientRequest
from cliproxy.doors import DoorEndpoint, _internal, inbound, send_error
from cliproxy.errors import GatewayError
from cliproxy.gateway import Gateway
from cliproxy.outcome import Outcome
from cliproxy.respond import respond
from cliproxy.response_store import NotKept, ResponseStore, StoredResponse
from cliproxy.state.base import MAX_LINKS
from cliproxy.translate import ClientTranslator, Door
from cliproxy.wire.common import loads
from cliproxy.wire.openai_responses.common import WIRE
from cliproxy.wire.openai_responses.continuation import (
    continued_body,
    final_response,
    input_items,
    not_found,
    not_kept,
)
from cliproxy.wire.openai_responses.stored import (
    deleted,
    input_items_page,
    response_not_found,
    response_not_kept,
    store_off,
)

__all__ = [
    "COMPACT_PATH",
    "CompactEndpoint",
    "ContinuedRequest",
    "ResponsesDoor",
    "StoredResponseEndpoint",
    "compact_routes",
    "door_endpoint",
    "owner_of",
    "stored_response_routes",
]

_KEPT_STATUSES = ("completed", "incomplete")


def door_endpoint(gateway: Gateway, translator: ClientTranslator, door: Door) -> DoorEndpoint:
    """The endpoint for ``door``: a :class:`ResponsesDoor` for the Responses wire's doors
    while ``responses-store`` is enabled, else a plain one."""
    if translator.name == WIRE and door.action != "models" and gateway.responses is not None:
        endpoint: DoorEndpoint = ResponsesDoor(gateway, translator, door, gateway.responses)
    else:
        endpoint = DoorEndpoint(gateway, translator, door)
    return endpoint


class ResponsesDoor(DoorEndpoint):
    """A Responses door that continues and keeps the answers it produces."""

    def __init__(self, gateway: Gateway, translator: ClientTranslator, door: Door, store: ResponseStore) -> None:
        super().__init__(gateway, translator, door)
        self.store = store

    async def _client_request(
        self, scope: Scope, receive: Receive, headers: dict[str, str], task: asyncio.Task[Any] | None
    ) -> ClientRequest | None:
        client = await super()._client_request(scope, receive, headers, task)
        previous = None if client is None else client.body.get("previous_response_id")
        if client is None or not isinstance(previous, str) or not previous:
            return client
        kept = await self.store.conversation(previous, owner_of(client.identity))
        on_responses = self._on_responses_upstream(client.route_model)
        if kept is None:
            if on_responses:
                return client  # that upstream keeps its own responses: pass it through
            raise not_found(previous)
        if isinstance(kept, NotKept):
            raise not_kept(previous, kept.size, kept.limit)
        earlier = kept.items
        expanded = continued_body(client.body, earlier)
        request = client.translator.decode_request(expanded, model=client.model, stream=client.stream)
        # The body keeps the id, so the answer echoes it -- except for a pool with a
        # Responses upstream, which would receive the body as sent and not know the id.
        body = expanded if on_responses else {**expanded, "previous_response_id": previous}
        fields: dict[str, Any] = {
            field.alias or field.name: getattr(client, field.name) for field in attrs.fields(ClientRequest)
        }
        # raw follows the body: it now holds kept output the client never sent (see Call.body_for)
        fields.update(body=body, raw=orjson.dumps(body), ir=request)
        if len(kept.records) < MAX_LINKS:
            return ContinuedRequest(**fields, previous=previous, new_input=input_items(client.body))
        # a chain this long starts over: the new turn is kept with the whole conversation
        return ContinuedRequest(**fields, previous=None, new_input=[*earlier, *input_items(client.body)])

    def _on_responses_upstream(self, model: str) -> bool:
        """Whether any credential serving ``model`` speaks the Responses wire itself and
        keeps its answers (``Provider.stores_responses``)."""
        gateway = self.gateway
        for candidate in gateway.router.resolve(model):
            credential = candidate.credential
            provider = gateway.providers.get(credential.provider)
            wire = getattr(credential.settings, "wire", None) or getattr(provider, "wire", None)
            if wire == WIRE and getattr(provider, "stores_responses", True):
                return True
        return False

    async def _respond(self, gateway: Gateway, outcome: Outcome, send: Send) -> None:
        client = outcome.call.client
        if client.action != "generate" or client.body.get("store") is False or self._kept_upstream(outcome):
            await respond(gateway, outcome, send)
            return
        if isinstance(client, ContinuedRequest):
            items, previous = client.new_input, client.previous
        else:
            items, previous = input_items(client.body), None
        keeper = _Keeper(send, self.store, client.stream, items, owner_of(client.identity), previous)
        await respond(gateway, outcome, keeper)
        if keeper.record is not None:
            await self.store.save(keeper.record)

    def _kept_upstream(self, outcome: Outcome) -> bool:
        """The answer passes through from a Responses upstream that keeps it itself."""
        if not outcome.passthrough:
            return False
        provider = self.gateway.providers.get(outcome.call.credential.provider)
        return getattr(provider, "stores_responses", True)


@attrs.define(eq=False)
class ContinuedRequest(ClientRequest):
    """A request that continues a kept answer, its conversation put in front of its input.

    Attributes:
        previous: The id of the answer its own answer is kept as a continuation of (None:
            it is kept with the whole conversation, starting a new chain).
        new_input: The input items the answer is kept with.
    """

    previous: str | None = None
    new_input: list[Any] = attrs.Factory(list)


def owner_of(identity: ClientIdentity | None) -> str:
    """Whom an answer to ``identity`` is kept for."""
    return (identity or ANONYMOUS).owner


def stored_response_routes(gateway: Gateway) -> list[BaseRoute]:
    """The routes reading and deleting kept responses, when the gateway has a Responses
    door (whether ``responses-store`` is enabled or not: disabled, they say so)."""
    if not gateway.translators.has_client(WIRE):
        return []
    translator = gateway.translators.client(WIRE)
    return [
        Route(
            "/v1/responses/{response_id}",
            StoredResponseEndpoint(gateway, translator),
            methods=["GET", "DELETE"],
        ),
        Route(
            "/v1/responses/{response_id}/input_items",
            StoredResponseEndpoint(gateway, translator, items=True),
            methods=["GET"],
        ),
    ]


COMPACT_PATH = "/v1/responses/compact"


class CompactEndpoint(DoorEndpoint):
    """``POST /v1/responses/compact``: the model's provider compacts the conversation
    (``Provider.compact``; the Codex backend does), with the selection, failover and
    cooldowns of any request. Other providers answer a 400 that says so."""

    async def _client_request(
        self, scope: Scope, receive: Receive, headers: dict[str, str], task: asyncio.Task[Any] | None
    ) -> ClientRequest | None:
        client = await super()._client_request(scope, receive, headers, task)
        if client is not None:
            client.action = "compact"
        return client


def compact_routes(gateway: Gateway) -> list[BaseRoute]:
    """The compact route, when the gateway has a Responses door."""
    if not gateway.translators.has_client(WIRE):
        return []
    endpoint = CompactEndpoint(gateway, gateway.translators.client(WIRE), Door(COMPACT_PATH, stream=False))
    return [Route(COMPACT_PATH, endpoint, methods=["POST"])]


class StoredResponseEndpoint:
    """``GET``/``DELETE /v1/responses/{response_id}``, or with ``items``,
    ``GET /v1/responses/{response_id}/input_items``: a kept response, as its client
    received it, forgotten, or its input items in OpenAI's list shape."""

    def __init__(self, gateway: Gateway, translator: ClientTranslator, items: bool = False) -> None:
        self.gateway = gateway
        self.translator = translator
        self.items = items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._answer(scope)
        except GatewayError as error:
            await send_error(send, self.translator, error)
            return
        except Exception as exc:
            await send_error(send, self.translator, _internal(exc))
            return
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _answer(self, scope: Scope) -> bytes:
        gateway = self.gateway
        query = query_map(scope)
        identity = await gateway.authenticate(inbound(scope, header_map(scope), query))
        store = gateway.responses
        if store is None:
            raise store_off()
        owner = owner_of(identity)
        response_id: str = scope["path_params"]["response_id"]
        if not self.items and scope["method"] == "GET" and query.get("stream", "false") != "false":
            raise GatewayError.invalid("kept responses are complete: retrieve them without 'stream'", param="stream")
        found = await (store.conversation(response_id, owner) if self.items else store.load(response_id, owner))
        if found is None:
            raise response_not_found(response_id)
        if isinstance(found, NotKept):
            raise response_not_kept(response_id, found.size, found.limit)
        if scope["method"] == "DELETE":
            if not await store.delete(response_id, owner):
                raise response_not_found(response_id)
            return orjson.dumps(deleted(response_id))
        if isinstance(found, StoredResponse):
            return orjson.dumps(found.response)
        return orjson.dumps(input_items_page(response_id, found.input, query))


class _Keeper:
    """An ASGI ``send`` that notes the answer's final response object on its way out and
    holds it in the store just before the last message is sent."""

    __slots__ = ("_body", "_ok", "_send", "_store", "_stream", "input", "owner", "previous", "record")

    def __init__(
        self, send: Send, store: ResponseStore, stream: bool, items: list[Any], owner: str, previous: str | None
    ) -> None:
        self._send = send
        self._store = store
        self._stream = stream
        self._ok = False
        self._body: list[bytes] = []
        self.input = items
        self.owner = owner
        self.previous = previous
        self.record: StoredResponse | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._ok = message.get("status") == 200
        elif message["type"] == "http.response.body" and self._ok:
            self._note(message.get("body", b""), bool(message.get("more_body", False)))
        await self._send(message)

    def _note(self, body: bytes, more: bool) -> None:
        response: Any = None
        if self._stream:
            response = final_response(body) if body else None
        else:
            self._body.append(body)
            if not more:
                try:
                    response = loads(b"".join(self._body))
                except ValueError:
                    response = None
        if isinstance(response, dict) and response.get("status") in _KEPT_STATUSES and response.get("id"):
            self.record = StoredResponse(response, self.input, self.owner, self.previous)
        if not more and self.record is not None:
            self._store.hold(self.record)
