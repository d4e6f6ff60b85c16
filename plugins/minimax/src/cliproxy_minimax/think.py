"""Reasoning MiniMax writes inline, as ``<think>...</think>`` at the start of the answer's
text (its OpenAI-compatible endpoint does so unless ``reasoning_split`` moves it to
``reasoning_details``).

For clients of other wires (Anthropic, Gemini, Responses) that text becomes reasoning:
:class:`ThinkSplitter` wraps the stream decoder with the core's
:class:`~cliproxy.ir.ThinkBlockSplitter`; :func:`cliproxy.ir.split_think_response` does a
whole answer; the reasoning is kept as written (``trim=False``). OpenAI Chat clients get the text as MiniMax wrote it, since MiniMax wants it
back verbatim in the next turn.
"""

from __future__ import annotations

from cliproxy import StreamDecoder, ir

__all__ = ["ThinkSplitter"]


class ThinkSplitter:
    """A stream decoder: the wire's own, with the first text block's leading think
    section turned into a reasoning block."""

    def __init__(self, inner: StreamDecoder) -> None:
        self._inner = inner
        self._blocks = ir.ThinkBlockSplitter(trim=False)  # the reasoning as MiniMax wrote it

    def feed(self, data: bytes) -> list[ir.StreamEvent]:
        return self._blocks.feed(self._inner.feed(data))

    def close(self) -> list[ir.StreamEvent]:
        return self._blocks.feed(self._inner.close())
