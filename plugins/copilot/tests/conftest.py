"""Fixtures: the fake GitHub + Copilot (:mod:`cliproxy_copilot.testing`) on a loopback
server, and gateways in front of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cliproxy_copilot
import pytest
from cliproxy.testing import FakeUpstream, gateway_app
from cliproxy_copilot.testing import FakeCopilot


@pytest.fixture
def copilot(upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeCopilot:
    return FakeCopilot(upstream, recording)


@pytest.fixture
def copilot_app(copilot: FakeCopilot) -> Callable[..., Any]:
    """``copilot_app(entries=None, **config)`` -> a gateway with only this plugin."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        full: dict[str, Any] = {
            "api-keys": ["client-key"],
            "copilot": entries if entries is not None else [copilot.entry()],
        }
        full.update(config)
        return gateway_app(full, plugins=[cliproxy_copilot])

    return make
