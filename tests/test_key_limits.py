"""Client keys' rates and budgets through a served gateway and the official SDKs: over
``rpm`` a key gets 429 in its door's shape with ``Retry-After`` and the rate-limit
headers its SDK reads; ``max-parallel`` counts requests in flight; ``daily-tokens`` and
``monthly-budget-usd`` are settled with what a request used -- a stream that fails
midway included -- and say which budget ran out and when it resets; Redis down, limits
hold per instance, with a warning."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import anthropic
import cliproxy_claude
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.state.limiter import RateLimits
from cliproxy.state.redis import RedisStore
from cliproxy.testing import FakeClock, FakeUpstream, Reply, gateway_app, serve_app
from google import genai
from google.genai import errors, types


def midway_failing_stream() -> Reply:
    """An Anthropic stream that reports 1200 input tokens, sends some text, then fails."""
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


CHAT = "/v1/chat/completions"
FAST = "sk-fast-key-0000000001"
SLOW = "sk-slow-key-0000000001"
NARROW = "sk-narrow-key-000000001"
TOKENS = "sk-daily-tokens-000001"
DOLLARS = "sk-monthly-usd-0000001"


def chat_answer() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-nano",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }


def openai_config(upstream: FakeUpstream, keys: list[Any]) -> dict[str, Any]:
    return {
        "api-keys": keys,
        "openai-compatibility": [
            {
                "name": "pool",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
    }


def test_over_rpm_each_door_answers_429_with_retry_after_and_rate_limit_headers(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    keys = [FAST, {"key": SLOW, "name": "slow", "rpm": 2}]
    with serve_app(gateway_app(openai_config(upstream, keys), plugins=[cliproxy_openai])) as url:
        client = openai.OpenAI(api_key=SLOW, base_url=url + "/v1", max_retries=0)
        for _ in range(2):
            client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
        headers = limited.value.response.headers
        assert headers["x-ratelimit-limit-requests"] == "2" and headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"].endswith("s") and 1 <= int(headers["retry-after"]) <= 60
        assert "'slow' is over its limit of 2 requests per minute; retry in" in limited.value.message
        assert limited.value.code == "rate_limit_exceeded"

        with pytest.raises(anthropic.RateLimitError) as anthropic_limited:
            anthropic.Anthropic(api_key=SLOW, base_url=url, max_retries=0).messages.create(
                model="nano", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        body: Any = anthropic_limited.value.body
        assert body["error"]["type"] == "rate_limit_error"
        assert anthropic_limited.value.response.headers["anthropic-ratelimit-requests-limit"] == "2"
        reset = anthropic_limited.value.response.headers["anthropic-ratelimit-requests-reset"]
        assert dt.datetime.fromisoformat(reset.replace("Z", "+00:00")) > dt.datetime.now(dt.UTC)

        gemini = genai.Client(
            api_key=SLOW, http_options=types.HttpOptions(base_url=url, api_version="v1beta", retry_options=None)
        )
        with pytest.raises(errors.ClientError) as gemini_limited:
            gemini.models.generate_content(model="nano", contents="hi")
        assert gemini_limited.value.code == 429 and gemini_limited.value.status == "RESOURCE_EXHAUSTED"

        with pytest.raises(openai.RateLimitError):
            client.responses.create(model="nano", input="hi", store=False)
        # other keys are not limited by it
        fast = openai.OpenAI(api_key=FAST, base_url=url + "/v1", max_retries=0)
        for _ in range(4):
            fast.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
    assert len(upstream.requests_to(CHAT)) == 6  # refused requests never reach an upstream


def test_max_parallel_refuses_only_while_requests_are_in_flight(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, Reply.json(chat_answer(), delay=1.0))
    keys = [{"key": NARROW, "max-parallel": 1}]
    with serve_app(gateway_app(openai_config(upstream, keys), plugins=[cliproxy_openai])) as url:
        client = openai.OpenAI(api_key=NARROW, base_url=url + "/v1", max_retries=0)
        answers: list[Any] = []
        first = threading.Thread(
            target=lambda: answers.append(
                client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
            )
        )
        first.start()
        while not upstream.requests_to(CHAT):
            threading.Event().wait(0.02)
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
        assert "1 requests in flight, its max-parallel" in limited.value.message
        first.join()
        assert answers and answers[0].choices[0].message.content == "hi"
        assert client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}]).id


def claude_config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "api-keys": [
            {"key": TOKENS, "name": "tokens", "daily-tokens": 1204},
            {"key": DOLLARS, "name": "dollars", "monthly-budget-usd": 0.0036},
        ],
        "request-retry": 0,
        "claude-api-key": [
            {
                "api-key": f"sk-ant-upstream-000{i}",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
            }
            for i in (1, 2)  # (a failed stream rests the one that served it)
        ],
    }


def _stream_failing(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass


def test_budgets_are_settled_by_a_stream_that_fails_midway(upstream: FakeUpstream) -> None:
    upstream.add("POST", "/v1/messages", midway_failing_stream())  # 1200 input + 1 output tokens, then an error
    with serve_app(gateway_app(claude_config(upstream), plugins=[cliproxy_claude])) as url:
        tokens = openai.OpenAI(api_key=TOKENS, base_url=url + "/v1", max_retries=0)
        _stream_failing(tokens)  # estimated a few tokens, settled at 1201
        with pytest.raises(openai.RateLimitError) as spent:
            tokens.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
        assert "'tokens' has used its daily-tokens budget of 1204 tokens" in spent.value.message
        assert f"resets at {tomorrow} 00:00 UTC" in spent.value.message
        assert spent.value.code == "daily_tokens_exceeded"
        assert int(spent.value.response.headers["retry-after"]) > 0

        dollars = openai.OpenAI(api_key=DOLLARS, base_url=url + "/v1", max_retries=0)
        _stream_failing(dollars)  # $0.003615 at Sonnet 4.5's list price: past the $0.0036 budget
        with pytest.raises(openai.APIStatusError) as broke:
            dollars.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
        assert broke.value.status_code == 402 and broke.value.code == "monthly_budget_exceeded"
        assert "'dollars' has spent its monthly-budget-usd of $0.00 for this month" in broke.value.message
        first_of_next = (dt.date.today().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        assert f"resets at {first_of_next:%Y-%m-%d} 00:00 UTC" in broke.value.message
    assert len(upstream.requests_to("/v1/messages")) == 2


def test_an_unanswered_request_gives_its_estimate_back(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, Reply.error(400, "the upstream refuses this request"))
    config = {**openai_config(upstream, [{"key": TOKENS, "daily-tokens": 40}]), "request-retry": 0}
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as url:
        client = openai.OpenAI(api_key=TOKENS, base_url=url + "/v1", max_retries=0)
        for _ in range(5):  # about 10 tokens each, estimated, given back: never out of budget
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi " * 20}])


async def test_redis_down_limits_hold_per_instance_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore("redis://127.0.0.1:9", key_prefix="nowhere:", clock=FakeClock(), timeout=0.2)
    limits = RateLimits(rpm=2)
    try:
        with caplog.at_level(logging.WARNING, logger="cliproxy.state"):
            answers = [await store.acquire("team", f"t{i}", limits, tokens=1, cost=0, lease=60) for i in range(3)]
        assert [a.admitted for a in answers] == [True, True, False]  # never unlimited, never all refused
        assert "client key limits (rpm, tpm, max-parallel, budgets) hold per instance" in caplog.text
        assert caplog.text.count("hold per instance") == 1
    finally:
        await store.close()


def test_daily_tokens_count_what_answers_used(upstream: FakeUpstream) -> None:
    """Each answer's 12 tokens count, not its estimate (about 5); a model without a price
    costs nothing against the monthly budget, and its tokens still count."""
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    config = openai_config(upstream, [{"key": TOKENS, "daily-tokens": 30, "monthly-budget-usd": 1}])
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as url:
        client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {TOKENS}"})
        body = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
        statuses = [client.post(CHAT, json=body).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # 12 tokens each: 36 used, then no room for the next estimate
