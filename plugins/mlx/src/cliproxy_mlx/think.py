"""``<think>...</think>`` in a local model's text, turned into IR reasoning.

Servers started without a reasoning parser (mlx-openai-server, llama.cpp without
``--reasoning-format``, vLLM without ``--reasoning-parser``) return Qwen3 / DeepSeek-R1
style thinking inline in ``content``. :class:`ThinkSplitter` rewrites a stream's events so
the first text block's leading ``<think>`` section becomes a reasoning block; tags may be
split anywhere across chunks. The result is the same as :func:`split_think` on the whole
text: reasoning and answer with the whitespace around the tags trimmed.
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
    body = text.lstrip()
    if not body.startswith(OPEN):
        return "", text
    rest = body[len(OPEN) :]
    end = rest.find(CLOSE)
    if end < 0:
        return rest.strip(), ""
    return rest[:end].strip(), rest[end + len(CLOSE) :].lstrip()


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


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """Rewrites IR stream events: the first text block's ``<think>`` section becomes a
    reasoning block. Block indexes are renumbered so they still count up in order."""

    def __init__(self) -> None:
        self._next = 0
        self._indexes: dict[int, int] = {}
        self._seen_text = False
        self._target: int | None = None  # upstream index of the text block being split
        self._mode = "head"  # head -> think -> after -> text, or head -> text
        self._buffer = ""
        self._reasoning: int | None = None  # our index of the reasoning block, once open
        self._reasoning_done = False
        self._text: int | None = None  # our index of the answer's text block, once open

    def feed(self, events: Iterable[ir.StreamEvent]) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for event in events:
            if isinstance(event, ir.TextStart) and not self._seen_text:
                self._seen_text = True
                self._target = event.index
                continue
            if self._target is not None:
                if isinstance(event, ir.TextDelta) and event.index == self._target:
                    self._consume(event.text, out)
                    continue
                if isinstance(event, ir.TextEnd) and event.index == self._target:
                    self._finish(out, event.provider_metadata)
                    continue
                if isinstance(event, ir.StreamFinish | ir.StreamError):
                    self._finish(out, None)
            out.append(self._renumber(event))
        return out

    # -- the rest of the stream --------------------------------------------------------

    def _alloc(self) -> int:
        index = self._next
        self._next += 1
        return index

    def _renumber(self, event: ir.StreamEvent) -> ir.StreamEvent:
        index = getattr(event, "index", None)
        if index is None:
            return event
        if isinstance(event, ir.TextStart | ir.ReasoningStart | ir.ToolCallStart | ir.FileOutput):
            self._indexes[index] = self._alloc()
        return attrs.evolve(event, index=self._indexes.get(index, index))  # type: ignore[misc]

    # -- the first text block ----------------------------------------------------------

    def _emit_reasoning(self, text: str, out: list[ir.StreamEvent]) -> None:
        if not text:
            return
        if self._reasoning is None:
            self._reasoning = self._alloc()
            out.append(ir.ReasoningStart(self._reasoning))
        out.append(ir.ReasoningDelta(self._reasoning, text))

    def _end_reasoning(self, out: list[ir.StreamEvent]) -> None:
        if self._reasoning is not None and not self._reasoning_done:
            out.append(ir.ReasoningEnd(self._reasoning))
        self._reasoning_done = True

    def _emit_text(self, text: str, out: list[ir.StreamEvent]) -> None:
        if not text:
            return
        if self._text is None:
            self._text = self._alloc()
            out.append(ir.TextStart(self._text))
        out.append(ir.TextDelta(self._text, text))

    def _consume(self, chunk: str, out: list[ir.StreamEvent]) -> None:
        if self._mode == "text":
            self._emit_text(chunk, out)
            return
        self._buffer += chunk
        if self._mode == "head":
            body = self._buffer.lstrip()
            if not body or (len(body) < len(OPEN) and OPEN.startswith(body)):
                return  # not decided yet
            if not body.startswith(OPEN):
                self._mode = "text"
                text, self._buffer = self._buffer, ""
                self._emit_text(text, out)
                return
            self._mode = "think"
            self._buffer = body[len(OPEN) :]
        if self._mode == "think":
            end = self._buffer.find(CLOSE)
            if end < 0:
                keep = _partial_suffix(self._buffer, CLOSE)
                ready, tail = (
                    self._buffer[: len(self._buffer) - keep],
                    self._buffer[len(self._buffer) - keep :],
                )
                if self._reasoning is None:
                    ready = ready.lstrip()
                body = ready.rstrip()
                self._emit_reasoning(body, out)
                self._buffer = ready[len(body) :] + tail  # trailing whitespace waits
                return
            inner = self._buffer[:end]
            if self._reasoning is None:
                inner = inner.lstrip()
            self._emit_reasoning(inner.rstrip(), out)
            self._end_reasoning(out)
            self._mode = "after"
            self._buffer = self._buffer[end + len(CLOSE) :]
        if self._mode == "after":
            answer = self._buffer.lstrip()
            self._buffer = ""
            if answer:
                self._mode = "text"
                self._emit_text(answer, out)

    def _finish(self, out: list[ir.StreamEvent], metadata: ir.Metadata) -> None:
        rest, self._buffer = self._buffer, ""
        if self._mode == "head":
            self._emit_text(rest, out)
        elif self._mode == "think":
            if self._reasoning is None:
                rest = rest.lstrip()
            self._emit_reasoning(rest.rstrip(), out)
        self._end_reasoning(out)
        if self._text is not None:
            out.append(ir.TextEnd(self._text, metadata))
        self._target = None
        self._mode = "text"
