"""Fixtures shared by every test suite in the workspace."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cliproxy.testing import FakeUpstream

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

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PROMPT = "What is the weather in New York?"
_genai_clients: list[Any] = []


def _args(value: Any) -> dict[str, Any]:
    return json.loads(value or "{}") if isinstance(value, str) else dict(value or {})


def ask(url: str, door: str, model: str, *, stream: bool, tools: bool = True) -> tuple[str, list[tuple[str, dict]]]:
    """Ask ``model`` through ``door`` with the official SDK; ``(text, [(tool, args)...])``
    as the SDK shows them (the plugin suites' tool-loop tests share it)."""
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    calls: list[tuple[str, dict]] = []
    if door == "chat":
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        extra: dict[str, Any] = {}
        if tools:
            fn = {"name": WEATHER["name"], "description": WEATHER["description"], "parameters": WEATHER["schema"]}
            extra["tools"] = [{"type": "function", "function": fn}]
        messages = [{"role": "user", "content": PROMPT}]
        if not stream:
            message = client.chat.completions.create(model=model, messages=messages, **extra).choices[0].message
            calls = [(c.function.name, _args(c.function.arguments)) for c in message.tool_calls or ()]
            return message.content or "", calls
        text, pieces = "", {}
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True, **extra):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text += delta.content or ""
            for call in delta.tool_calls or ():
                name, args = pieces.get(call.index, ("", ""))
                pieces[call.index] = (name + (call.function.name or ""), args + (call.function.arguments or ""))
        return text, [(n, _args(a)) for _, (n, a) in sorted(pieces.items())]
    if door == "responses":
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        extra = {}
        if tools:
            extra["tools"] = [
                {
                    "type": "function",
                    "name": WEATHER["name"],
                    "description": WEATHER["description"],
                    "parameters": WEATHER["schema"],
                }
            ]
        if stream:
            with client.responses.stream(model=model, input=PROMPT, **extra) as events:
                for _ in events:
                    pass
                response = events.get_final_response()
        else:
            response = client.responses.create(model=model, input=PROMPT, **extra)
        text = ""
        for item in response.output:
            if item.type == "message":
                text += "".join(c.text for c in item.content if c.type == "output_text")
            elif item.type == "function_call":
                calls.append((item.name, _args(item.arguments)))
        return text, calls
    if door == "messages":
        client = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        params: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": PROMPT}]}
        if tools:
            params["tools"] = [
                {"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["schema"]}
            ]
        if stream:
            with client.messages.stream(**params) as events:
                for _ in events:
                    pass
                message = events.get_final_message()
        else:
            message = client.messages.create(**params)
        text = "".join(b.text for b in message.content if b.type == "text")
        return text, [(b.name, _args(b.input)) for b in message.content if b.type == "tool_use"]
    assert door == "gemini"
    client = genai.Client(api_key="client-key", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    _genai_clients.append(client)  # the SDK closes its HTTP client when the Client is collected
    config = types.GenerateContentConfig()
    if tools:
        declaration = types.FunctionDeclaration(
            name=WEATHER["name"], description=WEATHER["description"], parameters_json_schema=WEATHER["schema"]
        )
        config.tools = [types.Tool(function_declarations=[declaration])]
    chunks = (
        list(client.models.generate_content_stream(model=model, contents=PROMPT, config=config))
        if stream
        else [client.models.generate_content(model=model, contents=PROMPT, config=config)]
    )
    text = ""
    for chunk in chunks:
        content = chunk.candidates[0].content if chunk.candidates else None
        for part in (content.parts or []) if content else []:
            if part.function_call is not None:
                calls.append((part.function_call.name, _args(part.function_call.args)))
            elif part.text:
                text += part.text
    return text, calls


@pytest.fixture
def sdk() -> Callable[..., tuple[str, list[tuple[str, dict]]]]:
    """``sdk(url, door, model, stream=..., tools=True)`` (see :func:`ask`)."""
    return ask
