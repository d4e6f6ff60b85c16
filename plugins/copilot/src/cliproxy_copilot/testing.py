"""A fake GitHub + Copilot on one loopback server, for tests of this plugin and of
anything built on it.

The fake plays github.com (the device flow), api.github.com (``/user``, the token
exchange, the quota) and the Copilot API, served under ``/enterprise`` -- the
``endpoints.api`` its token exchange names, so a request reaching it proves the plugin
used the exchange's host. Copilot tokens expire; the API refuses expired and unknown
ones with a plain-text 401 (Copilot's errors are not always JSON). Each model is served
only at the endpoints its ``supported_endpoints`` lists; other endpoints answer
``unsupported_api_for_model``. Answers are the recorded streams and bodies in the
repository's ``recordings/`` (the ``recording`` fixture finds them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, wire_answer

__all__ = [
    "API",
    "CLAUDE",
    "CODEX",
    "ENDPOINT_WIRES",
    "GITHUB_TOKEN",
    "GPT",
    "USER",
    "VSCODE_CLIENT",
    "FakeCopilot",
    "next_month",
    "usage",
]

GITHUB_TOKEN = "ghu_fakeGitHubToken0123456789abcdef"
USER = "octocat"
VSCODE_CLIENT = "Iv1.b507a08c87ecfe98"
API = "/enterprise"

CLAUDE = "claude-sonnet-4.5"
CODEX = "gpt-5.3-codex"
GPT = "gpt-4.1"

MODELS: list[dict[str, Any]] = [
    {
        "id": CLAUDE,
        "name": "Claude Sonnet 4.5",
        "object": "model",
        "vendor": "Anthropic",
        "version": CLAUDE,
        "model_picker_enabled": True,
        "capabilities": {"family": CLAUDE, "type": "chat", "supports": {"tool_calls": True, "vision": True}},
        "supported_endpoints": ["/chat/completions", "/v1/messages"],
        "billing": {"is_premium": True, "multiplier": 1},
        "policy": {"state": "enabled"},
    },
    {
        "id": CODEX,
        "name": "GPT-5.3-Codex",
        "object": "model",
        "vendor": "OpenAI",
        "version": CODEX,
        "model_picker_enabled": True,
        "capabilities": {"family": CODEX, "type": "chat", "supports": {"tool_calls": True}},
        "supported_endpoints": ["/responses", "ws:/responses"],
        "billing": {"is_premium": True, "multiplier": 1},
        "policy": {"state": "enabled"},
    },
    {
        "id": GPT,
        "name": "GPT-4.1",
        "object": "model",
        "vendor": "Azure OpenAI",
        "version": "gpt-4.1-2025-04-14",
        "model_picker_enabled": True,
        "capabilities": {"family": GPT, "type": "chat", "supports": {"tool_calls": True, "vision": True}},
        "supported_endpoints": ["/chat/completions", "/responses"],
        "billing": {"is_premium": False, "multiplier": 0},
        "policy": {"state": "enabled"},
    },
    {
        "id": "text-embedding-3-small",
        "object": "model",
        "vendor": "Azure OpenAI",
        "capabilities": {"family": "text-embedding-3-small", "type": "embeddings"},
    },
]


ENDPOINT_WIRES = {"/chat/completions": "openai-chat", "/responses": "openai-responses", "/v1/messages": "anthropic"}
"""The Copilot API's model endpoints, and the wire each speaks."""


def next_month() -> dt.datetime:
    today = dt.datetime.now(dt.UTC)
    return dt.datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=dt.UTC)


def usage(premium_remaining: float = 120, *, chat_unlimited: bool = True, overage: bool = False) -> dict[str, Any]:
    """A ``copilot_internal/user`` answer (a Copilot Pro account by default)."""
    reset = next_month()

    def snapshot(name: str, entitlement: float, remaining: float, unlimited: bool) -> dict[str, Any]:
        return {
            "entitlement": entitlement,
            "overage_count": 0,
            "overage_permitted": overage,
            "percent_remaining": 100.0 * remaining / entitlement if entitlement else 100.0,
            "quota_id": name,
            "quota_remaining": remaining,
            "remaining": remaining,
            "unlimited": unlimited,
        }

    return {
        "access_type_sku": "plus_monthly_subscriber_quota",
        "analytics_tracking_id": "x",
        "assigned_date": "2025-01-01T00:00:00Z",
        "can_signup_for_limited": False,
        "chat_enabled": True,
        "copilot_plan": "individual_pro",
        "organization_login_list": [],
        "quota_reset_date": reset.strftime("%Y-%m-%d"),
        "quota_reset_date_utc": reset.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "quota_snapshots": {
            "chat": snapshot("chat", 0 if chat_unlimited else 50, 0 if chat_unlimited else 50, chat_unlimited),
            "completions": snapshot("completions", 0, 0, True),
            "premium_interactions": snapshot("premium_interactions", 300, premium_remaining, False),
        },
    }


def rotated(lines: list[bytes]) -> list[dict[str, Any]]:
    """Responses events with every item id and response id renamed per event, as
    Copilot's Responses API sends them."""
    counter = itertools.count(1)
    events = []
    for line in lines:
        event = orjson.loads(line)
        if isinstance(event.get("response"), dict):
            event["response"]["id"] = f"rotating-{next(counter)}"
            for item in event["response"].get("output") or ():
                item["id"] = f"rotating-{next(counter)}"
        if isinstance(event.get("item"), dict):
            event["item"]["id"] = f"rotating-{next(counter)}"
        if "item_id" in event:
            event["item_id"] = f"rotating-{next(counter)}"
        events.append(event)
    return events


def sse_payloads(path: Path) -> list[bytes]:
    """The ``data:`` payloads of a recorded ``.sse.txt`` stream."""
    return [line[5:].strip() for line in path.read_bytes().splitlines() if line.startswith(b"data:")]


class FakeCopilot:
    """See the module doc. Counters and knobs are plain attributes."""

    def __init__(self, server: FakeUpstream, recording: Callable[[str], Path]) -> None:
        self.server = server
        self.recording = recording
        self.github_tokens: dict[str, str] = {GITHUB_TOKEN: USER}
        self.unentitled: set[str] = set()
        self.copilot_tokens: dict[str, float] = {}
        self.client_ids = {VSCODE_CLIENT}
        self.models = [dict(m) for m in MODELS]
        self.usage = usage()
        self.token_ttl = 1800.0
        self.exchange_delay = 0.0
        self.exchanges = 0
        self.pending_polls = 1
        self.polls = 0
        self.device_codes: dict[str, str] = {}
        self.issue_token = GITHUB_TOKEN
        self._lock = threading.Lock()
        for method, path, handler in (
            ("POST", "/login/device/code", self.device_code),
            ("POST", "/login/oauth/access_token", self.poll),
            ("GET", "/user", self.user),
            ("GET", "/copilot_internal/v2/token", self.exchange),
            ("GET", "/copilot_internal/user", self.quota),
            ("GET", API + "/models", self.list_models),
            ("POST", API + "/chat/completions", self.chat),
            ("POST", API + "/responses", self.responses),
            ("POST", API + "/v1/messages", self.messages),
        ):
            server.add(method, path, handler)

    @property
    def url(self) -> str:
        return self.server.url

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return self.server.requests_to(path)

    def entry(self, **extra: Any) -> dict[str, Any]:
        """A ``copilot:`` entry whose GitHub is this fake."""
        return {"github-token": GITHUB_TOKEN, "github-api-url": self.url, **extra}

    def oauth_block(self, **extra: Any) -> dict[str, Any]:
        """A ``copilot-oauth:`` block signing in at this fake (no client id: the default)."""
        return {"github-url": self.url, "github-api-url": self.url, **extra}

    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path.startswith(API) and r.path != API + "/models"]

    def answer_plainly(self, text: str = "Hello from the fake Copilot.") -> None:
        """Answer every model, at every endpoint it is served at, with ``text`` in that
        endpoint's wire (after the same token and endpoint checks), instead of the
        recordings, which differ from endpoint to endpoint."""
        for endpoint, wire in ENDPOINT_WIRES.items():
            self.server.add("POST", API + endpoint, self._plain(endpoint, wire_answer(wire, text)))

    def _plain(self, endpoint: str, answer: Callable[[RecordedRequest], Reply]) -> Callable[[RecordedRequest], Reply]:
        def handler(request: RecordedRequest) -> Reply:
            refused = self._refused(request)
            if refused is not None:
                return refused
            _, wrong = self._model(request, endpoint)
            return wrong or answer(request)

        return handler

    # -- github.com: the device flow ---------------------------------------------------------

    def device_code(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("client_id") not in self.client_ids:
            return Reply.json({"error": "invalid_client", "error_description": "unknown client"}, status=400)
        code = f"dc-{len(self.device_codes) + 1}"
        self.device_codes[code] = form["client_id"]
        return Reply.json(
            {
                "device_code": code,
                "user_code": "WDJB-MJHT",
                "verification_uri": self.url + "/login/device",
                "expires_in": 900,
                "interval": 0,
            }
        )

    def poll(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
            return Reply.json({"error": "unsupported_grant_type"})
        if self.device_codes.get(form.get("device_code", "")) != form.get("client_id"):
            return Reply.json({"error": "incorrect_device_code", "error_description": "bad code"})
        self.polls += 1
        if self.polls <= self.pending_polls:
            return Reply.json({"error": "authorization_pending", "error_description": "pending"})
        return Reply.json({"access_token": self.issue_token, "token_type": "bearer", "scope": "read:user"})

    # -- api.github.com ----------------------------------------------------------------------

    def _github_user(self, request: RecordedRequest) -> str | None:
        auth = request.headers.get("authorization", "")
        return self.github_tokens.get(auth[len("token ") :]) if auth.startswith("token ") else None

    def user(self, request: RecordedRequest) -> Reply:
        login = self._github_user(request)
        if login is None:
            return Reply.json({"message": "Bad credentials", "status": "401"}, status=401)
        return Reply.json({"login": login, "id": 1})

    def exchange(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.exchanges += 1
            number = self.exchanges
        token = request.headers.get("authorization", "")[len("token ") :]
        if token in self.unentitled:
            return Reply.json(
                orjson.loads(self.recording("copilot/CONSTRUCTED-copilot-token-error-403.json").read_bytes()), 403
            )
        if self._github_user(request) is None:
            return Reply.json(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"},
                status=401,
            )
        copilot = f"tid=fake{number};exp={int(time.time() + self.token_ttl)};sku=copilot_enterprise:mac{number}"
        expires_at = time.time() + self.token_ttl
        self.copilot_tokens[copilot] = expires_at
        answer = orjson.loads(self.recording("copilot/CONSTRUCTED-copilot-token-response.json").read_bytes())
        answer.pop("_comment")
        answer.update(
            token=copilot,
            expires_at=int(expires_at),
            refresh_in=int(self.token_ttl - 300),
            endpoints={**answer["endpoints"], "api": self.url + API},
        )
        return Reply.json(answer, delay=self.exchange_delay)

    def quota(self, request: RecordedRequest) -> Reply:
        if self._github_user(request) is None:
            return Reply.json({"message": "Bad credentials"}, status=401)
        return Reply.json(self.usage)

    # -- the Copilot API -------------------------------------------------------------------------

    def _refused(self, request: RecordedRequest) -> Reply | None:
        auth = request.headers.get("authorization", "")
        expires = self.copilot_tokens.get(auth[len("Bearer ") :]) if auth.startswith("Bearer ") else None
        if expires is None or expires <= time.time():
            return Reply(status=401, body=b"unauthorized: token expired\n", content_type="text/plain")
        return None

    def _model(self, request: RecordedRequest, endpoint: str) -> tuple[dict[str, Any], Reply | None]:
        body = request.json
        entry = next((m for m in self.models if m["id"] == body.get("model")), None)
        if entry is None:
            return body, Reply.json(
                {
                    "error": {
                        "message": "The requested model is not supported.",
                        "code": "model_not_supported",
                        "param": "model",
                        "type": "invalid_request_error",
                    }
                },
                status=400,
            )
        if endpoint not in entry.get("supported_endpoints", ["/chat/completions"]):
            message = f'model "{entry["id"]}" is not accessible via the {endpoint} endpoint'
            return body, Reply.json({"error": {"message": message, "code": "unsupported_api_for_model"}}, status=400)
        return body, None

    def list_models(self, request: RecordedRequest) -> Reply:
        return self._refused(request) or Reply.json({"data": self.models, "object": "list"})

    def chat(self, request: RecordedRequest) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body, wrong = self._model(request, "/chat/completions")
        if wrong is not None:
            return wrong
        if "max_tokens" in body and body["model"].startswith(("gpt-5", "o")):
            message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
            return Reply.json({"error": {"message": message, "code": "invalid_request_body"}}, status=400)
        tools = bool(body.get("tools"))
        if body.get("stream"):
            name = (
                "aibridge-chat_single_builtin_tool.stream.sse.txt" if tools else "aibridge-chat_simple.stream.sse.txt"
            )
            return Reply.sse_file(self.recording(f"openai-chat/{name}"))
        name = "aibridge-chat_single_builtin_tool.nonstream.json" if tools else "aibridge-chat_simple.nonstream.json"
        return Reply.json(orjson.loads(self.recording(f"openai-chat/{name}").read_bytes()))

    def responses(self, request: RecordedRequest) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body, wrong = self._model(request, "/responses")
        if wrong is not None:
            return wrong
        tools = bool(body.get("tools"))
        if body.get("stream"):
            if tools:
                path = self.recording("openai-responses/aibridge-responses_streaming_builtin_tool.stream.sse.txt")
                return Reply.sse_events(rotated(sse_payloads(path)), named=True)
            lines = self.recording("copilot/vercel-github-copilot-responses-id-rotation.chunks.txt").read_bytes()
            return Reply.sse_events([orjson.loads(x) for x in lines.splitlines() if x.strip()], named=True)
        name = (
            "aibridge-responses_blocking_single_builtin_tool.nonstream.json"
            if tools
            else "aibridge-responses_blocking_simple.nonstream.json"
        )
        return Reply.json(orjson.loads(self.recording(f"openai-responses/{name}").read_bytes()))

    def messages(self, request: RecordedRequest) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body, wrong = self._model(request, "/v1/messages")
        if wrong is not None:
            return wrong
        tools = bool(body.get("tools"))
        if body.get("stream"):
            name = "anthropic-sdk-tool_use_response.sse.txt" if tools else "aibridge-anthropic_simple.stream.sse.txt"
            return Reply.sse_file(self.recording(f"anthropic/{name}"))
        name = (
            "aibridge-anthropic_single_builtin_tool.nonstream.json"
            if tools
            else "aibridge-anthropic_simple.nonstream.json"
        )
        return Reply.json(orjson.loads(self.recording(f"anthropic/{name}").read_bytes()))
