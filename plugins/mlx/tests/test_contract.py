"""cliproxy-mlx passes the provider contract, against a fake local server that lists its
model and answers with the llama.cpp recordings (reasoning, usage and timings)."""

from __future__ import annotations

import json

import cliproxy_mlx
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, RecordedRequest, Reply


class TestMLXContract(ProviderContract):
    plugins = [cliproxy_mlx]
    model = "mlx/local-text-model"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, recording) -> FakeUpstream:
        stream = recording("local-openai-compat/CONSTRUCTED-llamacpp-server-stream-reasoning-usage-timings.sse.txt")
        whole = json.loads(recording("local-openai-compat/vercel-deepseek-reasoning.json").read_text())

        def answer(request: RecordedRequest) -> Reply:
            return Reply.sse_file(stream) if request.json.get("stream") else Reply.json(whole)

        models = {"object": "list", "data": [{"id": "local-text-model", "object": "model", "owned_by": "mlx"}]}
        fake_upstream.add("GET", "/v1/models", Reply.json(models))
        fake_upstream.add("POST", "/v1/chat/completions", answer)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        return {"mlx": [{"base-url": upstream.url + "/v1", "api-key": "sk-local-contract-key"}]}
