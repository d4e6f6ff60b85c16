"""The ``kiro`` wire format: the upstream translator the gateway decodes Kiro with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy import GatewayError, UpstreamTranslator, ir

from cliproxy_kiro.errors import decode_error
from cliproxy_kiro.request import build_request
from cliproxy_kiro.stream import KiroStreamDecoder, decode_response, usage_from

__all__ = ["WIRE", "KiroTranslator"]

WIRE = "kiro"


class KiroTranslator(UpstreamTranslator):
    """Upstream side of the ``kiro`` wire (see :class:`cliproxy.UpstreamTranslator`).

    Kiro always answers with an event stream; :meth:`decode_response` folds a whole one,
    for callers that read the body in one go.
    """

    name = WIRE

    def encode_request(self, request: ir.Request, model: str) -> dict[str, Any]:
        return build_request(request, model).body

    def decode_response(self, body: bytes) -> ir.Response:
        return decode_response(body)

    def stream_decoder(self) -> KiroStreamDecoder:
        return KiroStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> ir.Usage | None:
        return usage_from(obj)
