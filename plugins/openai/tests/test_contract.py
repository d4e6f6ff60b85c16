"""cliproxy-openai passes the provider contract: an OpenAI-compatible entry answered with
the recordings, and a preset whose entry calls the Responses API."""

from __future__ import annotations

import json

import cliproxy_openai
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, RecordedRequest, Reply, wire_answer


class TestOpenAICompatibilityContract(ProviderContract):
    plugins = [cliproxy_openai]
    model = "nano"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, recording) -> FakeUpstream:
        whole = json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())
        stream = recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")

        def answer(request: RecordedRequest) -> Reply:
            return Reply.sse_file(stream) if request.json.get("stream") else Reply.json(whole)

        fake_upstream.add("POST", "/v1/chat/completions", answer)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {
            "name": "local",
            "base-url": upstream.url + "/v1",
            "api-key-entries": [{"api-key": "sk-upstream-contract-1"}],
            "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
        }
        return {"openai-compatibility": [entry]}


class TestPresetOnResponsesContract(ProviderContract):
    """A preset (groq) whose entry says ``wire: responses``: the upstream's Responses API."""

    plugins = [cliproxy_openai]
    model = "llama"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        fake_upstream.add("POST", "/v1/responses", wire_answer("openai-responses"))
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {"api-key": "sk-groq-contract-2", "base-url": upstream.url + "/v1", "wire": "responses"}
        return {"groq": [{**entry, "models": [{"name": "llama-3.3-70b", "alias": "llama"}]}]}
