"""``cliproxy login kilo`` end to end against the fake Kilo: the device flow through the
real command line (``--no-browser``) and without a terminal (``RemoteLoginContext``),
choosing the personal account or an organization, the Kilo CLI import, and the token
files serving requests."""

from __future__ import annotations

import argparse
import asyncio
import json
import stat
import time
from pathlib import Path

import httpx
import openai
import pytest
from cliproxy.cli import main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import Reply, serve_app
from cliproxy_kilo import login

CHAT = "/api/gateway/chat/completions"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(login, "POLL_INTERVAL", 0.0)


@pytest.fixture
def cli(tmp_path: Path):
    auth_dir = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {auth_dir}\n")

    def run(*argv: str) -> tuple[int, list[Path]]:
        status = main(["login", "kilo", "--config", str(config), *argv])
        return status, sorted(auth_dir.glob("*.json")) if auth_dir.exists() else []

    return run


def saved(path: Path) -> dict:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return json.loads(path.read_text())


def test_device_login_on_the_command_line_for_an_organization(cli, kilo, capsys):
    status, files = cli("--no-browser", "--base-url", kilo.url, "--org", "Acme")
    assert status == 0 and [f.name for f in files] == ["kilo-dev@example.com-org-acme.json"]
    content = saved(files[0])
    assert content["type"] == "kilo" and content["token"] == kilo.token
    assert content["organization_id"] == "org-acme" and content["email"] == "dev@example.com"
    assert content["expires_at"].endswith("Z")
    out = capsys.readouterr().out
    assert "KILO-1234" in out and f"{kilo.url}/device-auth?code=KILO-1234" in out
    assert len(kilo.server.requests_to("/api/device-auth/codes/KILO-1234")) == 3  # 202, 202, 200
    assert kilo.server.requests_to("/api/profile")[0].headers["authorization"] == f"Bearer {kilo.token}"


def test_the_command_line_asks_which_account_when_there_is_a_choice(cli, kilo, monkeypatch, capsys):
    kilo.organizations.append({"id": "org-beta", "name": "Beta", "role": "owner"})
    monkeypatch.setattr("builtins.input", lambda prompt: "2")
    status, files = cli("--no-browser", "--base-url", kilo.url)
    assert status == 0 and saved(files[0])["organization_id"] == "org-beta"
    out = capsys.readouterr().out
    assert "0. personal account" in out and "1. Acme (org-acme, member)" in out and "2. Beta (org-beta, owner)" in out


def test_an_empty_answer_means_the_personal_account(cli, kilo, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    status, files = cli("--no-browser", "--base-url", kilo.url)
    assert status == 0 and [f.name for f in files] == ["kilo-dev@example.com.json"]
    assert "organization_id" not in saved(files[0])


def test_an_unknown_org_is_refused_with_the_known_ones(cli, kilo, capsys):
    status, files = cli("--no-browser", "--base-url", kilo.url, "--org", "nope")
    assert status == 1 and files == []
    assert "Acme (org-acme)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answer", "words"), [(Reply(status=403), "denied"), (Reply(status=410), "expired")], ids=["denied", "expired"]
)
def test_a_denied_or_expired_code_ends_the_login(answer, words, cli, kilo, capsys):
    kilo.polls = [Reply(status=202), answer]
    status, files = cli("--no-browser", "--base-url", kilo.url, "--org", "personal")
    assert status == 1 and files == []
    err = capsys.readouterr().err
    assert words in err and "start the login again" in err and "Traceback" not in err


def test_a_pending_state_in_a_200_body_keeps_polling(cli, kilo):
    kilo.polls = [Reply.json({"status": "pending"}), Reply(status=202), kilo.approved()]
    status, files = cli("--no-browser", "--base-url", kilo.url, "--org", "personal")
    assert status == 0 and saved(files[0])["token"] == kilo.token


def test_too_many_pending_sign_ins_says_to_wait(cli, kilo, capsys):
    kilo.server.add("POST", "/api/device-auth/codes", Reply.json({"error": "too many"}, status=429))
    status, _ = cli("--no-browser", "--base-url", kilo.url)
    assert status == 1 and "wait a few minutes" in capsys.readouterr().err


async def test_a_whole_login_runs_without_a_terminal(kilo, tmp_path):
    ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))
    args = argparse.Namespace(import_path=None, org=None, base_url=kilo.url, label=None, timeout=60.0)
    flow = asyncio.create_task(login.run(args, ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "device_code" and challenge.user_code == "KILO-1234"
    assert challenge.url == f"{kilo.url}/device-auth?code=KILO-1234"
    for _ in range(500):  # the operator confirms the code; the flow then asks which account
        if ctx.awaiting_redirect:
            break
        await asyncio.sleep(0.01)
    assert "Which one?" in ctx.awaiting_redirect
    assert any("1. Acme (org-acme, member)" in line for line in ctx.messages)
    ctx.supply_redirect("org-acme")
    path = Path(await asyncio.wait_for(flow, 10))
    assert saved(path)["organization_id"] == "org-acme"


def test_a_signed_in_file_serves_requests(cli, kilo, kilo_app, tmp_path):
    cli("--no-browser", "--base-url", kilo.url, "--org", "org-acme")
    with serve_app(kilo_app([], **{"auth-dir": str(tmp_path / "auth")})) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        answer = client.chat.completions.create(
            model="anthropic/claude-opus-4.5", messages=[{"role": "user", "content": "hi"}]
        )
        status = httpx.get(url + "/v0/status").json()["credentials"][0]
    assert answer.choices[0].message.content.startswith("The question")
    sent = kilo.server.requests_to(CHAT)[0]
    assert sent.headers["authorization"] == f"Bearer {kilo.token}"
    assert sent.headers["x-kilocode-organizationid"] == "org-acme"
    assert status["label"] == "kilo kilo-dev@example.com-org-acme.json" and status["token_expires"]


def test_an_expired_sign_in_is_unhealthy_and_says_sign_in_again(kilo, kilo_app, tmp_path, make_jwt):
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    expired = make_jwt(sub="user-1", exp=int(time.time()) - 60)
    (auth / "kilo-old.json").write_text(
        json.dumps({"type": "kilo", "token": expired, "base_url": kilo.url, "prefix": "k"})
    )
    with serve_app(kilo_app([], **{"auth-dir": str(auth)})) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        with pytest.raises((openai.AuthenticationError, openai.RateLimitError)):  # 429 once it rests
            client.chat.completions.create(
                model="k/anthropic/claude-opus-4.5", messages=[{"role": "user", "content": "hi"}]
            )
        status = httpx.get(url + "/v0/status").json()["credentials"][0]
    assert status["state"] == "unhealthy"
    assert "sign in again with `cliproxy login kilo`" in status["unhealthy"]["reason"]
    assert not kilo.server.requests_to(CHAT)  # an expired token is not sent


def test_import_copies_the_kilo_clis_sign_in(cli, kilo, tmp_path, capsys):
    stored = tmp_path / "auth.json"
    expires = int((time.time() + 3600) * 1000)
    stored.write_text(
        json.dumps(
            {
                "kilo": {
                    "type": "oauth",
                    "access": kilo.token,
                    "refresh": kilo.token,
                    "expires": expires,
                    "accountId": "org-acme",
                }
            }
        )
    )
    status, files = cli("--import", str(stored))
    assert status == 0 and [f.name for f in files] == ["kilo-cli-org-acme.json"]
    content = saved(files[0])
    assert (content["token"], content["organization_id"]) == (kilo.token, "org-acme")
    assert "imported the Kilo CLI's sign-in" in capsys.readouterr().out


def test_import_finds_the_kilo_clis_file_and_takes_an_api_key(cli, kilo, tmp_path, monkeypatch):
    data_home = tmp_path / "data"
    (data_home / "kilo").mkdir(parents=True)
    (data_home / "kilo" / "auth.json").write_text(json.dumps({"kilo": {"type": "api", "key": "kilo-key-123"}}))
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("KILO_ORG_ID", raising=False)
    monkeypatch.delenv("KILOCODE_ORGANIZATION_ID", raising=False)
    status, files = cli("--import")
    assert status == 0 and saved(files[0]) == {"type": "kilo", "token": "kilo-key-123"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"anthropic": {"type": "api", "key": "x"}}, "it has no 'kilo' sign-in"),
        ({"kilo": {"type": "wellknown"}}, "not 'oauth' or 'api'"),
        ({"kilo": {"type": "oauth", "access": "old", "expires": 1000}}, "has expired"),
    ],
)
def test_import_of_a_wrong_or_expired_file_says_to_sign_in_with_the_kilo_cli(content, reason, cli, tmp_path, capsys):
    stored = tmp_path / "auth.json"
    stored.write_text(json.dumps(content))
    status, files = cli("--import", str(stored))
    err = capsys.readouterr().err
    assert status == 1 and files == []
    assert reason in err and "kilo auth login" in err


def test_import_with_nothing_to_import_names_where_it_looked(cli, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("PI_CODING_AGENT_DIR", raising=False)
    status, _ = cli("--import")
    err = capsys.readouterr().err
    assert status == 1 and ".local/share/kilo/auth.json" in err and "kilo auth login" in err
