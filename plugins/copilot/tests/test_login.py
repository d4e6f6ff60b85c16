"""``cliproxy login copilot`` against the fake GitHub: the device flow from the command
line (``--no-browser``) and with no terminal at all (``RemoteLoginContext``), the default
client, an account without Copilot, ``--import`` of an editor plugin's sign-in, and the
token files serving requests afterwards."""

from __future__ import annotations

import argparse
import asyncio
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs

import cliproxy_copilot
import openai
import pytest
from cliproxy import write_token_file
from cliproxy.app import gateway_of
from cliproxy.cli import main as cli_main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import gateway_app, serve_app
from cliproxy_copilot.login import login
from cliproxy_copilot.testing import API, GITHUB_TOKEN, GPT, USER, VSCODE_CLIENT, FakeCopilot


def config_file(tmp_path: Path, copilot: FakeCopilot, **block: object) -> Path:
    path = tmp_path / "config.yaml"
    config = {
        "api-keys": ["client-key"],
        "auth-dir": str(tmp_path / "auth"),
        "copilot-oauth": copilot.oauth_block(**block),
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def form(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def ask_gpt(url: str) -> str:
    client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
    answer = client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


# -- the device flow -----------------------------------------------------------------------------


def test_cli_login_no_browser_signs_in_with_the_default_client_and_writes_a_private_token_file(
    copilot, tmp_path, capsys
):
    copilot.pending_polls = 2
    status = cli_main(["login", "copilot", "--config", str(config_file(tmp_path, copilot)), "--no-browser"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"Open {copilot.url}/login/device and enter the code WDJB-MJHT" in out
    assert f"Signed in to GitHub Copilot as {USER}" in out
    path = tmp_path / "auth" / f"copilot-{USER}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["type"] == "copilot" and saved["github_token"] == GITHUB_TOKEN and saved["user"] == USER
    assert saved["client_id"] == VSCODE_CLIENT == "Iv1.b507a08c87ecfe98"
    assert saved["copilot_token"].startswith("tid=fake") and saved["api_url"] == copilot.url + API
    (asked,) = copilot.requests_to("/login/device/code")
    assert form(asked) == {"client_id": VSCODE_CLIENT, "scope": "read:user"}
    polls = copilot.requests_to("/login/oauth/access_token")
    assert len(polls) == 3 and form(polls[-1])["device_code"] == "dc-1"
    assert GITHUB_TOKEN not in out


async def test_a_whole_device_login_runs_without_a_terminal(copilot, tmp_path):
    """What the management API does: the code goes to a remote operator; nothing is read
    from a terminal."""
    config = load_config({"copilot-oauth": copilot.oauth_block()})
    ctx = RemoteLoginContext(config=config, auth_dir=str(tmp_path))
    flow = asyncio.create_task(login(argparse.Namespace(), ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "device_code" and challenge.user_code == "WDJB-MJHT"
    assert challenge.url == copilot.url + "/login/device" and challenge.expires_in == 900
    path = Path(await asyncio.wait_for(flow, 10))
    assert json.loads(path.read_text())["github_token"] == GITHUB_TOKEN
    assert any(f"Signed in to GitHub Copilot as {USER}" in line for line in ctx.messages)


def test_a_configured_or_given_client_id_replaces_the_default(copilot, tmp_path):
    copilot.client_ids = {"Iv1.mine", "Iv1.flag"}
    config = config_file(tmp_path, copilot, **{"client-id": "Iv1.mine"})
    assert cli_main(["login", "copilot", "--config", str(config), "--no-browser"]) == 0
    assert form(copilot.requests_to("/login/device/code")[0])["client_id"] == "Iv1.mine"
    assert cli_main(["login", "copilot", "--config", str(config), "--no-browser", "--client-id", "Iv1.flag"]) == 0
    assert form(copilot.requests_to("/login/device/code")[1])["client_id"] == "Iv1.flag"
    assert json.loads((tmp_path / "auth" / f"copilot-{USER}.json").read_text())["client_id"] == "Iv1.flag"


def test_an_account_without_copilot_fails_the_login_with_what_to_do(copilot, tmp_path, capsys):
    copilot.unentitled.add(GITHUB_TOKEN)
    assert cli_main(["login", "copilot", "--config", str(config_file(tmp_path, copilot)), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "this GitHub account has no Copilot subscription" in err and "no_copilot_access" in err
    assert "https://github.com/features/copilot" in err and "Traceback" not in err
    assert not (tmp_path / "auth").exists() or not list((tmp_path / "auth").glob("*.json"))


def test_a_refused_client_id_names_the_setting(copilot, tmp_path, capsys):
    copilot.client_ids = set()
    assert cli_main(["login", "copilot", "--config", str(config_file(tmp_path, copilot)), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "copilot-oauth.client-id" in err and "invalid_client" in err


def test_a_signed_in_account_serves_requests(copilot, tmp_path):
    config = config_file(tmp_path, copilot)
    assert cli_main(["login", "copilot", "--config", str(config), "--no-browser"]) == 0
    exchanges = copilot.exchanges
    with serve_app(gateway_app(json.loads(config.read_text()), plugins=[cliproxy_copilot])) as url:
        assert ask_gpt(url)
    assert copilot.exchanges == exchanges, "the login's Copilot token was still good"
    assert copilot.api_requests()[-1].path == API + "/chat/completions"


# -- importing an editor plugin's sign-in -------------------------------------------------------------


def apps_json(directory: Path, token: str = GITHUB_TOKEN, user: str | None = USER, app: str = VSCODE_CLIENT) -> Path:
    """``apps.json`` as JetBrains and copilot.vim write it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "apps.json"
    entry = {"oauth_token": token, "githubAppId": app}
    if user:
        entry["user"] = user
    path.write_text(json.dumps({f"github.com:{app}": entry}))
    return path


def test_import_of_apps_json_from_its_default_place_yields_a_working_credential(copilot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    apps_json(tmp_path / "home" / ".config" / "github-copilot")
    config = config_file(tmp_path, copilot)
    assert cli_main(["login", "copilot", "--config", str(config), "--import"]) == 0
    assert "Imported the GitHub Copilot sign-in of octocat" in capsys.readouterr().out
    saved_path = tmp_path / "auth" / f"copilot-{USER}.json"
    saved = json.loads(saved_path.read_text())
    assert stat.S_IMODE(saved_path.stat().st_mode) == 0o600
    assert (saved["github_token"], saved["client_id"], saved["user"]) == (GITHUB_TOKEN, VSCODE_CLIENT, USER)
    assert saved["imported_from"].endswith(".config/github-copilot/apps.json")
    exchanges = copilot.exchanges
    with serve_app(gateway_app(json.loads(config.read_text()), plugins=[cliproxy_copilot])) as url:
        assert ask_gpt(url)
    assert copilot.exchanges == exchanges, "the import's Copilot token was still good"
    saved_path.write_text(json.dumps({**saved, "copilot_expires_at": 1}))  # now it has expired
    with serve_app(gateway_app(json.loads(config.read_text()), plugins=[cliproxy_copilot])) as url:
        assert ask_gpt(url)
    assert copilot.exchanges == exchanges + 1, "exchanged again from the GitHub token, once"
    assert json.loads(saved_path.read_text())["copilot_token"] != saved["copilot_token"], "written back"


@pytest.mark.parametrize("layout", ["hosts", "apps-other-app", "xdg"])
def test_import_reads_hosts_json_other_apps_and_xdg_config_home(copilot, tmp_path, monkeypatch, layout):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    folder = tmp_path / "home" / ".config" / "github-copilot"
    folder.mkdir(parents=True)
    if layout == "hosts":
        (folder / "hosts.json").write_text(json.dumps({"github.com": {"user": USER, "oauth_token": GITHUB_TOKEN}}))
    elif layout == "apps-other-app":
        apps_json(folder, app="Iv1.someotherapp", user=None)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        apps_json(tmp_path / "xdg" / "github-copilot")
    assert cli_main(["login", "copilot", "--config", str(config_file(tmp_path, copilot)), "--import"]) == 0
    saved = json.loads((tmp_path / "auth" / f"copilot-{USER}.json").read_text())
    assert saved["github_token"] == GITHUB_TOKEN and saved["user"] == USER
    expected_client = "Iv1.someotherapp" if layout == "apps-other-app" else VSCODE_CLIENT
    assert saved["client_id"] == expected_client


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        ("{not json", "it is not JSON"),
        (json.dumps({"ghe.example.com:Iv1.x": {"oauth_token": "ghu_x"}}), "it holds no github.com sign-in"),
        ("revoked", "has expired and cannot be renewed"),
    ],
)
def test_import_of_a_wrong_or_expired_file_says_how_to_get_a_good_one(copilot, tmp_path, capsys, content, reason):
    target = tmp_path / "copilot" / "apps.json"
    if content == "revoked":
        apps_json(target.parent, token="ghu_revokedToken")
    elif content is not None:
        target.parent.mkdir(parents=True)
        target.write_text(content)
    config = config_file(tmp_path, copilot)
    assert cli_main(["login", "copilot", "--config", str(config), "--import", str(target)]) == 1
    err = capsys.readouterr().err
    assert reason in err and "sign in to GitHub Copilot in JetBrains" in err and "Traceback" not in err
    assert "ghu_revokedToken" not in err
    assert not (tmp_path / "auth").exists() or not list((tmp_path / "auth").glob("*.json"))


def test_a_missing_default_file_names_where_it_looked(copilot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert cli_main(["login", "copilot", "--config", str(config_file(tmp_path, copilot)), "--import"]) == 1
    err = capsys.readouterr().err
    assert "no GitHub Copilot editor plugin sign-in found" in err
    assert str(tmp_path / "empty-home/.config/github-copilot/apps.json") in err
    assert str(tmp_path / "empty-home/.config/github-copilot/hosts.json") in err


# -- token files --------------------------------------------------------------------------------------------


def test_cliproxyapi_plus_token_files_load_and_keep_their_layout(copilot, tmp_path):
    path = tmp_path / "github-copilot-octocat.json"
    legacy = {
        "type": "github-copilot",
        "access_token": GITHUB_TOKEN,
        "token_type": "bearer",
        "scope": "user:email",
        "username": USER,
    }
    write_token_file(path, legacy)
    config = {"api-keys": ["client-key"], "auth-dir": str(tmp_path), "copilot-oauth": copilot.oauth_block()}
    with serve_app(gateway_app(config, plugins=[cliproxy_copilot])) as url:
        assert ask_gpt(url)
    assert copilot.exchanges == 1
    written = json.loads(path.read_text())
    assert written["type"] == "github-copilot" and written["access_token"] == GITHUB_TOKEN
    assert written["username"] == USER and written["copilot_token"].startswith("tid=fake")
    assert "github_token" not in written


def test_a_token_file_without_a_github_token_is_skipped_with_the_reason(copilot, tmp_path, caplog):
    (tmp_path / "copilot-broken.json").write_text(json.dumps({"type": "copilot", "user": USER}))
    config = {"api-keys": ["client-key"], "auth-dir": str(tmp_path), "copilot-oauth": copilot.oauth_block()}
    app = gateway_app(config, plugins=[cliproxy_copilot])
    assert not gateway_of(app).credentials
    assert any("no github_token" in r.getMessage() for r in caplog.records)
