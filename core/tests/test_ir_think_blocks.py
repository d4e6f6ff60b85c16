"""``<think>`` sections as reasoning blocks: whole texts, streams split anywhere, stream folded == whole."""

from __future__ import annotations

import pytest
from cliproxy import ir
from cliproxy.wire.openai_chat import OpenAIChat
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nThe user greets me.\n</think>\n\nHello!", ("The user greets me.", "Hello!")),
        ("  <think>a</think>b", ("a", "b")),
        ("<think>\n\n</think>\n\nJust the answer", ("", "Just the answer")),
        ("<think>still thinking when cut off", ("still thinking when cut off", "")),
        ("No tags here <think>x</think>", ("", "No tags here <think>x</think>")),
        ("<thinking>is not the tag</thinking>", ("", "<thinking>is not the tag</thinking>")),
        ("<think>a </thinking> b</think>c", ("a </thinking> b", "c")),
        ("", ("", "")),
        ("\n\n", ("", "\n\n")),
    ],
)
def test_split_think(text, expected):
    assert ir.split_think_tags(text) == expected


def content_stream(pieces: list[str], *, tool: bool = False) -> list[ir.StreamEvent]:
    """Events as the openai-chat decoder would give them for content ``pieces``."""
    events: list[ir.StreamEvent] = [ir.StreamStart("id-1", "m")]
    if pieces:
        events.append(ir.TextStart(0))
        events += [ir.TextDelta(0, p) for p in pieces if p]
        events.append(ir.TextEnd(0))
    if tool:
        events += [ir.ToolCallStart(1, "call_1", "f"), ir.ToolCallDelta(1, "{}"), ir.ToolCallEnd(1)]
    events.append(ir.StreamFinish(ir.Finish(ir.FinishReason.STOP)))
    return events


def fold(events: list[ir.StreamEvent]) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()


def split_stream(events: list[ir.StreamEvent], batches: int = 1) -> list[ir.StreamEvent]:
    splitter = ir.ThinkBlockSplitter()
    out: list[ir.StreamEvent] = []
    step = max(1, len(events) // batches)
    for i in range(0, len(events), step):
        out += splitter.feed(events[i : i + step])
    return out


def check_lifecycle(events: list[ir.StreamEvent]) -> None:
    """Blocks open and close in order, indexes count up, nothing interleaves."""
    open_index = None
    next_index = 0
    for event in events:
        if isinstance(event, ir.TextStart | ir.ReasoningStart | ir.ToolCallStart):
            assert open_index is None
            assert event.index == next_index
            open_index, next_index = event.index, next_index + 1
        elif isinstance(event, ir.TextEnd | ir.ReasoningEnd | ir.ToolCallEnd):
            assert event.index == open_index
            open_index = None
        elif isinstance(event, ir.TextDelta | ir.ReasoningDelta | ir.ToolCallDelta):
            assert event.index == open_index
    assert open_index is None


def test_stream_with_tags_split_inside():
    events = split_stream(content_stream(["<th", "ink>\nHmm", ", let me see.</th", "ink>", "\n\nHel", "lo"], tool=True))
    check_lifecycle(events)
    response = fold(events)
    assert [type(p).__name__ for p in response.parts] == [
        "ReasoningPart",
        "TextPart",
        "ToolCallPart",
    ]
    assert response.parts[0].text == "Hmm, let me see."
    assert response.text == "Hello"
    assert response.parts[2].name == "f"


PIECES = st.sampled_from(["<think>", "</think>", "<th", "ink>", "</", "think", ">", " ", "\n", "a", "b c", "<", "x>"])


@settings(max_examples=100, deadline=None)
@given(words=st.lists(PIECES, max_size=14), data=st.data(), tool=st.booleans())
def test_any_split_gives_the_whole_texts_split(words, data, tool):
    text = "".join(words)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=8))))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    batches = data.draw(st.integers(1, 4))
    events = split_stream(content_stream(pieces, tool=tool), batches)
    check_lifecycle(events)
    streamed = fold(events)
    reasoning, answer = ir.split_think_tags(text)
    assert "".join(p.text for p in streamed.parts if isinstance(p, ir.ReasoningPart)) == reasoning
    assert streamed.text == answer
    whole = ir.split_think_response(ir.Response(id="id-1", model="m", parts=[ir.TextPart(text)] if text else []))
    assert [p for p in streamed.parts if not isinstance(p, ir.ToolCallPart)] == list(whole.parts)


def test_reasoning_content_from_the_server_is_left_alone(recording):
    decoder = OpenAIChat().stream_decoder()
    raw = recording(
        "local-openai-compat/CONSTRUCTED-llamacpp-server-stream-reasoning-usage-timings.sse.txt"
    ).read_bytes()
    events = ir.ThinkBlockSplitter().feed(decoder.feed(raw) + decoder.close())
    check_lifecycle(events)
    response = fold(events)
    assert [(type(p).__name__, p.text) for p in response.parts] == [
        ("ReasoningPart", "Thinking..."),
        ("TextPart", "Hi"),
    ]
