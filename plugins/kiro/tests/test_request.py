"""IR -> conversationState: alternation, system folding, tools, images, limits."""

from __future__ import annotations

import json

import pytest
from cliproxy import GatewayError, ir
from cliproxy_kiro.models import kiro_model_id
from cliproxy_kiro.request import MAX_TOOL_DESCRIPTION, MAX_TOOL_NAME, build_request
from hypothesis import given, settings
from hypothesis import strategies as st

M = ir.Message


def req(*messages: ir.Message, **kw) -> ir.Request:
    return ir.Request(model="m", messages=messages, **kw)


def state(request: ir.Request, model: str = "claude-sonnet-4-5"):
    return build_request(request, model).body["conversationState"]


def test_matches_the_constructed_recording_shape(recording):
    """The recorded example: system folded into the first user turn, a tool round trip in
    history, the tool result and an image on the current message."""
    expected = json.loads(recording("kiro/CONSTRUCTED-request-generateAssistantResponse.json").read_text())
    request = req(
        M("system", [ir.TextPart("Be brief.")]),
        M("user", [ir.TextPart("Hi")]),
        M(
            "assistant",
            [ir.TextPart("I'll check."), ir.ToolCallPart("tooluse_prev", "read_file", '{"path": "bar.txt"}')],
        ),
        M("tool", [ir.ToolResultPart("tooluse_prev", [ir.TextPart("previous tool output")])]),
        M("user", [ir.TextPart("What is in foo.txt?"), ir.FilePart("image/png", data="iVBORw0KGgo...")]),
        tools=[
            ir.Tool(
                "read_file",
                "Read a file",
                {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            )
        ],
    )
    got = state(request)
    want = expected["conversationState"]
    assert set(want) <= set(got)
    assert got["chatTriggerType"] == "MANUAL" and got["agentTaskType"] == "vibe"
    current = got["currentMessage"]["userInputMessage"]
    want_current = want["currentMessage"]["userInputMessage"]
    assert current["modelId"] == want_current["modelId"] == "claude-sonnet-4.5"
    assert current["origin"] == "AI_EDITOR"
    assert current["images"] == want_current["images"]
    assert current["userInputMessageContext"] == want_current["userInputMessageContext"]
    assert "What is in foo.txt?" in current["content"]
    history = got["history"]
    assert history[0]["userInputMessage"]["content"] == "Be brief.\n\nHi"
    assert history[1] == want["history"][1]
    assert "system" not in json.dumps(got).lower().replace("system prompt", "")


def test_roles_alternate_with_merges_and_placeholders():
    request = req(
        M("assistant", [ir.TextPart("I start")]),
        M("user", [ir.TextPart("one")]),
        M("user", [ir.TextPart("two")]),
        M("assistant", [ir.TextPart("a")]),
        M("assistant", [ir.TextPart("b")]),
    )
    got = state(request)
    roles = [next(iter(entry)) for entry in got["history"]]
    assert roles == ["userInputMessage", "assistantResponseMessage", "userInputMessage", "assistantResponseMessage"]
    assert got["history"][0]["userInputMessage"]["content"] == "."
    assert got["history"][2]["userInputMessage"]["content"] == "one\n\ntwo"
    assert got["history"][3]["assistantResponseMessage"]["content"] == "a\n\nb"
    assert got["currentMessage"]["userInputMessage"]["content"] == "Continue"  # after a prefill


def test_tool_results_without_text_get_placeholder_content_and_pair_with_their_calls():
    request = req(
        M("user", [ir.TextPart("weather?")]),
        M(
            "assistant",
            [ir.ToolCallPart("c1", "get_weather", '{"city": "Paris"}'), ir.ToolCallPart("c2", "get_weather", "{}")],
        ),
        M("tool", [ir.ToolResultPart("c1", [ir.TextPart("sunny")])]),
        M("tool", [ir.ToolResultPart("zz", [ir.TextPart("stray")], is_error=True)]),
        tools=[ir.Tool("get_weather", "Weather", {"type": "object", "properties": {}})],
    )
    got = state(request)
    assistant = got["history"][1]["assistantResponseMessage"]
    assert [u["toolUseId"] for u in assistant["toolUses"]] == ["c1"]  # c2 never got a result
    assert assistant["toolUses"][0]["input"] == {"city": "Paris"}
    current = got["currentMessage"]["userInputMessage"]
    assert current["userInputMessageContext"]["toolResults"] == [
        {"toolUseId": "c1", "content": [{"text": "sunny"}], "status": "success"}
    ]
    assert "[Tool result for zz]\nstray" in current["content"]  # an orphan result becomes text


def test_repeated_tool_calls_and_results_are_sent_once():
    request = req(
        M("user", [ir.TextPart("go")]),
        M("assistant", [ir.ToolCallPart("c1", "t", "{}"), ir.ToolCallPart("c1", "t", "{}")]),
        M("tool", [ir.ToolResultPart("c1", [ir.TextPart("one")]), ir.ToolResultPart("c1", [ir.TextPart("again")])]),
        tools=[ir.Tool("t", "a tool")],
    )
    got = state(request)
    assert len(got["history"][1]["assistantResponseMessage"]["toolUses"]) == 1
    results = got["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"]
    assert [r["content"][0]["text"] for r in results] == ["one"]


def test_tool_only_user_turn_gets_the_results_placeholder():
    request = req(
        M("user", [ir.TextPart("go")]),
        M("assistant", [ir.ToolCallPart("c1", "t", "{}")]),
        M("tool", [ir.ToolResultPart("c1", [])]),
        tools=[ir.Tool("t", "a tool")],
    )
    current = state(request)["currentMessage"]["userInputMessage"]
    assert current["content"] == "Tool results provided."
    assert current["userInputMessageContext"]["toolResults"][0]["content"] == [{"text": "(no output)"}]


def test_without_declared_tools_history_tool_traffic_becomes_text():
    request = req(
        M("user", [ir.TextPart("go")]),
        M("assistant", [ir.ToolCallPart("c1", "lookup", '{"q": 1}')]),
        M("tool", [ir.ToolResultPart("c1", [ir.TextPart("found")])]),
    )
    got = state(request)
    assert "toolUses" not in got["history"][1]["assistantResponseMessage"]
    assert '[Called tool lookup with input {"q":1}]' in got["history"][1]["assistantResponseMessage"]["content"]
    current = got["currentMessage"]["userInputMessage"]
    assert "userInputMessageContext" not in current
    assert "found" in current["content"]


def test_tools_used_in_history_but_not_declared_get_stub_specs():
    request = req(
        M("user", [ir.TextPart("go")]),
        M("assistant", [ir.ToolCallPart("c1", "old_tool", "{}")]),
        M("tool", [ir.ToolResultPart("c1", [ir.TextPart("ok")])]),
        tools=[ir.Tool("new_tool", "new")],
    )
    tools = state(request)["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"]
    assert [t["toolSpecification"]["name"] for t in tools] == ["new_tool", "old_tool"]


def test_tool_limits_names_and_descriptions():
    long_name = "mcp__server__" + "x" * 80
    request = req(
        M("user", [ir.TextPart("go")]),
        tools=[ir.Tool(long_name, "d" * (MAX_TOOL_DESCRIPTION + 500), {"properties": None}), ir.Tool("empty", None)],
    )
    encoded = build_request(request, "claude-sonnet-4.5")
    specs = [
        t["toolSpecification"]
        for t in encoded.body["conversationState"]["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "tools"
        ]
    ]
    assert len(specs[0]["name"]) <= MAX_TOOL_NAME
    assert encoded.tool_names == {specs[0]["name"]: long_name}
    assert len(specs[0]["description"]) == MAX_TOOL_DESCRIPTION
    assert specs[0]["inputSchema"]["json"] == {"properties": {}, "type": "object"}
    assert specs[1]["description"] == "Tool empty"


def test_thinking_tool_choice_and_format_go_into_the_first_user_turn():
    request = req(
        M("system", [ir.TextPart("sys")]),
        M("user", [ir.TextPart("q")]),
        reasoning=ir.Reasoning(budget_tokens=4096),
        tools=[ir.Tool("t", "tool")],
        tool_choice=ir.ToolChoice("tool", "t"),
        response_format=ir.ResponseFormat("json_object"),
    )
    encoded = build_request(request, "claude-sonnet-4.5")
    content = encoded.body["conversationState"]["currentMessage"]["userInputMessage"]["content"]
    assert encoded.thinking
    assert content.startswith(
        "<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>4096</max_thinking_length>\n\nsys"
    )
    assert "You must call the tool named 't'" in content and "single JSON object" in content
    assert content.endswith("\n\nq")
    off = build_request(req(M("user", [ir.TextPart("q")]), reasoning=ir.Reasoning(effort="none")), "claude-sonnet-4.5")
    assert not off.thinking and "thinking_mode" not in json.dumps(off.body)
    by_name = build_request(req(M("user", [ir.TextPart("q")])), "claude-sonnet-4-5-thinking")
    assert by_name.thinking
    assert by_name.body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] == "claude-sonnet-4.5"


def test_signed_reasoning_goes_back_in_history():
    request = req(
        M("user", [ir.TextPart("q")]),
        M(
            "assistant",
            [ir.ReasoningPart("hmm", {"kiro": {"signature": "sig"}}), ir.ReasoningPart("unsigned"), ir.TextPart("a")],
        ),
        M("user", [ir.TextPart("q2")]),
    )
    assistant = state(request)["history"][1]["assistantResponseMessage"]
    assert assistant["reasoningContent"] == {"reasoningText": {"text": "hmm", "signature": "sig"}}
    assert assistant["content"] == "a"


def test_inference_settings_and_session_id():
    request = req(
        M("user", [ir.TextPart("q")]),
        max_tokens=100,
        temperature=0.2,
        top_p=0.9,
        metadata={"user_id": "user_1_account__session_0b4445e1-f5be-49e1-87ce-62bbc28ad705"},
    )
    body = build_request(request, "x").body
    assert body["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2, "topP": 0.9}
    assert body["conversationState"]["conversationId"] == "0b4445e1-f5be-49e1-87ce-62bbc28ad705"


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (ir.FilePart("image/png", url="https://example.com/a.png"), "inline"),
        (ir.FilePart("application/pdf", data="JVBERi0="), "application/pdf"),
    ],
)
def test_what_kiro_cannot_take_is_a_clear_400(part, message):
    with pytest.raises(GatewayError) as caught:
        build_request(req(M("user", [ir.TextPart("see"), part])), "x")
    assert caught.value.status == 400 and message in caught.value.message


def test_no_messages_is_a_400():
    with pytest.raises(GatewayError, match="no messages"):
        build_request(req(), "x")


@pytest.mark.parametrize(
    ("name", "kiro"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("kiro-claude-haiku-4-5", "claude-haiku-4.5"),
        ("claude-opus-4.5", "claude-opus-4.5"),
        ("claude-3-7-sonnet-latest", "claude-3.7-sonnet"),
        ("CLAUDE_SONNET_4_5_20250929_V1_0", "CLAUDE_SONNET_4_5_20250929_V1_0"),
        ("auto", "auto"),
    ],
)
def test_model_names_map_to_kiro_ids(name, kiro):
    assert kiro_model_id(name) == kiro


# -- property: whatever the conversation, Kiro gets a well-formed one -------------------------

texts = st.text(max_size=8)
parts_for = {
    "user": st.lists(st.builds(ir.TextPart, texts), max_size=2),
    "assistant": st.lists(
        st.one_of(
            st.builds(ir.TextPart, texts),
            st.builds(ir.ToolCallPart, st.sampled_from(["a", "b", "c"]), st.just("t"), st.just("{}")),
        ),
        max_size=2,
    ),
    "tool": st.lists(
        st.builds(ir.ToolResultPart, st.sampled_from(["a", "b", "z"]), st.just([ir.TextPart("r")])),
        min_size=1,
        max_size=2,
    ),
    "system": st.lists(st.builds(ir.TextPart, texts), max_size=1),
}
messages = st.lists(
    st.sampled_from(["user", "assistant", "tool", "system"]).flatmap(
        lambda role: parts_for[role].map(lambda p: M(role, p))
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(messages=messages, with_tools=st.booleans())
def test_any_conversation_encodes_to_strict_alternation_with_paired_tools(messages, with_tools):
    request = req(*messages, tools=[ir.Tool("t", "tool")] if with_tools else [])
    if not any(m.role != "system" or m.text for m in messages):
        return  # nothing to send: the 400 test covers it
    got = state(request)
    history = got.get("history", [])
    roles = [next(iter(entry)) for entry in history] + ["userInputMessage"]
    assert roles == ["userInputMessage", "assistantResponseMessage"] * (len(roles) // 2) + ["userInputMessage"] * (
        len(roles) % 2
    )
    users = [e["userInputMessage"] for e in history if "userInputMessage" in e] + [
        got["currentMessage"]["userInputMessage"]
    ]
    assert all(u["content"] for u in users)
    entries = [*history, {"userInputMessage": got["currentMessage"]["userInputMessage"]}]
    for i, entry in enumerate(entries):
        uses = entry.get("assistantResponseMessage", {}).get("toolUses", [])
        assert len({u["toolUseId"] for u in uses}) == len(uses)
        if uses:
            answered = {
                r["toolUseId"] for r in entries[i + 1]["userInputMessage"]["userInputMessageContext"]["toolResults"]
            }
            assert {u["toolUseId"] for u in uses} <= answered
        results = entry.get("userInputMessage", {}).get("userInputMessageContext", {}).get("toolResults", [])
        assert len({r["toolUseId"] for r in results}) == len(results)
        if results:
            asked = {u["toolUseId"] for u in entries[i - 1]["assistantResponseMessage"].get("toolUses", [])}
            assert {r["toolUseId"] for r in results} <= asked
    if not with_tools:
        assert "toolUses" not in json.dumps(got) and "toolResults" not in json.dumps(got)


def _contents(got: dict) -> list[str]:
    history = [e["userInputMessage"]["content"] for e in got.get("history", []) if "userInputMessage" in e]
    return [*history, got["currentMessage"]["userInputMessage"]["content"]]


def test_a_mid_conversation_system_message_stays_in_place_as_a_marked_note():
    """Claude Code 2.1 puts role: system messages inside messages (issue 14)."""
    request = req(
        M(
            "system",
            [ir.TextPart("x-anthropic-billing-header: cc_entrypoint=sdk-cli;"), ir.TextPart("You are Claude.")],
        ),
        M("user", [ir.TextPart("list files")]),
        M("system", [ir.TextPart("Plan mode is off.")]),
        M("assistant", [ir.ToolCallPart("t1", "Bash", '{"command": "ls"}')]),
        M("tool", [ir.ToolResultPart("t1", [ir.TextPart("a.txt")])]),
        M("system", [ir.TextPart("Answer in one sentence.")]),
        tools=[ir.Tool("Bash", "run")],
    )
    got = state(request)
    first, last = _contents(got)
    # the system prompt's blocks joined by a blank line, then the in-place note after the user's text
    assert first == (
        "x-anthropic-billing-header: cc_entrypoint=sdk-cli;\n\nYou are Claude.\n\nlist files\n\n"
        "<system_instruction>\nPlan mode is off.\n</system_instruction>"
    )
    assert last == "<system_instruction>\nAnswer in one sentence.\n</system_instruction>"
    assert got["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"][0]["toolUseId"] == "t1"


@settings(max_examples=100, deadline=None)
@given(messages=messages)
def test_no_system_text_is_lost(messages):
    request = req(*messages, tools=[ir.Tool("t", "tool")])
    if not any(m.role != "system" or m.text for m in messages):
        return
    sent = json.dumps(build_request(request, "claude-sonnet-4-5").body, ensure_ascii=False)
    for message in messages:
        if message.role == "system" and message.text:
            assert json.dumps(message.text, ensure_ascii=False)[1:-1] in sent


@pytest.mark.parametrize(
    "reasoning", [ir.Reasoning(summary="auto"), ir.Reasoning(include_thoughts=True)], ids=["codex", "gemini-cli"]
)
def test_a_request_asking_for_no_amount_of_thinking_gets_no_thinking_tags(reasoning):
    """Codex sends only a summary, Gemini CLI only includeThoughts (issue 14): no effort asked."""
    encoded = build_request(req(M("user", [ir.TextPart("q")]), reasoning=reasoning), "claude-sonnet-4.5")
    assert not encoded.thinking and "thinking_mode" not in json.dumps(encoded.body)


def test_an_effort_asked_for_sets_its_budget():
    encoded = build_request(
        req(M("user", [ir.TextPart("q")]), reasoning=ir.Reasoning(effort="high")), "claude-sonnet-4.5"
    )
    content = encoded.body["conversationState"]["currentMessage"]["userInputMessage"]["content"]
    assert encoded.thinking and "<max_thinking_length>24576</max_thinking_length>" in content
