"""Block bookkeeping for stream decoders: indexes, one open block, its end.

A decoder whose wire does not delimit blocks itself (OpenAI chunks, Kiro frames, Gemini
parts) has to decide where IR blocks start and end. :class:`BlockWriter` keeps that
state once for all of them: indexes count up in the order blocks start, at most one
text / reasoning / tool-call block is open at a time, and starting a block ends the open
one first -- the lifecycle :mod:`cliproxy.ir.events` promises. Opaque values learned
while a block is open (signatures) gather in :attr:`BlockWriter.metadata` and ride on
its end event.

:func:`block_start` and :func:`block_end` build the start and end events of a block kind,
for decoders that keep several blocks of their own (Anthropic's, by upstream index).
"""

from __future__ import annotations

from typing import Literal

from cliproxy.ir.events import (
    FileOutput,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    StreamEvent,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from cliproxy.ir.parts import FilePart, Metadata, merge_metadata

__all__ = ["BlockKind", "BlockWriter", "block_end", "block_start"]

BlockKind = Literal["text", "reasoning", "tool"]


def block_start(kind: Literal["text", "reasoning"], index: int, metadata: Metadata = None) -> StreamEvent:
    """The start event of a text or reasoning block (a tool call's start needs its id and
    name: build :class:`~cliproxy.ir.ToolCallStart` directly)."""
    return TextStart(index, metadata) if kind == "text" else ReasoningStart(index, metadata)


def block_end(kind: BlockKind, index: int, metadata: Metadata = None) -> StreamEvent:
    """The end event of a block of ``kind``."""
    if kind == "text":
        return TextEnd(index, metadata)
    if kind == "reasoning":
        return ReasoningEnd(index, metadata)
    return ToolCallEnd(index, metadata)


class BlockWriter:
    """The blocks of one decoded response, written as IR events into a list.

    Every method appends to the ``out`` list it is given (the batch a decoder's ``feed``
    returns). Attributes describe the open block and may be read freely:

    Attributes:
        kind: ``"text"``, ``"reasoning"`` or ``"tool"`` while a block is open, else None.
        index: The open block's index (meaningless when none is open).
        key: What the decoder tagged the open block with (a tool call's upstream id or
            position), None when it gave nothing or no block is open.
        metadata: Provider metadata for the open block's end event; set or merge
            (:meth:`add_metadata`) as values arrive.
    """

    __slots__ = ("_next", "index", "key", "kind", "metadata")

    def __init__(self) -> None:
        self.kind: BlockKind | None = None
        self.index = -1
        self.key: object = None
        self.metadata: Metadata = None
        self._next = 0

    def take_index(self) -> int:
        """The next index, for a block the caller writes whole (it must end the open
        block first: :meth:`close`)."""
        index = self._next
        self._next += 1
        return index

    def open(self, kind: Literal["text", "reasoning"], out: list[StreamEvent], metadata: Metadata = None) -> int:
        """End the open block, start a new text or reasoning block; returns its index.
        ``metadata`` goes on the start event."""
        if self.kind is not None:
            self.close(out)
        index = self.index = self._next
        self._next += 1
        self.kind = kind
        self.metadata = None
        out.append(TextStart(index, metadata) if kind == "text" else ReasoningStart(index, metadata))
        return index

    def ensure(self, kind: Literal["text", "reasoning"], out: list[StreamEvent]) -> int:
        """The open block's index if it is a ``kind`` block, else a new one's."""
        if self.kind == kind:
            return self.index
        return self.open(kind, out)

    def open_tool(
        self, call_id: str, name: str, out: list[StreamEvent], metadata: Metadata = None, *, key: object = None
    ) -> int:
        """End the open block, start a tool call; returns its index. ``key`` tags it (see
        :attr:`key`) until it ends."""
        if self.kind is not None:
            self.close(out)
        index = self.index = self._next
        self._next += 1
        self.kind = "tool"
        self.key = key
        self.metadata = None
        out.append(ToolCallStart(index, call_id, name, metadata))
        return index

    def close(self, out: list[StreamEvent]) -> None:
        """End the open block (nothing when none is open), with :attr:`metadata`."""
        kind = self.kind
        if kind is None:
            return
        out.append(block_end(kind, self.index, self.metadata))
        self.kind = None
        self.key = None
        self.metadata = None

    def add_metadata(self, metadata: Metadata) -> None:
        """Merge ``metadata`` into what the open block's end event will carry."""
        self.metadata = merge_metadata(self.metadata, metadata)

    def text(self, text: str, out: list[StreamEvent]) -> int:
        """Append ``text`` to the open text block, starting one if needed."""
        index = self.index if self.kind == "text" else self.open("text", out)
        out.append(TextDelta(index, text))
        return index

    def reasoning(self, text: str, out: list[StreamEvent]) -> int:
        """Append ``text`` to the open reasoning block, starting one if needed."""
        index = self.index if self.kind == "reasoning" else self.open("reasoning", out)
        out.append(ReasoningDelta(index, text))
        return index

    def arguments(self, fragment: str, out: list[StreamEvent]) -> None:
        """Append a fragment of the open tool call's arguments."""
        if self.kind != "tool":
            raise ValueError("no tool call is open to take arguments")
        out.append(ToolCallDelta(self.index, fragment))

    def file(self, part: FilePart, out: list[StreamEvent]) -> int:
        """End the open block and write a whole file as its own block."""
        self.close(out)
        index = self.take_index()
        out.append(FileOutput(index, part))
        return index
