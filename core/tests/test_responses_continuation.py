"""The pure parts of continuing a stored response (cliproxy.wire.openai_responses.continuation)."""

from __future__ import annotations

from cliproxy.response_store import StoredResponse
from cliproxy.wire.openai_responses.continuation import (
    continued_body,
    final_response,
    input_items,
    not_found,
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
    record = StoredResponse({"id": "resp_1", "output": [{"type": "message"}]}, [{"type": "message", "role": "user"}])
    again = StoredResponse.loads(record.dumps())
    assert again == record and again.id == "resp_1"
    assert again.conversation == [{"type": "message", "role": "user"}, {"type": "message"}]
    assert StoredResponse.loads(b"not json") is None and StoredResponse.loads(b"[]") is None
