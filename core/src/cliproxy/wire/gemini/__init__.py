"""Google Gemini (``generateContent``): the ``gemini`` wire format, both sides.

Doors: ``POST /v1beta/models/{model}:generateContent``, ``:streamGenerateContent``
(``?alt=sse`` for server-sent events, otherwise a streamed JSON array, as Gemini does) and
``:countTokens``, the same three under ``/v1/`` (google-genai 3.x defaults to ``v1``), and
``GET /v1beta/models`` in Gemini's list shape; ``GET /v1/models`` answers in that shape too
when the caller is a Google client (it sends ``x-goog-api-key`` or ``x-goog-api-client``).
Model names may contain ``/`` (``team/gemini-2.5-pro``).

Upstream side: :meth:`Gemini.encode_request` builds the body for any Gemini-speaking
upstream (the Gemini API, Code Assist's inner request), cleaning tool schemas and mapping
reasoning settings per model. Facts: ``reference/wire/FACTS.md`` section 4.

Plugins wrap this translator for Gemini dialects (``cliproxy-gemini`` wraps it for Code
Assist); :class:`Gemini`, :class:`GeminiStreamDecoder`, :class:`GeminiStreamEncoder`,
:func:`clean_schema` and :func:`error_from_status` are its public surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, Usage
from cliproxy.translate import ClientTranslator, Door, EncodeContext, UpstreamTranslator
from cliproxy.wire.gemini.common import WIRE, decode_usage
from cliproxy.wire.gemini.errors import (
    decode_error,
    encode_error,
    error_from_status,
    parse_duration,
)
from cliproxy.wire.gemini.request_decode import decode_request
from cliproxy.wire.gemini.request_encode import encode_request
from cliproxy.wire.gemini.response import decode_response, encode_response
from cliproxy.wire.gemini.schema import clean_schema, function_parameters
from cliproxy.wire.gemini.stream_decode import GeminiStreamDecoder
from cliproxy.wire.gemini.stream_encode import GeminiStreamEncoder

if TYPE_CHECKING:
    from cliproxy.routing import ModelInfo

__all__ = [
    "WIRE",
    "Gemini",
    "GeminiStreamDecoder",
    "GeminiStreamEncoder",
    "clean_schema",
    "error_from_status",
    "function_parameters",
    "parse_duration",
]

_METHODS: tuple[tuple[str, Literal["generate", "count_tokens"], bool], ...] = (
    ("generateContent", "generate", False),
    ("streamGenerateContent", "generate", True),
    ("countTokens", "count_tokens", False),
)
GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
EMBEDDING_METHODS = ["embedContent", "batchEmbedContents"]


def _doors() -> tuple[Door, ...]:
    doors = [
        Door(
            f"/{version}/models/{{model:path}}:{method}",
            action=action,
            model_param="model",
            stream=stream,
        )
        for version in ("v1beta", "v1")
        for method, action, stream in _METHODS
    ]
    doors.append(Door("/v1beta/models", action="models"))
    return tuple(doors)


def sse_requested(query: Mapping[str, str]) -> bool:
    """Whether a streaming client asked for server-sent events (``?alt=sse``)."""
    return query.get("alt", "").lower() == "sse"


class Gemini(ClientTranslator, UpstreamTranslator):
    """The ``gemini`` translator (client and upstream side)."""

    name = WIRE
    model_field = "modelVersion"
    doors = _doors()

    # -- client side ---------------------------------------------------------------------

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> GeminiStreamEncoder:
        return GeminiStreamEncoder(ctx, sse=sse_requested(ctx.query))

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        """A blank line, in both framings: SSE parsers dispatch nothing for it, and it is
        whitespace between the JSON-array stream's values. (Not an SSE comment:
        google-genai parses every line of a stream that is not ``data:`` as JSON.)"""
        return b"\n"

    def encode_count(self, tokens: int, ctx: EncodeContext) -> bytes:
        return orjson.dumps({"totalTokens": tokens})

    def encode_models(self, models: Sequence[ModelInfo]) -> bytes:
        return orjson.dumps(
            {
                "models": [
                    {
                        "name": f"models/{m.id}",
                        "baseModelId": m.id,
                        "displayName": m.id,
                        "description": f"{m.id}, served by {m.owned_by}",
                        "supportedGenerationMethods": EMBEDDING_METHODS if m.embeds else GENERATION_METHODS,
                    }
                    for m in models
                ]
            }
        )

    def answers_models(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """``GET /v1/models`` from a Google client gets Gemini's list shape."""
        return "x-goog-api-key" in headers or "x-goog-api-client" in headers or "key" in query

    def can_pass_through(self, stream: bool, query: Mapping[str, str]) -> bool:
        """Upstream bytes are server-sent events; a client that asked for a JSON-array
        stream needs them re-encoded."""
        return not stream or sse_requested(query)

    # -- upstream side -------------------------------------------------------------------

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        return encode_request(request, model)

    def decode_response(self, body: bytes) -> Response:
        return decode_response(body)

    def stream_decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return decode_usage(obj.get("usageMetadata"))
