"""``cliproxy login codex`` against the fake sign-in service: the PKCE browser flow on
Codex's callback ports (the second when the first is taken), the pasted redirect, the
device flow, with no terminal (``RemoteLoginContext``) and through the CLI; ``--import``
of Codex CLI's ``auth.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cliproxy_codex
import httpx
import pytest
from cliproxy import LoginContext
from cliproxy.cli import main as cli_main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import Reply, asgi_client, gateway_app
from cliproxy_codex import CODEX_CLIENT_ID
from cliproxy_codex.login import login
from cliproxy_codex.testing import FakeChatGPT, codex_block, jwt


def follow(url: str) -> str:
    """What the user's browser does: sign in, end up at the redirect."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"]


def url_in(lines: list[str]) -> str:
    return re.search(r"(http://\S+/oauth/authorize\S+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]


def context(chatgpt: FakeChatGPT, auth_dir: Path, **options: Any) -> tuple[LoginContext, list[str]]:
    echoed: list[str] = []
    config = load_config({"auth-dir": str(auth_dir), "codex": codex_block(chatgpt)})
    return LoginContext(config=config, auth_dir=str(auth_dir), echo=echoed.append, **options), echoed


def saved(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_pasted_redirect_signs_in_and_writes_a_private_token_file(chatgpt, tmp_path):
    auth_dir = tmp_path / "auth"
    ctx, echoed = context(chatgpt, auth_dir, no_browser=True, prompt=lambda question: follow(url_in(echoed)))
    path = Path(await login(argparse.Namespace(), ctx))
    assert path == auth_dir / "codex-plus@example.com-acct-plu.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
    data = saved(path)
    assert data["type"] == "codex" and data["account_id"] == "acct-plus-0001" and data["plan_type"] == "plus"
    assert data["email"] == "plus@example.com" and data["client_id"] == CODEX_CLIENT_ID
    assert data["refresh_token"] == "rt-1" and data["access_token"] in chatgpt.access and data["id_token"]
    query = parse_qs(urlsplit(url_in(echoed)).query)
    assert query["redirect_uri"] == ["http://localhost:1455/auth/callback"] and query["client_id"] == [CODEX_CLIENT_ID]
    assert query["originator"] == ["codex_cli_rs"] and query["id_token_add_organizations"] == ["true"]
    assert any("Signed in to ChatGPT as plus@example.com (plus plan)" in line for line in echoed)


async def test_the_browser_redirect_lands_on_the_fallback_port_when_1455_is_taken(chatgpt, tmp_path):
    visited: list[str] = []

    def browser(url: str) -> bool:
        def visit() -> None:
            visited.append(follow(url))
            httpx.get(visited[-1])

        threading.Thread(target=visit, daemon=True).start()
        return True

    with socket.socket() as blocker:
        try:
            blocker.bind(("127.0.0.1", 1455))
            blocker.listen()
        except OSError:
            pass  # taken by someone else: taken all the same
        ctx, _ = context(chatgpt, tmp_path, no_browser=False, open_browser=browser, prompt=lambda q: time.sleep(60))
        path = await login(argparse.Namespace(timeout=20), ctx)
    assert saved(path)["account_id"] == "acct-plus-0001"
    assert visited[0].startswith("http://localhost:1457/auth/callback?code=")


async def test_a_configured_port_and_client_are_used(chatgpt, tmp_path):
    port = free_port()
    chatgpt.client_ids.add("my-own-client")
    echoed: list[str] = []
    block = codex_block(chatgpt, **{"client-id": "my-own-client", "callback-port": port})
    ctx = LoginContext(
        config=load_config({"codex": block}),
        auth_dir=str(tmp_path),
        no_browser=True,
        echo=echoed.append,
        prompt=lambda q: follow(url_in(echoed)),
    )
    path = await login(argparse.Namespace(), ctx)
    query = parse_qs(urlsplit(url_in(echoed)).query)
    assert query["client_id"] == ["my-own-client"] and query["redirect_uri"] == [
        f"http://localhost:{port}/auth/callback"
    ]
    assert saved(path)["client_id"] == "my-own-client"


async def test_a_whole_browser_login_runs_without_a_terminal(chatgpt, tmp_path):
    ctx = RemoteLoginContext(config=load_config({"codex": codex_block(chatgpt)}), auth_dir=str(tmp_path))
    flow = asyncio.create_task(login(argparse.Namespace(), ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "url" and "/oauth/authorize?" in challenge.url
    ctx.supply_redirect(follow(challenge.url))
    path = await asyncio.wait_for(flow, 10)
    assert saved(path)["plan_type"] == "plus"


async def test_the_device_flow_runs_without_a_terminal(chatgpt, tmp_path):
    chatgpt.signing_in = "acct-free-0002"
    ctx = RemoteLoginContext(config=load_config({"codex": codex_block(chatgpt)}), auth_dir=str(tmp_path))
    flow = asyncio.create_task(login(argparse.Namespace(device=True), ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "device_code" and challenge.user_code == "ABCD-1234"
    assert challenge.url == chatgpt.url + "/codex/device"
    path = Path(await asyncio.wait_for(flow, 20))
    assert path.name == "codex-free@example.com-acct-fre.json" and saved(path)["plan_type"] == "free"
    assert chatgpt.device_polls == 3  # pending (403), pending (404), then the code
    exchange = [r for r in chatgpt.server.requests_to("/oauth/token")][-1]
    assert parse_qs(exchange.body.decode())["redirect_uri"] == [chatgpt.url + "/deviceauth/callback"]


def config_file(tmp_path: Path, chatgpt: FakeChatGPT) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"auth-dir": str(tmp_path / "auth"), "codex": codex_block(chatgpt)}))
    return path


def test_cli_login_with_no_browser_takes_the_pasted_address(chatgpt, tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path, chatgpt)
    monkeypatch.setattr("builtins.input", lambda question: follow(url_in(capsys.readouterr().out.splitlines())))
    assert cli_main(["login", "codex", "--config", str(config), "--no-browser"]) == 0
    assert "saved credentials to" in capsys.readouterr().out
    assert saved(tmp_path / "auth" / "codex-plus@example.com-acct-plu.json")["account_id"] == "acct-plus-0001"


def test_cli_login_with_a_device_code(chatgpt, tmp_path, capsys):
    assert cli_main(["login", "codex", "--config", str(config_file(tmp_path, chatgpt)), "--device"]) == 0
    out = capsys.readouterr().out
    assert "enter the code ABCD-1234" in out and chatgpt.url + "/codex/device" in out
    assert list((tmp_path / "auth").glob("codex-*.json"))


def test_a_device_flow_the_service_does_not_offer_says_so(chatgpt, tmp_path, capsys):
    chatgpt.server.add("POST", "/api/accounts/deviceauth/usercode", lambda request: httpx_404())
    assert cli_main(["login", "codex", "--config", str(config_file(tmp_path, chatgpt)), "--device"]) == 1
    err = capsys.readouterr().err
    assert "device-code sign-in is not enabled" in err and "Traceback" not in err


def httpx_404() -> Any:
    return Reply.json({"detail": "Not Found"}, status=404)


def test_cli_login_reports_a_refused_code_without_a_traceback(chatgpt, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda question: "code-unknown")
    assert cli_main(["login", "codex", "--config", str(config_file(tmp_path, chatgpt)), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "token endpoint answered 400" in err and "invalid_grant" in err and "Traceback" not in err


# -- importing Codex CLI's sign-in -----------------------------------------------------------


def codex_auth_json(home: Path, chatgpt: FakeChatGPT, *, expired: bool = False, **replace: Any) -> Path:
    """Codex's ``auth.json``, as it writes it."""
    issued = chatgpt.issue("acct-plus-0001")
    if expired:
        claims = {"exp": int(time.time()) - 60, "https://api.openai.com/auth": {"chatgpt_account_id": "acct-plus-0001"}}
        issued["access_token"] = jwt(claims)
    content: dict[str, Any] = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": issued["id_token"],
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "account_id": "acct-plus-0001",
        },
        "last_refresh": "2026-11-25T10:00:00.123456789Z",
        **replace,
    }
    home.mkdir(parents=True, exist_ok=True)
    path = home / "auth.json"
    path.write_text(json.dumps(content))
    return path


def test_import_of_codex_clis_sign_in_yields_a_credential_that_refreshes(chatgpt, backend, tmp_path, monkeypatch):
    codex_auth_json(tmp_path / "codex-home", chatgpt, expired=True)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    config = config_file(tmp_path, chatgpt)
    assert cli_main(["login", "codex", "--config", str(config), "--import"]) == 0
    path = tmp_path / "auth" / "codex-plus@example.com-acct-plu.json"
    data = saved(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert data["imported_from"] == "codex-cli" and data["client_id"] == CODEX_CLIENT_ID
    assert data["refresh_token"] == "rt-1" and data["account_id"] == "acct-plus-0001"

    # the imported access token has expired: the first request refreshes it through Codex's client
    app = gateway_app({**json.loads(config.read_text()), "api-keys": ["client-key"]}, plugins=[cliproxy_codex])

    async def run() -> Any:
        async with asgi_client(app) as http:
            return await http.post(
                "/v1/responses",
                headers={"authorization": "Bearer client-key"},
                json={"model": "gpt-5.5", "input": "hi"},
            )

    assert asyncio.run(run()).status_code == 200
    assert [r["client_id"] for r in chatgpt.refreshes] == [CODEX_CLIENT_ID]
    assert chatgpt.refreshes[0]["refresh_token"] == "rt-1" and saved(path)["refresh_token"] == "rt-2"


async def test_import_probes_codexs_default_location(chatgpt, tmp_path, monkeypatch):
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    codex_auth_json(tmp_path / "home" / ".codex", chatgpt)
    echoed: list[str] = []
    ctx = LoginContext(config=load_config({}), auth_dir=str(tmp_path / "auth"), echo=echoed.append)
    path = await login(argparse.Namespace(import_path=""), ctx)
    assert saved(path)["email"] == "plus@example.com" and "rotates" in echoed[-1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        ("{not json", "it is not JSON"),
        (json.dumps({"OPENAI_API_KEY": "sk-proj-x", "tokens": None}), "holds an OpenAI API key"),
        ("expired", "has expired and cannot be renewed"),
    ],
)
def test_import_of_a_wrong_or_expired_file_names_the_codex_command(chatgpt, tmp_path, capsys, content, reason):
    target = tmp_path / "codex-home" / "auth.json"
    if content == "expired":
        path = codex_auth_json(target.parent, chatgpt, expired=True)
        data = json.loads(path.read_text())
        del data["tokens"]["refresh_token"]
        path.write_text(json.dumps(data))
    elif content is not None:
        target.parent.mkdir(parents=True)
        target.write_text(content)
    config = config_file(tmp_path, chatgpt)
    assert cli_main(["login", "codex", "--config", str(config), "--import", str(target)]) == 1
    err = capsys.readouterr().err
    assert reason in err and "codex login" in err and "Traceback" not in err


def test_a_missing_default_file_names_where_it_looked(chatgpt, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    assert cli_main(["login", "codex", "--config", str(config_file(tmp_path, chatgpt)), "--import"]) == 1
    err = capsys.readouterr().err
    assert "no Codex CLI sign-in found" in err and str(tmp_path / "empty-home/.codex/auth.json") in err
