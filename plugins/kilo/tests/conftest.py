"""A fake Kilo on loopback (device sign-in, profile, models, defaults, balance, the chat
gateway and the Responses endpoint) and gateways in front of it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cliproxy_kilo
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app

CHAT = "/api/gateway/chat/completions"
RESPONSES = "/api/openrouter/responses"
TOOL_STREAM = "openai-chat/openai-sdk-stream-single-tool-call.sse.txt"
TOOL_WHOLE = "openai-chat/openai-sdk-nonstream-single-tool-call-strict.json"
TEXT_WHOLE = "openai-chat/aibridge-chat_simple.nonstream.json"
TEXT_STREAM = "openai-chat/aibridge-chat_simple.stream.sse.txt"
RESPONSES_STREAM = "openai-responses/aibridge-responses_streaming_simple.stream.sse.txt"
RESPONSES_WHOLE = "openai-responses/aibridge-responses_blocking_simple.nonstream.json"


def jwt(**claims: Any) -> str:
    """An unsigned JWT with ``claims`` (Kilo tokens are JWTs; the plugin reads ``exp``)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


TOKEN = jwt(sub="user-1", exp=int(time.time()) + 365 * 86400, env="production")

MODELS = {
    "data": [
        {"id": "anthropic/claude-sonnet-4.5", "architecture": {"output_modalities": ["text"]}},
        {"id": "openai/gpt-5.1", "opencode": {"ai_sdk_provider": "openai"}},
        {"id": "openai/chatgpt-4o-latest", "opencode": {"ai_sdk_provider": "openai"}},
        {"id": "x-ai/grok-code-fast-1:free", "pricing": {"prompt": "0", "completion": "0"}},
        {"id": "google/gemini-2.5-flash-image", "architecture": {"output_modalities": ["image", "text"]}},
        {"id": "black-forest-labs/flux", "architecture": {"output_modalities": ["image"]}},
    ]
}
ORG_MODELS = {"data": [{"id": "anthropic/claude-opus-4.5"}, {"id": "openai/o4-mini"}]}


class FakeKilo:
    """Kilo's API as its clients see it, checking the bearer token and recording what
    arrives. ``balance``, ``polls`` and the replies can be changed per test."""

    def __init__(self, server: FakeUpstream, recording: Callable[[str], Path]) -> None:
        self.server = server
        self.recording = recording
        self.token = TOKEN
        self.balance: float = 12.5
        self.code = "KILO-1234"
        self.polls: list[Reply] = [Reply(status=202), Reply(status=202), self.approved()]
        self.organizations = [{"id": "org-acme", "name": "Acme", "role": "member"}]
        server.add("POST", "/api/device-auth/codes", self.start)
        server.add("GET", f"/api/device-auth/codes/{self.code}", self.poll)
        server.add("GET", "/api/profile", self.profile)
        server.add("GET", "/api/profile/balance", self.account(lambda r: Reply.json({"balance": self.balance})))
        server.add("GET", "/api/gateway/models", self.account(lambda r: Reply.json(MODELS)))
        server.add("GET", "/api/organizations/org-acme/models", self.account(lambda r: Reply.json(ORG_MODELS)))
        server.add(
            "GET", "/api/defaults", self.account(lambda r: Reply.json({"defaultModel": "anthropic/claude-sonnet-4.5"}))
        )
        server.add(
            "GET",
            "/api/organizations/org-acme/defaults",
            self.account(lambda r: Reply.json({"defaultModel": "anthropic/claude-opus-4.5"})),
        )
        server.add("POST", CHAT, self.account(self.chat))
        server.add("POST", RESPONSES, self.account(self.responses))

    @property
    def url(self) -> str:
        return self.server.url

    def approved(self) -> Reply:
        return Reply.json({"status": "approved", "token": self.token, "userEmail": "dev@example.com"})

    def account(self, answer: Callable[[RecordedRequest], Reply]) -> Callable[[RecordedRequest], Reply]:
        def checked(request: RecordedRequest) -> Reply:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Reply.json({"error": {"message": "Invalid token", "code": 401}}, status=401)
            return answer(request)

        return checked

    def start(self, request: RecordedRequest) -> Reply:
        return Reply.json(
            {"code": self.code, "verificationUrl": f"{self.url}/device-auth?code={self.code}", "expiresIn": 600}
        )

    def poll(self, request: RecordedRequest) -> Reply:
        return self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]

    def profile(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json({"error": "unauthorized"}, status=401)
        return Reply.json({"user": {"email": "dev@example.com", "name": "Dev"}, "organizations": self.organizations})

    def chat(self, request: RecordedRequest) -> Reply:
        body = request.json
        model = body.get("model", "")
        if (
            "gpt-5" in model
            or model.rsplit("/", 1)[-1].startswith(("o1", "o3", "o4"))
            or model == "openai/chatgpt-4o-latest"
        ):
            return Reply.json(
                {
                    "error": {
                        "message": f"Model {model} is not supported on this endpoint, please use any of: responses"
                    }
                },
                status=400,
            )
        if self.balance <= 0:
            return Reply.json(
                {"error": {"message": "Insufficient balance: add credits to continue", "code": 402}}, status=402
            )
        tools = bool(body.get("tools"))
        if body.get("stream"):
            return Reply.sse_file(self.recording(TOOL_STREAM if tools else TEXT_STREAM))
        return Reply.json(json.loads(self.recording(TOOL_WHOLE if tools else TEXT_WHOLE).read_text()))

    def responses(self, request: RecordedRequest) -> Reply:
        if request.json.get("stream"):
            return Reply.sse_file(self.recording(RESPONSES_STREAM))
        return Reply.json(json.loads(self.recording(RESPONSES_WHOLE).read_text()))


@pytest.fixture
def kilo(upstream: FakeUpstream, recording: Callable[[str], Path]) -> FakeKilo:
    return FakeKilo(upstream, recording)


@pytest.fixture
def kilo_app(kilo: FakeKilo) -> Callable[..., Any]:
    """``kilo_app(entries=None, **config)``: a gateway with only this plugin; by default
    one ``kilo:`` entry with the fake's token."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        block = entries if entries is not None else [{"api-key": kilo.token, "base-url": kilo.url, "prefix": "kilo"}]
        full: dict[str, Any] = {"api-keys": ["client-key"], "kilo": block, **config}
        if not block:
            del full["kilo"]
        return gateway_app(full, plugins=[cliproxy_kilo])

    return make


def wait_for_model(url: str, model: str, timeout: float = 10.0) -> list[str]:
    """The gateway's model ids once ``model`` is among them (discovery runs in the
    background after start-up)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        ids = [
            m["id"]
            for m in httpx.get(url + "/v1/models", headers={"authorization": "Bearer client-key"}).json()["data"]
        ]
        if model in ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


@pytest.fixture
def models_of() -> Callable[..., list[str]]:
    return wait_for_model


@pytest.fixture
def make_jwt() -> Callable[..., str]:
    return jwt
