"""The pure parts of continuing a stored response (cliproxy.wire.openai_responses.continuation)."""

from __future__ import annotations

from cliproxy.response_store import Conversation, NotKept, StoredResponse, loads
from cliproxy.wire.openai_responses.continuation import (
    continued_body,
    final_response,
    input_items,
    not_found,
    not_kept,
)


def test_input_items_turn_a_string_into_a_user_message():
    assert input_items({"input": "hi"}) == [{"type": "message", "role": "user", "content": "hi"}]
    assert input_items({"input": [{"type": "function_call_output"}]}) == [{"type": "function_call_output"}]
    assert input_items({}) == []


def test_continued_body_puts_the_conversation_first_and_drops_the_id():
    body = {"model": "m", "previous_response_id": "resp_1", "input": "next", "instructions": "new"}
    before = [{"type": "message", "role": "user", "content": "first"}]
    expanded = continued_body(body, before)
    assert expanded == {
        "model": "m",
        "input": [*before, {"type": "message", "role": "user", "content": "next"}],
        "instructions": "new",
    }
    assert body["input"] == "next"  # the original is left alone


def test_final_response_finds_the_completed_event_among_others():
    chunk = (
        b'event: response.output_item.done\ndata: {"type":"response.output_item.done"}\n\n'
        b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1"}}\n\n'
    )
    assert final_response(chunk) == {"id": "resp_1"}
    assert final_response(b'event: response.failed\ndata: {"response":{"id":"resp_1"}}\n\n') is None
    assert final_response(b"event: response.completed\ndata: {not json\n\n") is None


def test_not_found_is_openais_error():
    error = not_found("resp_x")
    assert (error.status, error.code, error.param) == (
        404,
        "previous_response_not_found",
        "previous_response_id",
    )
    assert error.message == "Previous response with id 'resp_x' not found."


def test_stored_responses_round_trip_and_reject_garbage():
    record = StoredResponse(
        {"id": "resp_2", "output": [{"type": "message"}]}, [{"type": "message", "role": "user"}], "key:ab", "resp_1"
    )
    again = loads(record.dumps(), "resp_2")
    assert again == record and again.id == "resp_2" and again.output == [{"type": "message"}]
    assert loads(record.dumps(), "resp_other") is None  # a record is only ever its own id's
    note = NotKept("resp_3", "key:ab", 5_000_000, 4_194_304)
    assert loads(note.dumps(), "resp_3") == note
    for garbage in (b"not json", b"[]", b'{"response": {"id": "resp_2"}, "input": []}', b'{"owner": "x"}'):
        assert loads(garbage, "resp_2") is None


def test_a_conversation_joins_its_turns_oldest_first():
    def turn(n: int, previous: str | None) -> StoredResponse:
        output = [{"role": "assistant", "content": f"answer {n}"}]
        return StoredResponse(
            {"id": f"resp_{n}", "output": output}, [{"role": "user", "content": f"q {n}"}], "o", previous
        )

    conversation = Conversation((turn(1, None), turn(2, "resp_1"), turn(3, "resp_2")))
    texts = [item["content"] for item in conversation.input]
    assert texts == ["q 1", "answer 1", "q 2", "answer 2", "q 3"]
    assert [item["content"] for item in conversation.items] == [*texts, "answer 3"]
    assert conversation.latest.id == "resp_3"


def test_not_kept_says_how_large_and_what_to_do():
    error = not_kept("resp_x", 5 * 1024 * 1024 + 1, 4 * 1024 * 1024)
    assert (error.status, error.code, error.param) == (400, "previous_response_not_kept", "previous_response_id")
    assert "(5 MB)" in error.message and "(4 MB" in error.message
    assert "responses-store.max-record-mb" in error.message and "whole conversation in 'input'" in error.message
