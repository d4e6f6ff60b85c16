"""cliproxy-minimax passes the provider contract on both of its wires -- an API key on the
Anthropic-compatible endpoint (the default) and on the OpenAI-compatible one -- against
the fake MiniMax of conftest.py, failing in MiniMax's own error shapes."""

from __future__ import annotations

from collections.abc import Mapping

import cliproxy_minimax
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, Reply

from .conftest import KEY, FakeMiniMax

ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


class TestMiniMaxAnthropicContract(ProviderContract):
    plugins = [cliproxy_minimax]
    model = "MiniMax-M2.5"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        FakeMiniMax(fake_upstream)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        return {"minimax": [{"api-key": KEY, "base-url": upstream.url}]}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        error = {"type": ANTHROPIC_ERRORS.get(status, "api_error"), "message": message}
        upstream.answer_all(Reply.json({"type": "error", "error": error}, status=status, headers=headers))


class TestMiniMaxOpenAIContract(TestMiniMaxAnthropicContract):
    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        return {"minimax": [{"api-key": KEY, "base-url": upstream.url, "wire": "openai"}]}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        upstream.answer_all(Reply.error(status, message, headers=headers))
