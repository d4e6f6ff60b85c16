"""Playing ChatGPT's sign-in service and the Codex backend in tests, on one loopback
:class:`~cliproxy.testing.FakeUpstream`:

* :class:`FakeChatGPT` -- authorize and token endpoints (PKCE checked, refresh tokens
  rotating, a spent one refused with ``refresh_token_reused``), the device flow;
* :class:`FakeCodex` -- ``/backend-api/codex/responses`` streaming Responses events with
  the ``x-codex-*`` rate-limit headers, strict where the real backend is known to be
  (``store`` false, ``stream`` true, ``instructions`` present, refused fields refused),
  scripted failures (usage limit, plan without the model, overload inside the stream, an
  incomplete final event), the models, usage and compact endpoints.

::

    with FakeUpstream() as server:
        chatgpt = FakeChatGPT(server)
        backend = FakeCodex(server, chatgpt)
        sign_in(chatgpt, auth_dir)           # a token file, as cliproxy login writes it
        config = {"auth-dir": str(auth_dir), "codex": codex_block(chatgpt)}
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cliproxy import write_token_file
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply

from cliproxy_codex.settings import CODEX_CLIENT_ID

KEY = "client-key"
BACKEND = "/backend-api/codex"
RESPONSES = BACKEND + "/responses"
COMPACT = BACKEND + "/responses/compact"
MODELS = BACKEND + "/models"
USAGE = "/backend-api/wham/usage"
AUTH_CLAIM = "https://api.openai.com/auth"
REFUSED = ("max_output_tokens", "temperature", "top_p", "metadata", "previous_response_id", "seed")
PLAN_MODELS = {
    "plus": [
        {"slug": "gpt-5.5", "visibility": "list", "minimal_client_version": [0, 150, 0], "supported_in_api": True},
        {"slug": "gpt-5.4-mini", "visibility": "list", "minimal_client_version": "0.100.0"},
        {"slug": "codex-auto-review", "visibility": "hide"},
        {"slug": "gpt-retired", "visibility": "none"},
        {"slug": "gpt-from-the-future", "visibility": "list", "minimal_client_version": [9, 0, 0]},
    ],
    "free": [{"slug": "gpt-5.4-mini", "visibility": "list"}],
}


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeChatGPT:
    """ChatGPT's sign-in service: authorize, token (code exchange and rotating refresh),
    the device flow. Everything it issued is remembered to check what comes back."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.accounts = {
            "acct-plus-0001": {"email": "plus@example.com", "plan": "plus"},
            "acct-free-0002": {"email": "free@example.com", "plan": "free"},
        }
        self.signing_in = "acct-plus-0001"
        self.client_ids = {CODEX_CLIENT_ID}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> account
        self.spent: set[str] = set()
        self.access: dict[str, str] = {}  # live access token -> account
        self.issued = 0
        self.refreshes: list[dict[str, Any]] = []
        self.access_lifetime = 10 * 86400
        self.refresh_delay = 0.0
        self.device_polls = 0
        self.pending_polls = 2
        self._lock = threading.Lock()
        server.add("GET", "/oauth/authorize", self.authorize)
        server.add("POST", "/oauth/token", self.token)
        server.add("POST", "/api/accounts/deviceauth/usercode", self.usercode)
        server.add("POST", "/api/accounts/deviceauth/token", self.device_token)

    @property
    def url(self) -> str:
        return self.server.url

    def issue(self, account: str) -> dict[str, Any]:
        with self._lock:
            self.issued += 1
            n = self.issued
        info = self.accounts[account]
        auth = {"chatgpt_account_id": account, "chatgpt_plan_type": info["plan"], "chatgpt_user_id": "user-1"}
        access = jwt({"exp": int(time.time()) + self.access_lifetime, AUTH_CLAIM: auth, "n": n})
        refresh = f"rt-{n}"
        self.access[access] = account
        self.refresh_tokens[refresh] = account
        return {
            "id_token": jwt({"email": info["email"], AUTH_CLAIM: auth}),
            "access_token": access,
            "refresh_token": refresh,
        }

    def authorize(self, request: RecordedRequest) -> Reply:
        q = request.query
        assert q["response_type"] == "code" and q["code_challenge_method"] == "S256"
        assert "offline_access" in q["scope"] and q["codex_cli_simplified_flow"] == "true"
        assert urlsplit(q["redirect_uri"]).path == "/auth/callback"
        code = f"code-{len(self.codes)}"
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "client_id": q["client_id"],
            "redirect_uri": q["redirect_uri"],
            "account": self.signing_in,
        }
        return Reply(
            status=302, headers={"Location": q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})}
        )

    def token(self, request: RecordedRequest) -> Reply:
        if request.headers.get("content-type", "").startswith("application/json"):
            return self._refresh(request.json)
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "authorization_code":
            return Reply.json({"error": "unsupported_grant_type"}, status=400)
        grant = self.codes.pop(form.get("code", ""), None)
        if (
            grant is None
            or grant["challenge"] != challenge_of(form.get("code_verifier", ""))
            or grant["client_id"] != form.get("client_id")
            or grant["redirect_uri"] != form.get("redirect_uri")
            or form.get("client_id") not in self.client_ids
        ):
            return Reply.json({"error": "invalid_grant", "error_description": "bad authorization code"}, status=400)
        return Reply.json(self.issue(grant["account"]))

    def _refresh(self, body: dict[str, Any]) -> Reply:
        self.refreshes.append(body)
        offered = str(body.get("refresh_token") or "")
        with self._lock:
            if body.get("grant_type") != "refresh_token" or body.get("client_id") not in self.client_ids:
                return Reply.json({"error": {"code": "invalid_client", "message": "unknown client"}}, status=400)
            if offered in self.spent:
                return Reply.json(
                    {"error": {"message": "Your refresh token has already been used", "code": "refresh_token_reused"}},
                    status=401,
                )
            account = self.refresh_tokens.pop(offered, None)
            if account is None:
                return Reply.json(
                    {"error": {"message": "Refresh token expired", "code": "refresh_token_expired"}}, status=400
                )
            self.spent.add(offered)
        answer = self.issue(account)
        del answer["id_token"]  # a refresh may leave the id token out
        return Reply.json(answer, delay=self.refresh_delay)

    def usercode(self, request: RecordedRequest) -> Reply:
        if request.json.get("client_id") not in self.client_ids:
            return Reply.json({"error": "invalid_client"}, status=400)
        self.device_polls = 0
        return Reply.json({"device_auth_id": "dev-1", "usercode": "ABCD-1234", "interval": "0.05"})

    def device_token(self, request: RecordedRequest) -> Reply:
        body = request.json
        assert body == {"device_auth_id": "dev-1", "user_code": "ABCD-1234"}
        self.device_polls += 1
        if self.device_polls <= self.pending_polls:  # the user has not confirmed yet
            return Reply.json({"error": {"message": "pending"}}, status=403 if self.device_polls % 2 else 404)
        verifier = "device-verifier-" + "x" * 40
        self.codes["device-code"] = {
            "challenge": challenge_of(verifier),
            "client_id": CODEX_CLIENT_ID,
            "redirect_uri": self.url + "/deviceauth/callback",
            "account": self.signing_in,
        }
        return Reply.json(
            {"authorization_code": "device-code", "code_challenge": challenge_of(verifier), "code_verifier": verifier}
        )


# -- the backend --------------------------------------------------------------------------------


def sse(events: list[dict[str, Any]]) -> list[bytes]:
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


def last_user_text(body: dict[str, Any]) -> str:
    for item in reversed(body.get("input") or []):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class FakeCodex:
    """The Codex backend. ``script`` holds what the next ``/responses`` calls answer
    (``text``, ``tool``, ``incomplete``, ``usage_limit``, ``not_included``,
    ``overloaded``, ``reject``); ``text`` once it is empty."""

    def __init__(self, server: FakeUpstream, auth: FakeChatGPT) -> None:
        self.server = server
        self.auth = auth
        self.script: list[str] = []
        self.used = {"primary": 83.0, "secondary": 40.0}
        self.exhausted: set[str] = set()  # accounts whose 5-hour window a usage limit used up
        self.resets_in = 4200
        self.bodies: list[dict[str, Any]] = []
        server.add("POST", RESPONSES, self.responses)
        server.add("POST", COMPACT, self.compact)
        server.add("GET", MODELS, self.models)
        server.add("GET", USAGE, self.usage)

    @property
    def base_url(self) -> str:
        return self.server.url + BACKEND

    def primary(self, account: str) -> float:
        return 100.0 if account in self.exhausted else self.used["primary"]

    def limit_headers(self, account: str) -> dict[str, str]:
        now = int(time.time())
        return {
            "x-codex-primary-used-percent": str(self.primary(account)),
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": str(now + self.resets_in),
            "x-codex-secondary-used-percent": str(self.used["secondary"]),
            "x-codex-secondary-window-minutes": "10080",
            "x-codex-secondary-reset-after-seconds": "302400",
            "x-codex-plan-type": "plus",
            "x-codex-active-limit": "codex",
            "x-codex-credits-has-credits": "False",
        }

    def _account(self, request: RecordedRequest) -> str | Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        account = self.auth.access.get(token)
        if account is None:
            return Reply.json(
                {"error": {"message": "Your authentication token has expired.", "code": "token_expired"}}, status=401
            )
        if request.headers.get("chatgpt-account-id") != account:
            return Reply.json({"detail": "account mismatch"}, status=403)
        return account

    def responses(self, request: RecordedRequest) -> Reply:
        account = self._account(request)
        if isinstance(account, Reply):
            return account
        body = request.json
        self.bodies.append(body)
        for field in REFUSED:
            if field in body:
                return Reply.json({"detail": f"Unsupported parameter: {field}"}, status=400)
        if body.get("store") is not False:
            return Reply.json({"detail": "Store must be set to false"}, status=400)
        if body.get("stream") is not True:
            return Reply.json({"detail": "Stream must be set to true"}, status=400)
        if not isinstance(body.get("instructions"), str):
            return Reply.json({"detail": "Instructions are required"}, status=400)
        mode = self.script.pop(0) if self.script else "text"
        headers = self.limit_headers(account)
        plan = self.auth.accounts[account]["plan"]
        if mode == "usage_limit":
            self.exhausted.add(account)
            error = {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": plan,
                "resets_at": int(time.time()) + self.resets_in,
                "resets_in_seconds": self.resets_in,
            }
            return Reply.json({"error": error}, status=429, headers=self.limit_headers(account))
        if mode == "not_included":
            return Reply.json({"error": {"type": "usage_not_included", "plan_type": plan}}, status=429, headers=headers)
        rid = f"resp_{len(self.bodies)}"
        created = {
            "type": "response.created",
            "response": {
                "id": rid,
                "object": "response",
                "status": "in_progress",
                "model": body["model"],
                "output": [],
            },
        }
        if mode == "overloaded":
            failed = {
                "type": "response.failed",
                "response": {
                    "id": rid,
                    "status": "failed",
                    "error": {
                        "code": "server_is_overloaded",
                        "message": "Our servers are currently overloaded. Please try again later.",
                    },
                },
            }
            return Reply.sse(sse([created, failed]), headers=headers)
        items = self._items(mode, body)
        events: list[dict[str, Any]] = [created, {"type": "response.in_progress", "response": created["response"]}]
        for index, item in enumerate(items):
            events.extend(self._item_events(index, item))
        usage = {
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 100},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 12},
            "total_tokens": 150,
        }
        final = {
            "id": rid,
            "object": "response",
            "status": "completed",
            "model": body["model"],
            "output": [] if mode == "incomplete" else items,
            "usage": usage,
        }
        events.append({"type": "response.completed", "response": final})
        return Reply.sse(sse(events), headers=headers)

    def _items(self, mode: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        n = len(self.bodies)
        reasoning = {
            "id": f"rs_{n}",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Thinking it over."}],
            "encrypted_content": f"enc-reasoning-{n}",
        }
        if mode == "tool":
            tool = body["tools"][0]
            name = tool.get("name") or tool.get("function", {}).get("name")
            call = {
                "id": f"fc_{n}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_{n}",
                "name": name,
                "arguments": json.dumps({"city": "Paris"}),
            }
            return [reasoning, call]
        text = f"You said: {last_user_text(body)}"
        message = {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        return [reasoning, message]

    def _item_events(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        base = {"output_index": index, "item_id": item["id"]}
        added = {**item, "status": "in_progress"}  # as the real stream opens an item: nothing in it yet
        for key, empty in (("content", []), ("summary", []), ("arguments", "")):
            if key in added:
                added[key] = empty
        out: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": added}]
        if item["type"] == "reasoning":
            text = item["summary"][0]["text"]
            out.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **base,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            out.append({"type": "response.reasoning_summary_text.delta", **base, "summary_index": 0, "delta": text})
            out.append({"type": "response.reasoning_summary_text.done", **base, "summary_index": 0, "text": text})
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            out.append(
                {
                    "type": "response.content_part.added",
                    **base,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": ""},
                }
            )
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                out.append({"type": "response.output_text.delta", **base, "content_index": 0, "delta": piece})
            out.append({"type": "response.output_text.done", **base, "content_index": 0, "text": text})
            out.append({"type": "response.content_part.done", **base, "content_index": 0, "part": item["content"][0]})
        elif item["type"] == "function_call":
            out.append({"type": "response.function_call_arguments.delta", **base, "delta": item["arguments"]})
            out.append({"type": "response.function_call_arguments.done", **base, "arguments": item["arguments"]})
        out.append({"type": "response.output_item.done", "output_index": index, "item": item})
        return out

    def compact(self, request: RecordedRequest) -> Reply:
        account = self._account(request)
        if isinstance(account, Reply):
            return account
        body = request.json
        self.bodies.append(body)
        if not isinstance(body.get("instructions"), str) or "stream" in body or "store" in body:
            return Reply.json({"detail": "bad compact request"}, status=400)
        kept = [item for item in body["input"] if item.get("role") == "user"]
        output = [*kept, {"type": "compaction", "id": "cmp_1", "encrypted_content": "enc-compacted"}]
        return Reply.json(
            {
                "id": "resp_compact",
                "object": "response.compaction",
                "created_at": 1,
                "output": output,
                "usage": {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60},
            },
            headers=self.limit_headers(account),
        )

    def models(self, request: RecordedRequest) -> Reply:
        account = self._account(request)
        if isinstance(account, Reply):
            return account
        assert request.query.get("client_version")
        return Reply.json({"models": PLAN_MODELS[self.auth.accounts[account]["plan"]]})

    def usage(self, request: RecordedRequest) -> Reply:
        account = self._account(request)
        if isinstance(account, Reply):
            return account
        now = int(time.time())
        return Reply.json(
            {
                "plan_type": self.auth.accounts[account]["plan"],
                "rate_limit": {
                    "primary_window": {
                        "used_percent": self.primary(account),
                        "limit_window_seconds": 18000,
                        "reset_at": now + self.resets_in,
                    },
                    "secondary_window": {
                        "used_percent": self.used["secondary"],
                        "limit_window_seconds": 604800,
                        "reset_after_seconds": 302400,
                    },
                },
                "credits": {"has_credits": True, "unlimited": False, "balance": 5.39},
            }
        )


def codex_block(chatgpt: FakeChatGPT, **extra: Any) -> dict[str, Any]:
    return {"issuer": chatgpt.url, "base-url": chatgpt.url + BACKEND, **extra}


def sign_in(chatgpt: FakeChatGPT, auth_dir: Path, account: str = "acct-plus-0001", **overrides: Any) -> Path:
    """A token file as ``cliproxy login codex`` writes it, for ``account``."""
    issued = chatgpt.issue(account)
    info = chatgpt.accounts[account]
    content = {
        "type": "codex",
        "id_token": issued["id_token"],
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "account_id": account,
        "email": info["email"],
        "plan_type": info["plan"],
        "client_id": CODEX_CLIENT_ID,
        **overrides,
    }
    path = auth_dir / f"codex-{info['email']}-{account[:8]}.json"
    write_token_file(path, content)
    return path
