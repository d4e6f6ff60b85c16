"""The intermediate representation every translator speaks.

Requests, messages and parts; responses, usage and finish reasons; stream events with a
start/delta/end lifecycle. All values are frozen attrs classes with slots.

Helpers for stream decoders live here too: :class:`BlockWriter` (indexes, one open block,
its end), :class:`ThinkTagSplitter` (reasoning written inline as ``<think>...</think>``) and
:class:`ThinkBlockSplitter` (that reasoning turned into reasoning blocks of a stream).
"""

from cliproxy.ir.blocks import BlockKind, BlockWriter, block_end, block_start
from cliproxy.ir.events import (
    FileOutput,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from cliproxy.ir.fold import ResponseBuilder, response_events
from cliproxy.ir.parts import (
    FilePart,
    Metadata,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    merge_metadata,
    metadata_for,
)
from cliproxy.ir.request import (
    BLOCK_SEPARATOR,
    REASONING_BUDGETS,
    Message,
    ProviderTool,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    Tool,
    ToolChoice,
)
from cliproxy.ir.response import Finish, FinishReason, Response, Usage
from cliproxy.ir.think_blocks import ThinkBlockSplitter, split_think_response
from cliproxy.ir.think_tags import ThinkSegment, ThinkTagSplitter, split_think_tags

__all__ = [
    "BLOCK_SEPARATOR",
    "REASONING_BUDGETS",
    "BlockKind",
    "BlockWriter",
    "FileOutput",
    "FilePart",
    "Finish",
    "FinishReason",
    "Message",
    "Metadata",
    "Part",
    "ProviderTool",
    "Reasoning",
    "ReasoningDelta",
    "ReasoningEnd",
    "ReasoningPart",
    "ReasoningStart",
    "Request",
    "Response",
    "ResponseBuilder",
    "ResponseFormat",
    "Role",
    "StreamError",
    "StreamEvent",
    "StreamFinish",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextPart",
    "TextStart",
    "ThinkBlockSplitter",
    "ThinkSegment",
    "ThinkTagSplitter",
    "Tool",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallPart",
    "ToolCallStart",
    "ToolChoice",
    "ToolResultPart",
    "Usage",
    "block_end",
    "block_start",
    "merge_metadata",
    "metadata_for",
    "response_events",
    "split_think_response",
    "split_think_tags",
]
