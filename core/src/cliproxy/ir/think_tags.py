"""Reasoning written inline in a model's text, as ``<think>...</think>``.

Some models write their reasoning into the answer's text between tags: Qwen3 and
DeepSeek-R1 served without a reasoning parser use ``<think>``, Kiro answers with
``<thinking>`` when asked to think. :class:`ThinkTagSplitter` separates that section from
the answer as the text streams in, however the tags are cut across chunks;
:func:`split_think_tags` does the same for a whole text, with the same result.

Only a section that opens the text counts (leading whitespace aside): a tag later in the
text is the model talking about tags, and stays text; so do tags inside the section
other than its closing one. A section never closed is reasoning to the end.

Whitespace around the section, with ``trim=True`` (the default, the Qwen/DeepSeek
convention): the reasoning is stripped at both ends and the answer's leading whitespace
is dropped. With ``trim=False`` (Kiro's): the reasoning is kept as written and only the
line breaks right after the closing tag are dropped.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ThinkSegment", "ThinkTagSplitter", "split_think_tags"]

ThinkSegment = tuple[Literal["reasoning", "text"], str]
"""A piece of the text: ``("reasoning", ...)`` or ``("text", ...)``, never empty."""

_State = Literal["start", "thinking", "after", "text"]


def _held_back(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagSplitter:
    """Feed text deltas; get :data:`ThinkSegment` s in order, reasoning before text.

    Args:
        open_tag: The tag that opens the reasoning section.
        close_tag: The tag that closes it.
        trim: Strip whitespace around the section (see the module's description).

    Attributes:
        reasoning_done: True once the closing tag has been read: no more reasoning
            follows (a stream ends its reasoning block there).
    """

    __slots__ = ("_close", "_emitted", "_open", "_pending", "_state", "_trim", "reasoning_done")

    def __init__(self, open_tag: str = "<think>", close_tag: str = "</think>", *, trim: bool = True) -> None:
        if not open_tag or not close_tag:
            raise ValueError("both tags must be non-empty")
        self._open = open_tag
        self._close = close_tag
        self._trim = trim
        self._state: _State = "start"
        self._pending = ""
        self._emitted = False  # some reasoning went out already (trim keeps inner whitespace)
        self.reasoning_done = False

    def feed(self, text: str) -> list[ThinkSegment]:
        """The segments ``text`` completes; some of it may be held back until the next
        call shows whether it begins a tag."""
        if self._state == "text":
            return [("text", text)] if text else []
        out: list[ThinkSegment] = []
        self._pending += text
        self._advance(out)
        return out

    def flush(self) -> list[ThinkSegment]:
        """Something other than text follows (a tool call): release what was held back.
        A text that had not opened a reasoning section by now never will."""
        out = self.close()
        if self._state == "start":
            self._state = "text"
        return out

    def close(self) -> list[ThinkSegment]:
        """End of the text: whatever was held back (an unfinished tag is just text, or
        reasoning inside the section)."""
        pending, self._pending = self._pending, ""
        if self._state == "start":
            return [("text", pending)] if pending else []
        if self._state != "thinking":
            return []
        if self._trim:
            pending = (pending if self._emitted else pending.lstrip()).rstrip()
        return self._reasoning(pending)

    # -- states ----------------------------------------------------------------------------

    def _reasoning(self, text: str) -> list[ThinkSegment]:
        if not text:
            return []
        self._emitted = True
        return [("reasoning", text)]

    def _advance(self, out: list[ThinkSegment]) -> None:
        if self._state == "start":
            head = self._pending.lstrip()
            opener = self._open
            if not head or (len(head) < len(opener) and opener.startswith(head)):
                return  # not yet known whether a reasoning section opens the text
            if not head.startswith(opener):
                self._state = "text"
                out.append(("text", self._pending))
                self._pending = ""
                return
            self._state = "thinking"
            self._pending = head[len(opener) :]
        if self._state == "thinking":
            pending = self._pending
            end = pending.find(self._close)
            if end < 0:
                keep = _held_back(pending, self._close)
                ready, tail = pending[: len(pending) - keep], pending[len(pending) - keep :]
                if self._trim:
                    if not self._emitted:
                        ready = ready.lstrip()
                    body = ready.rstrip()
                    tail = ready[len(body) :] + tail  # trailing whitespace waits: the section may end here
                    ready = body
                out += self._reasoning(ready)
                self._pending = tail
                return
            inner = pending[:end]
            if self._trim:
                inner = (inner if self._emitted else inner.lstrip()).rstrip()
            out += self._reasoning(inner)
            self._pending = pending[end + len(self._close) :]
            self._state = "after"
            self.reasoning_done = True
        if self._state == "after":
            rest = self._pending.lstrip() if self._trim else self._pending.lstrip("\r\n")
            self._pending = ""
            if rest:  # whitespace alone may be followed by more: it is not part of the answer
                self._state = "text"
                out.append(("text", rest))


def split_think_tags(
    text: str, open_tag: str = "<think>", close_tag: str = "</think>", *, trim: bool = True
) -> tuple[str, str]:
    """``(reasoning, answer)`` of a whole text; reasoning is "" and the answer the text
    unchanged when no section opens it. The same as a :class:`ThinkTagSplitter` fed the
    text in any pieces."""
    splitter = ThinkTagSplitter(open_tag, close_tag, trim=trim)
    segments = splitter.feed(text) + splitter.close()
    reasoning = "".join(piece for kind, piece in segments if kind == "reasoning")
    answer = "".join(piece for kind, piece in segments if kind == "text")
    return reasoning, answer
