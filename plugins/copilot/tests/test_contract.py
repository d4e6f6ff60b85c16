"""cliproxy-copilot passes the provider contract: a ``copilot`` entry with a GitHub token,
exchanged for Copilot tokens at the fake GitHub of :mod:`cliproxy_copilot.testing`, whose
Copilot API answers a chat model at ``/chat/completions`` and ``/responses``, and a Claude
model at ``/chat/completions`` and ``/v1/messages``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import cliproxy_copilot
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, Reply
from cliproxy_copilot.testing import API, CLAUDE, ENDPOINT_WIRES, GPT, FakeCopilot


class TestCopilotContract(ProviderContract):
    """A chat model, served at ``/chat/completions`` and ``/responses``."""

    plugins = [cliproxy_copilot]
    model = GPT

    @pytest.fixture
    def copilot(self, fake_upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeCopilot:
        fake = FakeCopilot(fake_upstream, recording)
        fake.answer_plainly()  # the same text at every endpoint: the contract compares the doors
        return fake

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, copilot: FakeCopilot) -> FakeUpstream:
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, copilot: FakeCopilot) -> dict:
        return {"copilot": [copilot.entry()]}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        # The Copilot API fails; GitHub's token exchange, which a first request goes
        # through, keeps working (its failures are a refresh's, not the API's answer).
        for endpoint in ENDPOINT_WIRES:
            upstream.add("POST", API + endpoint, Reply.error(status, message, headers=headers))


class TestCopilotClaudeContract(TestCopilotContract):
    """A Claude model, served at Copilot's ``/chat/completions`` and ``/v1/messages``."""

    model = CLAUDE
