"""``<think>...</think>`` in a local model's text, turned into IR reasoning.

Servers started without a reasoning parser (mlx-openai-server, llama.cpp without
``--reasoning-format``, vLLM without ``--reasoning-parser``) return Qwen3 / DeepSeek-R1
style thinking inline in ``content``. :class:`ThinkSplitter` rewrites a stream's events so
the first text block's leading ``<think>`` section becomes a reasoning block; tags may be
split anywhere across chunks. The result is the same as :func:`split_think` on the whole
text: reasoning and answer with the whitespace around the tags trimmed. The splitting is
the core's (:class:`cliproxy.ir.ThinkTagSplitter`), the block bookkeeping too
(:class:`cliproxy.ir.BlockWriter`).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from cliproxy import ir

__all__ = ["ThinkSplitter", "split_response", "split_think"]

OPEN = "<think>"
CLOSE = "</think>"


def split_think(text: str) -> tuple[str, str]:
    """``(reasoning, answer)`` for a whole text; reasoning is "" when the text does not
    open with ``<think>`` (then the answer is the text unchanged)."""
    return ir.split_think_tags(text, OPEN, CLOSE)


def split_response(response: ir.Response) -> ir.Response:
    """``response`` with its first text part's ``<think>`` section as a reasoning part."""
    parts = list(response.parts)
    for i, part in enumerate(parts):
        if isinstance(part, ir.TextPart):
            reasoning, answer = split_think(part.text)
            if not reasoning and answer == part.text:
                return response
            new: list[ir.Part] = []
            if reasoning:
                new.append(ir.ReasoningPart(reasoning))
            if answer:
                new.append(ir.TextPart(answer, part.provider_metadata))
            parts[i : i + 1] = new
            return attrs.evolve(response, parts=parts)
    return response


class ThinkSplitter:
    """Rewrites IR stream events: the first text block's ``<think>`` section becomes a
    reasoning block. Block indexes are renumbered so they still count up in order."""

    def __init__(self) -> None:
        self._blocks = ir.BlockWriter()  # our indexes; the split text block's blocks
        self._indexes: dict[int, int] = {}  # upstream index -> ours, for the other blocks
        self._seen_text = False
        self._target: int | None = None  # upstream index of the text block being split
        self._tags = ir.ThinkTagSplitter(OPEN, CLOSE)

    def feed(self, events: Iterable[ir.StreamEvent]) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for event in events:
            if isinstance(event, ir.TextStart) and not self._seen_text:
                self._seen_text = True
                self._target = event.index
                continue
            if self._target is not None:
                if isinstance(event, ir.TextDelta) and event.index == self._target:
                    self._write(self._tags.feed(event.text), out)
                    continue
                if isinstance(event, ir.TextEnd) and event.index == self._target:
                    self._finish(out, event.provider_metadata)
                    continue
                if isinstance(event, ir.StreamFinish | ir.StreamError):
                    self._finish(out, None)
            out.append(self._renumber(event))
        return out

    # -- the rest of the stream --------------------------------------------------------

    def _renumber(self, event: ir.StreamEvent) -> ir.StreamEvent:
        index = getattr(event, "index", None)
        if index is None:
            return event
        if isinstance(event, ir.TextStart | ir.ReasoningStart | ir.ToolCallStart | ir.FileOutput):
            self._indexes[index] = self._blocks.take_index()
        return attrs.evolve(event, index=self._indexes.get(index, index))

    # -- the first text block ----------------------------------------------------------

    def _write(self, segments: list[ir.ThinkSegment], out: list[ir.StreamEvent]) -> None:
        blocks = self._blocks
        for kind, text in segments:
            if kind == "reasoning":
                blocks.reasoning(text, out)
            else:
                blocks.text(text, out)  # ends the reasoning block first
        if self._tags.reasoning_done and blocks.kind == "reasoning":
            blocks.close(out)  # the section ended: so does its block, answer or not

    def _finish(self, out: list[ir.StreamEvent], metadata: ir.Metadata) -> None:
        self._write(self._tags.close(), out)
        blocks = self._blocks
        if blocks.kind == "text":
            blocks.metadata = metadata  # the upstream text block's end values go on the answer's
        blocks.close(out)
        self._target = None
