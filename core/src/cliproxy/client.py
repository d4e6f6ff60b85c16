"""A client request as the gateway sees it: who sent it, and what it asked.

:class:`InboundRequest` is what inbound authentication looks at, :class:`ClientIdentity`
what it decides, and :class:`ClientRequest` the whole request as its door parsed it --
decoded into the IR only when a translation needs it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from cliproxy.embedding import EmbeddingRequest
from cliproxy.errors import GatewayError
from cliproxy.exchange import Exchange
from cliproxy.ir import Reasoning, Request
from cliproxy.key_policy import KeyPolicy
from cliproxy.thinking_suffix import apply_suffix
from cliproxy.translate import ClientTranslator

__all__ = ["Action", "ClientIdentity", "ClientRequest", "InboundRequest", "owner_of_name"]

if TYPE_CHECKING:
    from cliproxy.ticket import Ticket

log = logging.getLogger("cliproxy.client")

Action = Literal["generate", "count_tokens", "compact", "embed"]


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
    ``policy`` is what the caller may do (models, rates, budgets; see
    :mod:`cliproxy.key_policy`): None for no limits.
    """

    name: str
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    owner: str = attrs.field(
        kw_only=True, default=attrs.Factory(lambda self: owner_of_name(self.name), takes_self=True)
    )
    policy: KeyPolicy | None = attrs.field(kw_only=True, default=None)


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
        action: ``generate``, ``count_tokens`` or ``compact`` (``/v1/responses/compact``).
        identity: Who the caller is, per inbound auth.
        created: Unix time the request arrived.
        exchange: The door's record of the request (its id, who answered, usage), which
            the gateway fills in as it serves it; None outside a door.
        thinking: The reasoning a thinking suffix on the model name asks for
            (``model(high)``, see :mod:`cliproxy.thinking_suffix`), which overrides the
            body's amount; None without a suffix.
        base_model: The model name without its thinking suffix (None without one).
        ticket: The request's hold on its key's rates and budgets (None: no such limits).
        fallback_from: The model the client asked for, when this is a request for a model
            of its ``fallback-models`` chain instead (None: it is not).
        embedding: For ``action="embed"`` (the embeddings doors): what to embed.
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
    thinking: Reasoning | None = None
    base_model: str | None = None
    ticket: Ticket | None = None
    fallback_from: str | None = None
    embedding: EmbeddingRequest | None = None
    _ir: Request | None = None

    @property
    def route_model(self) -> str:
        """The name to route by: the model asked for, without a thinking suffix."""
        return self.base_model if self.base_model is not None else self.model

    @property
    def ir(self) -> Request:
        """The request decoded into the IR (decoded on first use, then kept).

        Raises :class:`~cliproxy.GatewayError` (400, marked ``local``: the client's input,
        not an upstream, is at fault) when the body has the wrong shape.
        """
        if self._ir is None:
            try:
                decoded = self.translator.decode_request(self.body, model=self.route_model, stream=self.stream)
                if self.thinking is not None:
                    decoded = attrs.evolve(decoded, reasoning=apply_suffix(decoded.reasoning, self.thinking))
                self._ir = decoded
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
