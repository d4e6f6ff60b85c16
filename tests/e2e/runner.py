"""Cases of the real-client suite, the fake model's script for them, and running a CLI.

A :class:`Case` is one CLI run: which client, through which upstream wire, doing what.
Its prompt carries ``e2e-case <id>:``, by which the fake upstreams recognise the case
(several CLIs run at once) and answer by :func:`answer`. :func:`run_case` configures the
CLI from the documented recipes in a home directory of its own and runs it headless.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .install import AgentCLIs
from .recipes import DOC_KEY, DOC_URL, Recipes
from .tripwire import Tripwire
from .upstreams import Answer, Ask, ToolCall, WireFake

__all__ = [
    "CLIENTS",
    "PREFIXES",
    "SCENARIOS",
    "TOOLS",
    "UPSTREAM_MODELS",
    "Case",
    "Gateway",
    "Run",
    "answer",
    "run_case",
]

CLIENTS = ("claude-code", "codex", "gemini-cli")
PREFIXES = {"anthropic": "an", "openai-chat": "oa", "gemini": "ge", "codex": "cx"}  # upstream wire -> gateway prefix
SCENARIOS = ("plain", "stream", "tool")
# (upstream wire, gateway alias) -> the model the upstream is asked for
UPSTREAM_MODELS = {
    ("anthropic", "claude-sonnet-4-5"): "claude-sonnet-4-5-20250929",
    ("anthropic", "claude-haiku-4-5"): "claude-haiku-4-5-20251001",
    ("anthropic", "core-sonnet"): "claude-opus-4-5-20251101",
    ("openai-chat", "claude-sonnet-4-5"): "gpt-4o",
    ("openai-chat", "claude-haiku-4-5"): "gpt-4o-mini",
    ("openai-chat", "core-sonnet"): "gpt-4.1",
    ("gemini", "claude-sonnet-4-5"): "gemini-2.5-flash",
    ("gemini", "claude-haiku-4-5"): "gemini-2.5-flash-lite",
    ("gemini", "core-sonnet"): "gemini-2.5-pro",
    ("codex", "claude-sonnet-4-5"): "gpt-5.5",  # a ChatGPT plan's models, through cliproxy-codex
    ("codex", "claude-haiku-4-5"): "gpt-5.4-mini",
    ("codex", "core-sonnet"): "gpt-5.4",
}
RUN_TIMEOUT = 180.0
PIECE_DELAY = 0.12  # seconds between the pieces of a streamed answer

# client -> (its shell tool, the arguments that run `command` with it)
TOOLS: Mapping[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "claude-code": ("Bash", lambda command: {"command": command, "description": "Print the e2e marker"}),
    "codex": ("exec_command", lambda command: {"cmd": command}),
    "gemini-cli": ("run_shell_command", lambda command: {"command": command, "description": "Print the e2e marker"}),
}

_CASE_TAG = re.compile(r"e2e-case ([\w-]+):")


@attrs.frozen
class Case:
    """One CLI run.

    ``variant`` changes one documented setting, to show what the page says about it
    (``api-key``, ``any-alias``, ``docs-only``, ``no-quiet-settings``, ``no-auth-type``,
    ``untrusted``, ``skip-trust``, ``chat-wire``, ``no-git-check``; ``direct`` is a run
    without the gateway, to see what the CLI itself sends).
    """

    client: str
    upstream: str
    scenario: str
    variant: str = ""

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.client, self.upstream, self.scenario, self.variant) if part)

    @property
    def alias(self) -> str:
        if self.client == "claude-code" and self.variant != "any-alias":
            return "claude-sonnet-4-5"  # a name Claude Code sends in the classic format
        return "core-sonnet"

    @property
    def model(self) -> str:
        return f"{PREFIXES[self.upstream]}/{self.alias}"

    @property
    def prompt(self) -> str:
        task = {
            "plain": "say hello.",
            "stream": "stream a short answer.",
            "tool": "run the marker command with your shell tool, then report.",
        }[self.scenario]
        return f"e2e-case {self.id}: {task}"

    # -- what the fake model answers, and so what the test expects -----------------------

    @property
    def plain_text(self) -> str:
        return f"Plain answer for {self.id}."

    @property
    def stream_pieces(self) -> tuple[str, ...]:
        return ("Streamed ", "answer ", "for ", f"{self.id} ", "arrives ", "piece ", "by ", "piece.")

    @property
    def tool(self) -> str:
        return TOOLS[self.client][0]

    @property
    def command(self) -> str:
        """Prints :attr:`marker`, which appears nowhere before the command has run."""
        return f"printf 'ran-%s-%s\\n' {self.id} 42"

    @property
    def marker(self) -> str:
        return f"ran-{self.id}-42"

    @property
    def signature(self) -> str:
        """The Gemini fake's thoughtSignature on its tool call (base64, as Gemini's are)."""
        return base64.b64encode(f"e2e-signature-{self.id}".encode()).decode()

    @property
    def final_text(self) -> str:
        return f"Tool loop done for {self.id}."


def _schema_problem(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    properties = schema.get("properties") or {}
    missing = [name for name in schema.get("required") or [] if name not in arguments]
    unknown = [name for name in arguments if properties and name not in properties]
    if missing or unknown:
        return f"arguments {sorted(arguments)} do not fit the schema (missing {missing}, unknown {unknown})"
    return None


def answer(ask: Ask, cases: Mapping[str, Case]) -> Answer:
    """The fake model: answers each request by the case named in its conversation."""
    found = _CASE_TAG.search(ask.conversation)
    case = cases.get(found[1]) if found else None
    if case is None:
        return Answer.text("This request names no e2e case.")
    if case.scenario == "plain":
        return Answer.text(case.plain_text)
    if case.scenario == "stream":
        return Answer.text(*case.stream_pieces, piece_delay=PIECE_DELAY)
    if ask.tool_results:
        if any(case.marker in result for result in ask.tool_results):
            return Answer.text(case.final_text)
        return Answer.text(f"The tool results lack the marker: {list(ask.tool_results)!r}")
    name, arguments_for = TOOLS[case.client]
    if name not in ask.tools:
        return Answer.text(f"No {name} tool among those offered: {sorted(ask.tools)}.")
    arguments = arguments_for(case.command)
    problem = _schema_problem(ask.tools[name], arguments)
    if problem is not None:
        return Answer.text(f"Cannot call {name}: {problem}.")
    return Answer(tool_call=ToolCall(name, arguments, signature=case.signature))


# -- running a CLI -----------------------------------------------------------------------


@attrs.frozen
class Gateway:
    """The gateway under test and its fake upstreams, by wire."""

    url: str
    key: str
    fakes: Mapping[str, WireFake]
    log: Path | None = None

    def log_tail(self, lines: int = 40) -> str:
        if self.log is None:
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@attrs.frozen
class Run:
    """What one CLI run did.

    Attributes:
        lines: Its stdout, line by line, with the seconds since start each arrived.
        returncode: Its exit status (None: killed after ``RUN_TIMEOUT``).
        escapes: What it tried to reach besides loopback (refused by the tripwire).
        asks: The upstream requests of this case (also in ``workdir/upstream-requests.json``).
        workdir: Its home and project directories.
    """

    case: Case
    argv: tuple[str, ...]
    returncode: int | None
    lines: tuple[tuple[float, str], ...]
    stderr: str
    seconds: float
    escapes: tuple[str, ...]
    asks: tuple[Ask, ...]
    workdir: Path

    @property
    def stdout(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def events(self) -> list[tuple[float, dict[str, Any]]]:
        """The JSON lines of stdout (stream-json / --json output), with arrival times."""
        found = []
        for at, line in self.lines:
            if line.startswith("{"):
                try:
                    found.append((at, json.loads(line)))
                except json.JSONDecodeError:
                    continue
        return found

    def describe(self) -> str:
        """Everything needed to see why a run went wrong, for assertion messages."""
        asks = "\n".join(
            f"    {ask.wire} {ask.model} stream={ask.stream} tools={len(ask.tools)} "
            f"tool_results={len(ask.tool_results)} last_is_tool_result={ask.last_is_tool_result}"
            for ask in self.asks
        )
        return (
            f"\n--- {self.case.id}: exit {self.returncode} after {self.seconds:.1f}s\n"
            f"argv: {' '.join(self.argv)}\n"
            f"home, project and upstream-requests.json: {self.workdir}\n"
            f"upstream requests:\n{asks or '    (none)'}\n"
            f"escapes: {list(self.escapes)}\n"
            f"stdout (tail):\n{self.stdout[-3000:]}\n"
            f"stderr (tail):\n{self.stderr[-3000:]}\n"
        )


def _substitute(env: Mapping[str, str], gateway: Gateway) -> dict[str, str]:
    return {key: value.replace(DOC_URL, gateway.url).replace(DOC_KEY, gateway.key) for key, value in env.items()}


def _base_env(home: Path, clis: AgentCLIs, tripwire: Tripwire) -> dict[str, str]:
    """A clean environment: nothing of the caller's but PATH; every proxy is the tripwire."""
    xdg = {name: str(home / sub) for name, sub in (
        ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state"),
    )}  # fmt: skip
    proxies = {name: tripwire.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
    proxies |= {name.lower(): value for name, value in proxies.items()}
    return {
        "PATH": os.pathsep.join([str(clis.bin_dir), os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": str(home),
        "USER": "e2e",
        "LOGNAME": "e2e",
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TMPDIR": str(home / "tmp"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **proxies,
        **xdg,
    }


def _claude(case: Case, home: Path, gateway: Gateway, recipes: Recipes, env: dict[str, str]) -> list[str]:
    env |= _substitute(recipes.claude_env, gateway)
    env["ANTHROPIC_MODEL"] = case.model
    env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = f"{PREFIXES[case.upstream]}/claude-haiku-4-5"
    if case.variant == "api-key":
        del env["ANTHROPIC_AUTH_TOKEN"]
        env["ANTHROPIC_API_KEY"] = gateway.key
    if case.variant == "no-quiet-settings":
        del env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"]
    elif case.variant != "docs-only":  # belt and braces beyond the documented setting
        env |= {"DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1"}
        env |= {"DISABLE_BUG_COMMAND": "1"}
    argv = ["claude", "-p", case.prompt]
    if case.scenario == "stream":
        argv += ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    if case.scenario == "tool":
        argv += [
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            "dontAsk",
            "--allowedTools",
            "Bash",
        ]
    return argv


def _codex(case: Case, home: Path, gateway: Gateway, recipes: Recipes, env: dict[str, str]) -> list[str]:
    codex_home = home / ".codex"
    codex_home.mkdir()
    config = recipes.codex_config_for(gateway.url, case.model)
    if case.variant == "chat-wire":
        config = config.replace('wire_api = "responses"', 'wire_api = "chat"')
    if case.variant == "no-quiet-settings":
        config = re.sub(r"^\[(analytics|features)\]\n[^\[]*", "", config, flags=re.M)
    (codex_home / "config.toml").write_text(config)
    env |= _substitute(recipes.codex_env, gateway)
    env["CODEX_HOME"] = str(codex_home)
    argv = ["codex", "exec", "--strict-config"]
    if case.variant != "no-git-check":
        argv.append("--skip-git-repo-check")
    if case.variant not in ("docs-only", "no-quiet-settings"):
        argv += ["-c", "feedback.enabled=false", "-c", 'otel.exporter="none"']
    if case.scenario in ("stream", "tool"):
        argv.append("--json")
    if case.scenario == "tool":
        argv.append("--dangerously-bypass-approvals-and-sandbox")
    return [*argv, case.prompt]


def _gemini(case: Case, home: Path, gateway: Gateway, recipes: Recipes, env: dict[str, str]) -> list[str]:
    settings = json.loads(json.dumps(recipes.gemini_settings))
    if case.variant == "no-auth-type":
        del settings["security"]
    if case.variant == "no-quiet-settings":
        del settings["privacy"], settings["general"]
    elif case.variant != "docs-only":
        settings["telemetry"] = {"enabled": False}
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2))
    env |= _substitute(recipes.gemini_env, gateway)
    if case.variant not in ("docs-only", "no-quiet-settings"):
        env["GEMINI_TELEMETRY_ENABLED"] = "false"
    argv = ["gemini", "-m", case.model, "-p", case.prompt]
    if case.variant in ("untrusted", "skip-trust"):
        del env["GEMINI_CLI_TRUST_WORKSPACE"]
    if case.variant == "skip-trust":
        argv.append("--skip-trust")
    if case.scenario in ("stream", "tool"):
        argv += ["--output-format", "stream-json"]
    if case.scenario == "tool":
        argv.append("--yolo")
    return argv


_BUILDERS = {"claude-code": _claude, "codex": _codex, "gemini-cli": _gemini}


def _asks_of(case: Case, fakes: Iterable[WireFake]) -> tuple[Ask, ...]:
    tag = f"e2e-case {case.id}:"
    return tuple(ask for fake in fakes for ask in list(fake.asks) if tag in ask.conversation)


def run_case(case: Case, workdir: Path, clis: AgentCLIs, gateway: Gateway, recipes: Recipes) -> Run:
    """Run ``case``'s CLI headless in ``workdir`` (its home and its working directory)."""
    home = workdir / "home"
    project = workdir / "project"
    for directory in (home, home / "tmp", project):
        directory.mkdir(parents=True)
    with Tripwire() as tripwire:
        env = _base_env(home, clis, tripwire)
        argv = _BUILDERS[case.client](case, home, gateway, recipes, env)
        argv[0] = str(clis.paths[case.client])
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a timeout ends it and its children
        )
        stderr: list[bytes] = []
        reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        killer = threading.Timer(RUN_TIMEOUT, lambda: _kill_group(process))
        killer.start()
        lines = []
        try:
            for raw in process.stdout:  # type: ignore[union-attr]
                lines.append((time.monotonic() - started, raw.decode("utf-8", "replace").rstrip("\n")))
            returncode = process.wait()
        finally:
            killer.cancel()
            _kill_group(process)  # also what it left running, if anything
            process.wait()
        reader.join(10)
        seconds = time.monotonic() - started
        timed_out = returncode < 0 and seconds >= RUN_TIMEOUT
        escapes = tripwire.attempts
    asks = _asks_of(case, gateway.fakes.values())
    dump = [{"wire": ask.wire, "path": ask.record.path, "body": ask.record.json} for ask in asks]
    (workdir / "upstream-requests.json").write_text(json.dumps(dump, indent=1))  # to read when a case fails
    return Run(
        case=case,
        argv=tuple(argv),
        returncode=None if timed_out else returncode,
        lines=tuple(lines),
        stderr=b"".join(stderr).decode("utf-8", "replace"),
        seconds=seconds,
        escapes=escapes,
        asks=asks,
        workdir=workdir,
    )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
