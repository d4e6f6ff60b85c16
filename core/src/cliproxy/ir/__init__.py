"""The intermediate representation every translator speaks.

Requests, messages and parts; responses, usage and finish reasons; stream events with a
start/delta/end lifecycle. All values are frozen attrs classes with slots.
"""

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

__all__ = [
    "BLOCK_SEPARATOR",
    "REASONING_BUDGETS",
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
    "Tool",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallPart",
    "ToolCallStart",
    "ToolChoice",
    "ToolResultPart",
    "Usage",
    "merge_metadata",
    "metadata_for",
    "response_events",
]
