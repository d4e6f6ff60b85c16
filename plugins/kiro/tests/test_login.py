"""``cliproxy login kiro``: IDE import, social login and the Builder ID device flow, run
through the real command line against fake auth endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
import urllib.request
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openai
import pytest
from cliproxy.cli import main
from cliproxy.testing import FakeUpstream, Reply, serve_app
from cliproxy_kiro import testing as kt


@pytest.fixture
def cli(tmp_path: Path):
    """Run ``cliproxy login kiro ...`` with a config whose auth-dir is a temp dir."""
    auth_dir = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {auth_dir}\n")

    def run(*argv: str) -> tuple[int, list[Path]]:
        status = main(["login", "kiro", "--config", str(config), *argv])
        return status, sorted(auth_dir.glob("*.json")) if auth_dir.exists() else []

    return run


def _saved(path: Path) -> dict:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return json.loads(path.read_text())


def test_import_copies_the_ide_login(cli, tmp_path, recording):
    ide = tmp_path / "kiro-auth-token.json"
    ide.write_text(recording("kiro/CONSTRUCTED-kiro-auth-token.json").read_text())
    status, files = cli("--import", "--token-path", str(ide))
    assert status == 0 and [f.name for f in files] == ["kiro-social-google.json"]
    saved = _saved(files[0])
    assert saved["type"] == "kiro" and saved["auth_method"] == "social" and saved["provider"] == "Google"
    assert saved["access_token"].startswith("aoa") and saved["refresh_token"].startswith("aor")
    assert saved["expires_at"] == "2025-12-31T02:32:45.144Z"
    assert saved["profile_arn"].endswith("EXAMPLEPROFILE")


def test_import_of_a_missing_file_says_what_to_do(cli, tmp_path):
    with pytest.raises(SystemExit, match="sign in with the Kiro IDE first"):
        cli("--import", "--token-path", str(tmp_path / "nope.json"))
    with pytest.raises(SystemExit, match=r"nope\.json does not exist; sign in with the Kiro IDE first"):
        cli("--import", str(tmp_path / "nope.json"))


def test_import_probes_the_ide_cache_and_the_copy_refreshes(
    cli, tmp_path, recording, monkeypatch, upstream: FakeUpstream, kiro_app, refresh_reply
):
    home = tmp_path / "home"
    (home / ".aws/sso/cache").mkdir(parents=True)
    (home / ".aws/sso/cache/kiro-auth-token.json").write_text(
        recording("kiro/CONSTRUCTED-kiro-auth-token.json").read_text()
    )
    monkeypatch.setenv("HOME", str(home))
    status, files = cli("--import", "--auth-url", upstream.url)  # no PATH: the IDE's default location
    assert status == 0 and [f.name for f in files] == ["kiro-social-google.json"]
    saved = _saved(files[0])
    assert saved["auth_url"] == upstream.url and saved["expires_at"] == "2025-12-31T02:32:45.144Z"  # long spent
    saved["base_url"] = upstream.url  # the fake Kiro API, for this test
    files[0].write_text(json.dumps(saved))

    upstream.add("POST", "/refreshToken", refresh_reply(access="at-fresh", refresh="rt-fresh"))
    upstream.add("POST", "/generateAssistantResponse", kt.reply(kt.text("imported and refreshed")))
    with serve_app(kiro_app([], **{"auth-dir": str(files[0].parent)})) as url:
        answer = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0).chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == "imported and refreshed"
    assert upstream.requests_to("/refreshToken")[0].json == {"refreshToken": saved["refresh_token"]}
    assert upstream.requests_to("/generateAssistantResponse")[0].headers["authorization"] == "Bearer at-fresh"
    assert _saved(files[0])["refresh_token"] == "rt-fresh"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"accessToken": "aoa-old", "expiresAt": "2020-01-01T00:00:00Z"}, "has expired and cannot be renewed"),
        ({"authMethod": "social"}, "neither an access token nor a refresh token"),
        ("not json", "it is not JSON"),
    ],
)
def test_import_of_an_expired_or_wrong_file_names_the_kiro_ide(cli, tmp_path, content, reason):
    ide = tmp_path / "kiro-auth-token.json"
    ide.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SystemExit) as caught:
        cli("--import", str(ide))
    message = str(caught.value)
    assert reason in message and "sign in with the Kiro IDE first" in message
    assert not (tmp_path / "auth").exists()


def _social_server(upstream: FakeUpstream, seen: dict) -> None:
    def login_page(request):
        seen["login"] = request.query
        target = f"{request.query['redirect_uri']}?code=the-code&state={request.query['state']}"
        return Reply(status=302, headers={"Location": target})

    def token(request):
        seen["token"] = request.json
        return Reply.json(
            {
                "accessToken": "at-s",
                "refreshToken": "rt-s",
                "profileArn": "arn:aws:codewhisperer:us-east-1:1:profile/S",
                "expiresIn": 3600,
            }
        )

    upstream.add("GET", "/login", login_page)
    upstream.add("POST", "/oauth/token", token)


def _verify_pkce(seen: dict) -> None:
    verifier = seen["token"]["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert seen["login"]["code_challenge"] == challenge and seen["login"]["code_challenge_method"] == "S256"
    assert seen["token"]["code"] == "the-code"
    assert seen["token"]["redirect_uri"] == seen["login"]["redirect_uri"]


def test_social_login_with_a_browser(cli, upstream: FakeUpstream, monkeypatch):
    seen: dict = {}
    _social_server(upstream, seen)

    def browser(url: str) -> None:  # a browser: follows the redirect back to the callback
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True).start()

    monkeypatch.setattr(webbrowser, "open", browser)  # the terminal LoginContext opens pages with it
    status, files = cli("--idp", "github", "--auth-url", upstream.url, "--timeout", "20")
    assert status == 0 and [f.name for f in files] == ["kiro-social-github.json"]
    assert seen["login"]["idp"] == "Github" and seen["login"]["redirect_uri"].startswith("http://localhost:")
    _verify_pkce(seen)
    saved = _saved(files[0])
    assert (saved["access_token"], saved["refresh_token"], saved["auth_method"]) == ("at-s", "rt-s", "social")
    assert saved["auth_url"] == upstream.url  # refreshes go where the login went


def test_social_login_without_a_browser_takes_the_pasted_address(cli, upstream: FakeUpstream, monkeypatch, capsys):
    seen: dict = {}
    _social_server(upstream, seen)

    def paste(prompt: str) -> str:
        url = next(line.strip() for line in capsys.readouterr().out.splitlines() if "/login?" in line)
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        seen["login"] = query
        return f"{query['redirect_uri']}?code=the-code&state={query['state']}"

    monkeypatch.setattr("builtins.input", paste)
    status, files = cli("--no-browser", "--auth-url", upstream.url, "--label", "Work Account")
    assert status == 0 and [f.name for f in files] == ["kiro-social-work-account.json"]
    _verify_pkce(seen)


def test_social_login_rejects_a_forged_redirect(cli, upstream: FakeUpstream, monkeypatch):
    _social_server(upstream, {})
    monkeypatch.setattr("builtins.input", lambda prompt: "http://localhost:1/oauth/callback?code=x&state=forged")
    with pytest.raises(SystemExit, match="state does not match"):
        cli("--no-browser", "--auth-url", upstream.url)
    assert not upstream.requests_to("/oauth/token")


def test_builder_id_device_flow(cli, upstream: FakeUpstream, monkeypatch, capsys):
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    upstream.add(
        "POST",
        "/client/register",
        Reply.json({"clientId": "cid", "clientSecret": "csec", "clientSecretExpiresAt": 2_000_000_000}),
    )
    upstream.add(
        "POST",
        "/device_authorization",
        Reply.json(
            {
                "deviceCode": "dev-1",
                "userCode": "ABCD-EFGH",
                "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
                "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
                "expiresIn": 600,
                "interval": 0,
            }
        ),
    )
    pending = Reply.json({"error": "authorization_pending", "error_description": "waiting"}, status=400)
    upstream.add(
        "POST",
        "/token",
        [
            pending,
            pending,
            Reply.json({"accessToken": "at-b", "refreshToken": "rt-b", "expiresIn": 3600, "tokenType": "Bearer"}),
        ],
    )
    status, files = cli("--builder-id", "--oidc-url", upstream.url)
    assert status == 0 and [f.name for f in files] == ["kiro-idc-builderid.json"]
    register = upstream.requests_to("/client/register")[0].json
    assert register["clientType"] == "public" and "codewhisperer:conversations" in register["scopes"]
    assert register["grantTypes"] == ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
    assert upstream.requests_to("/device_authorization")[0].json == {
        "clientId": "cid",
        "clientSecret": "csec",
        "startUrl": "https://view.awsapps.com/start",
    }
    polls = upstream.requests_to("/token")
    assert len(polls) == 3 and polls[0].json["grantType"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert "ABCD-EFGH" in capsys.readouterr().out and opened == [
        "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH"
    ]
    saved = _saved(files[0])
    assert (saved["auth_method"], saved["client_id"], saved["client_secret"]) == ("idc", "cid", "csec")
    assert (saved["access_token"], saved["refresh_token"], saved["oidc_url"]) == ("at-b", "rt-b", upstream.url)


def test_builder_id_refused_is_reported(cli, upstream: FakeUpstream, monkeypatch):
    monkeypatch.setattr(webbrowser, "open", lambda url: None)
    upstream.add("POST", "/client/register", Reply.json({"clientId": "cid", "clientSecret": "csec"}))
    upstream.add(
        "POST",
        "/device_authorization",
        Reply.json({"deviceCode": "d", "userCode": "U", "verificationUri": "v", "expiresIn": 60, "interval": 0}),
    )
    upstream.add(
        "POST", "/token", Reply.json({"error": "access_denied", "error_description": "User denied"}, status=400)
    )
    with pytest.raises(SystemExit, match="User denied"):
        cli("--builder-id", "--oidc-url", upstream.url)
