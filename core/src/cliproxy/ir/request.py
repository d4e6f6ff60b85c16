"""The canonical request: what every door decodes into and every provider encodes from.

The IR is not a user-facing format; it is the meeting point of the wire formats. It keeps
what more than one format can express, and puts the rest in ``extras`` keyed by wire
format, so a request that leaves in the format it arrived in loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from cliproxy.ir.parts import Metadata, Part, TextPart

__all__ = [
    "BLOCK_SEPARATOR",
    "REASONING_BUDGETS",
    "Message",
    "ProviderTool",
    "Reasoning",
    "Request",
    "ResponseFormat",
    "Role",
    "Tool",
    "ToolChoice",
]


def _parts(value: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(value)


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


def _tools(value: Iterable[Tool | ProviderTool]) -> tuple[Tool | ProviderTool, ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


Role = Literal["system", "user", "assistant", "tool"]

BLOCK_SEPARATOR = "\n\n"
"""What separates text blocks joined into one string (:attr:`Message.joined_text`)."""


@attrs.frozen
class Message:
    """One turn: a role and its parts.

    ``system`` messages hold text; ``tool`` messages hold :class:`ToolResultPart` s;
    ``assistant`` messages may hold text, reasoning and tool calls; ``user`` messages hold
    text and files.

    A ``system`` message may stand anywhere in a conversation, not only first: clients
    add instructions mid-conversation (Claude Code's ``role: "system"`` messages, OpenAI's
    ``developer`` messages). Encoders put the leading ones where their wire keeps the
    system prompt and give each later one the nearest form the wire has, in place.
    """

    role: Role
    parts: tuple[Part, ...] = attrs.field(converter=_parts)
    provider_metadata: Metadata = None

    @property
    def text(self) -> str:
        """The text parts joined (reasoning and tool parts left out)."""

        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def joined_text(self) -> str:
        """The non-empty text parts as one string, a blank line between them: how several
        system blocks become one string on a wire that has room for only one."""

        return BLOCK_SEPARATOR.join(p.text for p in self.parts if isinstance(p, TextPart) and p.text)


@attrs.frozen
class Tool:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    provider_metadata: Metadata = None


@attrs.frozen
class ProviderTool:
    """A tool only one wire format knows (Anthropic ``web_search``, Gemini ``googleSearch``).

    Sent as ``spec`` to providers speaking ``wire``; dropped for every other wire.
    """

    wire: str
    spec: Mapping[str, Any]


@attrs.frozen
class ToolChoice:
    """``auto``, ``none``, ``required`` (any tool), or ``tool`` (the one named)."""

    type: Literal["auto", "none", "required", "tool"]
    name: str | None = None


REASONING_BUDGETS: Mapping[str, int] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 128000,
}
"""Token budgets for effort levels, used where a provider wants a budget and got a level."""


@attrs.frozen
class Reasoning:
    """How much the model should think.

    Attributes:
        effort: A level (``none``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh``,
            ``max``), as OpenAI and Gemini 3 express it.
        budget_tokens: A token budget, as Anthropic and Gemini 2.5 express it; ``-1`` means
            "let the model decide" (Gemini dynamic thinking, Anthropic adaptive).
        summary: Responses API reasoning summary mode (``auto``, ``concise``, ``detailed``).
        include_thoughts: Whether reasoning text should be returned, when the wire asks.
    """

    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    include_thoughts: bool | None = None

    @property
    def disabled(self) -> bool:
        return self.effort == "none" or self.budget_tokens == 0

    def requested_level(self) -> str | None:
        """The effort level the client asked for: its own, else the nearest level for the
        token budget it gave; None when it asked for neither, or let the model decide
        (budget ``-1``). Unlike :meth:`level`, never a default."""
        if self.effort is not None:
            return self.effort
        if self.budget_tokens is None or self.budget_tokens < 0:
            return None
        return self.level()

    def requested_budget(self) -> int | None:
        """The token budget the client asked for: its own (``-1`` included), else the one
        for the effort level it gave; None when it gave neither. Unlike :meth:`budget`,
        never a default."""
        if self.budget_tokens is not None:
            return self.budget_tokens
        if self.effort is not None:
            return self.budget()
        return None

    def budget(self, default: int = REASONING_BUDGETS["medium"]) -> int:
        """The token budget: the explicit one, else the one for the effort level (else
        ``default``: callers that must not invent an amount use :meth:`requested_budget`)."""
        if self.budget_tokens is not None:
            return self.budget_tokens
        if self.effort is not None:
            return REASONING_BUDGETS.get(self.effort, default)
        return default

    def level(self) -> str:
        """The effort level: the explicit one, else the nearest level for the budget (else
        ``medium``: callers that must not invent a level use :meth:`requested_level`)."""
        if self.effort is not None:
            return self.effort
        budget = self.budget_tokens
        if budget is None or budget < 0:
            return "medium"
        if budget == 0:
            return "none"
        for name in ("minimal", "low", "medium", "high", "xhigh"):
            if budget <= REASONING_BUDGETS[name]:
                return name
        return "max"


@attrs.frozen
class ResponseFormat:
    """Structured output: plain text, any JSON object, or JSON matching ``schema``."""

    type: Literal["text", "json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class Request:
    """A model call, independent of wire format.

    ``model`` is the name the client used until the router resolves it; executors receive
    the upstream model name through :class:`cliproxy.Call`, not from here.
    ``max_tokens`` is the maximum number of output tokens. ``extras`` holds, per wire
    format, the request fields only that format understands; ``metadata`` holds caller
    metadata (OpenAI ``user``/``metadata``, Anthropic ``metadata``).
    """

    model: str
    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    tools: tuple[Tool | ProviderTool, ...] = attrs.field(default=(), converter=_tools)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    reasoning: Reasoning | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    metadata: Mapping[str, Any] | None = None
    extras: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)

    def extras_for(self, wire: str) -> Mapping[str, Any]:
        """The fields only ``wire`` understands (empty when none)."""
        return self.extras.get(wire) or {}

    @property
    def function_tools(self) -> tuple[Tool, ...]:
        return tuple(t for t in self.tools if isinstance(t, Tool))
