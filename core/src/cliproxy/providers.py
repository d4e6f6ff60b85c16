"""What a provider plugin implements, and what it is handed per call.

A provider owns one or more config blocks (``claude-api-key``), turns their entries into
:class:`~cliproxy.Credential` s, and executes calls: :meth:`Provider.send` receives a
:class:`Call` (the client's request, the chosen credential, the upstream model name) and
returns the upstream's answer, either as bytes in a wire format the gateway can decode
(:class:`~cliproxy.UpstreamResponse`) or already in the IR
(:class:`~cliproxy.DirectResponse`).

Hooks register providers at start-up; provider objects do the per-request work. Every
method is handed the plugin's :class:`~cliproxy.Host` (a call carries it as ``call.host``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from cliproxy.answers import DirectResponse, UpstreamResponse
from cliproxy.client import ClientRequest
from cliproxy.config.nodes import ConfigNode
from cliproxy.credentials import Credential, ModelEntry
from cliproxy.embedding import EmbeddingRequest, Embeddings, not_embedding
from cliproxy.errors import GatewayError
from cliproxy.host import Host
from cliproxy.ir import Request
from cliproxy.quota import Quota
from cliproxy.upstream import post
from cliproxy.wire.sealed import PREFIX as _SEALED_PREFIX

__all__ = ["Call", "Provider"]

_SEALED = _SEALED_PREFIX.encode()

ErrorDecoder = Callable[[int, Mapping[str, str], bytes], GatewayError]
"""``(status, headers, body) -> GatewayError``: a provider's own reading of error bodies."""  # in the raw body of a request that carries sealed values


@attrs.define(eq=False)
class Call:
    """One attempt to serve a client request with one credential.

    Attributes:
        client: The client's request.
        credential: The credential chosen for this attempt.
        model: The model name to ask the upstream for (prefix stripped, alias resolved).
        host: The plugin's view of the gateway: HTTP sessions, translators, tokens, state.
        attempt: 0 for the first attempt, then 1, 2... across failovers.
        refused: The URL and headers of the last request :meth:`post` sent that the
            upstream refused (an error status); None while none was. The gateway reads it
            after a 401 to tell whether the token it holds now was the one refused.
    """

    client: ClientRequest
    credential: Credential
    model: str
    host: Host
    attempt: int = 0
    refused: tuple[str, Mapping[str, str]] | None = attrs.field(default=None, init=False, repr=False)

    @property
    def stream(self) -> bool:
        return self.client.stream

    @property
    def embedding(self) -> EmbeddingRequest:
        """What to embed (for :meth:`Provider.embed`; a 400 for a call that is not one)."""
        request = self.client.embedding
        if request is None:
            raise GatewayError.invalid("this request asks for no embeddings").as_local()
        return request

    @property
    def request(self) -> Request:
        """The client's request in the IR (see :attr:`ClientRequest.ir`)."""
        return self.client.ir

    def body_for(self, wire: str) -> dict[str, Any]:
        """The JSON body to send an upstream speaking ``wire``.

        When the client spoke ``wire`` too, this is the client's own body with only the
        model name changed, so fields nobody modelled reach the upstream intact -- less what
        the client translator's ``forwarded_body(body)`` takes out (values the
        gateway sealed for other upstreams). Otherwise the IR request is encoded by
        ``wire``'s translator.
        """
        if wire == self.client.wire and self.client.thinking is None:  # (a suffix is applied through the IR)
            client = self.client
            if _SEALED not in client.raw:  # a byte search, not a walk of the body
                body = dict(client.body)
            else:
                body = dict(client.translator.forwarded_body(client.body))
            if "model" in body:
                body["model"] = self.model
        else:
            request = self.client.ir
            try:
                body = self.host.translator(wire).encode_request(request, self.model)
            except GatewayError as error:
                raise error.as_local() from None
            except (RecursionError, MemoryError):
                raise GatewayError.invalid("the request is nested too deeply to send on").as_local() from None
        rules = self.host.config.payload
        if rules:
            body = rules.apply(body, model=self.model, asked=self.client.route_model, wire=wire, door=self.client.wire)
        return body

    def refused_with(self, secret: str) -> bool:
        """Whether the last request the upstream refused (:attr:`refused`) carried
        ``secret`` -- in a header or its URL; False when none was refused."""
        if self.refused is None or not secret:
            return False
        url, headers = self.refused
        return secret in url or any(secret in value for value in headers.values())

    def redact(self, text: str, *extra: str | None) -> str:
        """``text`` without any secret the gateway holds (client keys, credentials' keys,
        OAuth tokens, the management secret...) nor ``extra``: for upstream error text a
        provider puts into errors or logs itself (:meth:`post` does it for its errors)."""
        return self.host.redact(text, *extra)

    async def post(
        self,
        url: str,
        *,
        wire: str,
        json: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool | None = None,
        proxy: str | None = None,
        timeout: float | None = None,
        decode_error: ErrorDecoder | None = None,
    ) -> UpstreamResponse:
        """POST to the upstream and return its answer in ``wire`` format.

        Non-2xx answers are decoded by ``wire``'s translator from at most
        ``upstream-limits.error-body-kb`` of their body, with the gateway's secrets redacted,
        and raised as :class:`~cliproxy.GatewayError` (with this provider's name and any
        retry hint); connection failures and timeouts raise 502/504 errors, and a whole
        answer larger than ``upstream-limits.response-body-mb`` a 502. ``stream`` defaults
        to the client's choice; ``proxy`` to the gateway's ``proxy-url``. ``decode_error``
        ``(status, headers, body) -> GatewayError`` reads error bodies instead of the
        translator, for an upstream whose errors have an envelope of their own (it gets
        the same bounded, redacted body).
        """
        return await post(
            self,
            url,
            wire=wire,
            json=json,
            data=data,
            headers=headers,
            stream=self.stream if stream is None else stream,
            proxy=proxy,
            timeout=timeout,
            decode_error=decode_error,
        )


class Provider(abc.ABC):
    """Base class for providers. Subclass it, set the class attributes, implement
    :meth:`load_config` and :meth:`send`, and register an instance from a
    ``register_providers`` hook.

    Attributes:
        name: Unique provider name (``claude``), shown in status output and logs.
        config_keys: The top-level config blocks this provider owns.
        wire: The wire format its upstream speaks (a registered translator's name).
        stores_responses: For a Responses upstream: whether it keeps its answers for
            ``previous_response_id`` itself. False (the Codex backend, which takes only
            ``store: false``) makes the gateway keep and continue them, as for upstreams
            of other wires.
    """

    name: str = ""
    config_keys: tuple[str, ...] = ()
    wire: str = ""
    stores_responses: bool = True

    @abc.abstractmethod
    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        """Parse one of the provider's blocks into credentials.

        ``node`` is the top-level config; read the block with ``node.nodes(key)`` (a list)
        or ``node.node(key)`` (a mapping), call ``done()`` on every entry so typos are
        reported, and raise the node's ``error(...)`` for bad values.
        """

    @abc.abstractmethod
    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        """Execute one call; raise :class:`~cliproxy.GatewayError` on failure."""

    async def compact(self, call: Call) -> UpstreamResponse | DirectResponse:
        """Serve ``POST /v1/responses/compact`` (the client's Responses body in
        ``call.client.body``): return the upstream's whole JSON answer. The default
        refuses with a 400 that names the provider."""
        raise GatewayError.invalid(
            f"POST /v1/responses/compact is served only for models whose upstream has a compact endpoint "
            f"(the Codex backend); '{call.client.model}' is served by {self.name}: send the whole conversation "
            "to /v1/responses instead",
            code="compact_not_supported",
        ).as_local()

    def embeds(self, credential: Credential, model: str) -> bool | None:
        """Whether ``model`` is an embedding model on this credential: True (``GET
        /v1/models`` marks it), False (it is not: asking it to embed is a 400 before any
        upstream call), None (cannot tell: :meth:`embed` is tried). The default, False,
        says the provider does not embed."""
        return False

    async def embed(self, call: Call) -> Embeddings:
        """Embed ``call.embedding`` (its inputs, dimensions...) with ``call.model``; the
        vectors in the inputs' order. Split the inputs to the upstream's batch limit with
        :func:`cliproxy.in_batches`; raise :class:`~cliproxy.GatewayError` on failure, as
        :meth:`send` does. The default refuses with a 400 (the provider does not embed)."""
        raise not_embedding(call.client.model, self.name)

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        """Models a credential serves when its entry lists none (a static catalogue)."""
        return ()

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        """Ask the upstream which models it serves (called at start-up and on refresh).

        Return None when the provider cannot list models. Errors are logged and leave the
        credential's models as they were.
        """
        return None

    async def count_tokens(self, call: Call) -> int | None:
        """Count the input tokens of ``call.request`` upstream; None when unsupported
        (the gateway then estimates locally)."""
        return None

    def can_reason(self, credential: Credential, model: str) -> bool | None:
        """Whether ``model`` can think (take a reasoning effort or budget) on this
        credential: None when the provider cannot tell. A thinking suffix on a model that
        cannot is refused with a 400."""
        return None

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        """How much ``credential``'s account may still use, if the upstream says (called
        at start-up and every ``quota-interval`` seconds; None when it cannot tell).
        Errors are logged and keep the last answer."""
        return None

    async def start(self, host: Host) -> None:
        """Called once when the gateway starts serving (open pools, start refreshers)."""

    async def stop(self) -> None:
        """Called once when the gateway stops."""

    async def reload(self, host: Host) -> None:
        """Called after a config reload added, changed or removed some of this provider's
        credentials (``host.credentials(self.name)`` is the new list): restart
        per-credential work. The default calls :meth:`stop`, then :meth:`start`; override
        it if stopping would disturb requests in flight."""
        await self.stop()
        await self.start(host)
