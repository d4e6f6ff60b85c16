"""Reasoning written inline in a model's text, turned into IR reasoning blocks.

Servers started without a reasoning parser (mlx-openai-server, llama.cpp without
``--reasoning-format``, vLLM without ``--reasoning-parser``) and MiniMax's OpenAI-compatible
endpoint return Qwen3 / DeepSeek-R1 style thinking inline, as ``<think>...</think>`` at the
start of the answer's text. :class:`ThinkBlockSplitter` rewrites a stream's events so the
first text block's leading section becomes a reasoning block, however the tags are cut
across chunks; :func:`split_think_response` does the same for a whole answer, with the same
result (by default reasoning and answer with the whitespace around the tags trimmed;
``trim=False`` keeps the reasoning as written). The splitting is
:class:`~cliproxy.ir.ThinkTagSplitter`'s, the block bookkeeping
:class:`~cliproxy.ir.BlockWriter`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from cliproxy.ir.blocks import BlockWriter
from cliproxy.ir.events import (
    FileOutput,
    ReasoningStart,
    StreamError,
    StreamEvent,
    StreamFinish,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallStart,
)
from cliproxy.ir.parts import Metadata, Part, ReasoningPart, TextPart
from cliproxy.ir.response import Response
from cliproxy.ir.think_tags import ThinkSegment, ThinkTagSplitter, split_think_tags

__all__ = ["ThinkBlockSplitter", "split_think_response"]


def split_think_response(
    response: Response, open_tag: str = "<think>", close_tag: str = "</think>", *, trim: bool = True
) -> Response:
    """``response`` with its first text part's leading think section as a reasoning part
    (``response`` itself when that text has none); ``trim`` as
    :class:`~cliproxy.ir.ThinkTagSplitter` takes it."""
    parts = list(response.parts)
    for i, part in enumerate(parts):
        if isinstance(part, TextPart):
            reasoning, answer = split_think_tags(part.text, open_tag, close_tag, trim=trim)
            if not reasoning and answer == part.text:
                return response
            new: list[Part] = []
            if reasoning:
                new.append(ReasoningPart(reasoning))
            if answer:
                new.append(TextPart(answer, part.provider_metadata))
            parts[i : i + 1] = new
            return attrs.evolve(response, parts=tuple(parts))
    return response


class ThinkBlockSplitter:
    """Rewrites IR stream events: the first text block's ``<think>`` section becomes a
    reasoning block. Block indexes are renumbered so they still count up in order."""

    def __init__(self, open_tag: str = "<think>", close_tag: str = "</think>", *, trim: bool = True) -> None:
        self._blocks = BlockWriter()  # our indexes; the split text block's blocks
        self._indexes: dict[int, int] = {}  # upstream index -> ours, for the other blocks
        self._seen_text = False
        self._target: int | None = None  # upstream index of the text block being split
        self._tags = ThinkTagSplitter(open_tag, close_tag, trim=trim)

    def feed(self, events: Iterable[StreamEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in events:
            if isinstance(event, TextStart) and not self._seen_text:
                self._seen_text = True
                self._target = event.index
                continue
            if self._target is not None:
                if isinstance(event, TextDelta) and event.index == self._target:
                    self._write(self._tags.feed(event.text), out)
                    continue
                if isinstance(event, TextEnd) and event.index == self._target:
                    self._finish(out, event.provider_metadata)
                    continue
                if isinstance(event, StreamFinish | StreamError):
                    self._finish(out, None)
            out.append(self._renumber(event))
        return out

    # -- the rest of the stream --------------------------------------------------------

    def _renumber(self, event: StreamEvent) -> StreamEvent:
        index = getattr(event, "index", None)
        if index is None:
            return event
        if isinstance(event, TextStart | ReasoningStart | ToolCallStart | FileOutput):
            self._indexes[index] = self._blocks.take_index()
        ours = self._indexes.get(index, index)
        return event if ours == index else attrs.evolve(event, index=ours)

    # -- the first text block ----------------------------------------------------------

    def _write(self, segments: list[ThinkSegment], out: list[StreamEvent]) -> None:
        blocks = self._blocks
        for kind, text in segments:
            if kind == "reasoning":
                blocks.reasoning(text, out)
            else:
                blocks.text(text, out)  # ends the reasoning block first
        if self._tags.reasoning_done and blocks.kind == "reasoning":
            blocks.close(out)  # the section ended: so does its block, answer or not

    def _finish(self, out: list[StreamEvent], metadata: Metadata) -> None:
        self._write(self._tags.close(), out)
        blocks = self._blocks
        if blocks.kind == "text":
            blocks.metadata = metadata  # the upstream text block's end values go on the answer's
        blocks.close(out)
        self._target = None
