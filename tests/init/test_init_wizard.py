"""``cliproxy init`` driven through a pseudo-terminal, as a person at a terminal runs it:
it asks for providers and hidden keys, writes a commented config and a 0600 env file,
checks the config, and prints client settings that are docs/clients.md's recipes -- with
which Claude Code's SDK then gets an answer through the gateway."""

from __future__ import annotations

import errno
import importlib.util
import os
import pty
import re
import select
import stat
import sys
import time
from pathlib import Path

import anthropic
import pytest
from cliproxy.app import create_app
from cliproxy.config import load_config
from cliproxy.testing import serve_app


def _recipes_module():
    """tests/e2e/recipes.py, which reads the recipes out of docs/clients.md."""
    path = Path(__file__).parents[1] / "e2e" / "recipes.py"
    spec = importlib.util.spec_from_file_location("clients_recipes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs resolves the module by name
    spec.loader.exec_module(module)
    return module


recipes_doc = _recipes_module()
DOC_KEY, DOC_URL, load_recipes = recipes_doc.DOC_KEY, recipes_doc.DOC_URL, recipes_doc.load_recipes
TYPED_KEY = "sk-ant-typed-secret-5f3c9a1e7d"


class Terminal:
    """``cliproxy init`` in a child process whose controlling terminal is a pty."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "cliproxy", *args], env)
        self.pid, self.fd, self.output = pid, fd, ""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError as error:  # EIO: the child closed the terminal
            if error.errno != errno.EIO:
                raise
            data = b""
        if not data:
            return False
        self.output += data.decode(errors="replace").replace("\r\n", "\n")
        return True

    def expect(self, text: str, timeout: float = 60) -> None:
        seen = len(self.output)
        deadline = time.monotonic() + timeout
        while text not in self.output[seen - 200 if seen > 200 else 0 :]:
            if time.monotonic() > deadline or not self._read(deadline - time.monotonic()):
                pytest.fail(f"expected {text!r}; the terminal shows:\n{self.output}")

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def wait(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a first run: no keys, and a home of its own (auth-dir is under it)."""
    keep = ("PATH", "LANG", "TMPDIR", "SYSTEMROOT")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**{k: v for k, v in os.environ.items() if k in keep}, "HOME": str(home), "TERM": "dumb", **extra}


def exports(text: str, title: str) -> dict[str, str]:
    """The ``export NAME=value`` lines under the ``== title ==`` heading."""
    section = text.split(f"== {title} ==\n", 1)[1].split("\n== ", 1)[0]
    return dict(
        line.removeprefix("export ").split("=", 1) for line in section.splitlines() if line.startswith("export ")
    )


def test_a_first_run_at_a_terminal_ends_with_claude_code_settings_that_work(tmp_path: Path, monkeypatch):
    term = Terminal(["init"], tmp_path, clean_env(tmp_path))
    term.expect("Which providers should the gateway use?")
    term.expect("Numbers or ids")
    term.send("99")  # not on the menu: asked again
    term.expect("choose one or more")
    term.send("echo, claude-key")
    term.expect("paste the key (not shown)")
    term.send(TYPED_KEY)
    assert term.wait() == 0, term.output
    out = term.output
    assert TYPED_KEY not in out, "the typed key was echoed"

    config, env_file = tmp_path / "config.yaml", tmp_path / "cliproxy.env"
    for path in (config, env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert env_file.read_text() == f"CLIPROXY_ANTHROPIC_API_KEY={TYPED_KEY}\n"
    text = config.read_text()
    assert TYPED_KEY not in text
    assert 'api-key: "${CLIPROXY_ANTHROPIC_API_KEY}"' in text
    assert "\nenv-file: cliproxy.env\n" in text  # read by the gateway itself: nothing to source
    assert text.startswith("# cliproxy config written by `cliproxy init`")
    (client_key,) = re.findall(r'^  - "(sk-cliproxy-[\w-]+)"$', text, re.M)
    assert len(client_key) > 40
    assert f"{config.name}: OK" in out and "credentials: 2" in out

    # The printed settings are docs/clients.md's, with this gateway's address, key, model.
    recipes = load_recipes()
    claude = exports(out, "Claude Code")
    assert claude.keys() == recipes.claude_env.keys()
    assert claude["ANTHROPIC_AUTH_TOKEN"] == client_key and claude["ANTHROPIC_MODEL"] == "echo-1"
    for name, value in recipes.claude_env.items():
        if value not in (DOC_KEY, DOC_URL) and "MODEL" not in name:
            assert claude[name] == value
    codex_toml = out.split("== Codex: ~/.codex/config.toml ==\n", 1)[1].split("\n== ", 1)[0].strip()
    assert codex_toml == recipes.codex_config_for(DOC_URL, "echo-1").strip()
    assert exports(out, "Codex: environment") == {k: client_key for k in recipes.codex_env}
    gemini = exports(out, "Gemini CLI: environment")
    assert gemini == {k: client_key if v == DOC_KEY else v for k, v in recipes.gemini_env.items()}
    assert "gemini -m echo-1" in out

    # Serve the written config as `cliproxy serve` would -- the typed key comes from the
    # env file the config names, not from this environment -- and ask as Claude Code would.
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "CLIPROXY_ANTHROPIC_API_KEY"})
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # auth-dir: ~/.cliproxy/auth, of this run
    app = create_app(load_config(config))
    with serve_app(app) as url:
        client = anthropic.Anthropic(base_url=url, auth_token=claude["ANTHROPIC_AUTH_TOKEN"], max_retries=0)
        answer = client.messages.create(
            model=claude["ANTHROPIC_MODEL"], max_tokens=50, messages=[{"role": "user", "content": "hello there"}]
        )
    (block,) = answer.content
    assert isinstance(block, anthropic.types.TextBlock) and block.text == "hello there"


def test_a_key_already_in_the_environment_is_referenced_not_stored(tmp_path: Path):
    term = Terminal(
        ["init", "--provider", "claude-key"], tmp_path, clean_env(tmp_path, ANTHROPIC_API_KEY="sk-ant-env-key-1")
    )
    term.expect("Use $ANTHROPIC_API_KEY from your environment for claude-key? [Y/n]")
    term.send("")
    assert term.wait() == 0, term.output
    assert 'api-key: "${ANTHROPIC_API_KEY}"' in (tmp_path / "config.yaml").read_text()
    assert not (tmp_path / "cliproxy.env").exists()
    assert "sk-ant-env-key-1" not in term.output
    assert "ANTHROPIC_MODEL=claude-sonnet-4-6" in term.output
    assert "ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-haiku-5-5" in term.output


def test_yes_asks_nothing_and_an_existing_config_is_kept(tmp_path: Path):
    term = Terminal(["init", "--yes", "-p", "echo", "--port", "9001"], tmp_path, clean_env(tmp_path))
    assert term.wait() == 0, term.output
    config = load_config(tmp_path / "config.yaml")
    assert config.port == 9001 and len(config.api_keys) == 1
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:9001" in term.output
    before = (tmp_path / "config.yaml").read_text()

    again = Terminal(["init", "--yes", "-p", "echo"], tmp_path, clean_env(tmp_path))
    assert again.wait() == 2
    assert "exists; pass --force" in again.output
    assert (tmp_path / "config.yaml").read_text() == before

    asked = Terminal(["init", "-p", "echo"], tmp_path, clean_env(tmp_path))
    asked.expect("config.yaml exists. Overwrite it? [y/N]")
    asked.send("")
    assert asked.wait() == 2
    assert (tmp_path / "config.yaml").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--yes"], "--yes needs --provider ID"),
        (["--yes", "-p", "nope"], "unknown provider 'nope'"),
    ],
)
def test_bad_choices_are_refused_with_what_to_do(tmp_path: Path, args: list[str], message: str):
    term = Terminal(["init", *args], tmp_path, clean_env(tmp_path))
    assert term.wait() == 2
    assert message in term.output
    assert not (tmp_path / "config.yaml").exists()


def test_a_sign_in_can_be_left_for_later(tmp_path: Path):
    term = Terminal(["init", "--provider", "codex-login,echo"], tmp_path, clean_env(tmp_path))
    term.expect("Sign in to codex now (cliproxy login codex --config config.yaml)? [Y/n]")
    term.send("n")
    assert term.wait() == 0, term.output
    assert "sign in later with: cliproxy login codex --config config.yaml" in term.output
    assert "ANTHROPIC_MODEL=gpt-5-codex" not in term.output  # not served until signed in: a served model instead
    assert "ANTHROPIC_MODEL=echo-1" in term.output
    assert "# ChatGPT plan: `cliproxy login codex`" in (tmp_path / "config.yaml").read_text()
