"""cliproxy-codex passes the provider contract: a ChatGPT account signed in (a token file
in ``auth-dir``), served by the fake Codex backend of :mod:`cliproxy_codex.testing`, which
streams Responses events and refuses an expired token; its sign-in service refreshes
tokens. Errors come in the backend's own ``{"error": {"type", "message"}}`` shape."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cliproxy_codex
import pytest
from cliproxy.testing import FakeUpstream, ProviderContract, Reply
from cliproxy_codex.testing import FakeChatGPT, FakeCodex, codex_block, sign_in

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_token", 429: "rate_limit_exceeded"}


class TestCodexContract(ProviderContract):
    plugins = [cliproxy_codex]
    model = "gpt-5.5"

    @pytest.fixture
    def chatgpt(self, fake_upstream: FakeUpstream) -> FakeChatGPT:
        return FakeChatGPT(fake_upstream)

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, chatgpt: FakeChatGPT) -> FakeUpstream:
        FakeCodex(fake_upstream, chatgpt)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, chatgpt: FakeChatGPT, tmp_path: Path) -> dict:
        auth_dir = tmp_path / "auth"
        sign_in(chatgpt, auth_dir)
        return {"auth-dir": str(auth_dir), "codex": codex_block(chatgpt)}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        error = {"type": ERROR_TYPES.get(status, "server_error"), "message": message}
        upstream.answer_all(Reply.json({"error": error}, status=status, headers=headers))
