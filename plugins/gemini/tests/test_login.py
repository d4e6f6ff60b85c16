"""``cliproxy login gemini`` against fake Google OAuth and Code Assist servers."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cliproxy import GatewayError, LoginContext
from cliproxy.cli import main
from cliproxy.config import load_config
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply
from cliproxy_gemini.code_assist.login import GeminiLogin


def settings(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "gemini-cli": {
            "client-id": "client-123",
            "client-secret": "secret-456",
            "auth-url": upstream.url + "/auth",
            "token-url": upstream.url + "/token",
            "userinfo-url": upstream.url + "/userinfo",
            "base-url": upstream.url,
            "callback-port": 0,
            **extra,
        }
    }


RECORDED_LOAD = json.loads(
    (
        Path(__file__).parents[3] / "recordings" / "gemini-code-assist" / "CONSTRUCTED-loadCodeAssist-response.json"
    ).read_text()
)
RECORDED_LOAD.pop("_comment")


def google(upstream: FakeUpstream, *, load: dict[str, Any] | None = None) -> None:
    upstream.add(
        "POST",
        "/token",
        Reply.json(
            {
                "access_token": "access-1",
                "refresh_token": "refresh-1",
                "expires_in": 3599,
                "scope": "s",
            }
        ),
    )
    upstream.add("GET", "/userinfo", Reply.json({"email": "me@example.com"}))
    upstream.add("POST", "/v1internal:loadCodeAssist", Reply.json(load or RECORDED_LOAD))


class Terminal:
    """Echo and prompt for a login: remembers what was printed; pastes the redirect."""

    def __init__(self, paste: Any = None) -> None:
        self.lines: list[str] = []
        self.paste = paste

    def echo(self, text: str) -> None:
        self.lines.append(text)

    def auth_url(self) -> str:
        return next(word for line in self.lines for word in line.split() if "/auth?" in word)

    def prompt(self, question: str) -> str:
        return self.paste(self.auth_url())


def redirect_for(auth_url: str, code: str = "code-1", state: str | None = None) -> str:
    query = parse_qs(urlsplit(auth_url).query)
    return query["redirect_uri"][0] + "?" + urlencode({"code": code, "state": state or query["state"][0], "scope": "x"})


def context(
    upstream: FakeUpstream, auth_dir: Path, terminal: Terminal, *, no_browser: bool, **extra: Any
) -> LoginContext:
    return LoginContext(
        config=load_config(settings(upstream, **extra)),
        auth_dir=str(auth_dir),
        no_browser=no_browser,
        echo=terminal.echo,
        prompt=terminal.prompt,
    )


def args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"project_id": None, "client_id": None, "client_secret": None, "port": None, **values})


def pkce_matches(auth_url: str, exchange: RecordedRequest) -> bool:
    challenge = parse_qs(urlsplit(auth_url).query)["code_challenge"][0]
    verifier = parse_qs(exchange.body.decode())["code_verifier"][0]
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == challenge


async def test_paste_flow_writes_a_token_file(upstream: FakeUpstream, tmp_path: Path) -> None:
    google(upstream)
    terminal = Terminal(paste=redirect_for)
    written = await GeminiLogin().run(args(), context(upstream, tmp_path, terminal, no_browser=True))
    saved = json.loads(Path(written).read_text())
    assert Path(written).name == "gemini-cli-me@example.com.json" and Path(written).stat().st_mode & 0o777 == 0o600
    assert (
        saved["type"] == "gemini-cli"
        and saved["project_id"] == "example-project-12345"
        and saved["email"] == "me@example.com"
    )
    assert (saved["access_token"], saved["refresh_token"], saved["client_id"]) == (
        "access-1",
        "refresh-1",
        "client-123",
    )
    url = terminal.auth_url()
    query = parse_qs(urlsplit(url).query)
    assert (
        query["access_type"] == ["offline"]
        and query["code_challenge_method"] == ["S256"]
        and query["client_id"] == ["client-123"]
    )
    assert "https://www.googleapis.com/auth/cloud-platform" in query["scope"][0].split()
    exchange = upstream.requests_to("/token")[0]
    assert parse_qs(exchange.body.decode())["code"] == ["code-1"] and pkce_matches(url, exchange)
    assert upstream.requests_to("/userinfo")[0].headers["authorization"] == "Bearer access-1"
    assert upstream.requests_to("/v1internal:loadCodeAssist")[0].json == {
        "metadata": {
            "ideType": "IDE_UNSPECIFIED",
            "platform": "PLATFORM_UNSPECIFIED",
            "pluginType": "GEMINI",
        }
    }


async def test_browser_flow_with_a_local_callback(upstream: FakeUpstream, tmp_path: Path) -> None:
    google(upstream)
    visited: list[int] = []

    def browser(url: str) -> None:  # what the user's browser would do after signing in
        visited.append(httpx.get(redirect_for(url)).status_code)

    terminal = Terminal()
    written = await GeminiLogin(open_browser=browser).run(
        args(), context(upstream, tmp_path, terminal, no_browser=False)
    )
    assert visited == [200]
    assert json.loads(Path(written).read_text())["refresh_token"] == "refresh-1"
    redirect = parse_qs(upstream.requests_to("/token")[0].body.decode())["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/oauth2callback")


async def test_onboarding_projects_one_by_one(upstream: FakeUpstream, tmp_path: Path) -> None:
    google(
        upstream,
        load={"allowedTiers": [{"id": "free-tier"}, {"id": "standard-tier", "isDefault": True}]},
    )
    upstream.add("POST", "/v1internal:onboardUser", Reply.json({"name": "operations/op-1", "done": False}))
    upstream.add(
        "GET",
        "/v1internal/operations/op-1",
        [
            Reply.json({"name": "operations/op-1", "done": False}),
            Reply.json(
                {
                    "name": "operations/op-1",
                    "done": True,
                    "response": {"cloudaicompanionProject": {"id": "proj-from-onboarding"}},
                }
            ),
        ],
    )
    terminal = Terminal(paste=redirect_for)
    written = await GeminiLogin(poll_interval=0).run(
        args(project_id="proj-a, proj-b"), context(upstream, tmp_path, terminal, no_browser=True)
    )
    loads = [r.json for r in upstream.requests_to("/v1internal:loadCodeAssist")]
    assert [body["cloudaicompanionProject"] for body in loads] == ["proj-a", "proj-b"]
    assert loads[0]["metadata"]["duetProject"] == "proj-a"
    onboard = upstream.requests_to("/v1internal:onboardUser")[0].json
    assert onboard["tierId"] == "standard-tier" and onboard["cloudaicompanionProject"] == "proj-a"
    assert len(upstream.requests_to("/v1internal/operations/op-1")) >= 2
    assert json.loads(Path(written).read_text())["project_id"] == "proj-from-onboarding"


async def test_sign_in_mistakes_are_explained(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    google(upstream)
    forged = Terminal(paste=lambda url: redirect_for(url, state="someone-else"))
    with pytest.raises(GatewayError, match="state mismatch"):
        await GeminiLogin().run(args(), context(upstream, tmp_path, forged, no_browser=True))
    denied = Terminal(paste=lambda url: parse_qs(urlsplit(url).query)["redirect_uri"][0] + "?error=access_denied")
    with pytest.raises(GatewayError, match="access_denied"):
        await GeminiLogin().run(args(), context(upstream, tmp_path, denied, no_browser=True))
    monkeypatch.delenv("CLIPROXY_GEMINI_CLIENT_ID", raising=False)
    no_client = LoginContext(config=load_config({}), auth_dir=str(tmp_path), no_browser=True, echo=print, prompt=input)
    with pytest.raises(GatewayError, match="--client-id"):
        await GeminiLogin().run(args(), no_client)
    assert not list(tmp_path.glob("*.json"))


def test_the_cli_command(
    upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    google(upstream)
    config = tmp_path / "config.yaml"
    block = settings(upstream)["gemini-cli"]
    block.pop("client-id")
    block.pop("client-secret")
    config.write_text(json.dumps({"auth-dir": str(tmp_path / "auth"), "gemini-cli": block}))

    def paste(question: str) -> str:
        printed = capsys.readouterr().out
        url = next(word for word in printed.split() if "/auth?" in word)
        return redirect_for(url)

    monkeypatch.setattr("builtins.input", paste)
    monkeypatch.setenv("CLIPROXY_GEMINI_CLIENT_ID", "env-client")
    status = main(
        [
            "login",
            "gemini",
            "--config",
            str(config),
            "--no-browser",
            "--client-secret",
            "flag-secret",
            "--project-id",
            "proj-x",
        ]
    )
    assert status == 0
    saved = json.loads((tmp_path / "auth" / "gemini-cli-me@example.com.json").read_text())
    assert (saved["client_id"], saved["client_secret"], saved["project_id"]) == (
        "env-client",
        "flag-secret",
        "example-project-12345",
    )
    upstream.add("POST", "/token", Reply.json({"error": "invalid_grant"}, status=400))
    monkeypatch.setattr("builtins.input", paste)
    assert main(["login", "gemini", "--config", str(config), "--no-browser", "--client-secret", "s"]) == 1
    assert "Google did not issue tokens: invalid_grant" in capsys.readouterr().err
