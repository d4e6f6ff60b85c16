"""Codex's namespace tools (issue 14, defect 3): flattened for every wire without
namespaces, split again for the Responses client, whole and streamed.

The client body is what Codex 0.171 sends (see
``recordings/openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json`` and its
entry in that folder's ``README.md``: the shapes come from openai/codex ``codex-rs``): a
``multi_agent_v1`` namespace of five function tools beside seven other tools and
``web_search``, and an earlier call to ``spawn_agent`` sent back with its ``namespace``.
"""

from __future__ import annotations

import json
import re

import orjson
import pytest
from cliproxy.ir import (
    Finish,
    FinishReason,
    Response,
    TextPart,
    Tool,
    ToolCallPart,
    Usage,
    response_events,
)
from cliproxy.sse import SSEParser
from cliproxy.translate import EncodeContext
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from cliproxy.wire.openai_responses import namespaces as ns
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RESPONSES, CHAT, ANTHROPIC, GEMINI = OpenAIResponses(), OpenAIChat(), Anthropic(), Gemini()
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MEMBERS = ["spawn_agent", "send_input", "resume_agent", "wait_agent", "close_agent"]
FLAT = [f"multi_agent_v1__{name}" for name in MEMBERS]
PLAIN = ["exec_command", "write_stdin", "list_mcp_resources", "update_plan", "request_user_input", "apply_patch"]
PLAIN += ["view_image"]

# What each wire accepts as a function name.
NAME_RULES = {
    "openai-chat": re.compile(r"[a-zA-Z0-9_-]{1,64}"),
    "anthropic": re.compile(r"[a-zA-Z0-9_-]{1,64}"),
    "gemini": re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}"),
}


@pytest.fixture
def codex(recording) -> dict:
    return json.loads(recording("openai-responses/CONSTRUCTED-codex-0.171-namespace-tools.request.json").read_text())


def _chat_names(body: dict) -> list[str]:
    return [t["function"]["name"] for t in body["tools"]]


def test_chat_gets_every_member_as_a_function(codex):
    body = CHAT.encode_request(RESPONSES.decode_request(codex), "gpt-oss-120b")
    assert _chat_names(body) == PLAIN + FLAT  # 7 + 5 (web_search only a Responses upstream can run)
    spawn = body["tools"][len(PLAIN)]["function"]
    assert spawn["description"].startswith("Spawn a sub-agent")
    assert spawn["parameters"]["properties"]["message"]["type"] == "string"


def test_anthropic_and_gemini_get_every_member_too(codex):
    request = RESPONSES.decode_request(codex)
    assert [t["name"] for t in ANTHROPIC.encode_request(request, "claude-x")["tools"]] == PLAIN + FLAT
    body = GEMINI.encode_request(request, "gemini-2.5-pro")
    assert [d["name"] for d in body["tools"][0]["functionDeclarations"]] == PLAIN + FLAT


def test_a_namespaced_call_in_the_history_is_flattened_like_its_tool(codex):
    request = RESPONSES.decode_request(codex)
    chat = CHAT.encode_request(request, "gpt-oss-120b")["messages"]
    call = next(m for m in chat if m.get("tool_calls"))["tool_calls"][0]
    assert call["function"]["name"] == "multi_agent_v1__spawn_agent"
    assert next(m for m in chat if m["role"] == "tool")["tool_call_id"] == call["id"]
    contents = GEMINI.encode_request(request, "gemini-2.5-pro")["contents"]
    gemini_call = next(p["functionCall"] for c in contents for p in c["parts"] if "functionCall" in p)
    gemini_result = next(p["functionResponse"] for c in contents for p in c["parts"] if "functionResponse" in p)
    assert gemini_call["name"] == gemini_result["name"] == "multi_agent_v1__spawn_agent"


def _answer(name: str) -> Response:
    return Response(
        id="resp_1",
        model="m",
        parts=(TextPart("Waiting for the helper."), ToolCallPart("call_w1", name, '{"targets":["019e"]}')),
        finish=Finish(FinishReason.TOOL_CALLS, "tool_calls"),
        usage=Usage(input_tokens=10, output_tokens=5),
    )


def test_a_call_from_another_upstream_reaches_codex_split_into_name_and_namespace(codex):
    ctx = EncodeContext(model="gpt-oss-120b", body=codex, request=RESPONSES.decode_request(codex))
    output = orjson.loads(RESPONSES.encode_response(_answer("multi_agent_v1__wait_agent"), ctx))["output"]
    call = output[-1]
    assert call["type"] == "function_call"
    assert (call["name"], call["namespace"], call["call_id"]) == ("wait_agent", "multi_agent_v1", "call_w1")


def test_a_plain_tool_call_names_no_namespace(codex):
    ctx = EncodeContext(model="gpt-oss-120b", body=codex)
    call = orjson.loads(RESPONSES.encode_response(_answer("exec_command"), ctx))["output"][-1]
    assert call["name"] == "exec_command" and "namespace" not in call


def _streamed_items(ctx: EncodeContext, response: Response) -> tuple[list[dict], list[dict]]:
    encoder = RESPONSES.stream_encoder(ctx)
    data = encoder.encode(response_events(response)) + encoder.close()
    events = [orjson.loads(e.data) for e in SSEParser().feed(data)]
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    return added, done


def test_a_streamed_call_is_split_in_its_added_and_done_items(codex):
    ctx = EncodeContext(model="gpt-oss-120b", body=codex)
    added, done = _streamed_items(ctx, _answer("multi_agent_v1__wait_agent"))
    for item in (added[-1], done[-1]):
        assert (item["name"], item.get("namespace")) == ("wait_agent", "multi_agent_v1")
    assert done[-1]["arguments"] == '{"targets":["019e"]}'


def test_a_responses_upstream_call_keeps_its_namespace_through_translation(codex):
    upstream = {
        "id": "resp_up",
        "object": "response",
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {
                "id": "fc_1",
                "type": "function_call",
                "status": "completed",
                "call_id": "call_c1",
                "name": "close_agent",
                "namespace": "multi_agent_v1",
                "arguments": '{"target":"019e"}',
            }
        ],
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    }
    response = RESPONSES.decode_response(orjson.dumps(upstream))
    assert response.parts[0].name == "multi_agent_v1__close_agent"
    # a client that did not declare the namespace this turn still gets the pair back
    item = orjson.loads(RESPONSES.encode_response(response, EncodeContext(model="m", body={})))["output"][0]
    assert (item["name"], item["namespace"]) == ("close_agent", "multi_agent_v1")


def test_a_responses_upstream_on_the_translated_path_gets_the_groups_back(codex):
    body = RESPONSES.encode_request(RESPONSES.decode_request(codex), "gpt-5")
    groups = [t for t in body["tools"] if t.get("type") == "namespace"]
    assert groups == [t for t in codex["tools"] if t.get("type") == "namespace"]
    call = next(i for i in body["input"] if i.get("type") == "function_call")
    assert (call["name"], call["namespace"]) == ("spawn_agent", "multi_agent_v1")


def test_a_forced_namespace_member_is_chosen_by_its_flat_name(codex):
    codex["tool_choice"] = {"type": "function", "name": "wait_agent", "namespace": "multi_agent_v1"}
    body = CHAT.encode_request(RESPONSES.decode_request(codex), "gpt-oss-120b")
    assert body["tool_choice"] == {"type": "function", "function": {"name": "multi_agent_v1__wait_agent"}}


def test_a_namespace_member_that_is_not_a_function_is_refused_naming_it(codex):
    from cliproxy.errors import GatewayError

    codex["tools"][-1]["tools"][1] = {"type": "custom", "name": "x"}
    with pytest.raises(GatewayError) as caught:
        RESPONSES.decode_request(codex)
    assert caught.value.status == 400 and caught.value.param == "tools[8].tools[1].type"


# -- properties ------------------------------------------------------------------------------

raw_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80)
groups = st.dictionaries(raw_names, st.lists(raw_names, min_size=1, max_size=4, unique=True), min_size=1, max_size=3)


def _body(namespaces: dict[str, list[str]], plain: list[str]) -> list[dict]:
    tools: list[dict] = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in plain]
    for namespace, names in namespaces.items():
        members = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in names]
        tools.append({"type": "namespace", "name": namespace, "description": "d", "tools": members})
    return tools


@SETTINGS
@given(groups, st.lists(raw_names, max_size=3, unique=True))
def test_flat_names_suit_every_wire_are_distinct_and_map_back(namespaces, plain):
    names = ns.flat_names(_body(namespaces, plain))
    pairs = [(namespace, name) for namespace, members in namespaces.items() for name in members]
    assert set(names) == set(pairs)
    flats = list(names.values())
    assert len(set(flats)) == len(flats)
    assert not set(flats) & set(plain)
    for flat in flats:
        for rule in NAME_RULES.values():
            assert rule.fullmatch(flat), flat
    assert ns.members(_body(namespaces, plain)) == {flat: pair for pair, flat in names.items()}


@SETTINGS
@given(groups)
def test_namespaced_names_round_trip_through_any_upstream(namespaces):
    """Codex's body -> IR -> the upstream's tool names -> a call under one of them -> the
    (namespace, name) Codex declared."""
    body = {"model": "m", "input": "hi", "tools": _body(namespaces, [])}
    request = RESPONSES.decode_request(body)
    upstream_names = [t.name for t in request.tools if isinstance(t, Tool)]
    ctx = EncodeContext(model="m", body=body)
    declared = [(namespace, name) for namespace, members in namespaces.items() for name in members]
    for flat, pair in zip(upstream_names, declared, strict=True):
        item = orjson.loads(RESPONSES.encode_response(_answer(flat), ctx))["output"][-1]
        assert (item["namespace"], item["name"]) == pair
        added, _ = _streamed_items(ctx, _answer(flat))
        assert (added[-1]["namespace"], added[-1]["name"]) == pair
