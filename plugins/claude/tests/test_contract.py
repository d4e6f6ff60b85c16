"""cliproxy-claude passes the provider contract twice: with a ``claude-api-key`` entry, and
with a ``claude`` token file (OAuth) refreshed through a fake token endpoint. The fake
Anthropic answers with the recordings, and fails in Anthropic's own error shape."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import cliproxy_claude
import pytest
from cliproxy import write_token_file
from cliproxy.testing import FakeUpstream, ProviderContract, RecordedRequest, Reply

MESSAGES = "/v1/messages"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


def recorded_answers(recording) -> Callable[[RecordedRequest], Reply]:
    stream = recording("anthropic/aibridge-anthropic_simple.stream.sse.txt")
    whole = json.loads(recording("anthropic/aibridge-anthropic_simple.nonstream.json").read_text())

    def answer(request: RecordedRequest) -> Reply:
        return Reply.sse_file(stream) if request.json.get("stream") else Reply.json(whole)

    return answer


class TestClaudeAPIKeyContract(ProviderContract):
    plugins = [cliproxy_claude]
    model = "sonnet"

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, recording) -> FakeUpstream:
        fake_upstream.add("POST", MESSAGES, recorded_answers(recording))
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream) -> dict:
        entry = {
            "api-key": "sk-ant-contract-key-1",
            "base-url": upstream.url,
            "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
        }
        return {"claude-api-key": [entry]}

    def fail_upstream(self, upstream: FakeUpstream, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
        upstream.answer_all(Reply.json({"type": "error", "error": error}, status=status, headers=headers))


class TestClaudeOAuthContract(TestClaudeAPIKeyContract):
    """A token file in ``auth-dir``; the ``claude-oauth`` block points at the fake's token
    endpoint, which hands out a new access token on every refresh."""

    @pytest.fixture
    def upstream(self, fake_upstream: FakeUpstream, recording) -> FakeUpstream:
        issued = iter(range(2, 1000))

        def token(request: RecordedRequest) -> Reply:
            n = next(issued)
            return Reply.json(
                {"access_token": f"at-oauth-{n:04}", "refresh_token": f"rt-oauth-{n:04}", "expires_in": 28800}
            )

        fake_upstream.add("POST", MESSAGES, recorded_answers(recording))
        fake_upstream.add("POST", "/v1/oauth/token", token)
        return fake_upstream

    @pytest.fixture
    def config(self, upstream: FakeUpstream, tmp_path: Path) -> dict:
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
        content = {
            "type": "claude",
            "access_token": "at-oauth-0001",
            "refresh_token": "rt-oauth-0001",
            "expiry": expiry,
        }
        write_token_file(tmp_path / "claude-me@example.com.json", {**content, "email": "me@example.com"})
        block = {
            "client-id": "contract-client-id",
            "token-url": upstream.url + "/v1/oauth/token",
            "base-url": upstream.url,
            "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
        }
        return {"auth-dir": str(tmp_path), "claude-oauth": block}
