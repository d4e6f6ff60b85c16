"""Claude OAuth against a local fake OAuth server: login (paste and browser flows, the
default client, with no terminal), import of Claude Code's sign-in, token files, start-up
loading, refresh ahead of expiry and after a 401, failed refreshes."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anthropic
import cliproxy_claude
import httpx
import pytest
from cliproxy import GatewayError, LoginContext, write_token_file
from cliproxy.app import gateway_of
from cliproxy.cli import main as cli_main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    asgi_client,
    gateway_app,
    serve_app,
)
from cliproxy_claude.login import login
from cliproxy_claude.oauth import CLAUDE_CODE_CLIENT_ID

CLIENT_ID = "test-client-id"
MESSAGES = "/v1/messages"


class FakeOAuth:
    """Authorize and token endpoints, checking PKCE, rotating refresh tokens."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: set[str] = set()
        self.issued = 0
        self.refreshes = 0
        self.client_ids = {CLIENT_ID}
        server.add("GET", "/oauth/authorize", self.authorize)
        server.add("POST", "/v1/oauth/token", self.token)

    def authorize(self, request: RecordedRequest) -> Reply:
        q = request.query
        code = f"code-{len(self.codes)}"
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "client_id": q["client_id"],
            "redirect_uri": q["redirect_uri"],
        }
        assert q["response_type"] == "code" and q["code_challenge_method"] == "S256" and "user:inference" in q["scope"]
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return Reply(status=302, headers={"Location": location})

    def _issue(self, email: str = "me@example.com", expires_in: int = 8 * 3600) -> Reply:
        self.issued += 1
        refresh = f"rt-{self.issued}"
        self.refresh_tokens.add(refresh)
        return Reply.json(
            {
                "access_token": f"at-{self.issued}",
                "refresh_token": refresh,
                "expires_in": expires_in,
                "token_type": "Bearer",
                "account": {"uuid": "acc-1", "email_address": email},
                "organization": {"uuid": "org-1", "name": "Org"},
            }
        )

    def token(self, request: RecordedRequest) -> Reply:
        body = request.json
        if body["grant_type"] == "authorization_code":
            grant = self.codes.pop(body["code"], None)
            verifier_hash = (
                base64.urlsafe_b64encode(hashlib.sha256(body["code_verifier"].encode()).digest()).rstrip(b"=").decode()
            )
            if (
                grant is None
                or grant["challenge"] != verifier_hash
                or grant["client_id"] != body["client_id"]
                or grant["redirect_uri"] != body["redirect_uri"]
            ):
                return Reply.json({"error": "invalid_grant", "error_description": "bad code"}, status=400)
            return self._issue()
        if body["grant_type"] == "refresh_token":
            self.refreshes += 1
            if body["client_id"] not in self.client_ids or body["refresh_token"] not in self.refresh_tokens:
                return Reply.json(
                    {"error": "invalid_grant", "error_description": "Refresh token not found or invalid"}, status=400
                )
            self.refresh_tokens.discard(body["refresh_token"])  # rotating: spent once
            return self._issue()
        return Reply.json({"error": "unsupported_grant_type"}, status=400)


@pytest.fixture
def oauth():
    with FakeUpstream() as server:
        yield FakeOAuth(server)


def oauth_block(oauth: FakeOAuth, **extra: object) -> dict:
    return {
        "client-id": CLIENT_ID,
        "authorize-url": oauth.server.url + "/oauth/authorize",
        "token-url": oauth.server.url + "/v1/oauth/token",
        **extra,
    }


def context(oauth: FakeOAuth, auth_dir: Path, *, no_browser: bool, prompt=None, browser=None, **block: object):
    echoed: list[str] = []
    config = load_config({"auth-dir": str(auth_dir), "claude-oauth": oauth_block(oauth, **block)})
    ctx = LoginContext(
        config=config,
        auth_dir=str(auth_dir),
        no_browser=no_browser,
        echo=echoed.append,
        prompt=prompt or input,
        open_browser=browser,
    )
    return ctx, echoed


def sign_in(url: str) -> str:
    """What the user does in the browser: open the URL and end up at the redirect."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"]


def url_in(lines: list[str]) -> str:
    return re.search(r"(http://\S+/oauth/authorize\S+)", "\n".join(lines)).group(1)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- login ---------------------------------------------------------------------------------


async def test_paste_flow_end_to_end_writes_a_private_token_file(oauth, tmp_path):
    auth_dir = tmp_path / "auth"
    pasted: list[str] = []

    def prompt(question: str) -> str:
        pasted.append(sign_in(url_in(echoed)))
        return pasted[-1]

    ctx, echoed = context(oauth, auth_dir, no_browser=True, prompt=prompt)
    path = Path(await login(argparse.Namespace(), ctx))
    assert path == auth_dir / "claude-me@example.com.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["type"] == "claude" and data["email"] == "me@example.com" and data["client_id"] == CLIENT_ID
    assert (data["access_token"], data["refresh_token"]) == ("at-1", "rt-1")
    expiry = time.mktime(time.strptime(data["expiry"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expiry - (time.time() + 8 * 3600)) < 120
    query = parse_qs(urlsplit(url_in(echoed)).query)
    assert query["redirect_uri"] == ["http://localhost:54545/callback"] and query["client_id"] == [CLIENT_ID]
    assert pasted[0].startswith("http://localhost:54545/callback?code=")


async def test_browser_flow_catches_the_redirect_on_the_callback_port(oauth, tmp_path):
    port = free_port()
    visited: list[str] = []

    def browser(url: str) -> bool:
        def visit() -> None:
            visited.append(sign_in(url))
            httpx.get(visited[-1], follow_redirects=False)

        threading.Thread(target=visit, daemon=True).start()
        return True

    ctx, _ = context(oauth, tmp_path, no_browser=False, browser=browser, **{"callback-port": port})
    path = await login(argparse.Namespace(timeout=20), ctx)
    assert json.loads(Path(path).read_text())["access_token"] == "at-1"
    assert visited[0].startswith(f"http://localhost:{port}/callback?code=")


async def test_a_redirect_from_another_attempt_is_refused(oauth, tmp_path):
    ctx, echoed = context(
        oauth, tmp_path, no_browser=True, prompt=lambda q: sign_in(url_in(echoed)).replace("state=", "state=x")
    )
    with pytest.raises(GatewayError) as caught:
        await login(argparse.Namespace(), ctx)
    assert "state mismatch" in caught.value.message
    assert not list(tmp_path.glob("*.json"))


async def test_a_login_with_no_client_configured_uses_claude_codes_public_client(oauth, tmp_path):
    block = oauth_block(oauth)
    del block["client-id"]
    config = load_config({"auth-dir": str(tmp_path), "claude-oauth": block})
    echoed: list[str] = []
    ctx = LoginContext(
        config=config,
        auth_dir=str(tmp_path),
        no_browser=True,
        echo=echoed.append,
        prompt=lambda q: sign_in(url_in(echoed)),
    )
    path = Path(await login(argparse.Namespace(), ctx))
    assert parse_qs(urlsplit(url_in(echoed)).query)["client_id"] == [CLAUDE_CODE_CLIENT_ID]
    assert json.loads(path.read_text())["client_id"] == CLAUDE_CODE_CLIENT_ID
    assert CLAUDE_CODE_CLIENT_ID == "9d1c250a-e61b-44d9-88ed-5944d1962f5e"


async def test_a_whole_login_runs_without_a_terminal(oauth, tmp_path):
    """What the management API does: the URL goes to a remote operator, whose browser
    fails to load the localhost redirect; the operator hands the address back."""
    ctx = RemoteLoginContext(config=load_config({"claude-oauth": oauth_block(oauth)}), auth_dir=str(tmp_path))
    flow = asyncio.create_task(login(argparse.Namespace(), ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "url" and "/oauth/authorize?" in challenge.url
    ctx.supply_redirect(sign_in(challenge.url))
    path = Path(await asyncio.wait_for(flow, 10))
    assert json.loads(path.read_text())["access_token"] == "at-1"
    assert any("Signed in as me@example.com" in line for line in ctx.messages)


def test_cli_login_reports_a_refused_code_without_a_traceback(oauth, tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"auth-dir: {tmp_path / 'auth'}\nclaude-oauth:\n"
        + "".join(f"  {k}: {v}\n" for k, v in oauth_block(oauth).items())
    )
    monkeypatch.setattr("builtins.input", lambda question: "code-unknown")
    status = cli_main(["login", "claude", "--config", str(config), "--no-browser"])
    assert status == 1
    err = capsys.readouterr().err
    assert "token endpoint answered 400" in err and "invalid_grant" in err and "Traceback" not in err


# -- serving with token files --------------------------------------------------------------


def token_file(
    auth_dir: Path, *, access: str, refresh: str, expires_in: float, name: str = "claude-me@example.com.json", **extra
):
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
    content = {
        "type": "claude",
        "access_token": access,
        "refresh_token": refresh,
        "expiry": expiry,
        "email": "me@example.com",
        **extra,
    }
    write_token_file(auth_dir / name, content)
    return auth_dir / name


def serving_config(oauth: FakeOAuth, upstream: FakeUpstream, auth_dir: Path, **extra) -> dict:
    block = oauth_block(
        oauth, **{"base-url": upstream.url, "models": [{"name": "claude-sonnet-4-5", "alias": "sonnet"}]}
    )
    return {"api-keys": ["client-key"], "auth-dir": str(auth_dir), "claude-oauth": block, **extra}


def ok_message(recording) -> Reply:
    return Reply.json(json.loads(recording("anthropic/vercel-anthropic-text.json").read_text()))


def create(url: str) -> anthropic.types.Message:
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    return client.messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_token_files_load_at_start_up_and_send_bearer_with_the_oauth_beta(oauth, upstream, tmp_path, recording):
    token_file(tmp_path, access="at-file", refresh="rt-file", expires_in=8 * 3600)
    upstream.add("POST", MESSAGES, ok_message(recording))
    with serve_app(gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])) as url:
        assert create(url).content[0].text.startswith("Hello")
    sent = upstream.requests_to(MESSAGES)[0].headers
    assert sent["authorization"] == "Bearer at-file" and "x-api-key" not in sent
    assert sent["anthropic-beta"] == "oauth-2025-04-20"
    assert oauth.refreshes == 0


def test_cliproxyapi_token_files_load_too(oauth, upstream, tmp_path, recording):
    legacy = {
        "type": "claude",
        "access_token": "at-legacy",
        "refresh_token": "rt-legacy",
        "expired": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 8 * 3600)),
        "email": "old@example.com",
    }
    (tmp_path / "claude-old@example.com.json").write_text(json.dumps(legacy))
    upstream.add("POST", MESSAGES, ok_message(recording))
    with serve_app(gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])) as url:
        create(url)
    assert upstream.requests_to(MESSAGES)[0].headers["authorization"] == "Bearer at-legacy"


def test_tokens_are_refreshed_ahead_of_expiry_and_written_back(oauth, upstream, tmp_path, recording):
    oauth.refresh_tokens.add("rt-file")
    path = token_file(tmp_path, access="at-old", refresh="rt-file", expires_in=3600)  # within the 4h lead
    upstream.add("POST", MESSAGES, ok_message(recording))
    with serve_app(gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])) as url:
        create(url)
    assert upstream.requests_to(MESSAGES)[-1].headers["authorization"] == "Bearer at-1"
    assert oauth.refreshes == 1
    data = json.loads(path.read_text())
    assert (data["access_token"], data["refresh_token"], data["email"]) == ("at-1", "rt-1", "me@example.com")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_401_refreshes_once_for_concurrent_requests(oauth, upstream, tmp_path, recording):
    oauth.refresh_tokens.add("rt-file")
    token_file(tmp_path, access="at-revoked", refresh="rt-file", expires_in=8 * 3600)
    ok = ok_message(recording)

    def answer(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer at-revoked":
            return Reply.json(
                {"type": "error", "error": {"type": "authentication_error", "message": "OAuth token has expired"}},
                status=401,
                delay=0.2,
            )
        return ok

    upstream.add("POST", MESSAGES, answer)
    app = gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as http:
        responses = await asyncio.gather(
            *(http.post(MESSAGES, headers={"x-api-key": "client-key"}, json=body) for _ in range(3))
        )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert oauth.refreshes == 1
    retried = [r.headers["authorization"] for r in upstream.requests_to(MESSAGES)]
    assert retried.count("Bearer at-1") == 3


async def test_a_failed_refresh_rests_the_credential_and_others_serve(oauth, upstream, tmp_path, recording, caplog):
    token_file(tmp_path, access="at-revoked", refresh="rt-unknown", expires_in=8 * 3600)

    def answer(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer at-revoked":
            return Reply.json(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid token"}}, status=401
            )
        return ok_message(recording)

    upstream.add("POST", MESSAGES, answer)
    config = serving_config(oauth, upstream, tmp_path)
    config["claude-oauth"]["priority"] = 5
    config["claude-api-key"] = [
        {
            "api-key": "sk-ant-backup",
            "base-url": upstream.url,
            "models": [{"name": "claude-sonnet-4-5", "alias": "sonnet"}],
        }
    ]
    app = gateway_app(config, plugins=[cliproxy_claude])
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as http:
        first = await http.post(MESSAGES, headers={"x-api-key": "client-key"}, json=body)
        second = await http.post(MESSAGES, headers={"x-api-key": "client-key"}, json=body)
        cooldowns = await gateway_of(app).state.cooldowns()
    assert first.status_code == second.status_code == 200
    keys = [r.headers["authorization"] for r in upstream.requests_to(MESSAGES)]
    assert keys == ["Bearer at-revoked", "Bearer sk-ant-backup", "Bearer sk-ant-backup"]
    assert oauth.refreshes == 1
    reasons = " ".join(c.reason for per in cooldowns.values() for c in per.values())
    assert "could not be refreshed" in reasons and "invalid_grant" in reasons
    assert any("invalid_grant" in r.getMessage() for r in caplog.records)


def test_a_token_file_without_a_client_id_refreshes_with_claude_codes(oauth, upstream, tmp_path, recording):
    """CLIProxyAPI's files name no client: their tokens were issued to Claude Code's."""
    oauth.refresh_tokens.add("rt-file")
    oauth.client_ids = {CLAUDE_CODE_CLIENT_ID}
    token_file(tmp_path, access="at-old", refresh="rt-file", expires_in=60)
    upstream.add("POST", MESSAGES, ok_message(recording))
    config = serving_config(oauth, upstream, tmp_path)
    del config["claude-oauth"]["client-id"]
    with serve_app(gateway_app(config, plugins=[cliproxy_claude])) as url:
        create(url)
    assert (
        oauth.refreshes == 1
        and oauth.server.requests_to("/v1/oauth/token")[0].json["client_id"] == CLAUDE_CODE_CLIENT_ID
    )
    assert upstream.requests_to(MESSAGES)[0].headers["authorization"] == "Bearer at-1"


async def test_a_client_id_the_token_endpoint_rejects_says_where_to_fix_it(oauth, upstream, tmp_path, caplog):
    token_file(tmp_path, access="at-old", refresh="rt-file", expires_in=60, client_id="revoked-client")
    oauth.server.add(
        "POST", "/v1/oauth/token", Reply.json({"error": "invalid_client", "error_description": "no such client"}, 401)
    )
    app = gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as http:
        response = await http.post(MESSAGES, headers={"x-api-key": "client-key"}, json=body)
        cooldowns = await gateway_of(app).state.cooldowns()
    # the refresh failed: the credential rests, the request gets an answer, the server lives
    assert response.status_code in (401, 429) and response.json()["type"] == "error"
    reasons = " ".join(c.reason for per in cooldowns.values() for c in per.values())
    assert "invalid_client" in reasons and "claude-oauth.client-id" in reasons
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "claude-oauth.client-id" in logged and "rt-file" not in logged and not upstream.requests


def test_a_broken_token_file_is_skipped(oauth, upstream, tmp_path, caplog):
    (tmp_path / "claude-broken.json").write_text(json.dumps({"type": "claude", "email": "x"}))
    app = gateway_app(serving_config(oauth, upstream, tmp_path), plugins=[cliproxy_claude])
    assert not gateway_of(app).credentials
    assert any("no access_token" in r.getMessage() for r in caplog.records)
    assert os.path.exists(tmp_path / "claude-broken.json")


# -- importing Claude Code's sign-in -----------------------------------------------------------


def claude_code_credentials(directory: Path, *, expires_in: float = 3600, refresh: str | None = "rt-cc", **extra):
    """Claude Code's ``.credentials.json``, as it writes it (times in milliseconds)."""
    now_ms = int(time.time() * 1000)
    oauth = {
        "accessToken": "sk-ant-oat01-imported",
        "expiresAt": now_ms + int(expires_in * 1000),
        "refreshTokenExpiresAt": now_ms + 30 * 86400 * 1000,
        "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
        "subscriptionType": "max",
        **extra,
    }
    if refresh is not None:
        oauth["refreshToken"] = refresh
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".credentials.json"
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    return path


def config_file(tmp_path: Path, oauth: FakeOAuth, upstream: FakeUpstream | None = None) -> Path:
    block = {k: v for k, v in oauth_block(oauth).items() if k != "client-id"}  # nothing configured
    if upstream is not None:
        block |= {"base-url": upstream.url, "models": [{"name": "claude-sonnet-4-5", "alias": "sonnet"}]}
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"api-keys": ["client-key"], "auth-dir": str(tmp_path / "auth"), "claude-oauth": block}))
    return path


def test_import_of_claude_codes_sign_in_yields_a_credential_that_refreshes(
    oauth, upstream, tmp_path, monkeypatch, recording
):
    config_dir = tmp_path / "home" / ".claude"
    claude_code_credentials(config_dir)
    (tmp_path / "home" / ".claude.json").write_text(
        json.dumps({"oauthAccount": {"emailAddress": "cc@example.com", "organizationName": "CC Org"}})
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    config = config_file(tmp_path, oauth, upstream)
    assert cli_main(["login", "claude", "--config", str(config), "--import"]) == 0
    saved_path = tmp_path / "auth" / "claude-cc@example.com.json"
    saved = json.loads(saved_path.read_text())
    assert stat.S_IMODE(saved_path.stat().st_mode) == 0o600
    assert (saved["type"], saved["access_token"], saved["refresh_token"]) == (
        "claude",
        "sk-ant-oat01-imported",
        "rt-cc",
    )
    assert saved["client_id"] == CLAUDE_CODE_CLIENT_ID and saved["organization"] == "CC Org"

    # within the 4-hour lead: the first request refreshes it, through Claude Code's client
    oauth.client_ids = {CLAUDE_CODE_CLIENT_ID}
    oauth.refresh_tokens.add("rt-cc")
    upstream.add("POST", MESSAGES, ok_message(recording))
    with serve_app(gateway_app(json.loads(config.read_text()), plugins=[cliproxy_claude])) as url:
        create(url)
    assert oauth.refreshes == 1
    assert oauth.server.requests_to("/v1/oauth/token")[0].json["client_id"] == CLAUDE_CODE_CLIENT_ID
    assert upstream.requests_to(MESSAGES)[-1].headers["authorization"] == "Bearer at-1"
    assert json.loads(saved_path.read_text())["refresh_token"] == "rt-1"


async def test_import_probes_claude_codes_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    claude_code_credentials(tmp_path / "home" / ".claude")
    echoed: list[str] = []
    ctx = LoginContext(config=load_config({}), auth_dir=str(tmp_path / "auth"), echo=echoed.append)
    path = Path(await login(argparse.Namespace(import_path=""), ctx))
    assert json.loads(path.read_text())["access_token"] == "sk-ant-oat01-imported"
    assert path.name.startswith("claude-") and "rotates refresh tokens" in echoed[-1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        ("{not json", "it is not JSON"),
        (json.dumps({"primaryApiKey": "sk-ant-api03-x"}), "it holds no claudeAiOauth sign-in"),
        ("expired-refresh", "has expired and cannot be renewed"),
        ("expired-no-refresh", "has expired and cannot be renewed"),
    ],
)
def test_import_of_a_wrong_or_expired_file_says_how_to_get_a_good_one(
    oauth, tmp_path, capsys, content: str | None, reason: str
):
    target = tmp_path / "cc" / ".credentials.json"
    if content == "expired-refresh":
        claude_code_credentials(target.parent, refreshTokenExpiresAt=int(time.time() * 1000) - 1000)
    elif content == "expired-no-refresh":
        claude_code_credentials(target.parent, expires_in=-60, refresh=None)
    elif content is not None:
        target.parent.mkdir(parents=True)
        target.write_text(content)
    config = config_file(tmp_path, oauth)
    assert cli_main(["login", "claude", "--config", str(config), "--import", str(target)]) == 1
    err = capsys.readouterr().err
    assert reason in err and "run `claude` and sign in with /login" in err and "Traceback" not in err
    assert not (tmp_path / "auth").exists() or not list((tmp_path / "auth").glob("*.json"))


def test_a_missing_default_file_names_where_it_looked(oauth, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    assert cli_main(["login", "claude", "--config", str(config_file(tmp_path, oauth)), "--import"]) == 1
    err = capsys.readouterr().err
    assert "no Claude Code sign-in found" in err and str(tmp_path / "empty-home/.claude/.credentials.json") in err
