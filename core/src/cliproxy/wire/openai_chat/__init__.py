"""OpenAI Chat Completions (``/v1/chat/completions``): the ``openai-chat`` wire format.

Serves the OpenAI door and every OpenAI-compatible upstream (OpenAI, OpenRouter, vLLM,
llama.cpp, Ollama, MLX servers...). Facts: ``reference/wire/FACTS.md`` section 1.

Reasoning arrives as ``reasoning_content`` (DeepSeek, vLLM, llama.cpp), ``reasoning``
(OpenRouter, newer vLLM, Ollama) or ``reasoning_details`` (OpenRouter, with signatures);
all become IR reasoning. Signatures travel to clients in ``reasoning_details`` and, for
Gemini tool calls, in ``extra_content.google.thought_signature`` (as Google's own
OpenAI-compatible endpoint does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, Usage
from cliproxy.sse import KEEPALIVE_COMMENT
from cliproxy.translate import ClientTranslator, Door, EncodeContext, UpstreamTranslator
from cliproxy.wire.openai_chat.common import WIRE, decode_usage, extract_usage
from cliproxy.wire.openai_chat.errors import decode_error, encode_error
from cliproxy.wire.openai_chat.request_decode import decode_request
from cliproxy.wire.openai_chat.request_encode import encode_request
from cliproxy.wire.openai_chat.response import check_response, decode_response, encode_response
from cliproxy.wire.openai_chat.stream_decode import ChatStreamDecoder, usage_only_chunk
from cliproxy.wire.openai_chat.stream_encode import ChatStreamEncoder

__all__ = [
    "WIRE",
    "ChatStreamDecoder",
    "ChatStreamEncoder",
    "OpenAIChat",
    "check_response",
    "decode_error",
    "decode_request",
    "decode_response",
    "decode_usage",
    "encode_error",
    "encode_request",
    "encode_response",
    "extract_usage",
    "usage_only_chunk",
]


class OpenAIChat(ClientTranslator, UpstreamTranslator):
    """The ``openai-chat`` translator (client and upstream side)."""

    name = WIRE
    doors = (Door("/v1/chat/completions"),)

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> ChatStreamEncoder:
        return ChatStreamEncoder(ctx)

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        return KEEPALIVE_COMMENT

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        return encode_request(request, model)

    def decode_response(self, body: bytes) -> Response:
        return decode_response(body)

    def check_response(self, obj: Any) -> Usage:
        return check_response(obj)

    def stream_decoder(self) -> ChatStreamDecoder:
        return ChatStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return extract_usage(obj)

    def passthrough_filter(self, body: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool] | None:
        """Drop the usage-only chunk when the client did not ask for usage (the gateway
        always asks the upstream for it, to count tokens)."""
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return None
        return usage_only_chunk
