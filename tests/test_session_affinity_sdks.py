"""Session affinity with the official SDKs, against a served gateway: what Claude Code
(``metadata.user_id``), OpenAI clients (``prompt_cache_key``) and Codex (the
``session_id`` header) send keeps their requests on one credential of a round-robin pool."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import cliproxy_openai
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

CHAT = "/v1/chat/completions"
KEYS = ("sk-upstream-a", "sk-upstream-b")


def keys_used(upstream: FakeUpstream) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.requests_to(CHAT)]


@pytest.fixture
def url(upstream: FakeUpstream, recording) -> Iterator[str]:
    upstream.add(
        "POST",
        CHAT,
        Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())),
    )
    config = {
        "api-keys": ["client-key"],
        "routing": {"strategy": "round-robin", "session-affinity": True},
        "openai-compatibility": [
            {
                "name": "pool",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": k} for k in KEYS],
                "models": [{"name": "gpt-4.1-nano", "alias": "sonnet"}],
            }
        ],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as served:
        yield served


def test_anthropic_sdk_metadata_user_id_sticks(upstream, url):
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    user_id = "user_0f3a_account_5c1e_session_7d2b9e40-6a1f-4c55-9d1e-2b8f3c0a9e11"
    for _ in range(3):
        client.messages.create(
            model="sonnet",
            max_tokens=64,
            metadata={"user_id": user_id},
            messages=[{"role": "user", "content": "hello"}],
        )
    client.messages.create(model="sonnet", max_tokens=64, messages=[{"role": "user", "content": "hello"}])
    used = keys_used(upstream)
    assert len(set(used[:3])) == 1
    assert used[3] != used[0]  # the next request without a session takes the next turn


def test_openai_sdk_prompt_cache_key_sticks(upstream, url):
    client = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
    for cache_key in (
        "conversation-1",
        "conversation-2",
        "conversation-1",
        "conversation-2",
        "conversation-1",
    ):
        client.chat.completions.create(
            model="sonnet",
            prompt_cache_key=cache_key,
            messages=[{"role": "user", "content": "hello"}],
        )
    used = keys_used(upstream)
    assert used[0] != used[1]  # two sessions, spread
    assert used[0::2] == [used[0]] * 3 and used[1::2] == [used[1]] * 2


def test_openai_sdk_responses_with_codex_session_header_sticks(upstream, url):
    client = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
    for _ in range(3):
        client.responses.create(model="sonnet", input="hello", store=False, extra_headers={"session_id": "codex-5f1c"})
    assert len(set(keys_used(upstream))) == 1
    assert len(keys_used(upstream)) == 3
