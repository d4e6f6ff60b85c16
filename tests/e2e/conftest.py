"""Fixtures of the real-client suite: the CLIs, the fake upstreams, `cliproxy serve`, and
every selected CLI run, done once per session and concurrently."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cliproxy import write_token_file
from cliproxy.testing import FakeUpstream, Reply

from .install import AgentCLIs, InstallError, install_clis
from .recipes import Recipes, load_recipes
from .runner import UPSTREAM_MODELS, Case, Gateway, Run, answer, run_case
from .upstreams import CODEX_BACKEND, WireFake, anthropic_fake, codex_fake, gemini_fake, openai_chat_fake

KEY = "sk-e2e-client"
CODEX_SIGN_IN = {  # what `cliproxy login codex` writes; the fake backend takes any bearer token
    "type": "codex",
    "access_token": "e2e-chatgpt-access-token",
    "refresh_token": "e2e-chatgpt-refresh-token",
    "account_id": "acct-e2e",
    "email": "e2e@example.com",
    "plan_type": "plus",
    "expired": "2099-01-01T00:00:00Z",
}
JOBS = int(os.environ.get("CLIPROXY_E2E_JOBS", min(8, 2 * (os.cpu_count() or 2))))  # CLIs run at once

_TIMINGS = pytest.StashKey[dict[str, float]]()


@pytest.fixture(scope="session")
def timings(pytestconfig: pytest.Config) -> dict[str, float]:
    """Seconds spent, reported at the end of the session."""
    return pytestconfig.stash.setdefault(_TIMINGS, {})


@pytest.fixture(scope="session")
def agent_clis(timings: dict[str, float]) -> AgentCLIs:
    """The pinned CLIs, installed once; no Node.js, npm or registry is a failure, not a skip."""
    started = time.monotonic()
    try:
        clis = install_clis()
    except InstallError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    timings["npm ci" if clis.installed_now else "checking the installed CLIs"] = time.monotonic() - started
    return clis


@pytest.fixture(scope="session")
def recipes() -> Recipes:
    return load_recipes()


@pytest.fixture(scope="session")
def registered_cases() -> dict[str, Case]:
    """The cases the fake model knows (filled before the CLIs run)."""
    return {}


@pytest.fixture(scope="session")
def fakes(registered_cases: dict[str, Case]) -> Iterator[dict[str, WireFake]]:
    def script(ask):
        return answer(ask, registered_cases)

    gemini_models = tuple(model for (wire, _), model in UPSTREAM_MODELS.items() if wire == "gemini")
    codex_models = tuple(model for (wire, _), model in UPSTREAM_MODELS.items() if wire == "codex")
    servers = {
        "anthropic": anthropic_fake(script),
        "openai-chat": openai_chat_fake(script),
        "gemini": gemini_fake(script, gemini_models),
        "codex": codex_fake(script, codex_models),
    }
    for fake in servers.values():
        fake.server.start()
    yield servers
    for fake in servers.values():
        fake.server.stop()


def _gateway_config(fakes: Mapping[str, WireFake], auth_dir: Path) -> dict:
    def models(wire: str) -> list[dict[str, str]]:
        return [{"name": model, "alias": alias} for (w, alias), model in UPSTREAM_MODELS.items() if w == wire]

    return {
        "api-keys": [KEY],
        "auth-dir": str(auth_dir),
        "codex": {  # a ChatGPT account signed in with `cliproxy login codex` (the token file below)
            "issuer": fakes["codex"].url,
            "base-url": fakes["codex"].url + CODEX_BACKEND,
            "prefix": "cx",
            "models": models("codex"),
        },
        "request-retry": 0,
        "watch-config": False,
        "force-model-prefix": True,
        "claude-api-key": [
            {"api-key": "sk-ant-e2e", "base-url": fakes["anthropic"].url, "prefix": "an", "models": models("anthropic")}
        ],
        "openai-compatibility": [
            {
                "name": "e2e-chat",
                "prefix": "oa",
                "base-url": fakes["openai-chat"].url + "/v1",
                "api-key-entries": [{"api-key": "sk-oa-e2e"}],
                "models": models("openai-chat"),
            }
        ],
        "gemini-api-key": [
            {"api-key": "g-e2e", "base-url": fakes["gemini"].url, "prefix": "ge", "models": models("gemini")}
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gateway(fakes: dict[str, WireFake], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """`cliproxy serve` as a real process in front of the fakes."""
    workdir = tmp_path_factory.mktemp("gateway")
    config = workdir / "config.yaml"
    auth_dir = workdir / "auth"
    write_token_file(auth_dir / "codex-e2e@example.com.json", CODEX_SIGN_IN)
    config.write_text(json.dumps(_gateway_config(fakes, auth_dir), indent=2))  # JSON is YAML
    log = workdir / "gateway.log"
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CLIPROXY_LOG_LEVEL": "info"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"cliproxy serve did not come up:\n{log.read_text()[-4000:]}", pytrace=False)
            time.sleep(0.05)
        yield Gateway(url=url, key=KEY, fakes=fakes, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _selected_cases(session: pytest.Session) -> list[Case]:
    cases: dict[str, Case] = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        for value in callspec.params.values() if callspec else ():
            if isinstance(value, Case):
                cases.setdefault(value.id, value)
    return list(cases.values())


@pytest.fixture(scope="session")
def runs(
    request: pytest.FixtureRequest,
    agent_clis: AgentCLIs,
    gateway: Gateway,
    recipes: Recipes,
    registered_cases: dict[str, Case],
    timings: dict[str, float],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Case, Run]:
    """Every case the selected tests need, each CLI run once, ``JOBS`` at a time."""
    cases = _selected_cases(request.session)
    registered_cases.update({case.id: case for case in cases})
    root = tmp_path_factory.mktemp("runs")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="e2e-run") as pool:
        futures = {case: pool.submit(run_case, case, root / case.id, agent_clis, gateway, recipes) for case in cases}
        done = {case: future.result() for case, future in futures.items()}
    timings["runs"] = time.monotonic() - started
    timings["count"] = len(done)
    timings["cli seconds"] = sum(run.seconds for run in done.values())
    slowest = max(done.values(), key=lambda run: run.seconds, default=None)
    if slowest is not None:
        timings[f"slowest ({slowest.case.id})"] = slowest.seconds
    return done


@pytest.fixture(scope="session")
def codex_own_request(
    agent_clis: AgentCLIs, recipes: Recipes, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What Codex itself sends (no gateway in between), configured as for a tool loop."""
    with FakeUpstream() as capture:
        capture.add("POST", "/v1/responses", Reply.error(400, "this run only records what Codex sends"))
        case = Case("codex", "openai-chat", "tool", "direct")
        direct = Gateway(url=capture.url, key=KEY, fakes={})
        run = run_case(case, tmp_path_factory.mktemp("codex-direct"), agent_clis, direct, recipes)
        sent = capture.requests_to("/v1/responses")
    if not sent:
        pytest.fail(f"Codex sent nothing to a Responses endpoint{run.describe()}", pytrace=False)
    return sent[0].json


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    t = config.stash.get(_TIMINGS, {})
    if "runs" not in t:
        return
    parts = [f"{int(t['count'])} CLI runs in {t['runs']:.1f}s ({t['cli seconds']:.0f}s of CLI time, {JOBS} at a time)"]
    parts += [
        f"{name} {seconds:.1f}s" for name, seconds in t.items() if name.startswith(("slowest", "npm", "checking"))
    ]
    terminalreporter.write_line("real-client suite: " + "; ".join(parts))
