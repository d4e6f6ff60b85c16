"""What reaches MiniMax on each wire: body rules (temperature, max_completion_tokens,
tool_choice, reasoning_split), reasoning sent back intact, inline ``<think>`` text, model
spelling, regions and base URLs."""

from __future__ import annotations

import anthropic
import openai
import pytest
from cliproxy import ConfigError, ir
from cliproxy.testing import serve_app
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy_minimax.think import ThinkSplitter
from hypothesis import given, settings
from hypothesis import strategies as st

MESSAGES = "/anthropic/v1/messages"
CHAT = "/v1/chat/completions"
KEY = "mm-api-key-0123456789abcdef"
THOUGHT = "The user wants the weather; call the tool."
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]


def entry(minimax, **extra) -> dict:
    return {"api-key": KEY, "base-url": minimax.url, **extra}


def claude(url: str, **params) -> anthropic.types.Message:
    client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
    params.setdefault("messages", [{"role": "user", "content": "weather?"}])
    return client.messages.create(model=params.pop("model", "MiniMax-M2.5"), max_tokens=1024, **params)


def chat(url: str, **params):
    client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
    params.setdefault("messages", [{"role": "user", "content": "weather?"}])
    return client.chat.completions.create(model=params.pop("model", "MiniMax-M2.5"), **params)


# -- the Anthropic wire (the default) ----------------------------------------------------------


def test_thinking_blocks_come_back_and_go_back_intact(minimax, minimax_app):
    with serve_app(minimax_app()) as url:
        first = claude(url, tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 2048})
        thinking = next(b for b in first.content if b.type == "thinking")
        tool_use = next(b for b in first.content if b.type == "tool_use")
        claude(
            url,
            tools=TOOLS,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]},
            ],
        )
    assert (thinking.thinking, thinking.signature) == (THOUGHT, "mm-sig-6f1e2d")
    sent = minimax.server.requests_to(MESSAGES)[1].json
    echoed = sent["messages"][1]["content"][0]
    assert echoed == {"type": "thinking", "thinking": THOUGHT, "signature": "mm-sig-6f1e2d"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_an_openai_client_gets_the_signed_thinking_and_it_goes_back_as_a_thinking_block(minimax, minimax_app):
    with serve_app(minimax_app()) as url:
        first = chat(url, tools=OPENAI_TOOLS[:1]).choices[0].message
        extra = first.model_extra or {}
        assert extra["reasoning_content"] == THOUGHT
        chat(
            url,
            tools=OPENAI_TOOLS[:1],
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [c.model_dump() for c in first.tool_calls],
                    "reasoning_details": extra["reasoning_details"],
                },
                {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "sunny"},
            ],
        )
    assistant = minimax.server.requests_to(MESSAGES)[1].json["messages"][1]
    assert assistant["content"][0] == {"type": "thinking", "thinking": THOUGHT, "signature": "mm-sig-6f1e2d"}


@pytest.mark.parametrize(("given", "sent"), [(0, 0.01), (0.7, 0.7), (1, 1), (1.0, 1.0)])
def test_temperature_is_kept_within_0_and_1(given, sent, minimax, minimax_app):
    with serve_app(minimax_app()) as url:
        claude(url, extra_body={"temperature": given})
    assert minimax.server.requests_to(MESSAGES)[0].json["temperature"] == sent


def test_temperature_above_1_from_an_openai_client_becomes_1(minimax, minimax_app):
    with serve_app(minimax_app()) as url:
        chat(url, temperature=1.7)
    assert minimax.server.requests_to(MESSAGES)[0].json["temperature"] == 1


@pytest.mark.parametrize("asked", ["minimax-m2.5", "MINIMAX-M2.5", "MiniMax-M2.5-lightning"])
def test_model_names_are_sent_in_minimaxs_spelling(asked, minimax, minimax_app):
    with serve_app(minimax_app([entry(minimax, prefix="mm")])) as url:
        claude(url, model=f"mm/{asked}")
    expected = "MiniMax-M2.5-highspeed" if asked.endswith("lightning") else "MiniMax-M2.5"
    assert minimax.server.requests_to(MESSAGES)[0].json["model"] == expected


def test_the_catalogue_is_listed(minimax_app):
    with serve_app(minimax_app()) as url:
        ids = [m.id for m in openai.OpenAI(base_url=url + "/v1", api_key="client-key").models.list()]
    assert {"MiniMax-M3", "MiniMax-M2.7-highspeed", "MiniMax-M2.5", "MiniMax-M2-Stable"} <= set(ids)


# -- the OpenAI wire ----------------------------------------------------------------------------


def test_openai_body_rules(minimax, minimax_app):
    with serve_app(minimax_app([entry(minimax, wire="openai")])) as url:
        chat(url, max_tokens=300, temperature=0, tools=OPENAI_TOOLS, tool_choice="required")
        chat(url, tools=OPENAI_TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}})
        chat(url, tool_choice="none", tools=OPENAI_TOOLS, extra_body={"reasoning_split": False})
    first, second, third = (r.json for r in minimax.server.requests_to(CHAT))
    assert first["max_completion_tokens"] == 300 and "max_tokens" not in first
    assert first["temperature"] == 0.01 and first["tool_choice"] == "auto" and first["reasoning_split"] is True
    assert [t["function"]["name"] for t in second["tools"]] == ["get_time"] and second["tool_choice"] == "auto"
    assert third["tool_choice"] == "none" and third["reasoning_split"] is False  # the client's own choice stands


def test_an_anthropic_clients_thinking_goes_back_as_reasoning_details(minimax, minimax_app):
    with serve_app(minimax_app([entry(minimax, wire="openai")])) as url:
        first = claude(url, tools=TOOLS)
        tool_use = next(b for b in first.content if b.type == "tool_use")
        claude(
            url,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]},
            ],
        )
        claude(
            url,
            messages=[
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Say hi.", "signature": "x"},
                        {"type": "text", "text": "Hi"},
                    ],
                },
                {"role": "user", "content": "again"},
            ],
        )
    assert next(b for b in first.content if b.type == "thinking").thinking == THOUGHT
    second, third = (r.json for r in minimax.server.requests_to(CHAT)[1:])
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")
    # The Anthropic door carries the thinking text back (not MiniMax's id and format fields)
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": THOUGHT}]
    assistant = next(m for m in third["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": "Say hi."}]
    assert "reasoning_effort" not in second


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_inline_think_text_becomes_thinking_for_other_clients_and_stays_for_openai_clients(
    stream, minimax, minimax_app
):
    minimax.inline = True
    with serve_app(minimax_app([entry(minimax, wire="openai")])) as url:
        if stream:
            client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
            with client.messages.stream(
                model="MiniMax-M2.5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
            ) as s:
                message = s.get_final_message()
            chunks = chat(url, stream=True)
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            message = claude(url)
            content = chat(url).choices[0].message.content
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in message.content] == [
        ("thinking", f"\n{THOUGHT}\n"),
        ("text", "It is sunny."),
    ]
    assert content == f"<think>\n{THOUGHT}\n</think>\n\nIt is sunny."  # verbatim: MiniMax wants it back as is


# -- the think splitter, on any split of the stream ------------------------------------------


def _chunks(pieces: list[str]) -> bytes:
    import json

    out = b""
    for piece in pieces:
        chunk = {
            "id": "1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        out += b"data: " + json.dumps(chunk).encode() + b"\n\n"
    done = {
        "id": "1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    return out + b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n"


def _fold(events: list[ir.StreamEvent]) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()


@settings(max_examples=60, deadline=None)
@given(
    text=st.sampled_from(
        [
            "  <think>plan</think>\n\nanswer",
            "<think></think>x",
            "no think <think>here</think>",
            "<thi",
            "<think>never closed",
        ]
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=6),
)
def test_the_splitter_reads_the_same_however_the_text_is_cut(text, cuts):
    pieces, start = [], 0
    for cut in sorted(set(cuts)):
        if cut < len(text):
            pieces.append(text[start:cut])
            start = cut
    pieces.append(text[start:])
    decoder = ThinkSplitter(OpenAIChat().stream_decoder())
    events = decoder.feed(_chunks([p for p in pieces if p])) + decoder.close()
    starts = [e.index for e in events if isinstance(e, ir.TextStart | ir.ReasoningStart)]
    assert starts == list(range(len(starts)))  # indexes count up in the order blocks start
    streamed = _fold(events)
    whole = ir.split_think_response(ir.Response(id="1", model="m", parts=(ir.TextPart(text),)), trim=False)
    assert [(type(p).__name__, p.text) for p in streamed.parts] == [(type(p).__name__, p.text) for p in whole.parts]


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "sent_to"),
    [
        ({"region": "cn"}, "https://api.minimaxi.com/anthropic/v1/messages"),
        ({}, "https://api.minimax.io/anthropic/v1/messages"),
        ({"base-url": "https://proxy.example/anthropic"}, "https://proxy.example/anthropic/v1/messages"),
        ({"base-url": "https://proxy.example/v1", "wire": "openai"}, "https://proxy.example/v1/chat/completions"),
    ],
)
def test_regions_and_base_urls(block, sent_to, minimax_app):
    app = minimax_app([{"api-key": KEY, **block}])
    (credential,) = app.state.gateway.credentials
    settings_ = credential.settings
    assert (settings_.messages_url if settings_.wire == "anthropic" else settings_.chat_url) == sent_to


def test_a_missing_key_or_unknown_region_is_a_config_error(minimax_app):
    with pytest.raises(ConfigError, match="api-key"):
        minimax_app([{"region": "global"}])
    with pytest.raises(ConfigError, match="region"):
        minimax_app([{"api-key": KEY, "region": "eu"}])
