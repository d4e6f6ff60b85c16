"""Embeddings in the gateway's own terms: what a client asked to embed, and the vectors a
provider answered with -- whatever the door (``POST /v1/embeddings``, Gemini's
``:embedContent`` and ``:batchEmbedContents``) and whatever the upstream.

A provider offers embedding models through two members of :class:`~cliproxy.Provider`:
``embeds(credential, model)`` says whether a model embeds (False by default: the provider
does not embed), and ``async embed(call)`` answers ``call.embedding`` (an
:class:`EmbeddingRequest`) with :class:`Embeddings`. :func:`in_batches` splits the inputs to
an upstream's batch limit and joins the answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import attrs

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["EmbeddingInput", "EmbeddingRequest", "Embeddings", "in_batches", "not_embedding", "text_only"]

EmbeddingInput = str | tuple[int, ...]
"""One input: a text, or (OpenAI wire only) a text already tokenized, as token ids."""


@attrs.frozen
class EmbeddingRequest:
    """What to embed.

    Attributes:
        inputs: The inputs, in order; the answer has one vector per input.
        dimensions: The vectors' length, when the client asked for shorter ones
            (OpenAI ``dimensions``, Gemini ``outputDimensionality``).
        task_type: Gemini's ``taskType`` (``RETRIEVAL_QUERY``...), when the client sent one.
        title: Gemini's ``title`` (for ``RETRIEVAL_DOCUMENT``), when the client sent one.
        user: OpenAI's ``user``, passed on to OpenAI-compatible upstreams.
    """

    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None
    task_type: str | None = None
    title: str | None = None
    user: str | None = None


@attrs.define
class Embeddings:
    """An answer: one vector per input, in the inputs' order, and the tokens read
    (``input_tokens``; None when the upstream does not say)."""

    vectors: list[list[float]]
    input_tokens: int | None = None

    async def aclose(self) -> None:
        """Nothing to release (the gateway closes every answer it got)."""


def not_embedding(model: str, provider: str) -> GatewayError:
    """The 400 for a model its provider does not embed with (a chat model)."""
    return GatewayError.invalid(
        f"'{model}' is not an embedding model ({provider} serves it for chat, not embeddings); "
        "ask for an embedding model -- GET /v1/models marks them",
        param="model",
        code="model_not_embedding",
    ).as_local()


def text_only(request: EmbeddingRequest, upstream: str) -> list[str]:
    """The inputs as texts, or a 400 for token-id inputs an upstream cannot take."""
    texts: list[str] = []
    for i, item in enumerate(request.inputs):
        if not isinstance(item, str):
            raise GatewayError.invalid(
                f"input[{i}] is a list of token ids, which {upstream} cannot embed; send the text instead",
                param="input",
            ).as_local()
        texts.append(item)
    return texts


async def in_batches(
    inputs: Sequence[EmbeddingInput],
    limit: int,
    embed: Callable[[Sequence[EmbeddingInput]], Awaitable[Embeddings]],
) -> Embeddings:
    """``embed`` the inputs ``limit`` at a time, one batch after the other, and join the
    vectors in order (tokens summed; None if any batch did not say). A batch that answers
    with the wrong number of vectors is the upstream's failure (a 502)."""
    if len(inputs) <= limit:
        return _checked(await embed(inputs), len(inputs))
    vectors: list[list[float]] = []
    tokens: int | None = 0
    for start in range(0, len(inputs), limit):
        batch = inputs[start : start + limit]
        answer = _checked(await embed(batch), len(batch))
        vectors.extend(answer.vectors)
        tokens = None if tokens is None or answer.input_tokens is None else tokens + answer.input_tokens
    return Embeddings(vectors, tokens)


def _checked(answer: Embeddings, expected: int) -> Embeddings:
    if len(answer.vectors) != expected:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"the upstream answered {len(answer.vectors)} embeddings for {expected} inputs",
        )
    return answer
