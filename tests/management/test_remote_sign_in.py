"""Remote sign-in through the API against each OAuth plugin's fake auth server: the
gateway runs the login, the operator (this test) opens the URL elsewhere and hands back
the address the browser ended on -- or enters a device code -- and the new credential
answers the openai SDK at once, without a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import cliproxy_claude
import cliproxy_gemini
import cliproxy_kiro
import httpx
import pytest
from cliproxy.cli import main
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply
from cliproxy_kiro import testing as kt

from .conftest import MANAGEMENT_KEY, base_config

RECORDINGS = Path(__file__).parents[2] / "recordings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browse(url: str) -> str:
    """The operator's browser: open the sign-in page, end up at the redirect (which it
    cannot load: it points at the gateway's localhost)."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302
    return answer.headers["location"]


def challenge_of(session: dict) -> dict:
    assert session["state"] == "challenge", session
    return session["challenge"]


# -- claude -----------------------------------------------------------------------------------


class FakeClaudeAuth:
    """Claude's authorize and token endpoints, checking PKCE."""

    def __init__(self, server: FakeUpstream) -> None:
        self.codes: dict[str, dict] = {}
        server.add("GET", "/oauth/authorize", self.authorize)
        server.add("POST", "/v1/oauth/token", self.token)

    def authorize(self, request: RecordedRequest) -> Reply:
        code = f"code-{len(self.codes)}"
        self.codes[code] = dict(request.query)
        location = request.query["redirect_uri"] + "?" + urlencode({"code": code, "state": request.query["state"]})
        return Reply(status=302, headers={"Location": location})

    def token(self, request: RecordedRequest) -> Reply:
        body = request.json
        grant = self.codes.pop(body.get("code"), None)
        verifier = base64.urlsafe_b64encode(hashlib.sha256(body["code_verifier"].encode()).digest()).rstrip(b"=")
        if grant is None or grant["code_challenge"] != verifier.decode():
            return Reply.json({"error": "invalid_grant", "error_description": "bad code"}, status=400)
        return Reply.json(
            {
                "access_token": "sk-ant-oat-remote-access-0001",
                "refresh_token": "sk-ant-ort-remote-refresh-0001",
                "expires_in": 8 * 3600,
                "account": {"uuid": "acc-1", "email_address": "remote@example.com"},
                "organization": {"uuid": "org-1", "name": "Org"},
            }
        )


@pytest.fixture
def claude_served(tmp_path, auth_dir, serve, upstream, recording):
    FakeClaudeAuth(upstream)
    upstream.add(
        "POST", "/v1/messages", Reply.json(json.loads(recording("anthropic/vercel-anthropic-text.json").read_text()))
    )
    block = (
        "claude-oauth:\n"
        "  client-id: test-client\n"
        f"  authorize-url: {upstream.url}/oauth/authorize\n"
        f"  token-url: {upstream.url}/v1/oauth/token\n"
        f"  base-url: {upstream.url}\n"
        f"  callback-port: {free_port()}\n"
        "  models:\n    - {name: claude-sonnet-4-5, alias: sonnet}\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + block)
    with serve(path, plugins=(cliproxy_claude,)) as served:
        served.recorder.secrets |= {"sk-ant-oat-remote-access-0001", "sk-ant-ort-remote-refresh-0001"}
        yield served


def test_claude_sign_in_through_the_api_serves_at_once(claude_served, upstream):
    served = claude_served
    assert "sonnet" not in served.models()
    started = served.api.post("/oauth/claude", json={})
    assert started.status_code == 201, started.text
    session = started.json()["session"]
    challenge = challenge_of(session)
    assert challenge["kind"] == "url" and "/oauth/authorize?" in challenge["url"]
    assert parse_qs(urlsplit(challenge["url"]).query)["client_id"] == ["test-client"]

    polled = served.api.get(f"/oauth/sessions/{session['id']}", params={"wait": 5}).json()["session"]
    assert polled["state"] == "challenge" and polled["awaiting_redirect"]

    done = served.api.post(
        f"/oauth/sessions/{session['id']}/callback", json={"redirect_url": browse(challenge["url"])}
    ).json()["session"]
    assert done["state"] == "succeeded", done
    assert done["file"] == "claude-remote@example.com.json"
    assert [c["label"] for c in done["credentials"]] == ["remote@example.com"]

    assert served.chat("sonnet").startswith("Hello")  # no restart
    sent = upstream.requests_to("/v1/messages")[0].headers
    assert sent["authorization"] == "Bearer sk-ant-oat-remote-access-0001"
    assert served.api.get("/oauth/sessions").json()["sessions"][0]["state"] == "succeeded"


def test_a_paste_without_a_code_is_refused_and_the_sign_in_waits_on(claude_served):
    served = claude_served
    session = served.api.post("/oauth/claude", json={}).json()["session"]
    bad = served.api.post(f"/oauth/sessions/{session['id']}/callback", json={"redirect_url": "http://localhost/x"})
    assert bad.status_code == 400 and "no 'code' parameter" in bad.json()["error"]["message"]
    assert served.api.get(f"/oauth/sessions/{session['id']}").json()["session"]["state"] == "challenge"
    forged = served.api.post(
        f"/oauth/sessions/{session['id']}/callback", json={"redirect_url": "http://localhost:1/callback?code=x&state=y"}
    ).json()["session"]
    assert forged["state"] == "failed" and "state mismatch" in forged["error"]["message"]
    late = served.api.post(f"/oauth/sessions/{session['id']}/callback", json={"code": "abc"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "session_finished"


def test_sessions_can_be_cancelled_and_unknown_ones_are_404(claude_served):
    served = claude_served
    session = served.api.post("/oauth/claude", json={}).json()["session"]
    cancelled = served.api.delete(f"/oauth/sessions/{session['id']}").json()["session"]
    assert cancelled["state"] == "failed" and cancelled["error"]["code"] == "cancelled"
    assert served.api.get("/oauth/sessions/nope").status_code == 404
    unknown = served.api.post("/oauth/nobody", json={})
    assert unknown.status_code == 404 and "claude" in unknown.json()["error"]["message"]


def test_login_options_map_onto_the_flows_flags(claude_served):
    served = claude_served
    flows = {p["provider"]: p for p in served.api.get("/oauth/providers").json()["providers"]}
    options = {o["name"]: o for o in flows["claude"]["options"]}
    assert options["callback-port"]["type"] == "integer" and options["timeout"]["type"] == "number"
    assert not options["import"]["remote"] and options["import"]["flag"] == "--import"
    bad_type = served.api.post("/oauth/claude", json={"options": {"callback-port": "eighty"}})
    assert bad_type.status_code == 400 and "invalid int value" in bad_type.json()["error"]["message"]
    unknown = served.api.post("/oauth/claude", json={"options": {"colour": "red"}})
    assert (
        unknown.status_code == 400
        and "it takes: callback-port, client-id, timeout" in unknown.json()["error"]["message"]
    )
    local = served.api.post("/oauth/claude", json={"options": {"import": ""}})
    assert local.status_code == 400 and "not available remotely" in local.json()["error"]["message"]
    custom = served.api.post("/oauth/claude", json={"options": {"client-id": "another-client"}}).json()["session"]
    assert parse_qs(urlsplit(custom["challenge"]["url"]).query)["client_id"] == ["another-client"]


def test_the_cli_signs_in_through_a_running_gateway(claude_served, monkeypatch, capsys):
    served = claude_served
    printed: list[str] = []

    def paste(prompt: str) -> str:
        out = capsys.readouterr().out
        printed.append(out)
        url = next(word for word in out.split() if "/oauth/authorize?" in word)
        return browse(url)

    monkeypatch.setattr("builtins.input", paste)
    monkeypatch.setenv("CLIPROXY_MANAGEMENT_KEY", MANAGEMENT_KEY)
    status = main(["login", "--remote", "claude", "--url", served.url, "--client-id", "test-client"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Sign in to Claude in your browser" in printed[0]
    assert "signed in: claude-remote@example.com.json -- serving remote@example.com (claude-oauth:" in out
    assert served.chat("sonnet").startswith("Hello")


# -- gemini -----------------------------------------------------------------------------------


def test_gemini_sign_in_through_the_api_serves_at_once(tmp_path, auth_dir, serve, upstream):
    load = json.loads((RECORDINGS / "gemini-code-assist/CONSTRUCTED-loadCodeAssist-response.json").read_text())
    load.pop("_comment", None)
    answer = json.loads(
        (RECORDINGS / "gemini-code-assist/CONSTRUCTED-response-v1internal-generateContent.json").read_text()
    )
    answer.pop("_comment", None)
    upstream.add(
        "POST",
        "/token",
        Reply.json(
            {"access_token": "ya29.remote-access-0001", "refresh_token": "1//remote-refresh-0001", "expires_in": 3599}
        ),
    )
    upstream.add("GET", "/userinfo", Reply.json({"email": "g@example.com"}))
    upstream.add("POST", "/v1internal:loadCodeAssist", Reply.json(load))
    upstream.add("POST", "/v1internal:generateContent", Reply.json(answer))
    block = (
        "gemini-cli:\n"
        "  client-id: client-123\n"
        "  client-secret: gemini-client-secret-0001\n"
        f"  auth-url: {upstream.url}/auth\n"
        f"  token-url: {upstream.url}/token\n"
        f"  userinfo-url: {upstream.url}/userinfo\n"
        f"  base-url: {upstream.url}\n"
        "  callback-port: 0\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + block)
    with serve(path, plugins=(cliproxy_gemini,)) as served:
        served.recorder.secrets |= {"ya29.remote-access-0001", "1//remote-refresh-0001"}
        session = served.api.post("/oauth/gemini", json={}).json()["session"]
        url = challenge_of(session)["url"]
        query = parse_qs(urlsplit(url).query)
        redirect = query["redirect_uri"][0] + "?" + urlencode({"code": "code-1", "state": query["state"][0]})
        done = served.api.post(f"/oauth/sessions/{session['id']}/callback", json={"redirect_url": redirect}).json()
        assert done["session"]["state"] == "succeeded", done
        assert done["session"]["file"] == "gemini-cli-g@example.com.json"
        assert served.chat("gemini-2.5-pro")
    sent = upstream.requests_to("/v1internal:generateContent")[0].headers
    assert sent["authorization"] == "Bearer ya29.remote-access-0001"
    assert parse_qs(upstream.requests_to("/token")[0].body.decode())["code"] == ["code-1"]


# -- kiro -------------------------------------------------------------------------------------


@pytest.fixture
def kiro_served(tmp_path, auth_dir, serve, upstream, monkeypatch):
    monkeypatch.setattr("cliproxy_kiro.provider.API_BASE", upstream.url)  # the token file names no API base
    upstream.add("POST", "/generateAssistantResponse", kt.reply(kt.text("Hello", " from Kiro")))
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir))
    with serve(path, plugins=(cliproxy_kiro,)) as served:
        served.recorder.secrets |= {"kiro-remote-access-0001", "kiro-remote-refresh-0001", "kiro-client-secret-01"}
        yield served


def test_kiro_social_sign_in_through_the_api_serves_at_once(kiro_served, upstream):
    def login_page(request: RecordedRequest) -> Reply:
        target = f"{request.query['redirect_uri']}?code=the-code&state={request.query['state']}"
        return Reply(status=302, headers={"Location": target})

    upstream.add("GET", "/login", login_page)
    upstream.add(
        "POST",
        "/oauth/token",
        Reply.json(
            {"accessToken": "kiro-remote-access-0001", "refreshToken": "kiro-remote-refresh-0001", "expiresIn": 3600}
        ),
    )
    served = kiro_served
    options = {"auth-url": upstream.url, "label": "Work Account", "idp": "github"}
    session = served.api.post("/oauth/kiro", json={"options": options}).json()["session"]
    url = challenge_of(session)["url"]
    assert "idp=Github" in url
    done = served.api.post(f"/oauth/sessions/{session['id']}/callback", json={"redirect_url": browse(url)}).json()
    assert done["session"]["state"] == "succeeded", done
    assert done["session"]["credentials"][0]["label"] == "kiro kiro-social-work-account.json"
    assert served.chat("claude-sonnet-4.5") == "Hello from Kiro"
    assert (
        upstream.requests_to("/generateAssistantResponse")[0].headers["authorization"]
        == "Bearer kiro-remote-access-0001"
    )


def test_kiro_device_code_sign_in_needs_no_paste(kiro_served, upstream):
    upstream.add("POST", "/client/register", Reply.json({"clientId": "cid", "clientSecret": "kiro-client-secret-01"}))
    upstream.add(
        "POST",
        "/device_authorization",
        Reply.json(
            {
                "deviceCode": "dev-1",
                "userCode": "ABCD-EFGH",
                "verificationUri": "https://device.example/",
                "verificationUriComplete": "https://device.example/?user_code=ABCD-EFGH",
                "expiresIn": 600,
                "interval": 0,
            }
        ),
    )
    pending = Reply.json({"error": "authorization_pending"}, status=400)
    upstream.add(
        "POST",
        "/token",
        [
            pending,
            pending,
            Reply.json(
                {
                    "accessToken": "kiro-remote-access-0001",
                    "refreshToken": "kiro-remote-refresh-0001",
                    "expiresIn": 3600,
                }
            ),
        ],
    )
    served = kiro_served
    session = served.api.post("/oauth/kiro", json={"options": {"builder-id": True, "oidc-url": upstream.url}})
    session = session.json()["session"]
    assert session["state"] in ("challenge", "succeeded")
    assert session["challenge"]["kind"] == "device_code" and session["challenge"]["user_code"] == "ABCD-EFGH"
    assert not session["awaiting_redirect"]
    deadline = time.monotonic() + 20
    while session["state"] != "succeeded" and time.monotonic() < deadline:
        session = served.api.get(f"/oauth/sessions/{session['id']}", params={"wait": 2}).json()["session"]
    assert session["state"] == "succeeded", session
    assert session["file"] == "kiro-idc-builderid.json"
    assert served.chat("claude-sonnet-4.5") == "Hello from Kiro"


def test_a_failing_flow_reports_its_message_and_the_server_goes_on(kiro_served, upstream):
    upstream.add("POST", "/client/register", Reply.json({"clientId": "cid", "clientSecret": "kiro-client-secret-01"}))
    upstream.add(
        "POST",
        "/device_authorization",
        Reply.json({"deviceCode": "d", "userCode": "U", "verificationUri": "v", "expiresIn": 60, "interval": 0}),
    )
    upstream.add(
        "POST", "/token", Reply.json({"error": "access_denied", "error_description": "User denied"}, status=400)
    )
    served = kiro_served
    session = served.api.post("/oauth/kiro", json={"options": {"builder-id": True, "oidc-url": upstream.url}})
    session = served.api.get(f"/oauth/sessions/{session.json()['session']['id']}", params={"wait": 10}).json()
    session = session["session"]
    deadline = time.monotonic() + 10
    while session["state"] != "failed" and time.monotonic() < deadline:
        session = served.api.get(f"/oauth/sessions/{session['id']}", params={"wait": 2}).json()["session"]
    assert session["state"] == "failed" and "User denied" in session["error"]["message"]  # kiro exits: caught
    assert served.chat("echo-1")
