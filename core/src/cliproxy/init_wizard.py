"""``cliproxy init``: a first config without writing YAML.

Asks which providers to use (or takes ``--provider``), writes a commented ``config.yaml``
with a generated client key, asks for API keys without echoing them -- a key already in
the environment is referenced as ``${NAME}``, a typed one goes to a 0600 env file beside
the config and is referenced from there -- runs the chosen ``cliproxy login`` flows, then
``cliproxy check``, and prints the settings Claude Code, Codex and Gemini CLI need
(docs/clients.md). ``--yes`` asks nothing: keys must then be in the environment.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from cliproxy.init_choice import InitChoice

__all__ = ["add_init_command", "client_settings", "render_config"]


def render_config(
    choices: Sequence[InitChoice],
    *,
    client_key: str,
    host: str,
    port: int,
    env_names: Mapping[str, str],
    env_file: Path | None,
) -> str:
    """The commented ``config.yaml`` for ``choices`` (``env_names``: choice id -> the
    variable its key is read from)."""
    lines = [
        f"# cliproxy config written by `cliproxy init` on {time.strftime('%Y-%m-%d')}.",
        "# Every key is explained in the README's Configuration table and in",
        "# examples/config.yaml; `cliproxy check --config <this file>` validates it.",
    ]
    lines.append("")
    if env_file is not None:
        lines += [
            "# The API keys you typed are in this file (mode 0600), referenced below as ${NAME};",
            "# the gateway reads it at start-up (variables already in the environment win).",
            f"env-file: {env_file}",
            "",
        ]
    lines += [
        f"host: {host}          # the interface to listen on; 0.0.0.0 for every interface",
        f"port: {port}",
        "",
        "# Clients (Claude Code, Codex, Gemini CLI, SDKs) send one of these keys as a Bearer",
        "# token, x-api-key or x-goog-api-key. Give each client its own to tell them apart in usage.",
        "api-keys:",
        f'  - "{client_key}"',
        "",
        "# Where `cliproxy login <provider>` keeps the token files it writes.",
        "auth-dir: ~/.cliproxy/auth",
        "",
        "# Keep each client session on one credential, so upstream prompt caches hit.",
        "routing:",
        "  session-affinity: true",
        "",
        "# --- Providers ------------------------------------------------------------------",
        "",
    ]
    for choice in choices:
        lines.append(choice.block.format(env=env_names.get(choice.id, choice.env)).rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


def client_settings(url: str, client_key: str, model: str, small_model: str) -> str:
    """What Claude Code, Codex and Gemini CLI need to use the gateway: the recipes of
    docs/clients.md, with this gateway's address, key and models."""
    codex = {"model": model}
    return f"""\
== Claude Code ==
export ANTHROPIC_BASE_URL={url}
export ANTHROPIC_AUTH_TOKEN={client_key}
export ANTHROPIC_MODEL={model}
export ANTHROPIC_DEFAULT_HAIKU_MODEL={small_model}
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
claude

== Codex: ~/.codex/config.toml ==
model = {json.dumps(codex["model"])}
model_provider = "cliproxy"
check_for_update_on_startup = false

[model_providers.cliproxy]
name = "cliproxy"
base_url = "{url}/v1"
env_key = "CLIPROXY_API_KEY"
wire_api = "responses"

[analytics]
enabled = false

[features]
plugins = false

== Codex: environment ==
export CLIPROXY_API_KEY={client_key}
codex

== Gemini CLI: ~/.gemini/settings.json ==
{{
  "security": {{"auth": {{"selectedType": "gemini-api-key"}}}},
  "privacy": {{"usageStatisticsEnabled": false}},
  "general": {{"enableAutoUpdate": false, "enableAutoUpdateNotification": false}}
}}

== Gemini CLI: environment ==
export GOOGLE_GEMINI_BASE_URL={url}
export GEMINI_API_KEY={client_key}
export GEMINI_CLI_TRUST_WORKSPACE=true
gemini -m {model}
"""


# -- the command ---------------------------------------------------------------------------


def add_init_command(sub: argparse._SubParsersAction, choices: Sequence[InitChoice]) -> None:
    """Add ``cliproxy init``, offering ``choices`` (those the installed plugins register)."""
    parser = sub.add_parser("init", help="write a first config.yaml: providers, keys, sign-ins, client settings")
    parser.add_argument("--config", "-c", default="config.yaml", help="where to write the config (./config.yaml)")
    parser.add_argument(
        "--provider",
        "-p",
        action="append",
        default=[],
        metavar="ID",
        help="a provider to set up (repeat, or comma-separate): "
        + (", ".join(c.id for c in choices) or "none installed"),
    )
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing: keys come from the environment")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config file")
    parser.add_argument("--host", default="127.0.0.1", help="the interface to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8317, help="the port to listen on (8317)")
    parser.add_argument("--env-file", help="where typed API keys are kept (default: cliproxy.env beside the config)")
    parser.add_argument("--no-login", action="store_true", help="do not run the sign-ins now; print their commands")
    parser.set_defaults(handler=lambda args: Wizard(args, tuple(choices), input, getpass.getpass).run())


class InitError(Exception):
    """A wizard step that cannot go on; its message says what to do."""


@attrs.define
class Wizard:
    args: argparse.Namespace
    choices: tuple[InitChoice, ...]
    ask: Callable[[str], str]
    ask_secret: Callable[[str], str]

    def run(self) -> int:
        try:
            return self._run()
        except InitError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except EOFError:
            print("\ninit: cancelled, nothing written", file=sys.stderr)
            return 1

    def _run(self) -> int:
        config = Path(self.args.config).expanduser()
        if (
            config.exists()
            and not self.args.force
            and (self.args.yes or not self._confirm(f"{config} exists. Overwrite it?", default=False))
        ):
            raise InitError(f"{config} exists; pass --force to overwrite it, or --config to write elsewhere")
        choices = self._choose()
        env_file = Path(self.args.env_file).expanduser() if self.args.env_file else config.parent / "cliproxy.env"
        env_names, typed = self._keys(choices)
        client_key = "sk-cliproxy-" + secrets.token_urlsafe(24)
        text = render_config(
            choices,
            client_key=client_key,
            host=self.args.host,
            port=self.args.port,
            env_names=env_names,
            env_file=_relative_to(env_file, config.parent) if typed else None,
        )
        config.parent.mkdir(parents=True, exist_ok=True)
        _write_private(config, text)
        print(f"wrote {config} (mode 0600: it holds the client key)")
        if typed:
            _write_private(env_file, "".join(f"{name}={value}\n" for name, value in typed.items()))
            print(f"wrote {env_file} (mode 0600) with the API key(s) you typed")
        env = {**os.environ, **typed}
        self._logins(choices, config, env)
        ok = self._check(config, env)
        served = _models(config, env) if ok else []
        model, small = _pick_models(choices, served)
        host = "127.0.0.1" if self.args.host in ("0.0.0.0", "::", "") else self.args.host
        url = f"http://{host}:{self.args.port}"
        print()
        print("Next: start the gateway")
        print(f"  cliproxy serve --config {config}")
        print()
        print("and point your clients at it (docs/clients.md explains each setting):")
        print()
        print(client_settings(url, client_key, model, small))
        return 0 if ok else 1

    # -- steps ---------------------------------------------------------------------------

    def _choose(self) -> list[InitChoice]:
        available = list(self.choices)
        by_id = {choice.id: choice for choice in available}
        wanted = [part.strip() for value in self.args.provider for part in value.split(",") if part.strip()]
        if wanted:
            chosen = []
            for name in wanted:
                choice = by_id.get(name)
                if choice is None:
                    raise InitError(
                        f"unknown provider {name!r}; the installed plugins offer: {', '.join(by_id) or 'nothing'} "
                        "(more come with their plugins: pip install cliproxy-<name>)"
                    )
                if choice not in chosen:
                    chosen.append(choice)
            return chosen
        if self.args.yes:
            raise InitError("--yes needs --provider ID (one or more): " + ", ".join(c.id for c in available))
        if not available:
            raise InitError("no provider plugin is installed: pip install cliproxy-claude (or another cliproxy-<name>)")
        print("Which providers should the gateway use?")
        for number, choice in enumerate(available, 1):
            print(f"  {number}) {choice.id:<15} {choice.title}")
        print("  (more providers come with their plugins: pip install cliproxy-<name>)")
        while True:
            answer = self.ask("Numbers or ids, separated by commas: ").strip()
            picked = self._parse_pick(answer, available)
            if picked:
                return picked
            print(f"  choose one or more of 1-{len(available)}")

    @staticmethod
    def _parse_pick(answer: str, available: Sequence[InitChoice]) -> list[InitChoice]:
        picked: list[InitChoice] = []
        for part in answer.replace(" ", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if part.isdigit() and 1 <= int(part) <= len(available):
                choice = available[int(part) - 1]
            elif (named := next((c for c in available if c.id == part), None)) is not None:
                choice = named
            else:
                return []
            if choice not in picked:
                picked.append(choice)
        return picked

    def _keys(self, choices: Sequence[InitChoice]) -> tuple[dict[str, str], dict[str, str]]:
        """The variable each key is read from, and the keys typed now (variable -> key)."""
        names: dict[str, str] = {}
        typed: dict[str, str] = {}
        for choice in choices:
            if not choice.env:
                continue
            if os.environ.get(choice.env):
                if self.args.yes or self._confirm(f"Use ${choice.env} from your environment for {choice.id}?", True):
                    names[choice.id] = choice.env
                    continue
            elif self.args.yes:
                names[choice.id] = choice.env
                print(f"note: {choice.id} reads ${choice.env}, which is not set: export it before serving")
                continue
            # A name of its own, so that a shell loading the env file does not hand the
            # upstream key to a client that reads the usual name (Claude Code, Gemini CLI).
            name = "CLIPROXY_" + choice.env
            while True:
                key = self.ask_secret(f"{choice.title}: paste the key (not shown): ").strip()
                if key:
                    break
                print("  the key is empty; paste it, or press Ctrl-D to stop")
            typed[name] = key
            names[choice.id] = name
        return names, typed

    def _logins(self, choices: Sequence[InitChoice], config: Path, env: Mapping[str, str]) -> None:
        for choice in choices:
            if not choice.login:
                continue
            command = [sys.executable, "-m", "cliproxy", "login", choice.login, "--config", str(config)]
            shown = f"cliproxy login {choice.login} --config {config}"
            if self.args.no_login or self.args.yes:
                print(f"sign in later with: {shown}")
                continue
            if not self._confirm(f"Sign in to {choice.login} now ({shown})?", True):
                print(f"sign in later with: {shown}")
                continue
            if subprocess.run(command, env=dict(env), check=False).returncode != 0:
                print(f"the sign-in did not finish; run it again with: {shown}")

    def _check(self, config: Path, env: Mapping[str, str]) -> bool:
        print(f"\n$ cliproxy check --config {config}")
        done = subprocess.run(
            [sys.executable, "-m", "cliproxy", "check", "--config", str(config)],
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(done.stdout)
        sys.stdout.write(done.stderr)
        if done.returncode != 0:
            print("the config does not check yet: fix what it says, then run `cliproxy check` again")
        return done.returncode == 0

    def _confirm(self, question: str, default: bool) -> bool:
        hint = "[Y/n]" if default else "[y/N]"
        while True:
            answer = self.ask(f"{question} {hint} ").strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False


def _relative_to(path: Path, base: Path) -> Path:
    """``path`` as the config names it: relative to the config's folder when inside it."""
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return path.resolve()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


def _models(config: Path, env: Mapping[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "cliproxy", "models", "--config", str(config)],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    return [line.split("\t")[0] for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else []


def _pick_models(choices: Sequence[InitChoice], served: Sequence[str]) -> tuple[str, str]:
    """The first choice's model (or the first one served when it is not), and a small one."""
    first = choices[0]
    model = first.model if not served or first.model in served else served[0]
    small = first.small_model if first.small_model and (not served or first.small_model in served) else model
    return model, small
