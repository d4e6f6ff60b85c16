"""The IR's stream helpers: BlockWriter's bookkeeping and the inline think-tag splitter."""

from __future__ import annotations

import pytest
from cliproxy import ir
from hypothesis import given, settings
from hypothesis import strategies as st

# -- ThinkTagSplitter ------------------------------------------------------------------------

TAGS = [("<think>", "</think>"), ("<thinking>", "</thinking>")]
WORDS = ["<think>", "</think>", "<thinking>", "</thinking>", "<th", "ink>", "ing>", "</", "think", ">", "<"]
WORDS += [" ", "\n", "\r\n", "\t", "a", "b c", "é", "x>"]


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def run(splitter: ir.ThinkTagSplitter, pieces: list[str]) -> list[ir.ThinkSegment]:
    out: list[ir.ThinkSegment] = []
    for piece in pieces:
        out += splitter.feed(piece)
    return out + splitter.close()


def joined(segments: list[ir.ThinkSegment]) -> tuple[str, str]:
    return (
        "".join(t for k, t in segments if k == "reasoning"),
        "".join(t for k, t in segments if k == "text"),
    )


@pytest.mark.parametrize(
    ("text", "trim", "expected"),
    [
        ("<think>\nThe user greets me.\n</think>\n\nHello!", True, ("The user greets me.", "Hello!")),
        ("<think>\nThe user greets me.\n</think>\n\nHello!", False, ("\nThe user greets me.\n", "Hello!")),
        ("<think>a</think>  \n b", False, ("a", "  \n b")),  # only line breaks go, and only right after
        ("  <think>a</think>b", True, ("a", "b")),  # whitespace before the tag is not text
        ("<think>cut off", True, ("cut off", "")),  # never closed: reasoning to the end
        ("<think>cut off </thi", True, ("cut off </thi", "")),  # an unfinished closing tag is reasoning
        ("Before <think>x</think> after", True, ("", "Before <think>x</think> after")),  # text before: no section
        ("<think>a</think>b<think>c</think>d", True, ("a", "b<think>c</think>d")),  # only the first section
        ("<think>a <think> b</think>c", True, ("a <think> b", "c")),  # an opening tag inside is reasoning
        ("<thinking>not ours</thinking>", True, ("", "<thinking>not ours</thinking>")),
        ("<thi", True, ("", "<thi")),  # a text that only looks like the start of a tag
        ("", True, ("", "")),
        ("\n\n", True, ("", "\n\n")),
    ],
)
def test_whole_texts(text, trim, expected):
    assert ir.split_think_tags(text, trim=trim) == expected


def test_tags_cut_anywhere_come_out_the_same():
    splitter = ir.ThinkTagSplitter("<thinking>", "</thinking>", trim=False)
    segments = run(splitter, ["  <thin", "king>2+2", " is 4</thi", "nking>\n", "\n4"])
    assert joined(segments) == ("2+2 is 4", "4")
    assert [kind for kind, _ in segments] == ["reasoning", "reasoning", "text"]


def test_reasoning_done_flips_at_the_closing_tag():
    splitter = ir.ThinkTagSplitter()
    assert splitter.feed("<think>hm") == [("reasoning", "hm")] and not splitter.reasoning_done
    assert splitter.feed("</thi") == [] and not splitter.reasoning_done
    assert splitter.feed("nk>") == [] and splitter.reasoning_done
    assert splitter.feed(" answer") == [("text", "answer")]


def test_flush_decides_that_no_section_opens_the_text():
    splitter = ir.ThinkTagSplitter()
    assert splitter.feed(" <thi") == []
    assert splitter.flush() == [("text", " <thi")]
    assert splitter.feed("<think>x</think>") == [("text", "<think>x</think>")]


def test_empty_tags_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        ir.ThinkTagSplitter("", "</think>")


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDS), max_size=16),
    cuts=st.lists(st.integers(0, 200), max_size=10),
    tags=st.sampled_from(TAGS),
    trim=st.booleans(),
)
def test_any_split_gives_the_whole_texts_split(words, cuts, tags, trim):
    text = "".join(words)
    open_tag, close_tag = tags
    segments = run(ir.ThinkTagSplitter(open_tag, close_tag, trim=trim), pieces_of(text, cuts))
    assert joined(segments) == ir.split_think_tags(text, open_tag, close_tag, trim=trim)
    assert all(piece for _, piece in segments)  # never an empty segment
    kinds = [kind for kind, _ in segments]
    assert kinds == sorted(kinds, key=lambda k: k == "text")  # reasoning, then text
    reasoning, answer = joined(segments)
    if not text.lstrip().startswith(open_tag):
        assert (reasoning, answer) == ("", text)  # no section: the text untouched
    else:
        body = text.lstrip()[len(open_tag) :]
        inside, closed, after = body.partition(close_tag)
        if trim:
            assert reasoning == inside.strip() and answer == after.lstrip()
        else:
            assert reasoning == inside and answer == after.lstrip("\r\n")
        if not closed:
            assert answer == ""


# -- BlockWriter -------------------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(["text", "reasoning"])),
        st.tuples(st.just("ensure"), st.sampled_from(["text", "reasoning"])),
        st.tuples(st.just("text"), st.text(min_size=1, max_size=3)),
        st.tuples(st.just("reasoning"), st.text(min_size=1, max_size=3)),
        st.tuples(st.just("tool"), st.integers(0, 3)),
        st.tuples(st.just("arguments"), st.sampled_from(["{", '"a":1', "}"])),
        st.tuples(st.just("meta"), st.integers(0, 9)),
        st.tuples(st.just("file"), st.just("")),
        st.tuples(st.just("close"), st.just("")),
    ),
    max_size=30,
)


def check_lifecycle(events: list[ir.StreamEvent]) -> None:
    """Indexes count up in start order, one block open at a time, deltas and ends belong
    to the open block, nothing is left open."""
    open_index = None
    next_index = 0
    for event in events:
        if isinstance(event, ir.TextStart | ir.ReasoningStart | ir.ToolCallStart | ir.FileOutput):
            assert open_index is None, f"{event} starts while block {open_index} is open"
            assert event.index == next_index
            next_index += 1
            if not isinstance(event, ir.FileOutput):
                open_index = event.index
        elif isinstance(event, ir.TextDelta | ir.ReasoningDelta | ir.ToolCallDelta):
            assert event.index == open_index
        elif isinstance(event, ir.TextEnd | ir.ReasoningEnd | ir.ToolCallEnd):
            assert event.index == open_index
            open_index = None
    assert open_index is None


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_block_writer_keeps_the_lifecycle(ops):
    writer = ir.BlockWriter()
    out: list[ir.StreamEvent] = [ir.StreamStart()]
    expected_meta = None  # what the open block's end must carry
    for op, arg in ops:
        before = (writer.kind, writer.index)
        if op == "open":
            index = writer.open(arg, out)
            assert (writer.kind, writer.index) == (arg, index)
            expected_meta = None
        elif op == "ensure":
            index = writer.ensure(arg, out)
            if before[0] == arg:
                assert index == before[1]  # the open block goes on
            else:
                expected_meta = None
        elif op == "text" or op == "reasoning":
            index = getattr(writer, op)(arg, out)
            assert out[-1] == (ir.TextDelta if op == "text" else ir.ReasoningDelta)(index, arg)
            if before[0] != op:
                expected_meta = None
        elif op == "tool":
            writer.open_tool(f"call_{arg}", "f", out, key=arg)
            assert writer.key == arg and writer.kind == "tool"
            expected_meta = None
        elif op == "arguments":
            if writer.kind == "tool":
                writer.arguments(arg, out)
            else:
                with pytest.raises(ValueError, match="no tool call is open"):
                    writer.arguments(arg, out)
        elif op == "meta":
            if writer.kind is not None:
                writer.add_metadata({"w": {f"k{arg}": arg}})
                expected_meta = ir.merge_metadata(expected_meta, {"w": {f"k{arg}": arg}})
        elif op == "file":
            index = writer.file(ir.FilePart("image/png", data="AAAA"), out)
            assert writer.kind is None and out[-1] == ir.FileOutput(index, ir.FilePart("image/png", data="AAAA"))
        else:
            was_open = writer.kind is not None
            writer.close(out)
            if was_open:
                assert out[-1].provider_metadata == expected_meta  # type: ignore[union-attr]
            assert writer.kind is None and writer.key is None and writer.metadata is None
    writer.close(out)
    check_lifecycle(out)
    out.append(ir.StreamFinish(ir.Finish(ir.FinishReason.STOP)))
    builder = ir.ResponseBuilder()
    builder.feed(out)
    built = builder.build()
    starts = [e for e in out if isinstance(e, ir.TextStart | ir.ReasoningStart | ir.ToolCallStart | ir.FileOutput)]
    assert len(built.parts) <= len(starts)


def test_block_end_and_start_by_kind():
    assert ir.block_start("text", 2) == ir.TextStart(2)
    assert ir.block_start("reasoning", 1, {"w": {"a": 1}}) == ir.ReasoningStart(1, {"w": {"a": 1}})
    assert ir.block_end("text", 0, {"w": {}}) == ir.TextEnd(0, {"w": {}})
    assert ir.block_end("reasoning", 3) == ir.ReasoningEnd(3)
    assert ir.block_end("tool", 4) == ir.ToolCallEnd(4)
