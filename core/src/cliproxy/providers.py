"""What a provider plugin implements, and what it is handed per call.

A provider owns one or more config blocks (``claude-api-key``), turns their entries into
:class:`~cliproxy.Credential` s, and executes calls: :meth:`Provider.send` receives a
:class:`Call` (the client's request, the chosen credential, the upstream model name) and
returns the upstream's answer, either as bytes in a wire format the gateway can decode
(:class:`UpstreamResponse`) or already in the IR (:class:`DirectResponse`).

Hooks register providers at start-up; provider objects do the per-request work.
"""

from __future__ import annotations

import abc
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from cliproxy.config.nodes import ConfigNode
from cliproxy.credentials import Credential, ModelEntry
from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, StreamEvent
from cliproxy.wire.sealed import PREFIX as _SEALED_PREFIX

if TYPE_CHECKING:
    from cliproxy.exchange import Exchange
    from cliproxy.gateway import Gateway
    from cliproxy.translate import ClientTranslator, StreamDecoder

__all__ = [
    "Call",
    "ClientIdentity",
    "ClientRequest",
    "DirectResponse",
    "InboundRequest",
    "Provider",
    "UpstreamResponse",
]

log = logging.getLogger("cliproxy.providers")

_SEALED = _SEALED_PREFIX.encode()  # in the raw body of a request that carries sealed values

Action = Literal["generate", "count_tokens"]


def owner_of_name(name: str) -> str:
    """The :attr:`ClientIdentity.owner` of an identity known only by its name: a
    fingerprint of the name (bounded in length, apart from every key's)."""
    return "name:" + hashlib.sha256(name.encode()).hexdigest()[:32]


@attrs.frozen
class ClientIdentity:
    """Who is calling: returned by the ``authenticate_client`` hook.

    ``name`` is safe to log (a key's position or a user name, never the key itself).
    ``owner`` is what data kept for this caller (stored Responses answers) is filed
    under, so only the same caller reads it again: stable across restarts, instances and
    reordered ``api-keys``, and holding no secret. The core's identities derive it from
    the key (a salted fingerprint); one built with just a name derives it from the name.
    """

    name: str
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    owner: str = attrs.field(
        kw_only=True, default=attrs.Factory(lambda self: owner_of_name(self.name), takes_self=True)
    )


@attrs.frozen
class InboundRequest:
    """The parts of an HTTP request that inbound authentication looks at.

    ``headers`` has lower-case names; ``query`` holds the decoded query parameters.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    client_host: str | None = None


@attrs.define(eq=False)
class ClientRequest:
    """One client request as its door received it.

    Attributes:
        wire: The client's wire format (``openai-chat``, ``anthropic``...).
        translator: The door's translator for that format.
        body: The parsed JSON body, as sent (do not mutate).
        raw: The body bytes, as sent.
        model: The model name the client asked for.
        stream: Whether the client asked for a stream.
        headers: Request headers, lower-case names.
        query: Query parameters of the request URL.
        action: ``generate`` or ``count_tokens``.
        identity: Who the caller is, per inbound auth.
        created: Unix time the request arrived.
        exchange: The door's record of the request (its id, who answered, usage), which
            the gateway fills in as it serves it; None outside a door.
    """

    wire: str
    translator: ClientTranslator
    body: Mapping[str, Any]
    raw: bytes
    model: str
    stream: bool
    headers: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    action: Action = "generate"
    identity: ClientIdentity | None = None
    created: int = 0
    exchange: Exchange | None = None
    _ir: Request | None = None

    @property
    def ir(self) -> Request:
        """The request decoded into the IR (decoded on first use, then kept).

        Raises :class:`~cliproxy.GatewayError` (400, marked ``local``: the client's input,
        not an upstream, is at fault) when the body has the wrong shape.
        """
        if self._ir is None:
            try:
                self._ir = self.translator.decode_request(self.body, model=self.model, stream=self.stream)
            except GatewayError as error:
                raise error.as_local() from None
            except (RecursionError, MemoryError):
                raise GatewayError.invalid("the request is nested too deeply to read").as_local() from None
            except Exception as exc:  # a translator that met a shape it does not check
                log.warning("%s could not decode a request", self.wire, exc_info=exc)
                raise GatewayError.invalid(
                    f"the request body has a value the {self.wire} format does not allow "
                    f"({type(exc).__name__}); check the field types against the API reference"
                ).as_local() from None
        return self._ir


@attrs.define(eq=False)
class UpstreamResponse:
    """An upstream's successful answer, still in its wire format.

    Exactly one of ``body`` (a whole response) and ``chunks`` (a stream, as network reads
    arrive) is set. ``streamed`` says how ``wire``'s translator should decode it: a stream
    decoder for ``chunks``, ``decode_response`` for ``body``. Close it with :meth:`aclose`.

    ``decoder`` is a stream decoder the provider prepared for this one response, when
    decoding needs what only the request knows (tool names it shortened, an input-token
    estimate); the stream is then always decoded, never passed through. None means
    ``wire``'s translator's ``stream_decoder()``.
    """

    wire: str
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None
    release: Callable[[], Any] | None = None
    decoder: StreamDecoder | None = None

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    async def aclose(self) -> None:
        """Release the connection, and let go of the body (a frame that still refers to
        this response, say in a traceback, keeps no megabytes alive)."""
        self.body = None
        if self.release is not None:
            release, self.release = self.release, None
            result = release()
            if result is not None and isinstance(result, Awaitable):
                await result


@attrs.define(eq=False)
class DirectResponse:
    """An answer a provider produced in the IR itself (local models, the echo demo).

    Set ``response`` for a whole response, or ``events`` for a stream; the gateway folds or
    replays as the client needs.
    """

    response: Response | None = None
    events: AsyncIterator[StreamEvent] | None = None

    async def aclose(self) -> None:
        closer = getattr(self.events, "aclose", None)
        if closer is not None:
            await closer()


@attrs.define(eq=False)
class Call:
    """One attempt to serve a client request with one credential.

    Attributes:
        client: The client's request.
        credential: The credential chosen for this attempt.
        model: The model name to ask the upstream for (prefix stripped, alias resolved).
        gateway: The running gateway: its HTTP session, translators, token manager, state.
        attempt: 0 for the first attempt, then 1, 2... across failovers.
    """

    client: ClientRequest
    credential: Credential
    model: str
    gateway: Gateway
    attempt: int = 0

    @property
    def stream(self) -> bool:
        return self.client.stream

    @property
    def request(self) -> Request:
        """The client's request in the IR (see :attr:`ClientRequest.ir`)."""
        return self.client.ir

    def body_for(self, wire: str) -> dict[str, Any]:
        """The JSON body to send an upstream speaking ``wire``.

        When the client spoke ``wire`` too, this is the client's own body with only the
        model name changed, so fields nobody modelled reach the upstream intact -- less what
        the client translator's optional ``forwarded_body(body)`` takes out (values the
        gateway sealed for other upstreams). Otherwise the IR request is encoded by
        ``wire``'s translator.
        """
        if wire == self.client.wire:
            client = self.client
            forward = getattr(client.translator, "forwarded_body", None)
            if forward is None or _SEALED not in client.raw:  # a byte search, not a walk of the body
                body = dict(client.body)
            else:
                body = dict(forward(client.body))
            if "model" in body:
                body["model"] = self.model
            return body
        request = self.client.ir
        try:
            return self.gateway.translators.upstream(wire).encode_request(request, self.model)
        except GatewayError as error:
            raise error.as_local() from None
        except (RecursionError, MemoryError):
            raise GatewayError.invalid("the request is nested too deeply to send on").as_local() from None

    def redact(self, text: str, *extra: str | None) -> str:
        """``text`` without any secret the gateway holds (client keys, credentials' keys,
        OAuth tokens, the management secret...) nor ``extra``: for upstream error text a
        provider puts into errors or logs itself (:meth:`post` does it for its errors)."""
        return self.gateway.redact(text, *extra)

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
    ) -> UpstreamResponse:
        """POST to the upstream and return its answer in ``wire`` format.

        Non-2xx answers are decoded by ``wire``'s translator from at most
        ``upstream-limits.error-body-kb`` of their body, with the gateway's secrets redacted,
        and raised as :class:`~cliproxy.GatewayError` (with this provider's name and any
        retry hint); connection failures and timeouts raise 502/504 errors, and a whole
        answer larger than ``upstream-limits.response-body-mb`` a 502. ``stream`` defaults
        to the client's choice; ``proxy`` to the gateway's ``proxy-url``.
        """
        from cliproxy.upstream import post

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
        )


class Provider(abc.ABC):
    """Base class for providers. Subclass it, set the class attributes, implement
    :meth:`load_config` and :meth:`send`, and register an instance from a
    ``register_providers`` hook.

    Attributes:
        name: Unique provider name (``claude``), shown in status output and logs.
        config_keys: The top-level config blocks this provider owns.
        wire: The wire format its upstream speaks (a registered translator's name).
    """

    name: str = ""
    config_keys: tuple[str, ...] = ()
    wire: str = ""

    @abc.abstractmethod
    def load_config(self, key: str, node: ConfigNode, gateway: Gateway) -> Iterable[Credential]:
        """Parse one of the provider's blocks into credentials.

        ``node`` is the top-level config; read the block with ``node.nodes(key)`` (a list)
        or ``node.node(key)`` (a mapping), call ``done()`` on every entry so typos are
        reported, and raise the node's ``error(...)`` for bad values.
        """

    @abc.abstractmethod
    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        """Execute one call; raise :class:`~cliproxy.GatewayError` on failure."""

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        """Models a credential serves when its entry lists none (a static catalogue)."""
        return ()

    async def discover_models(self, credential: Credential, gateway: Gateway) -> Sequence[str] | None:
        """Ask the upstream which models it serves (called at start-up and on refresh).

        Return None when the provider cannot list models. Errors are logged and leave the
        credential's models as they were.
        """
        return None

    async def count_tokens(self, call: Call) -> int | None:
        """Count the input tokens of ``call.request`` upstream; None when unsupported
        (the gateway then estimates locally)."""
        return None

    async def start(self, gateway: Gateway) -> None:
        """Called once when the gateway starts serving (open pools, start refreshers)."""

    async def stop(self) -> None:
        """Called once when the gateway stops."""

    async def reload(self, gateway: Gateway) -> None:
        """Called after a config reload added, changed or removed some of this provider's
        credentials (``gateway.credentials`` is the new list): restart per-credential work.
        The default calls :meth:`stop`, then :meth:`start`; override it if stopping would
        disturb requests in flight."""
        await self.stop()
        await self.start(gateway)
