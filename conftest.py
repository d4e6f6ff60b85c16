"""Fixtures shared by every test suite in the workspace."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cliproxy.testing import FakeUpstream, SdkAnswer, SdkDoor, SdkTool, ask_sdk

RECORDINGS = Path(__file__).parent / "recordings"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def recording() -> Callable[[str], Path]:
    """``recording("anthropic/aibridge-anthropic_simple.stream.sse.txt")`` -> its path."""

    def find(name: str) -> Path:
        path = RECORDINGS / name
        if not path.exists():
            raise FileNotFoundError(f"no recording {name!r} under {RECORDINGS}")
        return path

    return find


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A fresh fake upstream server on loopback."""
    with FakeUpstream() as server:
        yield server


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server() -> str:
    """A running Redis at 127.0.0.1:6379: the machine's own, or one this session starts
    (no persistence) when ``redis-server`` is installed; else the test fails saying how
    to get one -- Redis-backed features are tested against a real Redis, never a fake."""
    if _redis_answers():
        return REDIS_URL
    binary = shutil.which("redis-server")
    if binary is not None:
        subprocess.run(
            [binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
            check=False,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _redis_answers():
            time.sleep(0.1)
    if not _redis_answers():
        pytest.fail(
            "these tests need Redis at 127.0.0.1:6379 and none answers"
            + ("" if binary is None else f" ({binary} did not start one)")
            + ": install it (apt-get install redis-server) and start it with "
            "'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\"'",
            pytrace=False,
        )
    return REDIS_URL


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis the tests share (127.0.0.1:6379); each test uses its own key prefix."""
    return redis_server


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"cliproxy-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz",
        action="store",
        type=int,
        default=None,
        metavar="N",
        help="run the fuzzing tests with N examples each (CI runs a small fixed budget)",
    )


@pytest.fixture(scope="session")
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    """How many examples each fuzzing test draws: 40 by default, ``--fuzz N`` for more."""
    chosen = request.config.getoption("--fuzz")
    return 40 if chosen is None else chosen


# -- the official SDKs through the four doors ----------------------------------------------

WEATHER = SdkTool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
PROMPT = "What is the weather in New York?"


@pytest.fixture
def sdk() -> Callable[..., SdkAnswer]:
    """``sdk(url, door, model, stream=..., tools=True, **options)``: ask ``model`` through
    ``door`` with the official SDK, offering the ``get_weather`` tool unless ``tools`` is
    false (the plugin suites' tool-loop tests share it); ``options`` go to
    :func:`cliproxy.testing.ask_sdk` (``prompt``, ``extra``...)."""

    def ask(url: str, door: SdkDoor, model: str, *, stream: bool, tools: bool = True, **options: Any) -> SdkAnswer:
        options.setdefault("prompt", PROMPT)
        return ask_sdk(url, door, model, stream=stream, tools=[WEATHER] if tools else (), **options)

    return ask
