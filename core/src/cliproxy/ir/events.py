"""Stream events: a response, piece by piece.

Text, reasoning and tool calls each arrive as ``*Start`` -> ``*Delta``... -> ``*End``
sharing an ``index``; indexes count up across all blocks of one response, in the order
blocks start. A stream opens with :class:`StreamStart` and ends with exactly one
:class:`StreamFinish` (usage and finish reason) or :class:`StreamError`.

Opaque provider values (signatures) ride on ``provider_metadata`` of the start and end
events; a decoder that learns one mid-block attaches it to the block's end event.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cliproxy.errors import GatewayError
from cliproxy.ir.parts import FilePart, Metadata
from cliproxy.ir.response import Finish, Usage

__all__ = [
    "FileOutput",
    "ReasoningDelta",
    "ReasoningEnd",
    "ReasoningStart",
    "StreamError",
    "StreamEvent",
    "StreamFinish",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
]


@attrs.frozen
class StreamStart:
    """The response begins; ``id``/``model`` as the upstream reported them, if it did."""

    type: ClassVar[str] = "start"
    id: str | None = None
    model: str | None = None
    created: int | None = None
    provider_metadata: Metadata = None


@attrs.frozen
class TextStart:
    type: ClassVar[str] = "text-start"
    index: int
    provider_metadata: Metadata = None


@attrs.frozen
class TextDelta:
    type: ClassVar[str] = "text-delta"
    index: int
    text: str


@attrs.frozen
class TextEnd:
    type: ClassVar[str] = "text-end"
    index: int
    provider_metadata: Metadata = None


@attrs.frozen
class ReasoningStart:
    type: ClassVar[str] = "reasoning-start"
    index: int
    provider_metadata: Metadata = None


@attrs.frozen
class ReasoningDelta:
    type: ClassVar[str] = "reasoning-delta"
    index: int
    text: str


@attrs.frozen
class ReasoningEnd:
    """End of a reasoning block; its signature (if any) is in ``provider_metadata``."""

    type: ClassVar[str] = "reasoning-end"
    index: int
    provider_metadata: Metadata = None


@attrs.frozen
class ToolCallStart:
    type: ClassVar[str] = "tool-call-start"
    index: int
    id: str
    name: str
    provider_metadata: Metadata = None


@attrs.frozen
class ToolCallDelta:
    """A fragment of the arguments' JSON text, passed on as soon as it arrives."""

    type: ClassVar[str] = "tool-call-delta"
    index: int
    arguments: str


@attrs.frozen
class ToolCallEnd:
    type: ClassVar[str] = "tool-call-end"
    index: int
    provider_metadata: Metadata = None


@attrs.frozen
class FileOutput:
    """A whole file the model produced (an image)."""

    type: ClassVar[str] = "file"
    index: int
    part: FilePart


@attrs.frozen
class StreamFinish:
    """The response is complete."""

    type: ClassVar[str] = "finish"
    finish: Finish
    usage: Usage = Usage()
    provider_metadata: Metadata = None


@attrs.frozen
class StreamError:
    """The response failed part way; no more events follow."""

    type: ClassVar[str] = "error"
    error: GatewayError


StreamEvent = (
    StreamStart
    | TextStart
    | TextDelta
    | TextEnd
    | ReasoningStart
    | ReasoningDelta
    | ReasoningEnd
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | FileOutput
    | StreamFinish
    | StreamError
)
