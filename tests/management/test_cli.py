"""`cliproxy keys | credentials | config` against a real server: tables by default,
the API's JSON with --json, errors without a traceback, the key from the environment."""

from __future__ import annotations

import json
import time

import pytest
from cliproxy.cli import main

from .conftest import CLIENT_KEY, MANAGEMENT_KEY


@pytest.fixture
def cli(monkeypatch, capsys):
    monkeypatch.setenv("CLIPROXY_MANAGEMENT_KEY", MANAGEMENT_KEY)

    def run(url: str, *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([*argv, "--url", url])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_keys_from_the_command_line(config_path, serve, cli):
    with serve(config_path) as served:
        status, out, _ = cli(served.url, "keys")
        assert status == 0 and out.splitlines()[0].split() == ["NAME", "ID", "KEY", "FROM", "ENV", "POLICY"]
        assert "key-1" in out and "clie...irst" in out and CLIENT_KEY not in out

        status, out, _ = cli(served.url, "keys", "add")
        assert status == 0 and out.startswith("added key-3 (")
        generated = out.split(": ", 1)[1].strip()
        served.recorder.secrets.add(generated)
        assert generated.startswith("sk-") and served.chat("echo-1", key=generated)

        status, out, _ = cli(served.url, "keys", "rename", "key-3", "client-key-0123456789-renamed")
        served.recorder.secrets.add("client-key-0123456789-renamed")
        assert status == 0 and out.startswith("key-3 is now clie...amed (id ")
        status, out, _ = cli(served.url, "keys", "remove", "key-3", "--json")
        assert status == 0 and json.loads(out)["edit"]["removed"]["name"] == "key-3"

        status, _, err = cli(served.url, "keys", "remove", "key-9")
        assert status == 1 and "answered 404: no client key 'key-9'" in err and "Traceback" not in err


def test_key_policies_from_the_command_line(config_path, serve, cli):
    with serve(config_path) as served:
        new_key = "client-key-with-policy-0001"
        served.recorder.secrets.add(new_key)
        status, out, err = cli(served.url, "keys", "add", new_key, "--set", "name=team-a", "--set", "models=[echo-*]")
        assert status == 0 and out.startswith("added team-a ("), err
        status, out, _ = cli(served.url, "keys", "edit", "team-a", "--set", "rpm=60", "--set", "models=")
        assert status == 0 and out.strip() == "team-a: rpm=60"
        status, out, _ = cli(served.url, "keys", "edit", "team-a", "--set", "metadata={owner: ana}", "--json")
        assert status == 0 and json.loads(out)["edit"]["key"]["policy"] == {"rpm": 60, "metadata": {"owner": "ana"}}
        status, out, _ = cli(served.url, "keys")
        team = [line for line in out.splitlines() if line.startswith("team-a")]
        assert len(team) == 1 and team[0].rstrip().endswith('rpm=60 metadata={"owner": "ana"}')
        status, _, err = cli(served.url, "keys", "edit", "team-a", "--set", "rpm=many")
        assert status != 0 and "'api-keys[2].rpm' must be a whole number" in err and "Traceback" not in err
        status, _, err = cli(served.url, "keys", "edit", "team-a")
        assert status == 1 and "needs --set FIELD=VALUE" in err


def test_hash_key_for_a_client_key(capsys):
    assert main(["hash-key", "--client", "sk-some-client-key"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("sha256:") and len(printed) == len("sha256:") + 64


def test_credentials_from_the_command_line(config_path, serve, cli, tmp_path):
    with serve(config_path) as served:
        status, out, _ = cli(served.url, "credentials")
        lines = out.splitlines()
        assert status == 0 and lines[0].split()[:4] == ["CREDENTIAL", "ID", "PROVIDER", "STATE"]
        assert lines[1].startswith("echo #0") and " ok " in lines[1]

        status, out, _ = cli(served.url, "credentials", "disable", "echo #0")
        assert status == 0 and out.startswith("echo #0 (echo:") and out.rstrip().endswith("disabled")
        status, out, _ = cli(served.url, "credentials", "disable", "echo #0")
        assert out.rstrip().endswith("disabled already")
        status, _, err = cli(served.url, "credentials", "disable", "echo #1")
        assert status == 1 and "it disables every credential" in err and '"force": true' in err
        listed = cli(served.url, "credentials")[1].splitlines()
        assert listed[-1].startswith("echo #0") and " disabled " in listed[-1]  # disabled ones come last
        assert cli(served.url, "credentials", "enable", "echo #0")[0] == 0

        status, out, _ = cli(served.url, "credentials", "test", "echo #1")
        assert status == 0 and out.startswith("echo #1: OK -- echo-2, ")
        status, out, _ = cli(served.url, "credentials", "reset", "echo #1")
        assert status == 0 and out.strip() == "cleared 0 cooldown(s)"
        status, out, _ = cli(served.url, "credentials", "quota", "echo #1")
        assert status == 0 and out.strip() == "its provider does not report quotas"

        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"type": "nobody"}))
        status, _, err = cli(served.url, "credentials", "upload", str(bad))
        assert status == 1 and "answered 422" in err


def test_config_from_the_command_line(config_path, serve, cli, tmp_path):
    with serve(config_path) as served:
        status, out, _ = cli(served.url, "config")
        assert status == 0 and "# the demo provider answers locally" in out and MANAGEMENT_KEY not in out
        assert json.loads(cli(served.url, "config", "show", "--json")[1])["config"]["request-retry"] == 1

        status, out, _ = cli(served.url, "config", "set", "routing.strategy", "fill-first")
        assert status == 0 and out.startswith("routing.strategy: applied; settings changed: routing")
        assert served.gateway.config.routing.strategy == "fill-first"
        assert cli(served.url, "config", "set", "request-retry", "4")[0] == 0
        assert served.gateway.config.request_retry == 4  # "4" was read as a number
        assert cli(served.url, "config", "get", "request-retry")[1].strip() == "4"

        before = config_path.read_bytes()
        status, _, err = cli(served.url, "config", "set", "routing.strategy", "sideways")
        assert status == 2 and "'routing.strategy' is 'sideways'" in err and config_path.read_bytes() == before

        assert cli(served.url, "config", "unset", "request-retry")[0] == 0
        assert served.gateway.config.request_retry == 3

        unchecked = config_path.read_bytes()
        candidate = tmp_path / "candidate.yaml"
        candidate.write_text(f"api-keys: [{CLIENT_KEY}]\necho:\n  - models: [echo-7]\n")
        status, out, _ = cli(served.url, "config", "check", str(candidate))
        assert status == 0 and out.strip() == f"{candidate}: OK (1 credentials, 1 models)"

        broken = tmp_path / "broken.yaml"
        broken.write_text("echo:\n  - models: [x]\n    delay_ms: 3\n")
        status, _, err = cli(served.url, "config", "check", str(broken))
        assert status == 2 and "did you mean 'delay-ms'" in err
        assert config_path.read_bytes() == unchecked  # checking writes nothing

        config_path.write_text(config_path.read_text().replace("echo-2", "echo-8"))
        status, out, _ = cli(served.url, "config", "reload")
        assert status == 0 and "models added: echo-8, two/echo-8" in out


def test_the_cli_says_what_to_do_without_a_key_or_a_gateway(config_path, serve, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CLIPROXY_MANAGEMENT_KEY", raising=False)
    with serve(config_path) as served:
        assert main(["keys", "--url", served.url, "--config", str(config_path)]) == 0  # the config's own key
        hashed = tmp_path / "hashed.yaml"
        hashed.write_text(
            "remote-management:\n  secret-key: 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'\n"
        )
        capsys.readouterr()
        assert main(["keys", "--url", served.url, "--config", str(hashed)]) == 1
        assert "holds a hash of the management key" in capsys.readouterr().err
    started = time.monotonic()
    assert main(["keys", "--url", served.url, "--management-key", MANAGEMENT_KEY]) == 1
    assert "is 'cliproxy serve' running?" in capsys.readouterr().err and time.monotonic() - started < 30


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--reset", "all"],
        ["keys"],
        ["credentials"],
        ["config"],
        ["usage"],
        ["logs"],
        ["logs", "--list"],
        ["login", "--remote", "claude"],
    ],
    ids=" ".join,
)
def test_every_command_that_drives_a_gateway_takes_the_same_options(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.yaml here: --url names the gateway
    assert main([*command, "--url", "http://127.0.0.1:9", "--management-key", MANAGEMENT_KEY, "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not reach http://127.0.0.1:9") and "is 'cliproxy serve' running?" in err


def test_a_hashed_key_in_the_config_is_no_obstacle_where_no_key_is_needed(
    config_path, serve, capsys, tmp_path, monkeypatch
):
    monkeypatch.delenv("CLIPROXY_MANAGEMENT_KEY", raising=False)
    hashed = tmp_path / "hashed.yaml"
    hashed.write_text("remote-management:\n  secret-key: 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'\n")
    with serve(config_path) as served:
        capsys.readouterr()
        assert main(["status", "--url", served.url, "--config", str(hashed), "--json"]) == 0  # this machine: open
        assert json.loads(capsys.readouterr().out)["credentials"]
        assert main(["usage", "--url", served.url, "--config", str(hashed)]) == 1
        err = capsys.readouterr().err
    assert "answered 401" in err and "holds a hash of the management key" in err and "CLIPROXY_MANAGEMENT_KEY" in err
