"""Fixtures: the fake ChatGPT sign-in service and Codex backend on one loopback server
(:mod:`cliproxy_codex.testing`), and a gateway in front of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cliproxy_codex
import pytest
from cliproxy.testing import FakeUpstream, gateway_app
from cliproxy_codex.testing import KEY, FakeChatGPT, FakeCodex, codex_block, sign_in


@pytest.fixture
def chatgpt() -> Iterator[FakeChatGPT]:
    with FakeUpstream() as server:
        yield FakeChatGPT(server)


@pytest.fixture
def backend(chatgpt: FakeChatGPT) -> FakeCodex:
    return FakeCodex(chatgpt.server, chatgpt)


@pytest.fixture
def codex_app(chatgpt: FakeChatGPT, backend: FakeCodex, tmp_path: Path) -> Callable[..., Any]:
    """``codex_app(accounts=[...], **config)``: a gateway serving the given accounts."""

    def make(
        accounts: tuple[str, ...] = ("acct-plus-0001",), block: dict[str, Any] | None = None, **config: Any
    ) -> Any:
        auth_dir = tmp_path / "auth"
        for account in accounts:
            sign_in(chatgpt, auth_dir, account)
        full: dict[str, Any] = {
            "api-keys": [KEY],
            "auth-dir": str(auth_dir),
            "codex": codex_block(chatgpt, **(block or {})),
        }
        full.update(config)
        return gateway_app(full, plugins=[cliproxy_codex])

    return make
