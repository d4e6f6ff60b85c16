"""A fake Roo Code Cloud on loopback -- the CLI sign-in page, the proxy's chat and models
endpoints -- and gateways in front of it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import cliproxy_roo
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app

CHAT = "/proxy/v1/chat/completions"
MODELS = "/proxy/v1/models"
TOOL_STREAM = "openai-chat/openai-sdk-stream-single-tool-call.sse.txt"
TOOL_WHOLE = "openai-chat/openai-sdk-nonstream-single-tool-call-strict.json"
TEXT_WHOLE = "openai-chat/aibridge-chat_simple.nonstream.json"
TEXT_STREAM = "openai-chat/aibridge-chat_simple.stream.sse.txt"


def jwt(*, expires_in: float, user: str = "user_2abc", org: str | None = None) -> str:
    """A Roo Code Cloud session token: a JWT with Roo's claims (unsigned here)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": "rcc", "sub": user, "iat": now, "nbf": now, "exp": now + int(expires_in), "v": 1}
    claims["r"] = {"u": user, "o": org, "t": "cli"}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


MODEL_LIST = {
    "object": "list",
    "data": [
        {
            "id": "xai/grok-code-fast-1",
            "object": "model",
            "type": "language",
            "tags": ["free"],
            "context_window": 262144,
        },
        {"id": "anthropic/claude-opus-4.6", "object": "model", "type": "language", "tags": ["vision", "reasoning"]},
        {"id": "anthropic/claude-3.5-sonnet", "object": "model", "type": "language", "deprecated": True},
        {"id": "google/gemini-2.5-flash-image", "object": "model", "type": "image"},
    ],
}


class FakeRoo:
    """Roo Code Cloud as its CLI sees it: ``tokens`` are accepted by the proxy; the sign-in
    page signs in as ``signed_in`` (a token) or refuses with ``refusal``."""

    def __init__(self, server: FakeUpstream, recording: Callable[[str], Path]) -> None:
        self.server = server
        self.recording = recording
        self.token = jwt(expires_in=30 * 86400)
        self.tokens = {self.token}
        self.signed_in = self.token
        self.refusal: str | None = None
        server.add("GET", "/cli/sign-in", self.sign_in)
        server.add("POST", CHAT, self.checked(self.chat))
        server.add("GET", MODELS, lambda request: Reply.json(MODEL_LIST))

    @property
    def url(self) -> str:
        return self.server.url

    def sign_in(self, request: RecordedRequest) -> Reply:
        query = request.query
        answer = {"error": self.refusal} if self.refusal else {"token": self.signed_in, "state": query["state"]}
        return Reply(status=302, headers={"Location": f"{query['callback']}?{urlencode(answer)}"})

    def checked(self, answer: Callable[[RecordedRequest], Reply]) -> Callable[[RecordedRequest], Reply]:
        def check(request: RecordedRequest) -> Reply:
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
                return Reply.json({"error": {"message": "Unauthorized", "type": "authentication_error"}}, status=401)
            return answer(request)

        return check

    def chat(self, request: RecordedRequest) -> Reply:
        body = request.json
        tools = bool(body.get("tools"))
        if body.get("stream"):
            return Reply.sse_file(self.recording(TOOL_STREAM if tools else TEXT_STREAM))
        return Reply.json(json.loads(self.recording(TOOL_WHOLE if tools else TEXT_WHOLE).read_text()))


@pytest.fixture
def roo(upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeRoo:
    return FakeRoo(upstream, recording)


@pytest.fixture
def roo_app(roo: FakeRoo) -> Callable[..., Any]:
    """``roo_app(entries=None, **config)``: a gateway with only this plugin; by default one
    ``roo:`` entry with the fake's token and prefix ``roo``."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        block = (
            entries if entries is not None else [{"token": roo.token, "base-url": roo.url + "/proxy", "prefix": "roo"}]
        )
        full: dict[str, Any] = {"api-keys": ["client-key"], "roo": block, **config}
        if not block:
            del full["roo"]
        return gateway_app(full, plugins=[cliproxy_roo])

    return make


@pytest.fixture
def make_jwt() -> Callable[..., str]:
    return jwt
