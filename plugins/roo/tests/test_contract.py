"""cliproxy-roo passes the provider contract: a ``roo`` entry with a Roo Code Cloud session
token, against the fake Roo proxy of conftest.py (answering with the recordings, refusing
other tokens)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cliproxy_roo
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract

from .conftest import FakeRoo


class TestRooContract(ProviderContract):
    plugins = [cliproxy_roo]
    model = "roo/xai/grok-code-fast-1"

    @pytest.fixture
    def roo(self, fake_upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeRoo:
        return FakeRoo(fake_upstream, recording)

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, roo: FakeRoo) -> FakeUpstream:
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, roo: FakeRoo) -> dict:
        return {"roo": [{"token": roo.token, "base-url": roo.url + "/proxy", "prefix": "roo"}]}
