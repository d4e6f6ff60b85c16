"""OpenAI's embeddings wire (``POST /v1/embeddings``), both sides.

Client side: :func:`decode_request` reads a client's body (``input`` a string, an array of
strings, an array of token ids or an array of those; ``dimensions``; ``encoding_format``
``float`` or ``base64``; ``user``) into an :class:`~cliproxy.embedding.EmbeddingRequest`;
:func:`encode_response` writes the answer (base64: little-endian float32, as OpenAI does).
Upstream side: :func:`upstream_body` and :func:`decode_response` for OpenAI-compatible
upstreams. Errors use the chat wire's shape.
"""

from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cliproxy.embedding import EmbeddingInput, EmbeddingRequest, Embeddings
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire.common import kind_of

__all__ = ["MAX_INPUTS", "decode_request", "decode_response", "encode_response", "upstream_body"]

MAX_INPUTS = 100_000
"""The most inputs one request may carry (each upstream's batch limit splits them further)."""

_FORMATS = ("float", "base64")
_LITTLE_ENDIAN = array("f", [1.0]).tobytes() == b"\x00\x00\x80?"


def decode_request(body: Mapping[str, Any]) -> tuple[EmbeddingRequest, str]:
    """The request and the ``encoding_format`` asked for; a 400 naming the field for a body
    of the wrong shape."""
    inputs = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise GatewayError.invalid(f"'dimensions' must be a positive integer, not {dimensions!r}", param="dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in _FORMATS:
        raise GatewayError.invalid(
            f"'encoding_format' must be 'float' or 'base64', not {encoding!r}", param="encoding_format"
        )
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise GatewayError.invalid(f"'user' must be a string, not {kind_of(user)}", param="user")
    return EmbeddingRequest(inputs=inputs, dimensions=dimensions, user=user), encoding


def _inputs(value: Any) -> tuple[EmbeddingInput, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not value:
        raise GatewayError.invalid(
            "'input' must be a string or a non-empty array of strings or token arrays, "
            f"not {'an empty array' if value == [] else kind_of(value)}",
            param="input",
        )
    if all(_is_token(t) for t in value):
        return (tuple(value),)  # one tokenized input
    if len(value) > MAX_INPUTS:
        raise GatewayError.invalid(
            f"'input' has {len(value)} items; send at most {MAX_INPUTS} per request", param="input"
        )
    inputs: list[EmbeddingInput] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            inputs.append(item)
        elif isinstance(item, list) and item and all(_is_token(t) for t in item):
            inputs.append(tuple(item))
        else:
            raise GatewayError.invalid(
                f"'input[{i}]' must be a string or a non-empty array of token ids, not {kind_of(item)}", param="input"
            )
    return tuple(inputs)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_response(answer: Embeddings, model: str, encoding: str) -> bytes:
    """The ``list`` of ``embedding`` objects a client reads."""
    data = [
        {"object": "embedding", "index": i, "embedding": _base64(vector) if encoding == "base64" else vector}
        for i, vector in enumerate(answer.vectors)
    ]
    tokens = answer.input_tokens or 0
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _base64(vector: Sequence[float]) -> str:
    packed = array("f", vector)
    if not _LITTLE_ENDIAN:
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def upstream_body(request: EmbeddingRequest, inputs: Sequence[EmbeddingInput], model: str) -> dict[str, Any]:
    """The body for an OpenAI-compatible ``/embeddings`` (floats asked for)."""
    body: dict[str, Any] = {
        "model": model,
        "input": [item if isinstance(item, str) else list(item) for item in inputs],
        "encoding_format": "float",
    }
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def decode_response(raw: bytes) -> Embeddings:
    """An OpenAI-compatible upstream's answer (float or base64 vectors, in ``index`` order)."""
    try:
        obj = orjson.loads(raw)
        items = sorted(obj["data"], key=lambda item: item.get("index", 0))
        vectors = [_vector(item["embedding"]) for item in items]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _bad_answer(exc) from None
    usage = obj.get("usage") if isinstance(obj, dict) else None
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return Embeddings(vectors, tokens if isinstance(tokens, int) else None)


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):
        packed = array("f")
        packed.frombytes(base64.b64decode(value))
        if not _LITTLE_ENDIAN:
            packed.byteswap()
        return packed.tolist()
    if not isinstance(value, list) or not all(isinstance(x, int | float) and math.isfinite(x) for x in value):
        raise ValueError("an embedding is not a list of numbers")
    return [float(x) for x in value]


def _bad_answer(exc: Exception) -> GatewayError:
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"the upstream's embeddings answer is not in OpenAI's shape ({type(exc).__name__}: {exc})"[:300],
    )
