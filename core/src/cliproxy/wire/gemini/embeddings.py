"""Gemini's embeddings wire (``models/{model}:embedContent`` and ``:batchEmbedContents``),
both sides.

Client side: :func:`decode_request` reads either door's body into an
:class:`~cliproxy.embedding.EmbeddingRequest` (one input per ``content``: its text parts
joined by newlines; ``taskType``, ``title``, ``outputDimensionality``), :func:`encode_response`
answers in the door's shape. Upstream side: :func:`upstream_body` builds a
``batchEmbedContents`` body (at most :data:`BATCH_LIMIT` requests), :func:`decode_response`
reads its answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cliproxy.embedding import EmbeddingRequest, Embeddings
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire.common import kind_of

__all__ = ["BATCH_LIMIT", "decode_request", "decode_response", "encode_response", "upstream_body"]

BATCH_LIMIT = 100
"""The most requests Gemini's ``batchEmbedContents`` takes at once."""

MAX_REQUESTS = 100_000


def decode_request(body: Mapping[str, Any], *, batch: bool) -> EmbeddingRequest:
    """The request of an ``embedContent`` (``batch`` False) or ``batchEmbedContents`` body;
    the first request's ``taskType``, ``title`` and ``outputDimensionality`` hold for all."""
    if not batch:
        items: list[Any] = [body]
    else:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise GatewayError.invalid(
                "'requests' must be a non-empty array of embedContent requests", param="requests"
            )
        if len(requests) > MAX_REQUESTS:
            raise GatewayError.invalid(f"'requests' has {len(requests)} items; send at most {MAX_REQUESTS}")
        items = requests
    texts: list[str] = []
    for i, item in enumerate(items):
        where = f"requests[{i}]." if batch else ""
        if not isinstance(item, Mapping):
            raise GatewayError.invalid(f"'{where.rstrip('.')}' must be an object, not {kind_of(item)}")
        texts.append(_text(item.get("content"), where))
    first = items[0]
    dimensions = first.get("outputDimensionality")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise GatewayError.invalid(f"'outputDimensionality' must be a positive integer, not {dimensions!r}")
    task, title = first.get("taskType"), first.get("title")
    return EmbeddingRequest(
        inputs=tuple(texts),
        dimensions=dimensions,
        task_type=task if isinstance(task, str) else None,
        title=title if isinstance(title, str) else None,
    )


def _text(content: Any, where: str) -> str:
    if not isinstance(content, Mapping) or not isinstance(content.get("parts"), list):
        raise GatewayError.invalid(f"'{where}content' must be an object with 'parts', not {kind_of(content)}")
    texts: list[str] = []
    for j, part in enumerate(content["parts"]):
        text = part.get("text") if isinstance(part, Mapping) else None
        if not isinstance(text, str):
            raise GatewayError.invalid(f"'{where}content.parts[{j}]' must be a text part; the gateway embeds text only")
        texts.append(text)
    if not texts:
        raise GatewayError.invalid(f"'{where}content.parts' is empty; send the text to embed")
    return "\n".join(texts)


def encode_response(answer: Embeddings, *, batch: bool) -> bytes:
    """``{"embedding": {...}}`` for ``embedContent``, ``{"embeddings": [...]}`` for a batch."""
    if not batch:
        return orjson.dumps({"embedding": {"values": answer.vectors[0]}})
    return orjson.dumps({"embeddings": [{"values": vector} for vector in answer.vectors]})


def upstream_body(request: EmbeddingRequest, texts: Sequence[str], model: str) -> dict[str, Any]:
    """A ``batchEmbedContents`` body for ``texts`` (at most :data:`BATCH_LIMIT`)."""
    extra: dict[str, Any] = {}
    if request.task_type is not None:
        extra["taskType"] = request.task_type
    if request.title is not None:
        extra["title"] = request.title
    if request.dimensions is not None:
        extra["outputDimensionality"] = request.dimensions
    name = f"models/{model}"
    return {"requests": [{"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in texts]}


def decode_response(raw: bytes) -> Embeddings:
    """A ``batchEmbedContents`` answer."""
    try:
        obj = orjson.loads(raw)
        vectors = [[float(x) for x in item["values"]] for item in obj["embeddings"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"the upstream's embeddings answer is not in Gemini's shape ({type(exc).__name__})",
        ) from None
    usage = obj.get("usageMetadata") if isinstance(obj, dict) else None
    tokens = usage.get("promptTokenCount") if isinstance(usage, dict) else None
    return Embeddings(vectors, tokens if isinstance(tokens, int) else None)
