"""An upstream that quotes the secrets it was sent -- or any the gateway holds -- in its
error text never gets them to the client, the log, ``/v0/status`` or ``/metrics``: every
provider's errors pass through the same redaction, and OAuth tokens (old and refreshed)
and token-endpoint errors are covered too."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import httpx
import pytest
from cliproxy import write_token_file
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app

CLIENT_KEY = "client-key-alpha-7f3e9b21"
OTHER_CLIENT_KEY = "client-key-bravo-0c44d1aa"
MANAGEMENT_SECRET = "mgmt-secret-5d2c8e7f11"
OPENAI_KEY = "sk-live/Abc+Def=0123456789zz"  # '/', '+' and '=' change under URL encoding
CLAUDE_KEY = "sk-ant-api03-Zq1w2e3r4t5y6u7i8o9p"
GEMINI_KEY = "AIzaSyD-3x4mpl3K3y_9988776655"
ESCAPED = "<key with escaped slashes>"
SECRETS = (CLIENT_KEY, OTHER_CLIENT_KEY, MANAGEMENT_SECRET, OPENAI_KEY, CLAUDE_KEY, GEMINI_KEY)


def quoting(key: str) -> str:
    """Error text that repeats ``key`` -- and everything else secret -- as upstreams do."""
    return (
        f"Incorrect API key provided: {key}. You sent 'Authorization: Bearer {key}' to "
        f"/v1?key={quote(key, safe='')}; as JSON with escaped slashes: {ESCAPED}; "
        f"also seen: {CLIENT_KEY}, {OTHER_CLIENT_KEY}, {MANAGEMENT_SECRET}"
    )


def json_reply(body: dict[str, Any], status: int, key: str) -> Reply:
    """``body`` as JSON, where the ``ESCAPED`` mark becomes ``key`` with its slashes escaped."""
    escaped = json.dumps(key).replace("/", "\\/")[1:-1]  # what some JSON encoders write
    data = json.dumps(body).replace(ESCAPED, escaped).encode()
    return Reply(status=status, body=data)


def openai_error(status: int, key: str) -> Reply:
    kind = {401: "invalid_request_error", 400: "invalid_request_error", 429: "rate_limit_exceeded"}[status]
    return json_reply({"error": {"message": quoting(key), "type": kind, "code": key, "param": key}}, status, key)


def claude_error(status: int, key: str) -> Reply:
    kind = {401: "authentication_error", 400: "invalid_request_error", 429: "rate_limit_error"}[status]
    return json_reply({"type": "error", "error": {"type": kind, "message": quoting(key)}}, status, key)


def gemini_error(status: int, key: str) -> Reply:
    name = {401: "UNAUTHENTICATED", 400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}[status]
    return json_reply({"error": {"code": status, "message": quoting(key), "status": name}}, status, key)


def text_error(status: int, key: str) -> Reply:
    """Not JSON, with the key where the translators cut such text (500 bytes)."""
    return Reply(status=status, body=b"x" * 490 + key.encode() + b" was refused", content_type="text/plain")


PROVIDERS: dict[str, tuple[str, Callable[[int, str], Reply], dict[str, Any]]] = {
    "openai-compatibility": (
        "/v1/chat/completions",
        openai_error,
        {"openai-compatibility": [{"name": "compat", "api-key-entries": [{"api-key": OPENAI_KEY}]}]},
    ),
    "claude": ("/v1/messages", claude_error, {"claude-api-key": [{"api-key": CLAUDE_KEY}]}),
    "gemini": (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        gemini_error,
        {"gemini-api-key": [{"api-key": GEMINI_KEY}]},
    ),
}
KEYS = {"openai-compatibility": OPENAI_KEY, "claude": CLAUDE_KEY, "gemini": GEMINI_KEY}
MODELS = {"openai-compatibility": "gpt-4.1-nano", "claude": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}


def config(provider: str, upstream: FakeUpstream) -> dict[str, Any]:
    _, _, blocks = PROVIDERS[provider]
    (key, entries), *_ = blocks.items()
    entry = {
        **entries[0],
        "base-url": upstream.url + ("/v1" if provider == "openai-compatibility" else ""),
        "models": [MODELS[provider]],
    }
    return {
        "api-keys": [CLIENT_KEY, OTHER_CLIENT_KEY],
        "request-retry": 0,
        "remote-management": {"secret-key": MANAGEMENT_SECRET},
        "metrics": {"enabled": True},
        key: [entry],
    }


def leaks(text: str) -> list[str]:
    """The secrets (in any form the upstream used) found in ``text``."""
    found = []
    for secret in SECRETS:
        forms = {secret, quote(secret, safe=""), secret.replace("/", "\\/"), secret[:20]}
        found += [form for form in forms if form in text]
    return found


async def ask(client: httpx.AsyncClient, provider: str) -> httpx.Response:
    body = {"model": MODELS[provider], "messages": [{"role": "user", "content": "hi"}]}
    return await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {CLIENT_KEY}"})


async def exchange(app: Any, provider: str) -> tuple[httpx.Response, str, str]:
    """One request through the gateway; the answer, ``/v0/status`` and ``/metrics``."""
    async with asgi_client(app) as client:
        answer = await ask(client, provider)
        status = (await client.get("/v0/status")).text
        metrics = (await client.get("/metrics")).text
    return answer, status, metrics


@pytest.mark.parametrize("status", [401, 400, 429])
@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_an_upstream_quoting_secrets_leaks_none(provider, status, upstream, caplog):
    path, error, _ = PROVIDERS[provider]
    upstream.add("POST", path, error(status, KEYS[provider]))
    app = gateway_app(config(provider, upstream), plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with caplog.at_level(logging.DEBUG):
        answer, status_page, metrics = await exchange(app, provider)
    assert answer.status_code == status
    message = answer.json()["error"]["message"]
    assert "Incorrect API key provided: [redacted]" in message  # the rest of the text survives
    assert "Bearer [redacted]" in message
    assert upstream.requests_to(path)  # the upstream was asked (and quoted the key back)
    for where, text in (("answer", answer.text), ("log", caplog.text), ("status", status_page), ("metrics", metrics)):
        assert not leaks(text), f"{where} shows {leaks(text)}"
    if status != 400:  # (a 400 blames the request, not the credential: no last error then)
        assert "[redacted]" in status_page  # the last error is kept, redacted


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_a_secret_where_plain_text_is_cut_leaves_no_part_behind(provider, upstream, caplog):
    path, _, _ = PROVIDERS[provider]
    upstream.add("POST", path, text_error(401, KEYS[provider]))
    app = gateway_app(config(provider, upstream), plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with caplog.at_level(logging.DEBUG):
        answer, status_page, _ = await exchange(app, provider)
    assert answer.status_code == 401
    for text in (answer.text, caplog.text, status_page):
        assert not leaks(text)
        assert KEYS[provider][:10] not in text  # what the cut at 500 bytes would leave


# -- OAuth tokens --------------------------------------------------------------------------


def claude_oauth_config(upstream: FakeUpstream, auth_dir: Path) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY],
        "request-retry": 0,
        "auth-dir": str(auth_dir),
        "claude-oauth": {
            "client-id": "test-client-id",
            "authorize-url": upstream.url + "/oauth/authorize",
            "token-url": upstream.url + "/v1/oauth/token",
            "base-url": upstream.url,
            "models": ["claude-sonnet-4-5"],
        },
    }


def token_file(auth_dir: Path, access: str, refresh: str) -> None:
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
    write_token_file(
        auth_dir / "claude-me@example.com.json",
        {"type": "claude", "access_token": access, "refresh_token": refresh, "expiry": expiry, "email": "me@x.com"},
    )


def quote_bearer(request: RecordedRequest) -> Reply:
    """A 401 that quotes the bearer token it was sent."""
    token = request.headers["authorization"].removeprefix("Bearer ")
    return Reply.json(
        {"type": "error", "error": {"type": "authentication_error", "message": f"token {token} is revoked"}},
        status=401,
    )


async def test_old_and_refreshed_oauth_tokens_are_redacted(upstream, tmp_path, caplog):
    token_file(tmp_path, "at-old-1b2c3d4e5f6a7b8c", "rt-old-9f8e7d6c5b4a3f2e")
    upstream.add("POST", "/v1/messages", quote_bearer)
    fresh = {"access_token": "at-new-0a1b2c3d4e5f6a7b", "refresh_token": "rt-new-7c6b5a4f3e2d1c0b", "expires_in": 3600}
    upstream.add("POST", "/v1/oauth/token", Reply.json(fresh))
    app = gateway_app(claude_oauth_config(upstream, tmp_path), plugins=[cliproxy_claude])
    with caplog.at_level(logging.DEBUG):
        async with asgi_client(app) as client:
            answer = await ask(client, "claude")
            status_page = (await client.get("/v0/status")).text
    assert answer.status_code == 401
    assert [r.headers["authorization"] for r in upstream.requests_to("/v1/messages")] == [
        "Bearer at-old-1b2c3d4e5f6a7b8c",
        "Bearer at-new-0a1b2c3d4e5f6a7b",  # refreshed after the first 401, and quoted back too
    ]
    assert "token [redacted] is revoked" in answer.json()["error"]["message"]
    for text in (answer.text, caplog.text, status_page):
        for token in ("at-old-1b2c3d4e5f6a7b8c", "at-new-0a1b2c3d4e5f6a7b", "rt-old", "rt-new"):
            assert token not in text


async def test_a_token_endpoint_quoting_the_refresh_token_is_redacted(upstream, tmp_path, caplog):
    token_file(tmp_path, "at-old-1b2c3d4e5f6a7b8c", "rt-old-9f8e7d6c5b4a3f2e")
    upstream.add("POST", "/v1/messages", quote_bearer)
    refused = {"error": "invalid_grant", "error_description": "refresh token rt-old-9f8e7d6c5b4a3f2e was revoked"}
    upstream.add("POST", "/v1/oauth/token", Reply.json(refused, status=400))
    app = gateway_app(claude_oauth_config(upstream, tmp_path), plugins=[cliproxy_claude])
    with caplog.at_level(logging.DEBUG):
        async with asgi_client(app) as client:
            answer = await ask(client, "claude")
            status_page = (await client.get("/v0/status")).text
    assert answer.status_code == 401
    assert "could not be refreshed" in answer.text and "refresh token [redacted] was revoked" in caplog.text
    for text in (answer.text, caplog.text, status_page):
        assert "rt-old-9f8e7d6c5b4a3f2e" not in text and "at-old-1b2c3d4e5f6a7b8c" not in text


# -- model discovery -----------------------------------------------------------------------


async def test_a_model_list_error_quoting_the_key_is_logged_redacted(upstream, caplog):
    upstream.add("GET", "/v1/models", openai_error(401, OPENAI_KEY))
    cfg = config("openai-compatibility", upstream)
    del cfg["openai-compatibility"][0]["models"]  # discovered at start-up
    app = gateway_app(cfg, plugins=[cliproxy_openai])
    with caplog.at_level(logging.DEBUG):
        async with asgi_client(app) as client:
            from cliproxy.app import gateway_of

            await gateway_of(app).discover_models()
            await client.get("/healthz")
    assert "could not list" in caplog.text and "[redacted]" in caplog.text
    assert not leaks(caplog.text)
