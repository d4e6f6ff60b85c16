"""``cliproxy login roo`` end to end against the fake Roo Code Cloud: the Roo CLI's
browser sign-in (loopback callback with ``?token=``), the pasted address with
``--no-browser``, without a terminal, and the import of the Roo CLI's token."""

from __future__ import annotations

import argparse
import asyncio
import json
import stat
import threading
import urllib.request
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cliproxy.cli import main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import serve_app
from cliproxy_roo import login

AUTH = {"authorization": "Bearer client-key"}


@pytest.fixture
def cli(tmp_path: Path):
    auth_dir = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {auth_dir}\n")

    def run(*argv: str) -> tuple[int, list[Path]]:
        status = main(["login", "roo", "--config", str(config), *argv])
        return status, sorted(auth_dir.glob("*.json")) if auth_dir.exists() else []

    return run


def saved(path: Path) -> dict:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return json.loads(path.read_text())


def sign_in_url(text: str) -> str:
    return next(line.strip() for line in text.splitlines() if "/cli/sign-in?" in line)


def test_the_browser_sign_in_catches_the_token_on_the_loopback_callback(cli, roo, monkeypatch):
    visited: list[str] = []

    def browser(url: str) -> None:  # follows the sign-in page's redirect to the callback
        visited.append(url)
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True).start()

    monkeypatch.setattr(webbrowser, "open", browser)
    status, files = cli("--auth-url", roo.url, "--timeout", "20")
    assert status == 0 and [f.name for f in files] == ["roo-user_2abc.json"]
    content = saved(files[0])
    assert content["type"] == "roo" and content["token"] == roo.token and content["user_id"] == "user_2abc"
    assert content["expires_at"].endswith("Z")
    query = parse_qs(urlsplit(visited[0]).query)
    assert query["callback"][0].startswith("http://127.0.0.1:") and query["callback"][0].endswith("/callback")
    assert len(query["state"][0]) >= 16


def test_without_a_browser_the_pasted_address_is_taken(cli, roo, monkeypatch, capsys):
    def paste(prompt: str) -> str:
        page = sign_in_url(capsys.readouterr().out)
        answer = httpx.get(page, follow_redirects=False)  # the browser lands on a callback it cannot reach
        return answer.headers["location"]

    monkeypatch.setattr("builtins.input", paste)
    status, files = cli("--no-browser", "--auth-url", roo.url, "--label", "work")
    assert status == 0 and [f.name for f in files] == ["roo-work.json"]
    assert saved(files[0])["token"] == roo.token


def test_a_pasted_token_is_taken_too(cli, roo, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: roo.token)
    status, files = cli("--no-browser", "--auth-url", roo.url)
    assert status == 0 and saved(files[0])["token"] == roo.token


def test_another_sign_ins_address_is_refused(cli, roo, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: f"http://127.0.0.1:1/callback?token={roo.token}&state=forged")
    status, files = cli("--no-browser", "--auth-url", roo.url)
    assert status == 1 and files == [] and "state" in capsys.readouterr().err


def test_a_refused_sign_in_says_so(cli, roo, monkeypatch, capsys):
    roo.refusal = "access_denied"

    def paste(prompt: str) -> str:
        return httpx.get(sign_in_url(capsys.readouterr().out), follow_redirects=False).headers["location"]

    monkeypatch.setattr("builtins.input", paste)
    status, files = cli("--no-browser", "--auth-url", roo.url)
    assert status == 1 and files == [] and "access_denied" in capsys.readouterr().err


def test_an_expired_token_from_the_sign_in_is_refused(cli, roo, make_jwt, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: make_jwt(expires_in=-10))
    status, files = cli("--no-browser", "--auth-url", roo.url)
    assert status == 1 and files == [] and "expired" in capsys.readouterr().err


async def test_a_whole_sign_in_runs_without_a_terminal(roo, tmp_path):
    ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))
    args = argparse.Namespace(
        import_path=None, auth_url=roo.url, base_url=None, callback_port=0, label=None, timeout=20.0
    )
    flow = asyncio.create_task(login.run(args, ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "url" and "/cli/sign-in?" in challenge.url
    async with httpx.AsyncClient() as operator:  # the operator's browser, reaching the callback
        landed = (await operator.get(challenge.url, follow_redirects=False)).headers["location"]
        page = await operator.get(landed)
    assert page.status_code == 200
    path = Path(await asyncio.wait_for(flow, 10))
    assert saved(path)["token"] == roo.token


def test_import_copies_the_roo_clis_token(cli, roo, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / ".roo").mkdir(parents=True)
    (home / ".roo" / "cli-credentials.json").write_text(
        json.dumps({"token": roo.token, "createdAt": "2026-01-01T00:00:00Z", "userId": "user_2abc"})
    )
    monkeypatch.setenv("HOME", str(home))
    status, files = cli("--import")
    assert status == 0 and saved(files[0])["token"] == roo.token  # the token, not the whole file
    assert "token-file:" in capsys.readouterr().out


def test_a_signed_in_file_serves_requests(cli, roo, roo_app, tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: roo.token)
    cli("--no-browser", "--auth-url", roo.url, "--base-url", roo.url + "/proxy")
    with serve_app(roo_app([], **{"auth-dir": str(tmp_path / "auth")})) as url:
        for _ in range(200):
            ids = [m["id"] for m in httpx.get(url + "/v1/models", headers=AUTH).json()["data"]]
            if ids:
                break
        answer = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "xai/grok-code-fast-1", "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        status = httpx.get(url + "/v0/status").json()["credentials"][0]
    assert answer.status_code == 200 and "xai/grok-code-fast-1" in ids
    assert roo.server.requests_to("/proxy/v1/chat/completions")[0].headers["authorization"] == f"Bearer {roo.token}"
    assert status["label"] == "roo roo-user_2abc.json" and status["token_expires"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [({"createdAt": "2026-01-01T00:00:00Z"}, "holds no token"), ("not json", "not JSON")],
)
def test_import_of_a_wrong_file_says_to_sign_in_with_the_roo_cli(content, reason, cli, tmp_path, capsys):
    stored = tmp_path / "cli-credentials.json"
    stored.write_text(content if isinstance(content, str) else json.dumps(content))
    status, files = cli("--import", str(stored))
    err = capsys.readouterr().err
    assert status == 1 and files == [] and reason in err and "roo auth login" in err


def test_import_of_an_expired_token_says_to_sign_in_again(cli, tmp_path, make_jwt, capsys):
    stored = tmp_path / "cli-credentials.json"
    stored.write_text(json.dumps({"token": make_jwt(expires_in=-60)}))
    status, _ = cli("--import", str(stored))
    err = capsys.readouterr().err
    assert status == 1 and "has expired" in err and "roo auth login" in err
