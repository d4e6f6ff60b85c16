"""Inline thinking: Kiro writes reasoning into the text as ``<thinking>...</thinking>``.

When a request asks for thinking (tags injected into the prompt), the answer's text starts
with a ``<thinking>`` block. :class:`ThinkingSplitter` separates it from the answer as
the text streams in, however the tags are cut across chunks. Only a block that opens the
answer counts (leading whitespace aside): a ``<thinking>`` later in the text is the
model talking about tags, and stays text.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CLOSE", "OPEN", "Segment", "ThinkingSplitter"]

OPEN = "<thinking>"
CLOSE = "</thinking>"

Segment = tuple[Literal["reasoning", "text"], str]


def _held_back(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkingSplitter:
    """Feed text deltas; get ``("reasoning" | "text", str)`` segments in order."""

    __slots__ = ("_pending", "_state")

    def __init__(self) -> None:
        self._state: Literal["start", "thinking", "after", "text"] = "start"
        self._pending = ""

    def feed(self, text: str) -> list[Segment]:
        out: list[Segment] = []
        if self._state == "text":
            if text:
                out.append(("text", text))
            return out
        self._pending += text
        self._advance(out)
        return out

    def _advance(self, out: list[Segment]) -> None:
        if self._state == "start":
            head = self._pending.lstrip()
            if not head or (len(head) < len(OPEN) and OPEN.startswith(head)):
                return  # not yet known whether a thinking block opens the answer
            if head.startswith(OPEN):
                self._state = "thinking"
                self._pending = head[len(OPEN) :]
            else:
                self._state = "text"
                out.append(("text", self._pending))
                self._pending = ""
                return
        if self._state == "thinking":
            end = self._pending.find(CLOSE)
            if end < 0:
                keep = _held_back(self._pending, CLOSE)
                ready = self._pending[: len(self._pending) - keep]
                if ready:
                    out.append(("reasoning", ready))
                self._pending = self._pending[len(ready) :]
                return
            if end:
                out.append(("reasoning", self._pending[:end]))
            self._pending = self._pending[end + len(CLOSE) :]
            self._state = "after"
        if self._state == "after":
            rest = self._pending.lstrip("\r\n")
            if not rest:
                self._pending = ""
                return  # the newlines that follow the block are not part of the answer
            self._state = "text"
            self._pending = ""
            out.append(("text", rest))

    def flush(self) -> list[Segment]:
        """Something other than text follows (a tool call): release what was held back.
        An answer that had not opened a thinking block by now never will."""
        out = self.close()
        if self._state == "start":
            self._state = "text"
        return out

    def close(self) -> list[Segment]:
        """End of the answer: whatever was held back (an unfinished tag is just text)."""
        pending, self._pending = self._pending, ""
        if not pending:
            return []
        if self._state == "thinking":
            return [("reasoning", pending)]
        if self._state == "start":
            return [("text", pending)]
        return []
