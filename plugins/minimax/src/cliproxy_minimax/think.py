"""Reasoning MiniMax writes inline, as ``<think>...</think>`` at the start of the answer's
text (its OpenAI-compatible endpoint does so unless ``reasoning_split`` moves it to
``reasoning_details``).

For clients of other wires (Anthropic, Gemini, Responses) that text becomes reasoning:
:class:`ThinkSplitter` wraps the stream decoder, :func:`split_response` a whole answer.
OpenAI Chat clients get the text as MiniMax wrote it, since MiniMax wants it back
verbatim in the next turn.
"""

from __future__ import annotations

from typing import Any

import attrs
from cliproxy import StreamDecoder, ir

__all__ = ["ThinkSplitter", "split_response"]

OPEN, CLOSE = "<think>", "</think>"


def _split(text: str) -> tuple[str, str] | None:
    """``(reasoning, answer)`` of a text that opens with a think block; None otherwise."""
    body = text.lstrip()
    if not body.startswith(OPEN):
        return None
    thought, closed, rest = body[len(OPEN) :].partition(CLOSE)
    return (thought, rest.lstrip()) if closed else (thought, "")


def split_response(response: ir.Response) -> ir.Response:
    """``response`` with a leading think block of its text moved into a reasoning part."""
    parts: list[Any] = []
    changed = False
    for part in response.parts:
        found = _split(part.text) if isinstance(part, ir.TextPart) else None
        if found is None:
            parts.append(part)
            continue
        changed = True
        thought, answer = found
        parts.append(ir.ReasoningPart(thought))
        if answer:
            parts.append(attrs.evolve(part, text=answer))
    return attrs.evolve(response, parts=tuple(parts)) if changed else response


class _Text:
    """One text block of the inner stream, being split."""

    def __init__(self) -> None:
        self.state = "start"  # start -> (think -> after) | text
        self.pending = ""  # text held back: a possible tag, or leading whitespace
        self.reasoning: int | None = None
        self.text: int | None = None


class ThinkSplitter:
    """A stream decoder that wraps the wire's own and turns a text block's leading
    ``<think>...</think>`` into a reasoning block (indexes renumbered in order)."""

    def __init__(self, inner: StreamDecoder) -> None:
        self._inner = inner
        self._next = 0
        self._blocks: dict[int, int] = {}  # inner index of a non-text block -> outer index
        self._texts: dict[int, _Text] = {}

    def feed(self, data: bytes) -> list[ir.StreamEvent]:
        return self._map(self._inner.feed(data))

    def close(self) -> list[ir.StreamEvent]:
        out = self._map(self._inner.close())
        for index in list(self._texts):
            out.extend(self._end_text(index))
        return out

    def _index(self) -> int:
        self._next += 1
        return self._next - 1

    def _map(self, events: list[ir.StreamEvent]) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for event in events:
            if isinstance(event, ir.TextStart):
                self._texts[event.index] = _Text()
            elif isinstance(event, ir.TextDelta):
                out.extend(self._text(event.index, event.text))
            elif isinstance(event, ir.TextEnd):
                out.extend(self._end_text(event.index, event.provider_metadata))
            elif isinstance(event, ir.FileOutput):
                out.append(attrs.evolve(event, index=self._index()))
            elif isinstance(event, ir.ReasoningStart | ir.ToolCallStart):
                self._blocks[event.index] = self._index()
                out.append(attrs.evolve(event, index=self._blocks[event.index]))
            elif hasattr(event, "index") and event.index in self._blocks:
                out.append(attrs.evolve(event, index=self._blocks[event.index]))
            else:
                if isinstance(event, ir.StreamFinish | ir.StreamError):
                    for index in list(self._texts):
                        out.extend(self._end_text(index))
                out.append(event)
        return out

    def _emit_text(self, block: _Text, text: str) -> list[ir.StreamEvent]:
        if not text:
            return []
        out: list[ir.StreamEvent] = []
        if block.text is None:
            block.text = self._index()
            out.append(ir.TextStart(block.text))
        out.append(ir.TextDelta(block.text, text))
        return out

    def _emit_reasoning(self, block: _Text, text: str) -> list[ir.StreamEvent]:
        if not text:
            return []
        assert block.reasoning is not None
        return [ir.ReasoningDelta(block.reasoning, text)]

    def _text(self, index: int, text: str) -> list[ir.StreamEvent]:
        block = self._texts.setdefault(index, _Text())
        if block.state == "text":
            return self._emit_text(block, text)
        out: list[ir.StreamEvent] = []
        held = block.pending + text
        block.pending = ""
        if block.state == "start":
            lead = held.lstrip()
            if len(lead) < len(OPEN) and OPEN.startswith(lead):
                block.pending = held  # maybe a think block: wait for more
                return out
            if not lead.startswith(OPEN):
                block.state = "text"
                return self._emit_text(block, held)
            block.state = "think"
            block.reasoning = self._index()
            out.append(ir.ReasoningStart(block.reasoning))
            held = lead[len(OPEN) :]
        if block.state == "think":
            thought, closed, rest = held.partition(CLOSE)
            if not closed:
                keep = next((n for n in range(len(CLOSE) - 1, 0, -1) if held.endswith(CLOSE[:n])), 0)
                out.extend(self._emit_reasoning(block, held[: len(held) - keep]))
                block.pending = held[len(held) - keep :]
                return out
            out.extend(self._emit_reasoning(block, thought))
            out.append(ir.ReasoningEnd(block.reasoning))  # type: ignore[arg-type]
            block.state, held = "after", rest
        if block.state == "after":
            held = held.lstrip()
            if held:
                block.state = "text"
                out.extend(self._emit_text(block, held))
        return out

    def _end_text(self, index: int, metadata: Any = None) -> list[ir.StreamEvent]:
        block = self._texts.pop(index, None)
        if block is None:
            return []
        out: list[ir.StreamEvent] = []
        if block.state == "start":
            out.extend(self._emit_text(block, block.pending))
        elif block.state == "think":
            out.extend(self._emit_reasoning(block, block.pending))
            out.append(ir.ReasoningEnd(block.reasoning))  # type: ignore[arg-type]
        if block.text is not None:
            out.append(ir.TextEnd(block.text, metadata))
        return out
