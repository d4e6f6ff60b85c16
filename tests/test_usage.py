"""Lasting usage through real servers and the openai SDK: per client key, credential,
model and day, with cost; kept across a restart on the memory store, shared on Redis,
exported and imported, queried and printed by ``cliproxy usage``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import cliproxy_openrouter
import httpx
import openai
import pytest
from cliproxy.app import create_app
from cliproxy.cli import main
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

CHAT = "/v1/chat/completions"
KEYS = ["sk-client-one-0000000000000001", "sk-client-two-0000000000000002"]
MANAGEMENT_KEY = "mgmt-key-usage-0123456789"
MANAGEMENT = {"remote-management": {"secret-key": MANAGEMENT_KEY}}  # the management API is off without it
OPERATOR = {"authorization": f"Bearer {MANAGEMENT_KEY}"}
UPSTREAM_KEYS = ["sk-up-alpha-000000000000001", "sk-up-beta-000000000000002"]
PLUGINS = [cliproxy_openai, cliproxy_claude, cliproxy_gemini, cliproxy_openrouter]


def chat_answer(prompt: int = 1000, completion: int = 200, cached: int = 400) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


GPT5_COST = (600 * 1.25 + 400 * 0.125 + 200 * 10) / 1e6  # gpt-5 list prices, per request of chat_answer()


def openai_block(upstream: FakeUpstream) -> list[dict[str, Any]]:
    return [
        {
            "name": "team",
            "base-url": upstream.url + "/v1",
            "api-key-entries": [{"api-key": key} for key in UPSTREAM_KEYS],
            "models": [{"name": "gpt-5", "alias": "smart"}, {"name": "local-llama", "alias": "llama"}],
        }
    ]


def write_config(directory: Path, upstream: FakeUpstream, **extra: Any) -> Path:
    config = {
        "api-keys": KEYS,
        **MANAGEMENT,
        "auth-dir": str(directory / "auth"),
        "routing": {"strategy": "fill-first"},
        "watch-config": False,
        "openai-compatibility": openai_block(upstream),
        **extra,
    }
    path = directory / "config.yaml"
    path.write_text(json.dumps(config))  # (JSON is YAML)
    return path


def sdk(url: str, key: str = KEYS[0]) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def usage(url: str, **query: str) -> dict[str, Any]:
    answer = httpx.get(url + "/v0/management/usage", params=query, headers=OPERATOR)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def served_file(tmp_path, upstream) -> Iterator[Any]:
    """Serve a gateway from a config file in ``tmp_path``; returns a context manager."""

    def serve(**extra: Any) -> Any:
        return serve_app(create_app(write_config(tmp_path, upstream, **extra), plugins=PLUGINS, load_entrypoints=False))

    yield serve


# -- lasting --------------------------------------------------------------------------------


def test_usage_survives_a_restart_on_the_memory_store(tmp_path, upstream, served_file):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    with served_file() as url:
        sdk(url).chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
        sdk(url, KEYS[1]).chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
        before = usage(url, by="client,model")
    assert (tmp_path / "usage.json").exists()  # written at shutdown, beside the config
    with served_file() as url:
        after = usage(url, by="client,model")
        sdk(url).chat.completions.create(model="smart", messages=[{"role": "user", "content": "again"}])
        grown = usage(url, by="client")
    assert after["rows"] == before["rows"]
    assert [(r["client"], r["model"], r["requests"]) for r in after["rows"]] == [
        ("key-1", "gpt-5", 1),
        ("key-2", "gpt-5", 1),
    ]
    assert after["total"]["cost_usd"] == pytest.approx(2 * GPT5_COST)
    assert [(r["client"], r["requests"]) for r in grown["rows"]] == [("key-1", 2), ("key-2", 1)]


@pytest.mark.parametrize("write_interval", [0, 1])
def test_usage_is_shared_between_two_instances_on_redis(upstream, redis_url, redis_prefix, write_interval):
    """Each instance writes what it counted every ``write-interval`` seconds (0: at once);
    a read writes its own instance's first, so only the other's may lag that long."""
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    config = {
        "api-keys": KEYS,
        **MANAGEMENT,
        "openai-compatibility": openai_block(upstream),
        "state": {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},
        "usage": {"write-interval": write_interval},
    }
    with serve_app(gateway_app(config, plugins=PLUGINS)) as one, serve_app(gateway_app(config, plugins=PLUGINS)) as two:
        sdk(one).chat.completions.create(model="smart", messages=[{"role": "user", "content": "a"}])
        sdk(two).chat.completions.create(model="smart", messages=[{"role": "user", "content": "b"}])
        sdk(two, KEYS[1]).chat.completions.create(model="smart", messages=[{"role": "user", "content": "c"}])
        asked = time.monotonic()
        seen_by_one = usage(one, by="client")
        if write_interval == 0:
            assert seen_by_one["total"]["requests"] == 3  # written as counted
        while seen_by_one["total"]["requests"] < 3 and time.monotonic() - asked < 10 * write_interval:
            time.sleep(0.1)
            seen_by_one = usage(one, by="client")
        seen_by_two = usage(two, by="client")
    assert seen_by_one["total"]["requests"] == 3, "the other instance's rows never reached Redis"
    assert seen_by_one == seen_by_two
    assert [(r["client"], r["requests"]) for r in seen_by_one["rows"]] == [("key-1", 2), ("key-2", 1)]
    assert seen_by_one["total"]["cost_usd"] == pytest.approx(3 * GPT5_COST)
    assert seen_by_one["state_store"] == "redis"


def test_export_then_import_elsewhere_gives_the_same_usage(tmp_path, upstream, served_file):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    with served_file() as url:
        for key in KEYS:
            sdk(url, key).chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
        sdk(url).chat.completions.create(model="llama", messages=[{"role": "user", "content": "hi"}])
        exported = httpx.get(url + "/v0/management/usage/export", headers=OPERATOR).json()
        report = usage(url)
    assert exported["format"] == "cliproxy-usage" and len(exported["rows"]) == 3
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serve_app(create_app(write_config(elsewhere, upstream), plugins=PLUGINS, load_entrypoints=False)) as url:
        assert usage(url)["rows"] == []
        imported = httpx.post(url + "/v0/management/usage/import", json=exported, headers=OPERATOR)
        assert imported.status_code == 200, imported.text
        assert imported.json()["imported_rows"] == 3
        assert usage(url)["rows"] == report["rows"]
        again = httpx.post(url + "/v0/management/usage/import", json=exported, headers=OPERATOR)
        assert again.status_code == 409 and "?again=true" in again.json()["error"]["message"]
        forced = httpx.post(
            url + "/v0/management/usage/import", params={"again": "true"}, json=exported, headers=OPERATOR
        )
        assert forced.status_code == 200
        assert usage(url)["total"]["requests"] == 2 * report["total"]["requests"]
        bad = httpx.post(
            url + "/v0/management/usage/import",
            json={"format": "cliproxy-usage", "version": 1, "rows": [{"day": "x"}]},
            headers=OPERATOR,
        )
        assert bad.status_code == 400 and "rows[0].day" in bad.json()["error"]["message"]
    assert report["total"]["unpriced_requests"] == 1  # local-llama has no price: its cost is unknown, not 0
    llama = next(row for row in report["rows"] if row["model"] == "local-llama")
    assert llama["cost_usd"] is None and llama["unpriced_requests"] == 1


# -- what is counted ------------------------------------------------------------------------


def anthropic_answer() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 500,
            "output_tokens": 300,
        },
    }


def gemini_answer() -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": 1000,
            "cachedContentTokenCount": 600,
            "candidatesTokenCount": 100,
            "thoughtsTokenCount": 50,
            "totalTokenCount": 1150,
        },
        "modelVersion": "gemini-2.5-flash",
    }


def test_cost_follows_each_providers_usage_shape(upstream):
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    upstream.add("POST", "/v1/messages", Reply.json(anthropic_answer()))
    upstream.add("POST", "/v1beta/models/gemini-2.5-flash:generateContent", Reply.json(gemini_answer()))
    openrouter = chat_answer(prompt=50, completion=10, cached=0)
    openrouter["usage"]["cost"] = 0.000492
    upstream.add("POST", "/api/v1/chat/completions", Reply.json(openrouter))
    config = {
        "api-keys": KEYS,
        **MANAGEMENT,
        "openai-compatibility": openai_block(upstream),
        "claude-api-key": [
            {
                "api-key": "sk-ant-upstream-0001",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
            }
        ],
        "gemini-api-key": [
            {
                "api-key": "AIza-upstream-0001",
                "base-url": upstream.url,
                "models": [{"name": "gemini-2.5-flash", "alias": "flash"}],
            }
        ],
        "openrouter": [
            {
                "api-key": "sk-or-v1-upstream",
                "base-url": upstream.url + "/api/v1",
                "models": [{"name": "anthropic/claude-sonnet-4.5", "alias": "router-sonnet"}],
            }
        ],
        "metrics": {"enabled": True},
    }
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        client = sdk(url)
        for model in ("smart", "sonnet", "flash", "router-sonnet"):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        rows = {row["model"]: row for row in usage(url, by="model")["rows"]}
        status = httpx.get(url + "/v0/status").json()
        metrics = httpx.get(url + "/metrics").text
    expected = {
        "gpt-5": GPT5_COST,  # OpenAI: cached prompt tokens at the cached price
        "claude-sonnet-4-5-20250929": (100 * 3 + 2000 * 0.30 + 500 * 3.75 + 300 * 15) / 1e6,  # cache read and write
        "gemini-2.5-flash": (400 * 0.30 + 600 * 0.03 + 150 * 2.50) / 1e6,  # cached content, thoughts as output
        "anthropic/claude-sonnet-4.5": 0.000492,  # what OpenRouter said it cost
    }
    assert {model: row["cost_usd"] for model, row in rows.items()} == pytest.approx(expected)
    assert rows["claude-sonnet-4-5-20250929"]["cache_write_tokens"] == 500
    assert rows["gemini-2.5-flash"]["reasoning_tokens"] == 50
    assert status["clients"]["key-1"]["cost_usd_month"] == pytest.approx(sum(expected.values()))
    counted = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("cliproxy_cost_usd_total{")
    )
    assert counted == pytest.approx(sum(expected.values()))


def midway_failing_stream() -> Reply:
    return Reply.sse_events(
        [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1200, "output_tokens": 1},
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Half an answ"}},
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ],
        named=True,
    )


def test_a_stream_that_fails_midway_counts_as_a_failure_with_its_tokens(upstream):
    upstream.add("POST", "/v1/messages", midway_failing_stream())
    config = {
        "api-keys": KEYS,
        **MANAGEMENT,
        "claude-api-key": [
            {
                "api-key": "sk-ant-upstream-0001",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
            }
        ],
    }
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        with pytest.raises(openai.APIError):
            for _ in sdk(url).chat.completions.create(
                model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                pass
        row = usage(url, by="client")["rows"][0]
    assert (row["requests"], row["failures"]) == (1, 1)
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 1)  # what the upstream spent before it failed
    assert row["cost_usd"] == pytest.approx((1200 * 3 + 1 * 15) / 1e6)


def test_requests_no_answer_started_for_count_as_failures_of_the_credential_tried(upstream):
    upstream.add("POST", CHAT, Reply.error(500, "upstream broke"))
    config = {"api-keys": KEYS, **MANAGEMENT, "request-retry": 0, "openai-compatibility": openai_block(upstream)}
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        with pytest.raises(openai.InternalServerError):
            sdk(url).chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.NotFoundError):
            sdk(url).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        httpx.post(url + CHAT, headers={"authorization": "Bearer wrong"}, json={"model": "smart"})  # not a client
        rows = usage(url, by="client,credential,model")["rows"]
    assert [(r["credential"], r["provider"], r["model"], r["requests"], r["failures"]) for r in rows] == [
        ("-", None, "no-such-model", 1, 1),
        (rows[1]["credential"], "openai-compatibility", "gpt-5", 1, 1),
    ]
    assert rows[1]["credential"].startswith("openai-compatibility/team:")
    assert rows[1]["credential_label"].startswith("team ")  # a masked label, never the key
    assert rows[1]["cost_usd"] == 0


def test_the_query_says_what_is_wrong_with_it(upstream):
    config = {"api-keys": KEYS, **MANAGEMENT, "openai-compatibility": openai_block(upstream)}
    with serve_app(gateway_app(config, plugins=PLUGINS)) as url:
        for query, says in (
            ({"from": "yesterday"}, "'from' must be a date written YYYY-MM-DD"),
            ({"from": "2026-12-06", "to": "2026-12-01"}, "'from' (2026-12-06) is after 'to' (2026-12-01)"),
            ({"by": "client,week"}, "'by' names 'week'"),
        ):
            answer = httpx.get(url + "/v0/management/usage", params=query, headers=OPERATOR)
            assert answer.status_code == 400 and says in answer.json()["error"]["message"], answer.text
        total_only = usage(url, by="")
        assert total_only["by"] == [] and total_only["rows"] == [] and total_only["total"]["requests"] == 0
        assert httpx.get(url + "/v0/management/usage", headers={**OPERATOR, "host": "evil.example"}).status_code == 403
        assert httpx.post(url + "/v0/management/usage", headers=OPERATOR).status_code == 405


# -- the CLI -------------------------------------------------------------------------------


def test_cliproxy_usage_prints_a_table_json_and_moves_usage(tmp_path, upstream, served_file, capsys, monkeypatch):
    monkeypatch.setenv("CLIPROXY_MANAGEMENT_KEY", MANAGEMENT_KEY)
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    with served_file() as url:
        sdk(url).chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
        sdk(url).chat.completions.create(model="llama", messages=[{"role": "user", "content": "hi"}])
        assert main(["usage", "--url", url, "--by", "client,model"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert main(["usage", "--url", url, "--json", "--by", "model"]) == 0
        as_json = json.loads(capsys.readouterr().out)
        exported = tmp_path / "exported.json"
        assert main(["usage", "--url", url, "--export", str(exported)]) == 0
        assert "wrote 2 row(s)" in capsys.readouterr().out
        assert main(["usage", "--url", url, "--import", str(exported)]) == 0
        assert "imported 2 row(s) of 1 day(s)" in capsys.readouterr().out
        assert main(["usage", "--url", url, "--import", str(exported)]) == 1
        assert "imported before" in capsys.readouterr().err
        assert main(["usage", "--url", url, "--import", str(exported), "--again"]) == 0
        capsys.readouterr()
        assert main(["usage", "--url", url, "--json", "--by", ""]) == 0
        assert json.loads(capsys.readouterr().out)["total"]["requests"] == 6  # 2 counted, twice imported
    assert table[1].split() == [
        "CLIENT",
        "MODEL",
        "REQUESTS",
        "FAILURES",
        "INPUT",
        "OUTPUT",
        "CACHE",
        "READ",
        "CACHE",
        "WRITE",
        "REASONING",
        "COST",
    ]
    assert table[2].split() == ["key-1", "gpt-5", "1", "0", "1000", "200", "400", "0", "0", f"${GPT5_COST:.4f}"]
    assert table[3].split() == ["key-1", "local-llama", "1", "0", "1000", "200", "400", "0", "0", "?"]
    assert table[4].split()[0] == "TOTAL" and table[4].split()[-1] == f"${GPT5_COST:.4f}+?"
    assert "add them to 'pricing:'" in table[-1]
    assert [row["model"] for row in as_json["rows"]] == ["gpt-5", "local-llama"]
    assert main(["usage", "--url", "http://127.0.0.1:9"]) == 1
    assert "is 'cliproxy serve' running?" in capsys.readouterr().err
