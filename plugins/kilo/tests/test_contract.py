"""cliproxy-kilo passes the provider contract: a ``kilo`` entry with a Kilo token, against
the fake Kilo of conftest.py (its chat gateway answers with the recordings, and refuses
other tokens)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cliproxy_kilo
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract

from .conftest import FakeKilo


class TestKiloContract(ProviderContract):
    plugins = [cliproxy_kilo]
    model = "kilo/anthropic/claude-sonnet-4.5"

    @pytest.fixture
    def kilo(self, fake_upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeKilo:
        return FakeKilo(fake_upstream, recording)

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, kilo: FakeKilo) -> FakeUpstream:
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, kilo: FakeKilo) -> dict:
        return {"kilo": [{"api-key": kilo.token, "base-url": kilo.url, "prefix": "kilo"}]}
