"""Prices and costs: each provider's usage shape priced as its vendor bills it, unknown
models unknown (never free), overrides from the config with located errors."""

from __future__ import annotations

import pytest
from cliproxy.config import ConfigError, load_config, parse_config
from cliproxy.ir import Usage
from cliproxy.pricing import CATALOGUE, Price, PriceTable, catalogue_key, nanos_to_usd
from cliproxy.wire.anthropic.response import usage_from as anthropic_usage
from cliproxy.wire.gemini.common import decode_usage as gemini_usage
from cliproxy.wire.openai_chat.common import decode_usage as openai_chat_usage
from cliproxy.wire.openai_responses import extract_usage as responses_usage

TABLE = PriceTable()
DAY = "2026-12-06"


def usd(nanos: int | None) -> float:
    assert nanos is not None
    return nanos_to_usd(nanos)


def test_openai_chat_usage_bills_cached_prompt_tokens_at_the_cached_price():
    usage = openai_chat_usage(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "prompt_tokens_details": {"cached_tokens": 400},
            "completion_tokens_details": {"reasoning_tokens": 50},  # part of the 200, billed as output
        }
    )
    # gpt-5: $1.25 input, $0.125 cached input, $10 output per million tokens
    assert usd(TABLE.cost("gpt-5", usage, DAY)) == pytest.approx((600 * 1.25 + 400 * 0.125 + 200 * 10) / 1e6)


def test_openai_responses_usage_shape_prices_the_same_way():
    usage = responses_usage(
        {
            "type": "response.completed",
            "response": {
                "usage": {
                    "input_tokens": 1000,
                    "input_tokens_details": {"cached_tokens": 400},
                    "output_tokens": 200,
                    "output_tokens_details": {"reasoning_tokens": 150},
                }
            },
        }
    )
    assert usage is not None and usage.cache_read_tokens == 400
    assert usd(TABLE.cost("gpt-5.1-codex-max", usage, DAY)) == pytest.approx(
        (600 * 1.25 + 400 * 0.125 + 200 * 10) / 1e6
    )


def test_anthropic_usage_bills_cache_reads_and_writes_apart_from_fresh_input():
    usage = anthropic_usage(
        {"input_tokens": 100, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 500, "output_tokens": 300}
    )
    assert usage is not None and usage.input_tokens == 2600  # (IR: the whole prompt)
    # Claude Sonnet 4.5: $3 input, $0.30 cache hits, $3.75 (5-minute) cache writes, $15 output
    expected = (100 * 3 + 2000 * 0.30 + 500 * 3.75 + 300 * 15) / 1e6
    assert usd(TABLE.cost("claude-sonnet-4-5-20250929", usage, DAY)) == pytest.approx(expected)


def test_gemini_usage_bills_cached_content_and_thoughts():
    usage = gemini_usage(
        {
            "promptTokenCount": 1000,
            "cachedContentTokenCount": 600,
            "candidatesTokenCount": 100,
            "thoughtsTokenCount": 50,
        }
    )
    # gemini-2.5-flash: $0.30 input, $0.03 cached, $2.50 output (thinking included)
    expected = (400 * 0.30 + 600 * 0.03 + 150 * 2.50) / 1e6
    assert usd(TABLE.cost("models/gemini-2.5-flash", usage, DAY)) == pytest.approx(expected)


def test_an_upstream_reported_cost_wins_over_the_table():
    usage = openai_chat_usage({"prompt_tokens": 1000, "completion_tokens": 200, "cost": 0.000492})  # OpenRouter's
    assert TABLE.cost("anthropic/claude-sonnet-4.5", usage, DAY) == 492_000
    assert TABLE.cost("some/model-nobody-prices", usage, DAY) == 492_000  # known, even without a price


def test_a_model_without_a_price_costs_unknown_not_zero():
    assert TABLE.price_for("my-local-llama") is None
    assert TABLE.cost("my-local-llama", Usage(input_tokens=10, output_tokens=5), DAY) is None
    assert TABLE.cost("my-local-llama", Usage(), DAY) == 0  # no tokens: nothing to price
    assert TABLE.cost("my-local-llama", None, DAY) == 0
    assert TABLE.cost("gemini-3.7-flash", Usage(input_tokens=1), DAY) is None  # not on Google's list: unknown


def test_a_long_prompt_is_billed_at_the_higher_tier_on_all_its_tokens():
    short = Usage(input_tokens=200_000, output_tokens=1000)
    long = Usage(input_tokens=200_001, output_tokens=1000)
    assert usd(TABLE.cost("claude-sonnet-4-5", short, DAY)) == pytest.approx((200_000 * 3 + 1000 * 15) / 1e6)
    assert usd(TABLE.cost("claude-sonnet-4-5", long, DAY)) == pytest.approx((200_001 * 6 + 1000 * 22.5) / 1e6)
    assert usd(TABLE.cost("gemini-2.5-pro", long, DAY)) == pytest.approx((200_001 * 2.5 + 1000 * 15) / 1e6)
    haiku = Usage(input_tokens=100_001, output_tokens=10, cache_read_tokens=100_000)  # cache reads count as prompt
    assert usd(TABLE.cost("claude-haiku-5-5", haiku, DAY)) == pytest.approx((1 * 0.5 + 100_000 * 0.05 + 10 * 2.5) / 1e6)


def test_prices_change_on_the_day_the_vendor_changed_them():
    reads = Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000)
    assert usd(TABLE.cost("claude-sonnet-5-5", reads, "2026-10-06")) == pytest.approx(0.20)
    assert usd(TABLE.cost("claude-sonnet-5-5", reads, "2026-10-07")) == pytest.approx(0.10)
    million_out = Usage(input_tokens=0, output_tokens=1_000_000)
    assert usd(TABLE.cost("gemini-3.8-flash", million_out, "2026-12-31")) == pytest.approx(3.75)
    assert usd(TABLE.cost("gemini-3.8-flash", million_out, "2027-01-01")) == pytest.approx(7.50)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),  # OpenRouter
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),  # Kiro
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),  # Claude Code's 1M-context marker
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("models/gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
        ("gemini-3.1-pro-preview", "gemini-3.1-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("GPT-4o", "gpt-4o"),
    ],
)
def test_model_names_find_their_catalogue_entry(model, key):
    assert catalogue_key(model) == key


def test_every_model_the_plugins_list_by_default_has_a_price_or_is_knowingly_unknown():
    from cliproxy_claude.models import CATALOGUE as CLAUDE_MODELS
    from cliproxy_gemini.catalogue import API_MODELS, CODE_ASSIST_MODELS

    unpriced = {"gemini-3.6-flash", "gemini-3.7-flash"}  # not on Google's price page
    listed = [*CLAUDE_MODELS, *(m.name for m in (*API_MODELS, *CODE_ASSIST_MODELS))]
    missing = {model for model in listed if TABLE.price_for(model, DAY) is None}
    assert missing == unpriced
    assert all(entry.price.input >= 0 and entry.price.output >= 0 for entry in CATALOGUE)


def test_config_overrides_win_the_most_specific_glob_first():
    config = parse_config(
        {
            "pricing": {
                "*": {"input": 100, "output": 100},
                "claude-*": {"input": 1, "output": 2},
                "claude-sonnet-4-5*": {"input": 3, "output": 4, "cache-read": 0, "cache-write": 0.5},
                "my-llama": {"input": 0, "output": 0},
            }
        }
    )
    table = config.pricing
    assert table.price_for("claude-sonnet-4-5-20250929") == Price(3, 4, 0, 0.5)
    assert table.price_for("anthropic/claude-sonnet-4.5") == Price(3, 4, 0, 0.5)  # (by its catalogue name)
    assert table.price_for("claude-opus-4-6") == Price(1, 2)
    assert table.price_for("my-llama") == Price(0, 0)
    assert table.cost("my-llama", Usage(input_tokens=5, output_tokens=5), DAY) == 0  # free on purpose: 0, not unknown
    assert table.price_for("gpt-5") == Price(100, 100)  # '*' catches everything else
    assert (
        table != PriceTable()
        and table == parse_config({"pricing": dict(reversed(list(config.root.raw("pricing").items())))}).pricing
    )


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("pricing:\n  my-model:\n    input: 1\n", "config.yaml:3:5", "missing required key 'pricing.my-model.output'"),
        ("pricing:\n  my-model: {input: 1, output: -2}\n", "config.yaml:2:", "must be a price of 0 or more"),
        ("pricing:\n  my-model: {input: 1, output: 2, cache_read: 1}\n", "config.yaml:2:", "did you mean 'cache-read'"),
        ("pricing:\n  my-model: 3\n", "config.yaml:2:3", "must be a mapping with 'input' and 'output'"),
        ("pricing: [a, b]\n", "config.yaml:1:1", "'pricing' must be a mapping of model names"),
        ("pricing:\n  my-model: {input: cheap, output: 2}\n", "config.yaml:2:", "must be a number"),
    ],
)
def test_bad_pricing_is_a_located_config_error(tmp_path, block, where, says):
    path = tmp_path / "config.yaml"
    path.write_text(block)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(str(tmp_path / where)), text
    assert says in text
