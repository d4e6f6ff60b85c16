"""Per-model request rules (pure functions)."""

from __future__ import annotations

import copy

import pytest
from cliproxy.ir import Message, Reasoning, Request, TextPart
from cliproxy.wire.anthropic import Anthropic
from cliproxy_claude.models import caps_for
from cliproxy_claude.shaping import sanitize_tool_id, shape_body


@pytest.mark.parametrize(
    ("model", "thinking", "max_output", "sampling", "forced"),
    [
        ("claude-3-5-sonnet-20241022", "none", 8192, "free", True),
        ("claude-3-7-sonnet-20250219", "budget", 64000, "free", True),
        ("claude-sonnet-4-20250514", "budget", 64000, "free", True),
        ("claude-opus-4-1-20250805", "budget", 32000, "one", True),
        ("claude-sonnet-4-5-20250929", "budget", 64000, "one", True),
        ("claude-haiku-4-5", "budget", 64000, "one", True),
        ("claude-opus-4-6", "both", 128000, "one", True),
        ("claude-sonnet-4-6", "both", 64000, "one", True),
        ("claude-opus-4-7", "always", 128000, "one", True),
        ("claude-opus-5", "adaptive", 128000, "none", True),
        ("claude-sonnet-5", "adaptive", 128000, "none", True),
        ("claude-fable-5", "always", 128000, "none", True),
        ("claude-fable-5-1", "always", 128000, "none", False),
        ("claude-opus-5-5", "always", 128000, "none", False),
        ("claude-sonnet-5-5", "always", 128000, "none", False),
        ("claude-haiku-5-5", "adaptive", 128000, "none", False),
    ],
)
def test_model_rules_follow_the_generation(model, thinking, max_output, sampling, forced):
    caps = caps_for(model)
    assert caps is not None
    assert (caps.thinking, caps.max_output, caps.sampling, caps.forced_tools) == (
        thinking,
        max_output,
        sampling,
        forced,
    )


def test_names_that_are_not_claude_get_no_rules():
    assert caps_for("glm-4.6") is None and caps_for("kimi-k2") is None and caps_for("claude") is None


def body(**fields) -> dict:
    return {"model": "m", "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_budget_models_get_a_budget_within_max_tokens():
    shaped = body(thinking={"type": "adaptive"}, output_config={"effort": "high"})
    shape_body(shaped, caps_for("claude-sonnet-4-5"), explicit_max_tokens=True)
    assert shaped["thinking"] == {"type": "enabled", "budget_tokens": 3999}
    assert "output_config" not in shaped  # Sonnet 4.5 has no effort knob
    roomy = body(thinking={"type": "enabled", "budget_tokens": 24576})
    shape_body(roomy, caps_for("claude-sonnet-4-5"), explicit_max_tokens=False)
    assert roomy["thinking"]["budget_tokens"] == 24576 and roomy["max_tokens"] == 24576 + 4096
    small = body(thinking={"type": "enabled", "budget_tokens": 100})
    shape_body(small, caps_for("claude-haiku-4-5"))
    assert small["thinking"]["budget_tokens"] == 1024
    capped = body(max_tokens=200_000, thinking={"type": "enabled", "budget_tokens": 100_000})
    shape_body(capped, caps_for("claude-opus-4-1"))
    assert capped["max_tokens"] == 32000 and capped["thinking"]["budget_tokens"] == 31999
    no_room = body(max_tokens=1000, thinking={"type": "enabled", "budget_tokens": 2000})
    shape_body(no_room, caps_for("claude-sonnet-4-5"))
    assert "thinking" not in no_room


def test_adaptive_models_get_adaptive_thinking_and_an_effort():
    shaped = body(thinking={"type": "enabled", "budget_tokens": 24576})
    shape_body(shaped, caps_for("claude-opus-5"))
    assert shaped["thinking"] == {"type": "adaptive"} and shaped["output_config"] == {"effort": "high"}
    off = body(thinking={"type": "disabled"})
    shape_body(off, caps_for("claude-opus-5-5"))
    assert "thinking" not in off and off["output_config"] == {"effort": "low"}  # cannot be turned off
    kept = body(thinking={"type": "disabled"})
    shape_body(kept, caps_for("claude-opus-5"))
    assert kept["thinking"] == {"type": "disabled"}
    xhigh = body(
        thinking={"type": "adaptive", "display": "summarized"},
        output_config={"effort": "xhigh", "format": {"type": "json_schema", "schema": {}}},
    )
    shape_body(xhigh, caps_for("claude-opus-4-6"))
    assert xhigh["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert xhigh["output_config"] == {"effort": "high", "format": {"type": "json_schema", "schema": {}}}


def test_thinking_without_an_amount_gets_no_invented_effort():
    """A budget-less thinking block on an adaptive model asks for no effort (issue 14)."""
    shaped = body(thinking={"type": "enabled"})
    shape_body(shaped, caps_for("claude-opus-5"))
    assert shaped["thinking"] == {"type": "adaptive"} and "output_config" not in shaped


def test_models_that_cannot_think_get_no_thinking():
    shaped = body(thinking={"type": "enabled", "budget_tokens": 2048}, temperature=0.3)
    shape_body(shaped, caps_for("claude-3-5-haiku-20241022"))
    assert "thinking" not in shaped and shaped["temperature"] == 0.3


def test_sampling_rules():
    thinking = body(thinking={"type": "enabled", "budget_tokens": 2048}, temperature=0.2, top_p=0.5, top_k=5)
    shape_body(thinking, caps_for("claude-sonnet-4-20250514"))
    assert "temperature" not in thinking and thinking["top_p"] == 0.95 and "top_k" not in thinking
    both = body(temperature=0.2, top_p=0.5)
    shape_body(both, caps_for("claude-sonnet-4-5"))
    assert both["temperature"] == 0.2 and "top_p" not in both
    claude5 = body(temperature=0.2, top_p=0.5, top_k=3)
    shape_body(claude5, caps_for("claude-sonnet-5"))
    assert not {"temperature", "top_p", "top_k"} & claude5.keys()
    other = body(temperature=0.2, top_p=0.5)
    shape_body(other, None)
    assert (other["temperature"], other["top_p"]) == (0.2, 0.5)


def test_forced_tool_use_where_it_is_refused():
    thinking = body(thinking={"type": "enabled", "budget_tokens": 2048}, tool_choice={"type": "tool", "name": "f"})
    shape_body(thinking, caps_for("claude-sonnet-4-5"))
    assert thinking["tool_choice"] == {"type": "auto"}
    fable = body(tool_choice={"type": "any", "disable_parallel_tool_use": True})
    shape_body(fable, caps_for("claude-fable-5-1"))
    assert fable["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    plain = body(tool_choice={"type": "any"})
    shape_body(plain, caps_for("claude-sonnet-4-5"))
    assert plain["tool_choice"] == {"type": "any"}


def history() -> list[dict]:
    return [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "from gemini", "signature": ""},
                {"type": "thinking", "thinking": "no signature at all"},
                {"type": "redacted_thinking", "data": "ENC"},
                {"type": "tool_use", "id": "functions.get_weather:0", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "functions.get_weather:0", "content": "sunny"}],
        },
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": ""}]},
        {"role": "user", "content": "thanks"},
    ]


def test_unsigned_thinking_is_dropped_and_tool_ids_stay_paired():
    messages = history()
    original = copy.deepcopy(messages)
    shaped = body(messages=messages)
    shape_body(shaped, caps_for("claude-sonnet-4-5"))
    assert messages == original, "the client's body must not change in place"
    out = shaped["messages"]
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    call = out[1]["content"]
    assert [b["type"] for b in call] == ["redacted_thinking", "tool_use"]
    tool_id = call[1]["id"]
    assert tool_id == sanitize_tool_id("functions.get_weather:0") and tool_id.startswith("functions_get_weather_0_")
    assert out[2]["content"][0] == {"type": "tool_result", "tool_use_id": tool_id, "content": "sunny"}
    assert out[2]["content"][1] == {"type": "text", "text": "thanks"}  # the emptied turn's neighbours joined


def test_valid_ids_and_clean_messages_are_left_alone():
    messages = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A-b_c", "content": "x"}]}]
    shaped = body(messages=messages)
    shape_body(shaped, None)
    assert shaped["messages"] is messages
    assert sanitize_tool_id("toolu_01") == "toolu_01"
    assert sanitize_tool_id("a.b") != sanitize_tool_id("a:b")  # distinct ids stay distinct
    assert sanitize_tool_id("...").startswith("toolu_")


def test_budget_thinking_is_turned_off_when_the_tool_turn_lacks_a_thinking_block():
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    shaped = body(messages=messages, thinking={"type": "enabled", "budget_tokens": 2048})
    shape_body(shaped, caps_for("claude-sonnet-4-5"))
    assert "thinking" not in shaped
    signed = [
        messages[0],
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, messages[1]["content"][0]],
        },
        messages[2],
    ]
    shaped = body(messages=signed, thinking={"type": "enabled", "budget_tokens": 2048})
    shape_body(shaped, caps_for("claude-sonnet-4-5"))
    assert shaped["thinking"]["type"] == "enabled"


def test_structured_output_falls_back_to_an_instruction_on_older_models():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    shaped = body(system="Be terse.", output_config={"format": {"type": "json_schema", "schema": schema}})
    shape_body(shaped, caps_for("claude-sonnet-4-20250514"))
    assert "output_config" not in shaped
    assert shaped["system"][0] == {"type": "text", "text": "Be terse."}
    assert '"properties":{"a":{"type":"string"}}' in shaped["system"][1]["text"]
    native = body(output_config={"format": {"type": "json_schema", "schema": schema}})
    shape_body(native, caps_for("claude-sonnet-4-5"))
    assert native["output_config"]["format"]["schema"] == schema


def test_betas_leave_the_body():
    shaped = body(betas=["context-1m-2025-08-07", 3])
    assert shape_body(shaped, None) == ["context-1m-2025-08-07"] and "betas" not in shaped


def test_malformed_blocks_are_left_for_the_upstream_to_judge():
    messages = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "name": "f"}, "odd", {"type": "tool_result", "tool_use_id": 5}],
        }
    ]
    shaped = body(messages=messages)
    shape_body(shaped, caps_for("claude-sonnet-4-5"))
    assert shaped["messages"] is messages


@pytest.mark.parametrize(
    ("reasoning", "model", "thinking", "effort"),
    [
        # Gemini 3 levels and Gemini 2.5 budgets arrive in the IR like OpenAI efforts do
        (Reasoning(effort="high"), "claude-sonnet-4-5", {"type": "enabled", "budget_tokens": 24576}, None),
        (Reasoning(effort="low"), "claude-opus-5-5", {"type": "adaptive"}, "low"),
        (Reasoning(budget_tokens=-1), "claude-haiku-4-5", {"type": "enabled", "budget_tokens": 24576}, None),
        (Reasoning(budget_tokens=200_000), "claude-opus-4-1", {"type": "enabled", "budget_tokens": 31999}, None),
        (Reasoning(effort="none"), "claude-fable-5-1", None, "low"),
        (Reasoning(effort="medium"), "claude-3-5-haiku-latest", None, None),
    ],
)
def test_reasoning_from_any_door_lands_within_the_model_limits(reasoning, model, thinking, effort):
    request = Request(model="x", messages=[Message("user", [TextPart("think")])], reasoning=reasoning)
    shaped = Anthropic().encode_request(request, model)
    shape_body(shaped, caps_for(model), explicit_max_tokens=False)
    assert shaped.get("thinking") == thinking
    assert shaped.get("output_config", {}).get("effort") == effort
    caps = caps_for(model)
    assert shaped["max_tokens"] <= caps.max_output
    if thinking and thinking["type"] == "enabled":
        assert 1024 <= thinking["budget_tokens"] < shaped["max_tokens"]
