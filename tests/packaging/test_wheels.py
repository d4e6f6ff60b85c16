"""Every distribution installs and serves on its own, from its built wheel.

The workspace installs everything together, editable, so a plugin that imports a module
it does not declare, or a data file the wheel leaves out, still works there. These tests
build every wheel and sdist with ``uv build`` once per session, then install the core and
one plugin at a time (with the cliproxy distributions it declares, nothing else from this
repository) into a clean venv -- third-party dependencies come from the package index --
and run what a new user would: ``cliproxy plugins``, ``cliproxy check`` on a config using
the plugin, and ``cliproxy serve`` answering one request through the plugin (against a
loopback fake of its upstream) or, for plugins whose sign-in needs more than a fake API,
through the echo demo installed beside it.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from cliproxy.testing import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or "uv"
DISTRIBUTIONS = {
    "cliproxy": ROOT / "core",
    **{f"cliproxy-{p.name}": p for p in sorted((ROOT / "plugins").iterdir()) if (p / "pyproject.toml").exists()},
    "cliproxy-echo": ROOT / "examples" / "cliproxy-echo",
}
CLIENT_KEY = "sk-packaging-client"

CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
MESSAGES_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "pong"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "pong"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
}
CHAT_REQUEST = {"messages": [{"role": "user", "content": "ping"}]}


@attrs.frozen
class Case:
    """How one plugin is checked: its config (given the fake upstream's URL), the routes
    its fake answers, and the model asked through the OpenAI door."""

    config: Callable[[str], dict[str, Any]]
    model: str
    routes: dict[tuple[str, str], dict[str, Any]] = attrs.field(factory=dict)
    with_echo: bool = False
    credentials: int = 1  # the plugin's, which `cliproxy check` counts


CASES: dict[str, Case] = {
    "cliproxy-openai": Case(
        lambda url: {
            "openai-compatibility": [
                {
                    "name": "local",
                    "base-url": url + "/v1",
                    "api-key-entries": [{"api-key": "sk-upstream-openai"}],
                    "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
                }
            ]
        },
        "nano",
        {("POST", "/v1/chat/completions"): CHAT_ANSWER},
    ),
    "cliproxy-openrouter": Case(
        lambda url: {
            "openrouter": [
                {
                    "api-key": "sk-or-v1-upstream",
                    "base-url": url + "/api/v1",
                    "models": [{"name": "anthropic/claude-sonnet-4.5", "alias": "sonnet"}],
                }
            ]
        },
        "sonnet",
        {("POST", "/api/v1/chat/completions"): CHAT_ANSWER},
    ),
    "cliproxy-mlx": Case(
        lambda url: {"mlx": [{"base-url": url + "/v1", "api-key": "sk-local-upstream"}]},
        "mlx/local-model",
        {
            ("GET", "/v1/models"): {"object": "list", "data": [{"id": "local-model", "object": "model"}]},
            ("POST", "/v1/chat/completions"): CHAT_ANSWER,
        },
    ),
    "cliproxy-claude": Case(
        lambda url: {
            "claude-api-key": [
                {
                    "api-key": "sk-ant-upstream-key",
                    "base-url": url,
                    "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "sonnet"}],
                }
            ]
        },
        "sonnet",
        {("POST", "/v1/messages"): MESSAGES_ANSWER},
    ),
    "cliproxy-gemini": Case(
        lambda url: {
            "gemini-api-key": [
                {
                    "api-key": "AIza-upstream-key-0001",
                    "base-url": url,
                    "models": [{"name": "gemini-2.5-flash", "alias": "flash"}],
                }
            ]
        },
        "flash",
        {("POST", "/v1beta/models/gemini-2.5-flash:generateContent"): GEMINI_ANSWER},
    ),
    "cliproxy-minimax": Case(
        lambda url: {"minimax": [{"api-key": "sk-minimax-upstream", "base-url": url, "wire": "openai"}]},
        "MiniMax-M2.5",
        {("POST", "/v1/chat/completions"): CHAT_ANSWER},
    ),
    # Signing in to these takes a fake of the vendor's token service, not only of its
    # API: the request goes through the echo demo, while `check` and `plugins` still load
    # the plugin and its config block from the wheel.
    "cliproxy-kilo": Case(
        lambda url: {"kilo": [{"api-key": "kilo-upstream-token", "base-url": url, "prefix": "kilo"}]},
        "echo-1",
        with_echo=True,
    ),
    "cliproxy-roo": Case(
        lambda url: {"roo": [{"token": "eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.", "base-url": url + "/proxy"}]},
        "echo-1",
        with_echo=True,
    ),
    "cliproxy-copilot": Case(
        lambda url: {"copilot": [{"github-token": "ghu_packaging", "github-api-url": url, "models": ["gpt-4.1"]}]},
        "echo-1",
        with_echo=True,
    ),
    # Codex accounts come only from `cliproxy login codex` token files: none here.
    "cliproxy-codex": Case(lambda url: {"codex": {"base-url": url}}, "echo-1", with_echo=True, credentials=0),
    "cliproxy-kiro": Case(
        lambda url: {
            "kiro": [
                {
                    "access-token": "aoa-packaging",
                    "refresh-token": "aor-packaging",
                    "profile-arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST",
                    "base-url": url,
                    "auth-url": url,
                    "oidc-url": url,
                }
            ]
        },
        "echo-1",
        with_echo=True,
    ),
    "cliproxy-echo": Case(lambda url: {}, "echo-1", with_echo=True, credentials=0),
}


def run(*args: str | Path, timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")}
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, check=False, **kwargs
    )


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every wheel and sdist of the workspace, built once per session."""
    assert shutil.which(UV), "the packaging tests need uv on PATH (python3 -m pip install uv)"
    out = tmp_path_factory.mktemp("dist")
    built = run(UV, "build", "--all-packages", "--out-dir", out, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    return out


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def wheel_of(dist: Path, name: str) -> Path:
    (wheel,) = dist.glob(name.replace("-", "_") + "-*.whl")
    return wheel


def closure(dist: Path, names: list[str]) -> list[Path]:
    """The wheels of ``names`` and of every cliproxy distribution they require."""
    todo, seen = list(names), set[str]()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata(wheel_of(dist, name)).get_all("Requires-Dist") or []:
            dep = requirement.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            if dep.replace("_", "-") in DISTRIBUTIONS and "extra ==" not in requirement:
                todo.append(dep.replace("_", "-"))
    return sorted(wheel_of(dist, n) for n in seen)


def install(venv: Path, wheels: list[Path]) -> Path:
    """A clean venv holding ``wheels`` (named by path, so nothing from this repository
    comes from the index) and their third-party dependencies from the index."""
    made = run(UV, "venv", "--python", sys.executable, venv, cwd=venv.parent)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    done = run(UV, "pip", "install", "--python", python, *wheels, cwd=venv.parent)
    assert done.returncode == 0, done.stderr
    return venv / "bin" / "cliproxy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def venvs(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One clean venv per plugin, installed a few at a time: the ``cliproxy`` command of each."""
    root = tmp_path_factory.mktemp("venvs")

    def make(name: str) -> tuple[str, Path]:
        names = [name, "cliproxy-echo"] if CASES[name].with_echo else [name]
        return name, install(root / name, closure(dist, names))

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(make, CASES))


def test_every_distribution_builds_a_wheel_and_an_sdist_with_complete_metadata(dist: Path):
    license_text = (ROOT / "LICENSE").read_text()
    for name, path in DISTRIBUTIONS.items():
        wheel = wheel_of(dist, name)
        (sdist,) = dist.glob(name.replace("-", "_") + "-*.tar.gz")
        meta = metadata(wheel)
        assert meta["Name"] == name
        assert meta["Version"] == wheel.name.split("-")[1] == sdist.name.removesuffix(".tar.gz").split("-")[1]
        assert meta["Requires-Python"] == ">=3.11", name
        assert meta["License-Expression"] == "MIT", name
        assert str(meta.get_payload()).strip() == (path / "README.md").read_text().strip(), (
            f"{name}: README as description"
        )
        assert meta["Description-Content-Type"] == "text/markdown", name
        urls = {url.split(",")[0] for url in meta.get_all("Project-URL") or []}
        assert {"Homepage", "Repository", "Issues", "Changelog"} <= urls, name
        classifiers = meta.get_all("Classifier") or []
        assert "Typing :: Typed" in classifiers and "Programming Language :: Python :: 3.11" in classifiers, name
        with zipfile.ZipFile(wheel) as archive:
            files = archive.namelist()
            licenses = [f for f in files if f.endswith(".dist-info/licenses/LICENSE")]
            assert licenses and archive.read(licenses[0]).decode() == license_text, f"{name}: LICENSE"
            module = name.replace("-", "_")
            assert f"{module}/py.typed" in files, f"{name}: py.typed"
            assert f"{module}/__init__.py" in files, name


def test_the_core_version_has_one_source(dist: Path):
    from cliproxy import __version__

    assert metadata(wheel_of(dist, "cliproxy"))["Version"] == __version__
    assert "version =" not in (ROOT / "core" / "pyproject.toml").read_text().split("[project.urls]")[0]


def test_the_changelog_names_the_current_version():
    from cliproxy import __version__

    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def serve(cliproxy: Path, config: Path) -> Iterator[str]:
    port = free_port()
    log = config.with_suffix(".log")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(cliproxy), "serve", "--config", str(config), "--port", str(port)], stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("cliproxy serve did not become healthy:\n" + log.read_text())
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize("name", list(CASES))
def test_a_plugin_installs_alone_and_serves(name: str, venvs: dict[str, Path], tmp_path: Path):
    case = CASES[name]
    cliproxy = venvs[name]
    listed = run(cliproxy, "plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    plugin = name.removeprefix("cliproxy-")
    rows = {row[0]: row[1:4] for row in (line.split() for line in listed.stdout.splitlines()[1:])}
    assert rows[plugin] == [name, "0.1.0", "loaded"], listed.stdout
    if case.with_echo:
        assert rows["echo"] == ["cliproxy-echo", "0.1.0", "loaded"], listed.stdout

    with FakeUpstream() as upstream:
        for (method, route), body in case.routes.items():
            upstream.add(method, route, Reply.json(body))
        config = {"api-keys": [CLIENT_KEY], "watch-config": False, "auth-dir": str(tmp_path / "auth")}
        config |= case.config(upstream.url)
        if case.with_echo:
            config["echo"] = [{"models": ["echo-1"]}]
        config_file = tmp_path / "config.yaml"
        config_file.write_text(json.dumps(config, indent=2))
        checked = run(cliproxy, "check", "--config", config_file, cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        expected = case.credentials + (1 if case.with_echo else 0)
        assert f"credentials: {expected}\n" in checked.stdout, checked.stdout

        for url in serve(cliproxy, config_file):
            answer = httpx.post(
                url + "/v1/chat/completions",
                json={**CHAT_REQUEST, "model": case.model},
                headers={"Authorization": f"Bearer {CLIENT_KEY}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            content = answer.json()["choices"][0]["message"]["content"]
            assert content == ("ping" if case.with_echo else "pong")
        if case.routes:
            assert [r.path for r in upstream.requests if r.method == "POST"], "the plugin's upstream was not asked"


def _walkthrough_module() -> Any:
    """tests/test_plugin_walkthrough.py, which reads the walkthrough out of docs/plugins.md."""
    spec = importlib.util.spec_from_file_location("plugin_walkthrough", ROOT / "tests" / "test_plugin_walkthrough.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plugin_walkthrough_passes_the_kit_with_cliproxy_testing_alone(dist: Path, tmp_path: Path):
    """docs/plugins.md's "write a provider in 50 lines", as its author runs it: the plugin
    and ``cliproxy[testing]`` (this wheel, with what its extra declares -- nothing from the
    workspace) in a clean venv, then ``pytest``: every check of the contract passes."""
    walkthrough = _walkthrough_module()
    project = tmp_path / "cliproxy-hello"
    for name, text in walkthrough.walkthrough().items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    venv = tmp_path / "venv"
    made = run(UV, "venv", "--python", sys.executable, venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    core = f"cliproxy[testing] @ {wheel_of(dist, 'cliproxy').as_uri()}"
    done = run(UV, "pip", "install", "--python", python, core, project, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project, timeout=600)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert summary.startswith(f"{walkthrough.CONTRACT_TESTS} passed"), output
