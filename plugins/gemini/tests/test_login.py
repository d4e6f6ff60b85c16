"""``cliproxy login gemini`` against fake Google OAuth and Code Assist servers."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import cliproxy_gemini
import httpx
import openai
import pytest
from cliproxy import GatewayError, LoginContext
from cliproxy.cli import main
from cliproxy.config import load_config
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app, serve_app
from cliproxy_gemini.code_assist.login import GeminiLogin
from cliproxy_gemini.code_assist.options import GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET


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
    upstream: FakeUpstream, auth_dir: Path, terminal: Terminal, *, no_browser: bool, browser: Any = None, **extra: Any
) -> LoginContext:
    return LoginContext(
        config=load_config(settings(upstream, **extra)),
        auth_dir=str(auth_dir),
        no_browser=no_browser,
        echo=terminal.echo,
        prompt=terminal.prompt,
        open_browser=browser,
    )


def args(**values: Any) -> argparse.Namespace:
    defaults = {"project_id": None, "client_id": None, "client_secret": None, "port": None, "import_path": None}
    return argparse.Namespace(**{**defaults, **values})


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
    written = await GeminiLogin().run(args(), context(upstream, tmp_path, terminal, no_browser=False, browser=browser))
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
    monkeypatch.setenv("CLIPROXY_GEMINI_CLIENT_ID", "my-own-client")  # a client of one's own needs its secret
    no_secret = LoginContext(config=load_config({}), auth_dir=str(tmp_path), no_browser=True, echo=print, prompt=input)
    with pytest.raises(GatewayError, match="--client-secret"):
        await GeminiLogin().run(args(), no_secret)
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
    err = capsys.readouterr().err
    assert "Google's token endpoint answered 400 (invalid_grant)" in err and "cliproxy login gemini" in err


# -- the default client, and importing Gemini CLI's sign-in -----------------------------------


def unconfigured(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    block = settings(upstream, **extra)["gemini-cli"]
    del block["client-id"], block["client-secret"]
    return {"gemini-cli": block}


async def test_a_login_with_no_client_configured_uses_gemini_clis(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLIPROXY_GEMINI_CLIENT_ID", raising=False)
    monkeypatch.delenv("CLIPROXY_GEMINI_CLIENT_SECRET", raising=False)
    google(upstream)
    terminal = Terminal(paste=redirect_for)
    ctx = LoginContext(
        config=load_config(unconfigured(upstream)),
        auth_dir=str(tmp_path),
        no_browser=True,
        echo=terminal.echo,
        prompt=terminal.prompt,
    )
    saved = json.loads(Path(await GeminiLogin().run(args(), ctx)).read_text())
    assert parse_qs(urlsplit(terminal.auth_url()).query)["client_id"] == [GEMINI_CLI_CLIENT_ID]
    exchange = parse_qs(upstream.requests_to("/token")[0].body.decode())
    assert (exchange["client_id"], exchange["client_secret"]) == ([GEMINI_CLI_CLIENT_ID], [GEMINI_CLI_CLIENT_SECRET])
    assert (saved["client_id"], saved["client_secret"]) == (GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET)
    assert GEMINI_CLI_CLIENT_ID.startswith("681255809395-") and GEMINI_CLI_CLIENT_SECRET.startswith("GOCSPX-")


def gemini_cli_home(home: Path, *, expires_in: float = -60, refresh: str | None = "1//refresh-cli") -> Path:
    """Gemini CLI's ``~/.gemini`` as it leaves it after 'Login with Google'."""
    directory = home / ".gemini"
    directory.mkdir(parents=True, exist_ok=True)
    creds = {
        "access_token": "ya29.from-gemini-cli",
        "scope": "https://www.googleapis.com/auth/cloud-platform openid",
        "token_type": "Bearer",
        "id_token": "eyJ.fake.jwt",
        "expiry_date": int((time.time() + expires_in) * 1000),
    }
    if refresh is not None:
        creds["refresh_token"] = refresh
    (directory / "oauth_creds.json").write_text(json.dumps(creds, indent=2))
    (directory / "google_accounts.json").write_text(json.dumps({"active": "cli@example.com", "old": []}))
    return directory / "oauth_creds.json"


def test_import_of_gemini_clis_sign_in_yields_a_credential_that_refreshes(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    google(upstream)
    # the expired access token is refreshed first; Google answers a refresh without a new refresh token
    upstream.add("POST", "/token", Reply.json({"access_token": "access-1", "expires_in": 3599}))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path / "cli-home"))
    gemini_cli_home(tmp_path / "cli-home")
    auth = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    block = {**unconfigured(upstream)["gemini-cli"], "base-url": upstream.url}
    config.write_text(json.dumps({"api-keys": ["k"], "auth-dir": str(auth), "gemini-cli": block}))
    assert main(["login", "gemini", "--config", str(config), "--import"]) == 0

    refresh = parse_qs(upstream.requests_to("/token")[0].body.decode())
    assert refresh["grant_type"] == ["refresh_token"] and refresh["refresh_token"] == ["1//refresh-cli"]
    assert refresh["client_id"] == [GEMINI_CLI_CLIENT_ID] and refresh["client_secret"] == [GEMINI_CLI_CLIENT_SECRET]
    assert upstream.requests_to("/v1internal:loadCodeAssist")[0].headers["authorization"] == "Bearer access-1"
    assert not upstream.requests_to("/userinfo")  # Gemini CLI recorded the account
    path = auth / "gemini-cli-cli@example.com.json"
    saved = json.loads(path.read_text())
    assert path.stat().st_mode & 0o777 == 0o600
    assert (saved["type"], saved["project_id"], saved["refresh_token"]) == (
        "gemini-cli",
        "example-project-12345",
        "1//refresh-cli",
    )
    assert (saved["client_id"], saved["imported_from"]) == (GEMINI_CLI_CLIENT_ID, "gemini-cli")

    # serving: the token is due again, so the first request refreshes it through Gemini CLI's client
    saved["expires_at"] = int(time.time() + 30)
    path.write_text(json.dumps(saved))
    upstream.add("POST", "/token", Reply.json({"access_token": "access-2", "expires_in": 3599}))
    answer = json.loads(
        (
            Path(__file__).parents[3]
            / "recordings/gemini-code-assist/CONSTRUCTED-response-v1internal-generateContent.json"
        ).read_text()
    )
    answer.pop("_comment", None)
    upstream.add("POST", "/v1internal:generateContent", Reply.json(answer))
    app = gateway_app(json.loads(config.read_text()), plugins=[cliproxy_gemini])
    with serve_app(app) as url:
        reply = openai.OpenAI(api_key="k", base_url=url + "/v1", max_retries=0).chat.completions.create(
            model="gemini-2.5-pro", messages=[{"role": "user", "content": "hi"}]
        )
    assert reply.choices[0].message.content
    assert upstream.requests_to("/v1internal:generateContent")[0].headers["authorization"] == "Bearer access-2"
    last = parse_qs(upstream.requests_to("/token")[-1].body.decode())
    assert last["client_id"] == [GEMINI_CLI_CLIENT_ID] and last["refresh_token"] == ["1//refresh-cli"]


async def test_import_probes_gemini_clis_default_location(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    google(upstream)
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    gemini_cli_home(tmp_path / "home", expires_in=3600)  # still valid: no refresh needed
    ctx = LoginContext(config=load_config(unconfigured(upstream)), auth_dir=str(tmp_path / "auth"), echo=print)
    saved = json.loads(Path(await GeminiLogin().run(args(import_path=""), ctx)).read_text())
    assert saved["access_token"] == "ya29.from-gemini-cli" and not upstream.requests_to("/token")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda home: None, "no Gemini CLI sign-in found"),
        (
            lambda home: (home / ".gemini").mkdir() or (home / ".gemini/oauth_creds.json").write_text("[]"),
            "not a JSON object",
        ),
        (lambda home: gemini_cli_home(home, refresh=None), "has expired and cannot be renewed"),
        (lambda home: gemini_cli_home(home, refresh="1//revoked"), "has expired and cannot be renewed"),
    ],
)
def test_import_of_a_wrong_or_expired_file_names_the_gemini_command(
    upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    reason: str,
) -> None:
    upstream.add(
        "POST",
        "/token",
        Reply.json({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, status=400),
    )
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path / "cli-home"))
    (tmp_path / "cli-home").mkdir()
    make(tmp_path / "cli-home")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"auth-dir": str(tmp_path / "auth"), **unconfigured(upstream)}))
    assert main(["login", "gemini", "--config", str(config), "--import"]) == 1
    err = capsys.readouterr().err
    assert reason in err and "run `gemini` and choose 'Login with Google'" in err and "Traceback" not in err
    assert not (tmp_path / "auth").exists()
