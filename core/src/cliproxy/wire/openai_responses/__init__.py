"""OpenAI Responses (``/v1/responses``): the ``openai-responses`` wire format.

What Codex speaks, and what OpenAI, the Codex backend, GitHub Copilot (for Codex-family
models), vLLM and Ollama serve. Facts: ``reference/wire/FACTS.md`` section 2.

Client side: the ``POST /v1/responses`` door (streaming or not) and
``POST /v1/responses/input_tokens``. Upstream side: request encoding, response and
stream decoding for providers that speak Responses. Errors use OpenAI's
``{"error": {...}}`` shape, as the Chat wire does.

Decoding is stateless: see :mod:`.request_decode` for what that means for
``previous_response_id`` and friends, and :mod:`.continuation` for how the door continues
answers the gateway kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, Usage
from cliproxy.sse import KEEPALIVE_COMMENT
from cliproxy.translate import ClientTranslator, Door, EncodeContext, UpstreamTranslator
from cliproxy.wire.openai_responses.common import WIRE, extract_usage
from cliproxy.wire.openai_responses.errors import decode_error, encode_error
from cliproxy.wire.openai_responses.request_decode import decode_request, forwarded_body
from cliproxy.wire.openai_responses.request_encode import encode_request
from cliproxy.wire.openai_responses.response import decode_response, encode_response
from cliproxy.wire.openai_responses.stream_decode import ResponsesStreamDecoder
from cliproxy.wire.openai_responses.stream_encode import ResponsesStreamEncoder

__all__ = ["WIRE", "OpenAIResponses", "ResponsesStreamDecoder", "ResponsesStreamEncoder"]


class OpenAIResponses(ClientTranslator, UpstreamTranslator):
    """The ``openai-responses`` translator (client and upstream side)."""

    name = WIRE
    doors = (Door("/v1/responses"), Door("/v1/responses/input_tokens", action="count_tokens"))

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> ResponsesStreamEncoder:
        return ResponsesStreamEncoder(ctx)

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        return KEEPALIVE_COMMENT

    def encode_count(self, tokens: int, ctx: EncodeContext) -> bytes:
        return orjson.dumps({"object": "response.input_tokens", "input_tokens": tokens})

    def forwarded_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """The body passed through to a Responses upstream: no gateway-sealed items."""
        return forwarded_body(body)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        return encode_request(request, model)

    def decode_response(self, body: bytes) -> Response:
        return decode_response(body)

    def stream_decoder(self) -> ResponsesStreamDecoder:
        return ResponsesStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return extract_usage(obj)
