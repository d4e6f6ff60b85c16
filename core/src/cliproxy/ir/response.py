"""The canonical response: parts, why the model stopped, and what it cost."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import attrs

from cliproxy.ir.parts import Metadata, Part, TextPart

__all__ = ["Finish", "FinishReason", "Response", "Usage"]


def _parts(value: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(value)


class FinishReason(StrEnum):
    """Why generation stopped, unified across wire formats."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    OTHER = "other"


@attrs.frozen
class Finish:
    """The unified reason plus the provider's own value (``end_turn``, ``MAX_TOKENS``...)."""

    reason: FinishReason = FinishReason.STOP
    raw: str | None = None


def _add(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


@attrs.frozen
class Usage:
    """Token counts; any may be unknown (None).

    Semantics are OpenAI's: ``input_tokens`` counts the whole prompt, cached tokens
    included, and ``cache_read_tokens``/``cache_write_tokens`` are parts of it;
    ``output_tokens`` counts everything generated, reasoning included, and
    ``reasoning_tokens`` is part of it. Translators convert to and from each wire's own
    convention (Anthropic reports cache tokens beside input tokens; Gemini reports thoughts
    beside candidates). ``estimated`` marks counts the gateway computed itself.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None
    estimated: bool = False

    @property
    def total_tokens(self) -> int | None:
        return _add(self.input_tokens, self.output_tokens)

    def merge(self, newer: Usage) -> Usage:
        """Field by field, the newer known value wins (stream usage is cumulative).

        The result is ``estimated`` when the counts it keeps are: a usage with no counts
        takes the other's mark, so folding an estimate into nothing keeps it marked.
        """
        if not self:
            estimated = newer.estimated
        elif not newer:
            estimated = self.estimated
        else:
            estimated = self.estimated and newer.estimated
        return Usage(
            input_tokens=self.input_tokens if newer.input_tokens is None else newer.input_tokens,
            output_tokens=self.output_tokens if newer.output_tokens is None else newer.output_tokens,
            cache_read_tokens=self.cache_read_tokens if newer.cache_read_tokens is None else newer.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens
            if newer.cache_write_tokens is None
            else newer.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens if newer.reasoning_tokens is None else newer.reasoning_tokens,
            cost=self.cost if newer.cost is None else newer.cost,
            estimated=estimated,
        )

    def __bool__(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


@attrs.frozen(kw_only=True)
class Response:
    """A complete model answer.

    ``model`` is the name shown to the client (the gateway sets it to what the client
    asked for before a door encodes the response).
    """

    id: str
    model: str
    parts: tuple[Part, ...] = attrs.field(converter=_parts)
    finish: Finish = Finish()
    usage: Usage = Usage()
    created: int | None = None
    provider_metadata: Metadata = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    def named(self, model: str) -> Response:
        """This answer shown as ``model`` (itself when that is its name already). Cheaper
        than ``attrs.evolve``, which looks the class's fields up on every call."""
        if self.model == model:
            return self
        return Response(
            id=self.id,
            model=model,
            parts=self.parts,
            finish=self.finish,
            usage=self.usage,
            created=self.created,
            provider_metadata=self.provider_metadata,
        )
