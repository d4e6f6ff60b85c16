"""Anthropic Messages (``/v1/messages``): the ``anthropic`` wire format.

Serves the Anthropic door (what Claude Code and the ``anthropic`` SDKs speak) and every
Anthropic-style upstream. Facts: ``reference/wire/FACTS.md`` section 3.

Modules follow the wire layout (see CONTRIBUTING.md); :mod:`.parts` holds the content
blocks <-> IR parts, shared by requests and responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import Request, Response, Usage
from cliproxy.translate import ClientTranslator, Door, EncodeContext, UpstreamTranslator
from cliproxy.wire.anthropic.common import WIRE, extract_usage
from cliproxy.wire.anthropic.errors import decode_error, encode_error
from cliproxy.wire.anthropic.request_decode import decode_request, forwarded_body
from cliproxy.wire.anthropic.request_encode import DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, encode_request
from cliproxy.wire.anthropic.response import decode_response, encode_response
from cliproxy.wire.anthropic.stream_decode import MessageStreamDecoder
from cliproxy.wire.anthropic.stream_encode import MessageStreamEncoder

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MIN_THINKING_BUDGET",
    "WIRE",
    "Anthropic",
    "MessageStreamDecoder",
    "MessageStreamEncoder",
]


PING_EVENT = b'event: ping\ndata: {"type": "ping"}\n\n'
"""The keepalive of the Messages door's streams: the ``ping`` event Anthropic's own API sends."""


class Anthropic(ClientTranslator, UpstreamTranslator):
    """The ``anthropic`` translator (client and upstream side)."""

    name = WIRE
    doors = (
        Door("/v1/messages"),
        Door("/v1/messages/count_tokens", action="count_tokens"),
    )

    # -- client side -----------------------------------------------------------------

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> MessageStreamEncoder:
        return MessageStreamEncoder(ctx)

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        return PING_EVENT

    def encode_count(self, tokens: int, ctx: EncodeContext) -> bytes:
        return orjson.dumps({"input_tokens": tokens})

    def forwarded_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """The body passed through to an Anthropic upstream: no gateway-sealed blocks."""
        return forwarded_body(body)

    # -- upstream side ---------------------------------------------------------------

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        return encode_request(request, model)

    def decode_response(self, body: bytes) -> Response:
        return decode_response(body)

    def stream_decoder(self) -> MessageStreamDecoder:
        return MessageStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return extract_usage(obj)
