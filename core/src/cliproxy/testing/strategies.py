"""Hypothesis strategies for the IR, and helpers for translator properties.

Translator authors check three properties with these (see ``core/tests/test_wire_openai_chat.py``):

* **round trip** -- what a wire can express survives IR -> wire -> IR;
* **stream = whole** -- a response streamed and folded equals the response sent whole;
* **split invariance** -- cutting the upstream bytes anywhere never changes the events.

The strategies take switches for what a wire can express, so each wire tests the part of
the IR it claims to carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from cliproxy import ir
from cliproxy.translate import StreamDecoder

__all__ = [
    "decode_in_pieces",
    "json_objects",
    "requests",
    "responses",
    "split_points",
    "texts",
    "tool_names",
]

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=40)
"""Non-empty text, any Unicode but surrogates and NUL."""

tool_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,20}", fullmatch=True)
identifiers = st.from_regex(r"[a-zA-Z0-9_-]{1,24}", fullmatch=True)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), texts)
json_objects = st.dictionaries(
    st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
    st.recursive(
        _scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, max_size=3)
        ),
        max_leaves=6,
    ),
    max_size=4,
)
"""JSON objects (tool arguments)."""

_schemas = st.fixed_dictionaries(
    {
        "type": st.just("object"),
        "properties": st.dictionaries(
            tool_names, st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]), max_size=3
        ),
    }
)
_images = st.builds(
    ir.FilePart,
    media_type=st.sampled_from(["image/png", "image/jpeg"]),
    data=st.sampled_from(["iVBORw0KGgo=", "/9j/4AAQSkZJRg=="]),
)


def _arguments() -> st.SearchStrategy[str]:
    import orjson

    return json_objects.map(lambda obj: orjson.dumps(obj).decode())


@st.composite
def requests(
    draw: Any,
    *,
    images: bool = True,
    reasoning: bool = True,
    tool_choice: bool = True,
    sampling: bool = True,
    max_messages: int = 6,
) -> ir.Request:
    """Well-formed IR requests: an optional system message, then turns that alternate
    (user, assistant with text and/or tool calls, tool results for those calls)."""
    messages: list[ir.Message] = []
    if draw(st.booleans()):
        messages.append(ir.Message("system", [ir.TextPart(draw(texts))]))
    turns = draw(st.integers(1, max(1, max_messages // 2)))
    for turn in range(turns):
        user_parts: list[ir.Part] = [ir.TextPart(draw(texts))]
        if images and draw(st.booleans()):
            user_parts.append(draw(_images))
        messages.append(ir.Message("user", user_parts))
        if turn == turns - 1:
            break
        calls = [
            ir.ToolCallPart(f"call_{draw(identifiers)}_{i}", draw(tool_names), draw(_arguments()))
            for i in range(draw(st.integers(0, 2)))
        ]
        text = draw(st.none() | texts)
        parts: list[ir.Part] = [ir.TextPart(text)] if text else []
        parts.extend(calls)
        if not parts:
            parts = [ir.TextPart(draw(texts))]
        messages.append(ir.Message("assistant", parts))
        if calls:
            results = [ir.ToolResultPart(c.id, [ir.TextPart(draw(texts))], name=c.name) for c in calls]
            messages.append(ir.Message("tool", results))
            messages.append(ir.Message("assistant", [ir.TextPart(draw(texts))]))
    tools = tuple(
        ir.Tool(name, draw(st.none() | texts), draw(_schemas))
        for name in draw(st.lists(tool_names, max_size=3, unique=True))
    )
    choice = None
    if tools and tool_choice:
        choice = draw(
            st.none()
            | st.sampled_from([ir.ToolChoice("auto"), ir.ToolChoice("none"), ir.ToolChoice("required")])
            | st.just(ir.ToolChoice("tool", tools[0].name))
        )
    return ir.Request(
        model=draw(st.from_regex(r"[a-z][a-z0-9.-]{0,15}", fullmatch=True)),
        messages=messages,
        tools=tools,
        tool_choice=choice,
        max_tokens=draw(st.none() | st.integers(1, 100_000)),
        temperature=draw(st.none() | st.sampled_from([0.0, 0.5, 1.0])) if sampling else None,
        top_p=draw(st.none() | st.sampled_from([0.5, 0.9, 1.0])) if sampling else None,
        stop=tuple(draw(st.lists(texts, max_size=2))) if sampling else (),
        reasoning=draw(st.none() | st.sampled_from([ir.Reasoning(effort=e) for e in ("low", "medium", "high")]))
        if reasoning
        else None,
        stream=draw(st.booleans()),
    )


@st.composite
def responses(
    draw: Any,
    *,
    reasoning: bool = True,
    tool_calls: bool = True,
    finish_reasons: Sequence[ir.FinishReason] = (
        ir.FinishReason.STOP,
        ir.FinishReason.LENGTH,
        ir.FinishReason.CONTENT_FILTER,
    ),
    reasoning_metadata: Callable[[Any], Any] | None = None,
    cache_tokens: bool = True,
) -> ir.Response:
    """Whole responses: optional reasoning, optional text, optional tool calls; usage."""
    parts: list[ir.Part] = []
    if reasoning and draw(st.booleans()):
        meta = reasoning_metadata(draw) if reasoning_metadata is not None else None
        parts.append(ir.ReasoningPart(draw(texts), meta))
    if draw(st.booleans()) or not tool_calls:
        parts.append(ir.TextPart(draw(texts)))
    calls = []
    if tool_calls:
        calls = [
            ir.ToolCallPart(f"call_{draw(identifiers)}_{i}", draw(tool_names), draw(_arguments()))
            for i in range(draw(st.integers(0, 3)))
        ]
        parts.extend(calls)
    if not parts:
        parts.append(ir.TextPart(draw(texts)))
    finish = ir.FinishReason.TOOL_CALLS if calls else draw(st.sampled_from(list(finish_reasons)))
    input_tokens = draw(st.integers(0, 10_000))
    output_tokens = draw(st.integers(0, 10_000))
    cached = draw(st.none() | st.integers(0, input_tokens)) if cache_tokens else None
    thought = draw(st.none() | st.integers(0, output_tokens)) if reasoning else None
    return ir.Response(
        id=f"resp_{draw(identifiers)}",
        model="model-x",
        parts=parts,
        finish=ir.Finish(finish),
        usage=ir.Usage(input_tokens, output_tokens, cache_read_tokens=cached, reasoning_tokens=thought),
    )


@st.composite
def split_points(draw: Any, data: bytes) -> list[bytes]:
    """``data`` cut into pieces at arbitrary places (empty pieces included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


def decode_in_pieces(decoder: StreamDecoder, pieces: Iterable[bytes]) -> list[ir.StreamEvent]:
    """Feed pieces to a stream decoder, then close it; all the events it produced."""
    events: list[ir.StreamEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events
