"""``/v1/responses`` end to end: the official ``openai`` SDK against the gateway (a real
Hypercorn server), in front of fake upstreams that speak OpenAI Chat or OpenAI Responses."""

from __future__ import annotations

import json
from pathlib import Path

import cliproxy_openai
import httpx
import openai
import orjson
import pytest
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def config_for(upstream: FakeUpstream, **entry: object) -> dict:
    block = {
        "name": "local",
        "base-url": upstream.url + "/v1",
        "api-key-entries": [{"api-key": "sk-upstream"}],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
    }
    block.update(entry)
    return {"api-keys": ["client-key"], "openai-compatibility": [block]}


@pytest.fixture
def live(upstream: FakeUpstream):
    def start(**entry: object):
        return serve_app(gateway_app(config_for(upstream, **entry), plugins=[cliproxy_openai]))

    return start


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def chat_answer(content: str | None = "Hello there", tool_calls: list | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-nano",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }


def responses_stream(path: Path, stream_no: int = 0) -> Reply:
    """One response's events from a ``.chunks.txt`` recording (some hold several)."""
    streams: list[list[dict]] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            obj = json.loads(line)
            if obj.get("type") == "response.created" or not streams:
                streams.append([])
            streams[-1].append(obj)
    return Reply.sse_events(streams[stream_no], named=True)


# -- a Responses client, an OpenAI Chat upstream --------------------------------------------------


def test_non_stream_text_through_a_chat_upstream(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    with live() as url:
        answer = client(url).responses.create(model="nano", instructions="Be brief.", input="hi", max_output_tokens=50)
    assert answer.output_text == "Hello there"
    assert answer.model == "nano" and answer.status == "completed" and answer.id.startswith("resp_")
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (12, 3, 15)
    assert answer.usage.input_tokens_details.cached_tokens == 4
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["model"] == "gpt-4.1-nano"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert sent["max_tokens"] == 50


def test_stream_through_a_chat_upstream(upstream, live, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")))
    with live() as url, client(url).responses.stream(model="nano", input="tell me a story") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and final.output_text == deltas
    assert final.model == "nano" and final.usage is not None and final.usage.output_tokens > 0
    assert upstream.requests_to(CHAT)[0].json["stream_options"] == {"include_usage": True}


def test_function_calls_stream_fragment_by_fragment_then_a_second_turn(upstream, live, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt")))
    with live() as url:
        c = client(url)
        events = list(
            c.responses.create(model="nano", input="weather in Edinburgh and New York?", tools=[WEATHER], stream=True)
        )
        final = events[-1].response
        calls = [item for item in final.output if item.type == "function_call"]
        assert [json.loads(call.arguments) for call in calls] == [
            {"city": "Edinburgh", "country": "GB", "units": "c"},
            {"ticker": "AAPL", "exchange": "NASDAQ"},
        ]
        fragments = [e for e in events if e.type == "response.function_call_arguments.delta"]
        assert len(fragments) > len(calls)  # arguments came in pieces, passed on as they came
        for call in calls:
            done = next(e for e in events if e.type == "response.function_call_arguments.done" and e.item_id == call.id)
            assert done.arguments == call.arguments == "".join(f.delta for f in fragments if f.item_id == call.id)

        upstream.add("POST", CHAT, Reply.json(chat_answer("Edinburgh is 12C; AAPL trades at $200.")))
        follow_up = [
            {"role": "user", "content": "weather in Edinburgh and New York?"},
            *[
                {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}
                for call in calls
            ],
            *[
                {"type": "function_call_output", "call_id": call.call_id, "output": out}
                for call, out in zip(calls, ["12C", "$200"], strict=True)
            ],
        ]
        answer = c.responses.create(model="nano", input=follow_up, tools=[WEATHER])
    assert answer.output_text == "Edinburgh is 12C; AAPL trades at $200."
    sent = upstream.requests_to(CHAT)[1].json
    assistant, *tools = sent["messages"][1:]
    assert [call["id"] for call in assistant["tool_calls"]] == [call.call_id for call in calls]
    assert [(t["role"], t["tool_call_id"], t["content"]) for t in tools] == [
        ("tool", calls[0].call_id, "12C"),
        ("tool", calls[1].call_id, "$200"),
    ]
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_reasoning_from_a_chat_upstream_becomes_a_reasoning_item(upstream, live, recording):
    upstream.add(
        "POST",
        CHAT,
        Reply.chunks_file(recording("local-openai-compat/vercel-deepseek-reasoning.chunks.txt"), done=True),
    )
    with live() as url:
        events = list(
            client(url).responses.create(
                model="nano", input="think", reasoning={"effort": "high", "summary": "auto"}, stream=True
            )
        )
    final = events[-1].response
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and reasoning.summary and reasoning.summary[0].text
    summary_deltas = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary_deltas == reasoning.summary[0].text
    assert message.type == "message" and final.output_text
    assert upstream.requests_to(CHAT)[0].json["reasoning_effort"] == "high"


def test_stateful_fields_get_a_clear_400_from_a_chat_upstream(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    with live() as url, pytest.raises(openai.BadRequestError) as caught:
        client(url).responses.create(model="nano", input="and then?", conversation="conv_abc")
    assert caught.value.status_code == 400
    assert "conversation" in caught.value.message and "stateless" in caught.value.message
    assert caught.value.body["param"] == "conversation"
    assert not upstream.requests_to(CHAT)


def test_upstream_rate_limit_reaches_the_client(upstream, live):
    upstream.add("POST", CHAT, Reply.error(429, "slow down"))
    with live() as url, pytest.raises(openai.RateLimitError) as caught:
        client(url).responses.create(model="nano", input="hi")
    assert "slow down" in caught.value.message


def test_mid_stream_error_ends_with_error_and_failed_events(upstream, live, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt")))
    with live() as url:
        events = list(client(url).responses.create(model="nano", input="hi", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert "server had an error" in events[-2].message
    assert events[-1].response.status == "failed" and events[-1].response.error.message == events[-2].message


def test_input_tokens_are_counted(upstream, live):
    with live() as url:
        counted = client(url).responses.input_tokens.count(model="nano", input="hello there, how are you today?")
    assert counted.object == "response.input_tokens" and counted.input_tokens > 0


async def test_bad_bodies_get_openai_errors_in_process(upstream):
    app = gateway_app(config_for(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app) as http:
        headers = {"authorization": "Bearer client-key"}
        reply = await http.post(RESPONSES, headers=headers, content=b"{not json")
        assert reply.status_code == 400 and "not valid JSON" in reply.json()["error"]["message"]
        reply = await http.post(
            RESPONSES, headers=headers, json={"model": "nano", "input": [{"type": "item_reference", "id": "msg_1"}]}
        )
        assert reply.status_code == 400 and reply.json()["error"]["param"] == "input[0].id"
        reply = await http.post(RESPONSES, json={"model": "nano", "input": "hi"})
        assert reply.status_code == 401 and reply.json()["error"]["type"] == "authentication_error"


# -- a Responses upstream (openai-compatibility entry with ``wire: responses``) --------------------


def test_responses_stream_passes_through_with_the_model_renamed(upstream, live, recording):
    upstream.add(
        "POST",
        RESPONSES,
        Reply.sse_file(recording("openai-responses/aibridge-responses_streaming_simple.stream.sse.txt")),
    )
    with (
        live(wire="responses") as url,
        client(url).responses.stream(
            model="nano", input="a joke", previous_response_id="resp_prev", store=True
        ) as stream,
    ):
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text.startswith("Why did the scarecrow")
    assert {e.response.model for e in events if e.type in ("response.created", "response.completed")} == {"nano"}
    sent = upstream.requests_to(RESPONSES)[0]
    assert sent.json["model"] == "gpt-4.1-nano" and sent.json["previous_response_id"] == "resp_prev"  # untouched
    assert sent.headers["authorization"] == "Bearer sk-upstream"
    assert not upstream.requests_to(CHAT)


def test_reasoning_and_tools_over_two_turns_with_a_responses_upstream(upstream, live, recording):
    path = recording("openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt")
    upstream.add("POST", RESPONSES, [responses_stream(path, 0), responses_stream(path, 1)])
    calculator = {"type": "function", "name": "calculator", "parameters": {"type": "object"}}
    with live(wire="responses") as url:
        c = client(url)
        request = {
            "model": "nano",
            "tools": [calculator],
            "reasoning": {"effort": "high", "summary": "detailed"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
        }
        with c.responses.stream(input="12+7, times 3?", **request) as stream:
            first = stream.get_final_response()
        reasoning, call = first.output
        assert reasoning.type == "reasoning" and reasoning.encrypted_content and reasoning.summary
        assert call.type == "function_call" and call.name == "calculator"
        turn = [
            {"role": "user", "content": "12+7, times 3?"},
            reasoning.model_dump(exclude_none=True),
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "19"},
        ]
        with c.responses.stream(input=turn, **request) as stream:
            second = stream.get_final_response()
    assert second.model == "nano"
    sent = upstream.requests_to(RESPONSES)[1].json
    assert sent["input"] == turn  # a Responses client's body reaches a Responses upstream as sent
    assert sent["model"] == "gpt-4.1-nano"


def test_whole_response_from_a_responses_upstream(upstream, live, recording):
    upstream.add(
        "POST",
        RESPONSES,
        Reply.json(
            json.loads(
                recording("openai-responses/aibridge-responses_blocking_single_builtin_tool.nonstream.json").read_text()
            )
        ),
    )
    with live(wire="responses") as url:
        answer = client(url).responses.create(model="nano", input="add 3 and 5", tools=[WEATHER])
    assert answer.model == "nano"
    assert [item.type for item in answer.output] == ["reasoning", "function_call"]
    assert answer.usage is not None and answer.usage.total_tokens == 76


def test_chat_client_through_a_responses_upstream_keeps_encrypted_reasoning(upstream, live, recording):
    path = recording("openai-responses/vercel-openai-reasoning-encrypted-content.1.chunks.txt")
    upstream.add("POST", RESPONSES, responses_stream(path))
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {"type": "object"}}}]
    with live(wire="responses") as url:
        c = client(url)
        chunks = list(
            c.chat.completions.create(
                model="nano",
                messages=[{"role": "user", "content": "12+7, times 3?"}],
                tools=tools,
                reasoning_effort="high",
                stream=True,
            )
        )
        sent = upstream.requests_to(RESPONSES)[0].json
        assert sent["input"] == [{"role": "user", "content": [{"type": "input_text", "text": "12+7, times 3?"}]}]
        assert sent["tools"] == [{"type": "function", "name": "calculator", "parameters": {"type": "object"}}]
        assert sent["reasoning"] == {"effort": "high"} and sent["store"] is False
        assert sent["include"] == ["reasoning.encrypted_content"] and sent["stream"] is True

        details = [
            d
            for chunk in chunks
            if chunk.choices
            for d in (getattr(chunk.choices[0].delta, "reasoning_details", None) or [])
        ]
        encrypted = next(d for d in details if d["type"] == "reasoning.encrypted")
        assert (
            encrypted["format"] == "openai-responses-v1"
            and encrypted["data"].startswith("gAAAA")
            and encrypted["id"].startswith("rs_")
        )
        calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
        call_id = calls[0].id
        arguments = "".join(call.function.arguments or "" for call in calls)
        assert json.loads(arguments)

        # the next turn sends reasoning_details back; the upstream gets its reasoning item again
        upstream.add("POST", RESPONSES, responses_stream(path, 1))
        list(
            c.chat.completions.create(
                model="nano",
                messages=[
                    {"role": "user", "content": "12+7, times 3?"},
                    {
                        "role": "assistant",
                        "content": None,
                        "reasoning_details": details,
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {"name": "calculator", "arguments": arguments},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": call_id, "content": "19"},
                ],
                tools=tools,
                reasoning_effort="high",
                stream=True,
            )
        )
    again = upstream.requests_to(RESPONSES)[1].json["input"]
    reasoning = next(item for item in again if item.get("type") == "reasoning")
    assert reasoning["encrypted_content"] == encrypted["data"] and reasoning["id"] == encrypted["id"]
    assert [item.get("type") for item in again[1:]] == ["reasoning", "function_call", "function_call_output"]


def test_chat_client_gets_a_whole_answer_from_a_responses_upstream(upstream, live, recording):
    upstream.add(
        "POST",
        RESPONSES,
        Reply.json(
            json.loads(recording("openai-responses/aibridge-responses_blocking_simple.nonstream.json").read_text())
        ),
    )
    with live(wire="responses") as url:
        answer = client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "joke"}])
    assert answer.choices[0].message.content.startswith("Why did the scarecrow")
    assert answer.usage is not None and answer.usage.total_tokens == 29


def test_responses_upstream_errors_reach_chat_clients(upstream, live, recording):
    upstream.add(
        "POST",
        RESPONSES,
        Reply.http_file(recording("openai-responses/aibridge-responses_streaming_http_error.stream.http.txt")),
    )
    with live(wire="responses") as url, pytest.raises(openai.RateLimitError) as caught:
        client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
    assert "Rate limit exceeded" in caught.value.message


def test_responses_upstream_error_events_reach_chat_clients_mid_stream(upstream, live, recording):
    upstream.add(
        "POST",
        RESPONSES,
        Reply.sse_file(recording("openai-responses/aibridge-responses_streaming_stream_failure.stream.sse.txt")),
    )
    with live(wire="responses") as url:
        c = client(url)
        with pytest.raises(openai.APIError, match="failed to generate"):
            list(c.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}], stream=True))


def test_raw_http_stream_framing(upstream, live, recording):
    """What goes over the wire: named events, one JSON object each, no [DONE]."""
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/aibridge-chat_simple.stream.sse.txt")))
    with live() as url:
        body = httpx.post(
            url + RESPONSES,
            headers={"authorization": "Bearer client-key"},
            json={"model": "nano", "input": "hi", "stream": True},
        ).content
    frames = [f for f in body.split(b"\n\n") if f]
    for frame in frames:
        name, data = frame.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: ")
        assert orjson.loads(data[6:])["type"] == name[7:].decode()
    assert b"[DONE]" not in body
