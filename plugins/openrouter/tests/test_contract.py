"""cliproxy-openrouter passes the provider contract, against a fake OpenRouter answering
with the recordings."""

from __future__ import annotations

import json

import cliproxy_openrouter
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, RecordedRequest, Reply

CHAT = "/api/v1/chat/completions"


class TestOpenRouterContract(ProviderContract):
    plugins = [cliproxy_openrouter]
    model = "batch/sonnet"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, recording) -> FakeUpstream:
        whole = json.loads(recording("openrouter/CONSTRUCTED-nonstream-response-reasoning.json").read_text())
        stream = recording("openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt")

        def answer(request: RecordedRequest) -> Reply:
            return Reply.sse_file(stream) if request.json.get("stream") else Reply.json(whole)

        fake_upstream.add("POST", CHAT, answer)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {
            "api-key": "sk-or-v1-contract-upstream",
            "base-url": upstream.url + "/api/v1",
            "prefix": "batch",
            "models": [{"name": "anthropic/claude-sonnet-4.5", "alias": "sonnet"}],
            "http-referer": "https://my.app",
            "x-title": "My App",
        }
        return {"openrouter": [entry]}
