"""The backend's event stream cut at event boundaries however the network splits it, the
final event rebuilt only when it lacks items, and what is held bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cliproxy import GatewayError
from cliproxy_codex import stream as codex_stream
from cliproxy_codex.stream import EventStream
from hypothesis import given, settings
from hypothesis import strategies as st


def event(payload: dict[str, Any], named: bool = True) -> bytes:
    data = json.dumps(payload).encode()
    return (b"event: " + payload["type"].encode() + b"\n" if named else b"") + b"data: " + data + b"\n\n"


ITEMS = [
    {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "enc"},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": 'say "output_index": 9'}],
    },
]


def transcript(final_output: list[Any], named: bool = True) -> bytes:
    events = [{"type": "response.created", "response": {"id": "resp_1"}}]
    for index, item in enumerate(ITEMS):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "item": item, "output_index": index})
    events.append(
        {"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "output": final_output}}
    )
    return b"".join(event(e, named) for e in events)


def run(data: bytes, cuts: list[int]) -> bytes:
    stream = EventStream()
    out = []
    start = 0
    for cut in sorted(set(cuts)):
        out.extend(stream.feed(data[start:cut]))
        start = cut
    out.extend(stream.feed(data[start:]))
    out.extend(stream.close())
    return b"".join(e.raw for e in out)


def final_of(data: bytes) -> dict[str, Any]:
    last = data.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: response.completed\n")
    return json.loads(last.split(b"data: ", 1)[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(transcript([]))), max_size=12), st.booleans())
def test_any_split_gives_the_same_events_and_the_rebuilt_final_event(cuts, named):
    data = transcript([], named)
    assert run(data, cuts) == run(data, [])
    final = final_of(run(data, cuts))
    assert final["response"]["output"] == ITEMS  # by output_index, the text's "output_index" not taken for one


def test_a_complete_final_event_passes_unchanged():
    data = transcript(ITEMS)
    assert run(data, [len(data) // 3]) == data


def test_carriage_returns_are_read_as_line_ends():
    data = transcript([]).replace(b"\n", b"\r\n")
    assert final_of(run(data, [17, 400]))["response"]["output"] == ITEMS


def test_an_event_past_the_limit_is_a_502(monkeypatch):
    monkeypatch.setattr(codex_stream, "MAX_EVENT", 1000)
    with pytest.raises(GatewayError) as caught:
        EventStream().feed(b"data: " + b"x" * 2000)
    assert caught.value.status == 502 and "larger than" in caught.value.message


def test_past_the_held_items_limit_nothing_is_rebuilt(monkeypatch):
    monkeypatch.setattr(codex_stream, "MAX_ITEMS", 300)
    data = transcript([])
    assert final_of(run(data, []))["response"]["output"] == []
