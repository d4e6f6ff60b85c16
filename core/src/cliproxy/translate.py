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

Both roles are base classes: a translator subclasses one or both and implements the
abstract methods; the optional members have defaults that mean "this wire has no such
feature", so the gateway calls them directly. An object that only has the right methods
(no subclass) is accepted too: the registry wraps it once, at start-up, in an adapter
that fills in the defaults (see :func:`adapt_translator`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, StreamEvent, Usage

if TYPE_CHECKING:
    from cliproxy.routing import ModelInfo

__all__ = [
    "ClientTranslator",
    "Door",
    "EncodeContext",
    "StreamDecoder",
    "StreamEncoder",
    "UpstreamTranslator",
    "adapt_translator",
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

    A protocol, not a base class: any object with these two methods will do. A decoder may
    also offer ``usage_so_far() -> Usage``: the usage the stream reported before its end,
    which a stream that fails midway never sends in a :class:`~cliproxy.ir.StreamFinish`
    (the gateway still counts those tokens).
    """

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


class StreamEncoder(ABC):
    """Turns IR events into the client's stream bytes; one instance per stream.

    ``encode`` returns the bytes for a batch of events (possibly empty); ``close``
    returns trailing bytes (OpenAI's ``data: [DONE]``), if the format has any.

    Attributes:
        media_type: The response's content type (default ``text/event-stream``; Gemini's
            JSON-array stream sets ``application/json`` per instance).
    """

    media_type: str = "text/event-stream"

    @abstractmethod
    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        """The bytes for ``events``, in the client's framing."""

    def close(self) -> bytes:
        """Trailing bytes after the last event; none by default."""
        return b""


class ClientTranslator(ABC):
    """The client side of a wire format: what a door needs.

    Subclasses set ``name`` and ``doors`` and implement the four abstract methods. The
    other members are optional, with defaults for a wire that lacks the feature.

    Attributes:
        name: The wire format's name (``openai-chat``), unique across plugins.
        doors: The endpoints the gateway serves for this format. A door with
            ``action="count_tokens"`` needs :meth:`encode_count`, one with
            ``action="models"`` needs :meth:`encode_models`; the registry refuses a
            translator that declares such a door without the method.
    """

    name: str
    doors: tuple[Door, ...] = ()

    @abstractmethod
    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        """Decode a client's request body into the IR.

        ``model`` and ``stream`` override the body when the wire carries them in the URL
        (Gemini's ``models/{model}:streamGenerateContent``). Raises
        :class:`~cliproxy.GatewayError` (400, with ``param``) for a body of the wrong shape.
        """

    @abstractmethod
    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        """Encode a whole response as the JSON body the client expects."""

    @abstractmethod
    def stream_encoder(self, ctx: EncodeContext) -> StreamEncoder:
        """A fresh encoder for one streamed response."""

    @abstractmethod
    def encode_error(self, error: GatewayError) -> bytes:
        """The JSON error body for ``error`` in this format (status is ``error.status``)."""

    # -- optional ------------------------------------------------------------------------

    def encode_count(self, tokens: int, ctx: EncodeContext) -> bytes:
        """The answer of a ``count_tokens`` door. Required when ``doors`` has one."""
        raise NotImplementedError(f"translator {self.name!r} has no count_tokens door, so no encode_count")

    def encode_models(self, models: Sequence[ModelInfo]) -> bytes:
        """The answer of a ``models`` door (and of ``GET /v1/models`` when
        :meth:`answers_models` claims it). Required when ``doors`` has one."""
        raise NotImplementedError(f"translator {self.name!r} has no models door, so no encode_models")

    def answers_models(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """True when a ``GET /v1/models`` comes from this wire's clients (Google SDKs send
        ``x-goog-api-client``); the gateway then answers with :meth:`encode_models`.
        Default: False (the OpenAI list shape answers)."""
        return False

    def can_pass_through(self, stream: bool, query: Mapping[str, str]) -> bool:
        """False when a client whose request had ``stream`` and ``query`` asked for a framing the upstream's bytes do not have
        (Gemini's JSON-array stream), so the answer is re-encoded even though client and
        upstream speak the same wire. Default: True."""
        return True

    def passthrough_filter(self, body: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool] | None:
        """When the client's stream passes through untouched, events that mention usage
        are parsed and offered to the returned predicate; those it accepts are dropped (the
        gateway asks upstreams for usage a client may not have asked for). Default: None,
        drop nothing."""
        return None

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        """The bytes a stream of this wire gets while its upstream is silent, with
        ``streaming.keepalive-seconds`` set (an SSE comment, Anthropic's ``ping`` event):
        whole events a client skips. ``query`` is the request's (Gemini streams SSE only
        with ``alt=sse``). Default: None, no keepalives for this wire's streams."""
        return None

    def forwarded_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """The client's body as sent to an upstream of the same wire (``Call.body_for``):
        a copy without the values the gateway sealed for other providers
        (:mod:`cliproxy.wire.sealed`). Called only for bodies that hold a sealed value.
        Default: the body itself."""
        return body


class UpstreamTranslator(ABC):
    """The upstream side of a wire format: what a provider needs.

    Subclasses set ``name`` and implement the five abstract methods; the rest is optional.

    Attributes:
        name: The wire format's name, unique across plugins.
        model_field: The response field holding the model name, rewritten on the
            pass-through path (default ``"model"``; Gemini's is ``"modelVersion"``).
        checks_response: Whether :meth:`check_response` is implemented; set for you when a
            subclass overrides it.
    """

    name: str
    model_field: str = "model"
    checks_response: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.checks_response = cls.check_response is not UpstreamTranslator.check_response

    @abstractmethod
    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """Encode the IR request as this wire's JSON body, asking for ``model``."""

    @abstractmethod
    def decode_response(self, body: bytes) -> Response:
        """Decode a whole (non-stream) response body."""

    @abstractmethod
    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one upstream stream."""

    @abstractmethod
    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        """Turn an upstream error response into a gateway error (retry hints included)."""

    @abstractmethod
    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        """Usage from one parsed response body or stream event, if it carries any.

        Used on the pass-through path, where the gateway forwards bytes unchanged and only
        looks inside the events that mention usage.
        """

    # -- optional ------------------------------------------------------------------------

    def check_response(self, obj: Any) -> Usage:
        """A whole response that passes through untouched, parsed once: raise the
        GatewayError :meth:`decode_response` would raise for a body reporting a failure,
        else return its usage. Optional: without it the gateway decodes the response fully
        (``checks_response`` tells which)."""
        raise NotImplementedError(f"translator {self.name!r} does not check responses; decode them instead")


# -- translators that do not subclass ------------------------------------------------------

_CLIENT_REQUIRED = ("decode_request", "encode_response", "stream_encoder", "encode_error")
_CLIENT_OPTIONAL = (
    "encode_count",
    "encode_models",
    "answers_models",
    "can_pass_through",
    "passthrough_filter",
    "forwarded_body",
    "keepalive",
)
_UPSTREAM_REQUIRED = ("encode_request", "decode_response", "stream_decoder", "decode_error", "extract_usage")


def _has(obj: object, names: Iterable[str]) -> bool:
    return all(callable(getattr(obj, name, None)) for name in names)


def _bind(adapter: object, inner: object, names: Iterable[str]) -> None:
    # The inner object's bound methods become the adapter's own attributes: calling them
    # costs what calling the inner object's would.
    for name in names:
        member = getattr(inner, name, None)
        if callable(member):
            setattr(adapter, name, member)


class _EncoderAdapter(StreamEncoder):
    """A stream encoder that does not subclass :class:`StreamEncoder`."""

    def __init__(self, inner: Any) -> None:
        self.media_type = getattr(inner, "media_type", StreamEncoder.media_type)
        _bind(self, inner, ("encode", "close"))

    def encode(self, events: Iterable[StreamEvent]) -> bytes:  # replaced by the inner encoder's
        raise NotImplementedError


class _ClientAdapter(ClientTranslator):
    """A client translator that does not subclass :class:`ClientTranslator`."""

    def __init__(self, inner: Any) -> None:
        self.name = inner.name
        self.doors = tuple(inner.doors)
        self._stream_encoder = inner.stream_encoder
        _bind(self, inner, (*(n for n in _CLIENT_REQUIRED if n != "stream_encoder"), *_CLIENT_OPTIONAL))

    def stream_encoder(self, ctx: EncodeContext) -> StreamEncoder:
        encoder = self._stream_encoder(ctx)
        return encoder if isinstance(encoder, StreamEncoder) else _EncoderAdapter(encoder)

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:  # replaced by the inner translator's, as are the two below
        raise NotImplementedError

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        raise NotImplementedError

    def encode_error(self, error: GatewayError) -> bytes:
        raise NotImplementedError


class _UpstreamAdapter(UpstreamTranslator):
    """An upstream translator that does not subclass :class:`UpstreamTranslator`."""

    def __init__(self, inner: Any) -> None:
        self.name = inner.name
        self.model_field = getattr(inner, "model_field", UpstreamTranslator.model_field)
        self.checks_response = callable(getattr(inner, "check_response", None))
        _bind(self, inner, (*_UPSTREAM_REQUIRED, "check_response"))

    # replaced by the inner translator's
    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        raise NotImplementedError

    def decode_response(self, body: bytes) -> Response:
        raise NotImplementedError

    def stream_decoder(self) -> StreamDecoder:
        raise NotImplementedError

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        raise NotImplementedError

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        raise NotImplementedError


def implements(translator: object, member: str) -> bool:
    """Whether ``translator`` has its own ``member``, not the base class's default."""
    if member in getattr(translator, "__dict__", ()):
        return True  # an adapter holding the inner object's method
    if isinstance(translator, _ClientAdapter | _UpstreamAdapter):
        return False
    for base in (ClientTranslator, UpstreamTranslator):
        default = base.__dict__.get(member)
        if default is not None:
            return getattr(type(translator), member, None) is not default
    return callable(getattr(translator, member, None))


def adapt_translator(translator: object) -> tuple[ClientTranslator | None, UpstreamTranslator | None]:
    """The roles ``translator`` can play, as base-class instances.

    A subclass of :class:`ClientTranslator` / :class:`UpstreamTranslator` is returned as
    it is; an object that merely has a role's methods is wrapped in an adapter that gives
    the optional members their defaults. ``(None, None)`` means it can play neither.
    """
    client: ClientTranslator | None = None
    upstream: UpstreamTranslator | None = None
    if isinstance(translator, ClientTranslator):
        client = translator
    elif _has(translator, _CLIENT_REQUIRED) and hasattr(translator, "doors"):
        client = _ClientAdapter(translator)
    if isinstance(translator, UpstreamTranslator):
        upstream = translator
    elif _has(translator, _UPSTREAM_REQUIRED):
        upstream = _UpstreamAdapter(translator)
    return client, upstream
