"""The translator contract: one object per wire format, IR on one side, bytes on the other.

A wire format (``openai-chat``, ``anthropic``, ``gemini``, ``openai-responses``...) is
served by one translator object, registered through the ``register_translators`` hook.
It may play two roles:

* **client side** (:class:`ClientTranslator`): a door decodes what a client sent into an
  IR :class:`~cliproxy.ir.Request`, and encodes IR responses, stream events and errors
  back into the client's wire format;
* **upstream side** (:class:`UpstreamTranslator`): a provider encodes the IR request for
  its upstream, and the gateway decodes the upstream's response, stream and errors.

The built-in formats do both, so N formats need N translators, never N x N. All methods
are pure: no I/O, no clock, no randomness beyond id generation, so they are tested on
recorded streams without a network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, StreamEvent, Usage

__all__ = [
    "ClientTranslator",
    "Door",
    "EncodeContext",
    "StreamDecoder",
    "StreamEncoder",
    "UpstreamTranslator",
]


@attrs.frozen
class Door:
    """An HTTP endpoint where clients speak a translator's wire format.

    Attributes:
        path: The route, in Starlette syntax (``{model:path}`` captures a model name that
            may contain slashes).
        action: ``generate`` (a model call), ``count_tokens`` (answered with
            ``encode_count``) or ``models`` (a ``GET`` answered with ``encode_models``).
        model_param: The path parameter holding the model, when the wire puts it in the
            URL (Gemini); otherwise the body's ``model`` field is used.
        stream: True/False when the path decides streaming (Gemini's
            ``:streamGenerateContent``), None to read the body's ``stream`` field.
    """

    path: str
    action: Literal["generate", "count_tokens", "models"] = "generate"
    model_param: str | None = None
    stream: bool | None = None

    @property
    def method(self) -> str:
        return "GET" if self.action == "models" else "POST"


@attrs.frozen
class EncodeContext:
    """What a door knows when it encodes a response for its client.

    Attributes:
        model: The model name the client asked for; every response shows this name.
        body: The client's request body as sent (flags such as ``stream_options``).
        request: The decoded IR request, when the gateway decoded one.
        created: Unix time the gateway received the request.
        query: The request's query parameters (Gemini's ``alt=sse`` picks the framing).
    """

    model: str
    body: Mapping[str, Any]
    request: Request | None = None
    created: int = 0
    query: Mapping[str, str] = attrs.field(factory=dict)


class StreamDecoder(Protocol):
    """Turns upstream stream bytes into IR events; one instance per stream.

    ``feed`` accepts bytes exactly as they came off the network, split anywhere; the
    decoder keeps incomplete frames until the rest arrives. ``close`` is called once at
    end of input and returns whatever the remaining bytes complete -- a stream that ends
    without its terminal event yields a :class:`~cliproxy.ir.StreamError`.

    A decoder may also offer ``usage_so_far() -> Usage``: the usage the stream reported
    before its end, which a stream that fails midway never sends in a
    :class:`~cliproxy.ir.StreamFinish` (the gateway still counts those tokens).
    """

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    """Turns IR events into the client's stream bytes; one instance per stream.

    ``encode`` returns the bytes for a batch of events (possibly empty); ``close``
    returns trailing bytes (OpenAI's ``data: [DONE]``), if the format has any.
    """

    media_type: str

    def encode(self, events: Iterable[StreamEvent]) -> bytes: ...

    def close(self) -> bytes: ...


@runtime_checkable
class ClientTranslator(Protocol):
    """The client side of a wire format: what a door needs.

    ``doors`` lists the endpoints the gateway serves for this format. Translators whose
    doors include ``count_tokens`` also provide ``encode_count(tokens: int, ctx:
    EncodeContext) -> bytes``; those with ``models`` provide ``encode_models(models:
    list[ModelInfo]) -> bytes``.
    """

    name: str
    doors: tuple[Door, ...]

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        """Decode a client's request body into the IR.

        ``model`` and ``stream`` override the body when the wire carries them in the URL
        (Gemini's ``models/{model}:streamGenerateContent``). Raises
        :class:`~cliproxy.GatewayError` (400, with ``param``) for a body of the wrong shape.
        """
        ...

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        """Encode a whole response as the JSON body the client expects."""
        ...

    def stream_encoder(self, ctx: EncodeContext) -> StreamEncoder:
        """A fresh encoder for one streamed response."""
        ...

    def encode_error(self, error: GatewayError) -> bytes:
        """The JSON error body for ``error`` in this format (status is ``error.status``)."""
        ...

    # Optional: ``passthrough_filter(body) -> Callable[[Mapping], bool] | None``. When the
    # client's stream passes through untouched, events that mention usage are parsed and
    # offered to the returned predicate; those it accepts are dropped (the gateway asks
    # upstreams for usage a client may not have asked for).
    #
    # Optional: ``forwarded_body(body) -> Mapping``. The client's body as sent to an
    # upstream of the same wire (``Call.body_for``): the body itself, or a copy without the
    # values the gateway sealed for other providers (:mod:`cliproxy.wire.sealed`).
    #
    # Optional: ``can_pass_through(client: ClientRequest) -> bool``. False when this client
    # asked for a framing the upstream's bytes do not have (Gemini's JSON-array stream), so
    # the answer is re-encoded even though client and upstream speak the same wire.
    #
    # Optional: ``answers_models(headers, query) -> bool``. True when a ``GET /v1/models``
    # comes from this wire's clients (Google SDKs send ``x-goog-api-client``); the gateway
    # then answers with ``encode_models``.


@runtime_checkable
class UpstreamTranslator(Protocol):
    """The upstream side of a wire format: what a provider needs."""

    name: str
    # Optional: ``model_field`` names the response field holding the model name, rewritten
    # on the pass-through path (default ``"model"``; Gemini's is ``"modelVersion"``).
    # Optional: ``check_response(obj) -> Usage``. A whole response that passes through
    # untouched is parsed once and handed here instead of to ``decode_response``: raise
    # the GatewayError ``decode_response`` would raise for a body reporting a failure,
    # else return its usage. Without it the gateway decodes the response fully.

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """Encode the IR request as this wire's JSON body, asking for ``model``."""
        ...

    def decode_response(self, body: bytes) -> Response:
        """Decode a whole (non-stream) response body."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one upstream stream."""
        ...

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        """Turn an upstream error response into a gateway error (retry hints included)."""
        ...

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        """Usage from one parsed response body or stream event, if it carries any.

        Used on the pass-through path, where the gateway forwards bytes unchanged and only
        looks inside the events that mention usage.
        """
        ...
