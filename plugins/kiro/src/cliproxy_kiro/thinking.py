"""Inline thinking: Kiro writes reasoning into the text as ``<thinking>...</thinking>``.

When a request asks for thinking (tags injected into the prompt), the answer's text starts
with a ``<thinking>`` block. :class:`ThinkingSplitter` separates it from the answer as the
text streams in -- the core's :class:`cliproxy.ir.ThinkTagSplitter` with Kiro's tags,
the reasoning kept as written and only the line breaks after the block dropped. Only a
block that opens the answer counts (leading whitespace aside): a ``<thinking>`` later in
the text is the model talking about tags, and stays text.
"""

from __future__ import annotations

from cliproxy.ir import ThinkTagSplitter

__all__ = ["CLOSE", "OPEN", "ThinkingSplitter"]

OPEN = "<thinking>"
CLOSE = "</thinking>"


class ThinkingSplitter(ThinkTagSplitter):
    """A :class:`~cliproxy.ir.ThinkTagSplitter` for Kiro's ``<thinking>`` tags."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(OPEN, CLOSE, trim=False)
