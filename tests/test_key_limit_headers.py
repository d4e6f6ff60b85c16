"""An admitted answer tells its client, through the official SDKs, what its key's ``rpm``
and ``tpm`` windows have left: OpenAI doors in ``x-ratelimit-*``, the Anthropic door in
``anthropic-ratelimit-*`` -- whole and streamed, passed through and translated, on the
memory store and on Redis; only for the limits the key has, and keys without limits get
none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anthropic
import cliproxy_claude
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.key_policy import KeyPolicy
from cliproxy.rate_headers import refusal_headers
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app, wire_answer

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
LIMITED = "sk-limited-key-00000001"
RPM_ONLY = "sk-rpm-only-key-0000001"
PARALLEL_ONLY = "sk-parallel-key-000001"
OPEN = "sk-unlimited-key-000001"
KEYS: list[Any] = [
    {"key": LIMITED, "name": "limited", "rpm": 10, "tpm": 100_000},
    {"key": RPM_ONLY, "name": "rpm-only", "rpm": 7},
    {"key": PARALLEL_ONLY, "name": "parallel-only", "max-parallel": 3},
    OPEN,
]
HI = [{"role": "user", "content": "hi"}]


chat_reply = wire_answer("openai-chat", "hi")
claude_reply = wire_answer("anthropic", "hi")


def config(upstream: FakeUpstream, state: dict[str, Any] | None) -> dict[str, Any]:
    """Two upstreams: ``nano`` (OpenAI-compatible) and ``sonnet`` (Anthropic)."""
    built: dict[str, Any] = {
        "api-keys": KEYS,
        "request-retry": 0,
        "openai-compatibility": [
            {
                "name": "pool",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream"}],
                "models": [
                    {"name": "gpt-4.1-nano", "alias": "nano"},
                    {"name": "text-embedding-3-small", "alias": "small"},
                ],
            }
        ],
        "claude-api-key": [
            {
                "api-key": "sk-ant-upstream-0001",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
            }
        ],
    }
    if state is not None:
        built["state"] = state
    return built


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> dict[str, Any] | None:
    if request.param == "memory":
        return None
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return {"backend": "redis", "url": redis_url, "key-prefix": prefix, "timeout": 5}


def _seconds(duration: str) -> float:
    assert duration.endswith("s") and not duration.endswith("ms"), duration
    return float(duration[:-1])


def _openai_limits(headers: httpx.Headers) -> tuple[int, float, int]:
    """(requests left, seconds to the requests reset, tokens left), checking the limits."""
    assert headers["x-ratelimit-limit-requests"] == "10" and headers["x-ratelimit-limit-tokens"] == "100000"
    assert 0 < _seconds(headers["x-ratelimit-reset-requests"]) <= 60
    assert 0 < _seconds(headers["x-ratelimit-reset-tokens"]) <= 60
    return (
        int(headers["x-ratelimit-remaining-requests"]),
        _seconds(headers["x-ratelimit-reset-requests"]),
        int(headers["x-ratelimit-remaining-tokens"]),
    )


def _anthropic_limits(headers: httpx.Headers) -> tuple[int, int]:
    """(requests left, tokens left), checking the limits and the RFC 3339 resets."""
    assert headers["anthropic-ratelimit-requests-limit"] == "10"
    assert headers["anthropic-ratelimit-tokens-limit"] == "100000"
    now = dt.datetime.now(dt.UTC)
    for kind in ("requests", "tokens"):
        reset = dt.datetime.fromisoformat(headers[f"anthropic-ratelimit-{kind}-reset"].replace("Z", "+00:00"))
        assert now - dt.timedelta(seconds=2) <= reset <= now + dt.timedelta(seconds=61)
    return int(headers["anthropic-ratelimit-requests-remaining"]), int(headers["anthropic-ratelimit-tokens-remaining"])


def test_admitted_answers_carry_what_the_keys_windows_have_left(
    upstream: FakeUpstream, state: dict[str, Any] | None
) -> None:
    upstream.add("POST", CHAT, chat_reply)
    upstream.add("POST", MESSAGES, claude_reply)
    with serve_app(gateway_app(config(upstream, state), plugins=[cliproxy_openai, cliproxy_claude])) as url:
        oa = openai.OpenAI(api_key=LIMITED, base_url=url + "/v1", max_retries=0)
        an = anthropic.Anthropic(api_key=LIMITED, base_url=url, max_retries=0)
        requests_left: list[int] = []
        tokens_left: list[int] = []

        def note(left: tuple[int, ...]) -> None:
            requests_left.append(left[0])
            tokens_left.append(left[-1])

        # OpenAI door: whole and streamed, passed through (nano) and translated (sonnet)
        raw = oa.chat.completions.with_raw_response.create(model="nano", messages=HI)  # type: ignore[arg-type]
        assert raw.parse().choices[0].message.content == "hi"
        first = _openai_limits(raw.headers)
        assert 100_000 - 100 < first[2] < 100_000  # minus this request's estimate
        note(first)
        with oa.chat.completions.with_streaming_response.create(model="nano", messages=HI, stream=True) as s:  # type: ignore[arg-type]
            note(_openai_limits(s.headers))
            assert "".join(s.iter_lines())
        raw = oa.chat.completions.with_raw_response.create(model="sonnet", messages=HI)  # type: ignore[arg-type]
        note(_openai_limits(raw.headers))
        raw = oa.responses.with_raw_response.create(model="nano", input="hi", store=False)
        note(_openai_limits(raw.headers))

        # Anthropic door: passed through (sonnet), translated (nano), whole and streamed
        raw_message = an.messages.with_raw_response.create(model="sonnet", max_tokens=16, messages=HI)  # type: ignore[arg-type]
        assert raw_message.parse().content[0].type == "text"
        note(_anthropic_limits(raw_message.headers))
        with an.messages.with_streaming_response.create(
            model="sonnet",
            max_tokens=16,
            messages=HI,  # type: ignore[arg-type]
            stream=True,
        ) as s:
            note(_anthropic_limits(s.headers))
        raw_message = an.messages.with_raw_response.create(model="nano", max_tokens=16, messages=HI)  # type: ignore[arg-type]
        note(_anthropic_limits(raw_message.headers))

    assert requests_left == [9, 8, 7, 6, 5, 4, 3]  # one request fewer each time, across doors
    assert tokens_left == sorted(tokens_left, reverse=True) and len(set(tokens_left)) == len(tokens_left)


def test_only_the_limits_a_key_has_get_headers(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, chat_reply)
    upstream.add(
        "POST",
        "/v1/embeddings",
        Reply.json(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ),
    )
    upstream.add("POST", MESSAGES, claude_reply)
    with serve_app(gateway_app(config(upstream, None), plugins=[cliproxy_openai, cliproxy_claude])) as url:

        def openai_headers(key: str) -> httpx.Headers:
            client = openai.OpenAI(api_key=key, base_url=url + "/v1", max_retries=0)
            return client.chat.completions.with_raw_response.create(model="nano", messages=HI).headers  # type: ignore[arg-type]

        def anthropic_headers(key: str) -> httpx.Headers:
            client = anthropic.Anthropic(api_key=key, base_url=url, max_retries=0)
            return client.messages.with_raw_response.create(model="sonnet", max_tokens=16, messages=HI).headers  # type: ignore[arg-type]

        embedded = openai.OpenAI(api_key=LIMITED, base_url=url + "/v1", max_retries=0)
        raw = embedded.embeddings.with_raw_response.create(model="small", input="hi")
        assert raw.parse().data[0].embedding == [0.5, 0.25]
        assert _openai_limits(raw.headers)[0] == 9

        rpm_only = openai_headers(RPM_ONLY)
        assert rpm_only["x-ratelimit-limit-requests"] == "7" and rpm_only["x-ratelimit-remaining-requests"] == "6"
        assert not [name for name in rpm_only if "tokens" in name]
        rpm_only = anthropic_headers(RPM_ONLY)
        assert rpm_only["anthropic-ratelimit-requests-remaining"] == "5"
        assert not [name for name in rpm_only if "tokens" in name]
        for key in (OPEN, PARALLEL_ONLY):
            for headers in (openai_headers(key), anthropic_headers(key)):
                assert not [name for name in headers if "ratelimit" in name]


def test_a_keepalive_that_commits_the_answer_sends_the_headers(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, wire_answer("openai-chat", "hi", delay=1.5))
    built = {**config(upstream, None), "nonstream-keepalive-interval": 0.3}
    with serve_app(gateway_app(built, plugins=[cliproxy_openai, cliproxy_claude])) as url:
        client = openai.OpenAI(api_key=LIMITED, base_url=url + "/v1", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="nano", messages=HI)  # type: ignore[arg-type]
        assert raw.parse().choices[0].message.content == "hi"
        assert _openai_limits(raw.headers)[0] == 9


def test_reset_times_round_up_so_a_client_waiting_until_then_finds_room() -> None:
    now = 1_800_000_000.25
    anthropic_headers = dict(refusal_headers("anthropic", KeyPolicy(rpm=5), "rpm", 2.5, now))
    assert anthropic_headers["anthropic-ratelimit-requests-reset"] == "2027-01-15T08:00:03Z"  # 02.75 -> 03
    openai_headers = dict(refusal_headers("openai-chat", KeyPolicy(tpm=9), "tpm", 2.5, now))
    assert openai_headers["x-ratelimit-reset-tokens"] == "2.500s"
    assert openai_headers["x-ratelimit-remaining-tokens"] == "0"
    assert refusal_headers("gemini", KeyPolicy(rpm=5), "rpm", 2.5, now) == ()
