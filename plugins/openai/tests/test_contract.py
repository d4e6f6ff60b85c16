"""cliproxy-openai passes the provider contract: an OpenAI-compatible entry, and a preset."""

from __future__ import annotations

import cliproxy_openai
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, wire_answer


class TestOpenAICompatibilityContract(ProviderContract):
    plugins = [cliproxy_openai]
    model = "nano"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        fake_upstream.add("POST", "/v1/chat/completions", wire_answer("openai-chat"))
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


class TestResponsesWireContract(TestOpenAICompatibilityContract):
    """An entry with ``wire: responses`` calls the upstream's Responses API."""

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        fake_upstream.add("POST", "/v1/responses", wire_answer("openai-responses"))
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {"api-key": "sk-groq-contract-2", "base-url": upstream.url + "/v1", "wire": "responses"}
        return {"groq": [{**entry, "models": [{"name": "llama-3.3-70b", "alias": "nano"}]}]}
