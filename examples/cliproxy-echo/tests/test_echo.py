"""The echo demo provider: echo, word-by-word streams, reasoning, tool calls, prefixes."""

from __future__ import annotations

import json

import cliproxy_echo
import pytest
from cliproxy import ConfigError, ir
from cliproxy.testing import asgi_client, gateway_app


def app(**entry):
    return gateway_app({"echo": [{"models": ["echo-1"], **entry}, {"prefix": "demo"}]}, plugins=[cliproxy_echo])


def request(text: str, **extra) -> ir.Request:
    return ir.Request(model="echo-1", messages=[ir.Message("user", [ir.TextPart(text)])], **extra)


def test_reply_echoes_the_last_user_message():
    assert cliproxy_echo.reply_for(request("hi there")) == [ir.TextPart("hi there")]


def test_reply_calls_a_tool_only_when_it_exists():
    tool = ir.Tool("get_weather")
    (call,) = cliproxy_echo.reply_for(request('call get_weather {"city": "Oslo"}', tools=[tool]))
    assert isinstance(call, ir.ToolCallPart) and json.loads(call.arguments) == {"city": "Oslo"}
    assert cliproxy_echo.reply_for(request("call get_weather")) == [ir.TextPart("call get_weather")]


def test_reply_reports_tool_results_and_thinks_when_asked():
    req = ir.Request(
        model="echo-1",
        messages=[
            ir.Message("user", [ir.TextPart("q")]),
            ir.Message("assistant", [ir.ToolCallPart("c1", "get_weather", "{}")]),
            ir.Message("tool", [ir.ToolResultPart("c1", [ir.TextPart("sunny")], name="get_weather")]),
        ],
        reasoning=ir.Reasoning(effort="low"),
    )
    reasoning, text = cliproxy_echo.reply_for(req)
    assert isinstance(reasoning, ir.ReasoningPart)
    assert text == ir.TextPart("Tool result: get_weather returned sunny")


async def test_streams_word_by_word_and_serves_prefixed_names():
    async with asgi_client(app()) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "demo/anything", "stream": True, "messages": [{"role": "user", "content": "one two three"}]},
        )
    deltas = [
        json.loads(line[5:])["choices"][0]["delta"].get("content")
        for line in reply.text.splitlines()
        if line.startswith("data: {")
    ]
    assert [d for d in deltas if d] == ["one ", "two ", "three"]


def test_bad_config_is_located():
    with pytest.raises(ConfigError, match=r"echo\[0\]\.delay-ms' must be a whole number"):
        gateway_app({"echo": [{"delay-ms": "slow"}]}, plugins=[cliproxy_echo])
