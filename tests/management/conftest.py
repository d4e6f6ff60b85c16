"""Fixtures for the management API tests: a gateway served from a real config file by a
real server, a client for its management API that records every answer, and a check,
after each test, that no answer held a secret -- every key of the config files the test
used, the management key, every token in auth-dir, and whatever the test adds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cliproxy_echo
import httpx
import openai
import pytest
from cliproxy.app import create_app, gateway_of
from cliproxy.config import load_config
from cliproxy.redaction import config_secrets, is_secret_name
from cliproxy.testing import serve_app

MANAGEMENT_KEY = "mgmt-key-0123456789-abcdef"
CLIENT_KEY = "client-key-0123456789-first"


def base_config(auth_dir: Path, *, extra: str = "") -> str:
    """A commented config: two client keys, the management key, the echo demo provider."""
    return (
        "# the gateway's config -- this comment must survive every edit\n"
        "api-keys:\n"
        f'  - "{CLIENT_KEY}"   # the first client\n'
        "  - client-key-0123456789-second\n"
        "\n"
        "remote-management:\n"
        f'  secret-key: "{MANAGEMENT_KEY}"  # the operator\'s key\n'
        f"auth-dir: {auth_dir}\n"
        "watch-config: false\n"
        "request-retry: 1\n"
        "\n"
        "# the demo provider answers locally\n"
        "echo:\n"
        "  - models: [echo-1]   # first entry\n"
        "  - models: [echo-2]\n"
        "    prefix: two\n" + extra
    )


def _token_secrets(auth_dir: Path) -> set[str]:
    found: set[str] = set()
    if not auth_dir.is_dir():
        return found

    def walk(value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, str) and is_secret_name(name) and len(value) >= 4:
            found.add(value)

    for path in auth_dir.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            walk(json.loads(path.read_text()))
    return found


class Recorder:
    """Every management answer seen, and the secrets none of them may hold."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str]] = []
        self.secrets: set[str] = {MANAGEMENT_KEY, CLIENT_KEY}
        self.auth_dirs: set[Path] = set()
        self.config_files: set[Path] = set()
        self.ignored: set[str] = set()  # "secrets" that are JSON words (a test's dummy key "true")

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append((f"{response.request.method} {response.request.url.path}", response.text))

    def note_config(self, path: Path) -> None:
        self.config_files.add(path)
        with contextlib.suppress(Exception):
            self.secrets |= config_secrets(load_config(path).root)

    def check(self) -> None:
        for path in self.config_files:
            self.note_config(path)
        for directory in self.auth_dirs:
            self.secrets |= _token_secrets(directory)
        secrets = {s for s in self.secrets - self.ignored if len(s) >= 4}
        for where, text in self.answers:
            for secret in secrets:
                assert secret not in text, f"{where} answered with a secret ({secret[:4]}...)"


class Served:
    """A gateway served from ``config``: its URL, gateway, and clients."""

    def __init__(self, url: str, app: Any, config: Path, recorder: Recorder) -> None:
        self.url = url
        self.app = app
        self.config = config
        self.recorder = recorder
        self.api = self.client()

    @property
    def gateway(self) -> Any:
        return gateway_of(self.app)

    def client(self, key: str | None = MANAGEMENT_KEY, **headers: str) -> httpx.Client:
        """A client of ``/v0/management`` sending ``key`` (every answer recorded)."""
        sent = {"authorization": f"Bearer {key}"} if key else {}
        sent.update(headers)
        return httpx.Client(
            base_url=self.url + "/v0/management",
            headers=sent,
            timeout=60,
            event_hooks={"response": [self.recorder.hook]},
        )

    def openai(self, key: str = CLIENT_KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0)

    def models(self, key: str = CLIENT_KEY) -> set[str]:
        return {m.id for m in self.openai(key).models.list()}

    def chat(self, model: str, key: str = CLIENT_KEY) -> str:
        reply = self.openai(key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        return reply.choices[0].message.content or ""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    found = Recorder()
    yield found
    found.check()


@pytest.fixture
def auth_dir(tmp_path: Path, recorder: Recorder) -> Path:
    directory = tmp_path / "auth"
    recorder.auth_dirs.add(directory)
    return directory


@pytest.fixture
def config_path(tmp_path: Path, auth_dir: Path, recorder: Recorder) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir))
    recorder.note_config(path)
    return path


@pytest.fixture
def serve(recorder: Recorder) -> Callable[..., contextlib.AbstractContextManager[Served]]:
    """``with serve(config_path, plugins=[...]) as served:`` -- the echo plugin always."""

    @contextlib.contextmanager
    def run(config: Path, plugins: tuple[object, ...] = ()) -> Iterator[Served]:
        recorder.note_config(config)
        app = create_app(str(config), plugins=[cliproxy_echo, *plugins], load_entrypoints=False)
        with serve_app(app) as url:
            served = Served(url, app, config, recorder)
            try:
                yield served
            finally:
                served.api.close()
        recorder.note_config(config)

    return run


# -- the web panel's browser tests ---------------------------------------------------------------

CHROMIUM = os.environ.get("CLIPROXY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium from the distribution's packages, driven by Playwright. Missing
    Chromium fails the test with how to install it (never a skip)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the web panel's browser tests need Chromium, and there is none at {CHROMIUM}: install it with "
            "'apt-get install -y chromium chromium-driver' (.ci/run does), or point CLIPROXY_CHROMIUM at one",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (laptop-sized; its own sessionStorage), failing its test on any
    script error of the panel."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"the panel raised script errors or broke its content security policy: {errors}"
