"""The IR's own behaviour: folding streams, replaying responses, usage, reasoning levels."""

from __future__ import annotations

import attrs
import pytest
from cliproxy import GatewayError, ir
from cliproxy.testing.strategies import responses
from hypothesis import given, settings


@settings(max_examples=80, deadline=None)
@given(responses())
def test_replayed_response_folds_back_to_itself(response):
    builder = ir.ResponseBuilder()
    builder.feed(ir.response_events(response))
    folded = builder.build()
    assert folded.parts == response.parts
    assert (folded.finish, folded.usage, folded.id) == (response.finish, response.usage, response.id)


def test_builder_tolerates_deltas_without_starts_and_merges_metadata():
    builder = ir.ResponseBuilder()
    builder.feed(
        [
            ir.ReasoningDelta(0, "thin"),
            ir.ReasoningDelta(0, "king"),
            ir.ReasoningEnd(0, {"anthropic": {"signature": "s"}}),
            ir.ToolCallStart(1, "c1", "f", {"gemini": {"thoughtSignature": "g"}}),
            ir.ToolCallDelta(1, '{"a"'),
            ir.ToolCallDelta(1, ":1}"),
            ir.ToolCallEnd(1),
        ]
    )
    response = builder.build()
    assert response.parts == (
        ir.ReasoningPart("thinking", {"anthropic": {"signature": "s"}}),
        ir.ToolCallPart("c1", "f", '{"a":1}', {"gemini": {"thoughtSignature": "g"}}),
    )
    assert response.finish.reason is ir.FinishReason.TOOL_CALLS


def test_builder_raises_the_stream_error():
    builder = ir.ResponseBuilder()
    builder.add(ir.StreamError(GatewayError.from_status(529, "overloaded")))
    with pytest.raises(GatewayError, match="overloaded"):
        builder.build()


def test_usage_merge_and_total():
    merged = ir.Usage(input_tokens=10, cache_read_tokens=4).merge(ir.Usage(output_tokens=7))
    assert (merged.input_tokens, merged.output_tokens, merged.cache_read_tokens, merged.total_tokens) == (10, 7, 4, 17)
    assert not ir.Usage()


@pytest.mark.parametrize(
    ("reasoning", "level", "budget"),
    [
        (ir.Reasoning(effort="high"), "high", 24576),
        (ir.Reasoning(budget_tokens=2000), "medium", 2000),
        (ir.Reasoning(budget_tokens=0), "none", 0),
        (ir.Reasoning(budget_tokens=200000), "max", 200000),
        (ir.Reasoning(budget_tokens=-1), "medium", -1),
    ],
)
def test_reasoning_levels_and_budgets(reasoning, level, budget):
    assert reasoning.level() == level and reasoning.budget() == budget


def test_metadata_helpers():
    assert ir.metadata_for({"anthropic": {"signature": "s"}}, "gemini") == {}
    assert ir.merge_metadata({"a": {"x": 1}}, {"a": {"y": 2}, "b": {}}) == {"a": {"x": 1, "y": 2}, "b": {}}


def test_gateway_error_kinds_follow_status():
    assert GatewayError.from_status(429, "x").kind == "rate_limited"
    assert GatewayError.from_status(418, "x").client_fault is False
    assert GatewayError.from_status(422, "x").client_fault is True


@given(response=responses())
def test_named_keeps_every_field_but_the_model(response):
    renamed = response.named("shown-" + response.model)
    assert renamed == attrs.evolve(response, model="shown-" + response.model)
    assert response.named(response.model) is response
    # named() copies the fields by hand: a new field must be added there too
    assert [f.name for f in attrs.fields(ir.Response)] == [
        "id",
        "model",
        "parts",
        "finish",
        "usage",
        "created",
        "provider_metadata",
    ]
