"""System messages in the middle of a conversation (issue 14, defect 1) and system blocks
joined into one string (defect 4), on every built-in wire.

The client body is what Claude Code 2.1 sends for a model name it does not know
(``ANTHROPIC_MODEL=core-sonnet``): ``role: "system"`` messages inside ``messages``, under the
``mid-conversation-system-2026-04-07`` beta (see
``recordings/anthropic/CONSTRUCTED-claude-code-2.1-mid-conversation-system.request.json``
and its entry in ``recordings/anthropic/README.md``).
"""

from __future__ import annotations

import json
from itertools import pairwise

import orjson
import pytest
from cliproxy.errors import GatewayError
from cliproxy.ir import Message, Request, TextPart, ToolCallPart, ToolResultPart
from cliproxy.testing import strategies as shared
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.common import system_note
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ANTHROPIC, CHAT, RESPONSES, GEMINI = Anthropic(), OpenAIChat(), OpenAIResponses(), Gemini()
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BILLING = "x-anthropic-billing-header: cc_version=2.1.197.4e1; cc_entrypoint=sdk-cli;"
AGENT = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
PLAN = "Plan mode is not active. You may run tools that change files when the user asks for it."
STYLE = "The user has set the output style to concise. Keep the final answer to one sentence."


@pytest.fixture
def claude_code(recording) -> dict:
    return json.loads(
        recording("anthropic/CONSTRUCTED-claude-code-2.1-mid-conversation-system.request.json").read_text()
    )


def test_claude_code_system_messages_decode_where_they_stand(claude_code):
    request = ANTHROPIC.decode_request(claude_code)
    roles = [m.role for m in request.messages]
    # top-level system, user, system (messages[1]), assistant, tool results, system (messages[4])
    assert roles == ["system", "user", "system", "assistant", "tool", "system"]
    assert request.messages[2].text == PLAN
    assert request.messages[5].text == STYLE


def test_count_tokens_body_with_system_messages_decodes(claude_code):
    body = {k: v for k, v in claude_code.items() if k in ("model", "messages", "system", "tools", "thinking")}
    assert ANTHROPIC.decode_request(body).messages[2].role == "system"


def test_a_system_message_with_non_text_content_is_refused_naming_the_block(claude_code):
    claude_code["messages"][1]["content"] = [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]
    with pytest.raises(GatewayError) as caught:
        ANTHROPIC.decode_request(claude_code)
    assert caught.value.status == 400 and caught.value.param == "messages[1].content[0].type"


def test_chat_gets_each_system_message_in_place(claude_code):
    body = CHAT.encode_request(ANTHROPIC.decode_request(claude_code), "gpt-4.1")
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "system", "assistant", "tool", "system"]
    assert messages[2] == {"role": "system", "content": PLAN}
    assert messages[5] == {"role": "system", "content": STYLE}


def test_chat_system_blocks_are_joined_with_a_blank_line(claude_code):
    body = CHAT.encode_request(ANTHROPIC.decode_request(claude_code), "gpt-4.1")
    prompt = body["messages"][0]["content"]
    assert prompt.startswith(f"{BILLING}\n\n{AGENT}\n\n")
    assert "sdk-cli;You are" not in prompt


def test_responses_gets_instructions_then_developer_items_in_place(claude_code):
    body = RESPONSES.encode_request(ANTHROPIC.decode_request(claude_code), "gpt-5")
    assert body["instructions"].startswith(f"{BILLING}\n\n{AGENT}\n\n")
    items = body["input"]
    assert items[0]["role"] == "user"
    assert items[1] == {"role": "developer", "content": PLAN}
    assert [i.get("type") for i in items[2:4]] == ["message", "function_call"]
    assert items[4]["type"] == "function_call_output"
    assert items[5] == {"role": "developer", "content": STYLE}


def test_anthropic_keeps_them_in_place_after_user_turns_under_the_beta(claude_code):
    body = ANTHROPIC.encode_request(ANTHROPIC.decode_request(claude_code), "claude-opus-4-8")
    assert [b["text"] for b in body["system"]][:2] == [BILLING, AGENT]
    assert [m["role"] for m in body["messages"]] == ["user", "system", "assistant", "user", "system"]
    assert body["messages"][1]["content"] == [{"type": "text", "text": PLAN}]
    assert body["messages"][4]["content"] == [{"type": "text", "text": STYLE}]
    assert body["betas"] == ["mid-conversation-system-2026-04-07"]


def test_anthropic_turns_a_system_message_after_the_assistant_into_a_user_side_note():
    request = Request(
        model="m",
        messages=[
            Message("user", [TextPart("hi")]),
            Message("assistant", [ToolCallPart("t1", "f", "{}")]),
            Message("system", [TextPart("be careful"), TextPart("really")]),
            Message("tool", [ToolResultPart("t1", [TextPart("ok")])]),
        ],
    )
    body = ANTHROPIC.encode_request(request, "claude-opus-4-8")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    # the tool result still opens the turn right after the tool use; the note follows it
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
        {"type": "text", "text": system_note("be careful\n\nreally")},
    ]
    assert "betas" not in body


def test_gemini_gets_system_instruction_and_in_place_notes(claude_code):
    body = GEMINI.encode_request(ANTHROPIC.decode_request(claude_code), "gemini-2.5-pro")
    (instruction,) = body["systemInstruction"]["parts"]  # one part: Gemini runs adjacent parts together
    assert instruction["text"].startswith(f"{BILLING}\n\n{AGENT}\n\n")
    assert STYLE not in instruction["text"] and PLAN not in instruction["text"]
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][-1] == {"text": system_note(PLAN)}
    last = contents[2]["parts"]
    assert "functionResponse" in last[0]
    assert last[1] == {"text": system_note(STYLE)}


def test_gemini_function_responses_open_their_turn_before_a_note():
    request = Request(
        model="m",
        messages=[
            Message("user", [TextPart("hi")]),
            Message("assistant", [ToolCallPart("t1", "f", "{}")]),
            Message("system", [TextPart("mind the budget")]),
            Message("tool", [ToolResultPart("t1", [TextPart("ok")], name="f")]),
        ],
    )
    contents = GEMINI.encode_request(request, "gemini-2.5-flash")["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert list(contents[2]["parts"][0]) == ["functionResponse"]
    assert contents[2]["parts"][1] == {"text": system_note("mind the budget")}


# -- properties ------------------------------------------------------------------------------

MARK = "SYSMARK"


@st.composite
def with_system_messages(draw):
    """A well-formed request with system messages (unique texts) inserted anywhere."""
    request = draw(shared.requests(images=False, max_messages=8))
    messages = list(request.messages)
    count = draw(st.integers(1, 4))
    for n in range(count):
        position = draw(st.integers(0, len(messages)))
        parts = [TextPart(f"{MARK}{n}x{k}") for k in range(draw(st.integers(1, 2)))]
        messages.insert(position, Message("system", parts))
    return Request(model=request.model, messages=messages, tools=request.tools), count


def _marks(request: Request) -> set[str]:
    return {p.text for m in request.messages if m.role == "system" for p in m.parts if MARK in p.text}


@SETTINGS
@given(with_system_messages())
def test_no_system_instruction_is_lost_on_any_wire(case):
    request, _ = case
    marks = _marks(request)
    for translator, model in (
        (CHAT, "gpt-4.1"),
        (RESPONSES, "gpt-5"),
        (ANTHROPIC, "claude-x"),
        (GEMINI, "gemini-3-pro"),
    ):
        sent = orjson.dumps(translator.encode_request(request, model)).decode()
        assert {m for m in marks if m in sent} == marks, translator.name


@SETTINGS
@given(with_system_messages())
def test_gemini_turns_still_alternate(case):
    request, _ = case
    contents = GEMINI.encode_request(request, "gemini-2.5-pro")["contents"]
    roles = [c["role"] for c in contents]
    assert all(a != b for a, b in pairwise(roles))
    for content in contents:
        kinds = ["functionResponse" in p for p in content["parts"]]
        assert kinds == sorted(kinds, reverse=True)  # function responses first


@SETTINGS
@given(with_system_messages())
def test_anthropic_system_turns_follow_user_turns_and_the_rest_alternate(case):
    request, _ = case
    body = ANTHROPIC.encode_request(request, "claude-x")
    roles = [m["role"] for m in body["messages"]]
    for i, role in enumerate(roles):
        if role == "system":
            assert i > 0 and roles[i - 1] == "user"
    talk = [r for r in roles if r != "system"]
    assert all(a != b for a, b in pairwise(talk))
    assert ("betas" in body) == ("system" in roles)
