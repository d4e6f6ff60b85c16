"""The gateway's own cost per request, in process: no server, no sockets, no mock.

    uv run benchmarks/inprocess.py [--scenarios openai,openai-stream] [--requests 5000]

Drives cliproxy's ASGI app and the bare pass-through's (benchmarks/bare.py) directly with
the benchmark's requests, with the upstream HTTP session replaced by one that answers at
once with the mock's canned bytes. What is left is the work each app does itself --
routing, auth, parsing, translation, usage, the ASGI messages -- measured in microseconds
of CPU per request (best of several repeats), which is far steadier on a busy machine than
a load test. A development tool for the hot path; the numbers that count come from
benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bare  # noqa: E402
import mock_upstream  # noqa: E402
from scenarios import SCENARIOS, Scenario, check_answer  # noqa: E402

CANNED = mock_upstream.CANNED


ANSWERS = {
    ("openai", False): mock_upstream.openai_whole("mock-gpt"),
    ("openai", True): b"".join(CANNED.openai_events),
    ("anthropic", False): mock_upstream.anthropic_whole("claude-mock"),
    ("anthropic", True): b"".join(CANNED.anthropic_events),
}


def _answer(path: str, body: bytes) -> tuple[bytes, bool]:
    stream = b'"stream":true' in body or b'"stream": true' in body
    wire = "openai" if path.endswith("/chat/completions") else "anthropic"
    return ANSWERS[wire, stream], stream


class _Content:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def iter_any(self) -> AsyncIterator[bytes]:
        yield self.body

    async def readany(self) -> bytes:
        body, self.body = self.body, b""
        return body


class FakeResponse:
    """Enough of aiohttp's ClientResponse for both apps."""

    def __init__(self, body: bytes, stream: bool) -> None:
        self.status = 200
        self.headers = {"content-type": "text/event-stream" if stream else "application/json"}
        self.content = _Content(body)
        self._body = body

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Posting:
    """What ``session.post(...)`` returns: awaitable, and an async context manager."""

    def __init__(self, response: FakeResponse) -> None:
        self.response = response

    def __await__(self):  # type: ignore[no-untyped-def]
        async def answer() -> FakeResponse:
            return self.response

        return answer().__await__()

    async def __aenter__(self) -> FakeResponse:
        return self.response

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeSession:
    def post(self, url: str, *, data: bytes, **kwargs: Any) -> _Posting:
        body, stream = _answer(url, data)
        return _Posting(FakeResponse(body, stream))

    async def close(self) -> None:
        return None


def _scope(scenario: Scenario, path: str) -> dict[str, Any]:
    headers = [(k.lower().encode(), v.encode()) for k, v in scenario.headers().items()]
    headers += [(b"host", b"bench"), (b"content-length", str(len(scenario.body())).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


async def _one(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    never = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        return await never

    status = 0
    out: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            out.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    never.cancel()
    return status, b"".join(out)


async def _measure(app: Any, scenario: Scenario, requests: int, repeats: int) -> float:
    scope = _scope(scenario, scenario.client_path)
    body = scenario.body()
    status, answer = await _one(app, scope, body)
    problem = check_answer(scenario.client, scenario.stream, status, answer)
    if problem:
        raise SystemExit(f"{scenario.name}: wrong answer in process: {problem}")
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(requests):
            await _one(app, scope, body)
        best = min(best, (time.process_time() - start) / requests * 1e6)
    return best


def _cliproxy_app(run_dir: Path) -> Any:
    import gateways as gw
    from cliproxy.app import create_app

    config = gw.Cliproxy(run_dir, _NoCpus(), 1, 1, capabilities=gw.cliproxy_capabilities()).config
    return create_app(config)


class _FakeSessions:
    def __init__(self) -> None:
        self.session = FakeSession()

    def session_for(self, proxy: str | None) -> tuple[FakeSession, None]:
        return self.session, None


class _NoCpus:
    def prefix(self, role: str) -> list[str]:
        return []


async def main_async(args: argparse.Namespace) -> None:
    run_dir = HERE / "results" / "inprocess"
    run_dir.mkdir(parents=True, exist_ok=True)
    cliproxy = _cliproxy_app(run_dir)
    floor = bare.Bare("http://mock")
    floor_app = floor.app()
    from cliproxy.app import gateway_of

    gateway = gateway_of(cliproxy)
    async with (
        cliproxy.router.lifespan_context(cliproxy),
        floor_app.router.lifespan_context(floor_app),
    ):
        real, gateway._sessions = gateway._sessions, _FakeSessions()
        real_floor, floor.http = floor.http, FakeSession()  # type: ignore[assignment]
        try:
            await _compare(cliproxy, floor_app, args)
        finally:
            gateway._sessions, floor.http = real, real_floor


async def _compare(cliproxy: Any, floor_app: Any, args: argparse.Namespace) -> None:
    if True:
        print(f"{'scenario':<26} {'cliproxy us/req':>16} {'bare us/req':>12} {'ratio':>7}")
        for scenario in args.scenarios:
            try:
                mine = await _measure(cliproxy, scenario, args.requests, args.repeats)
            except SystemExit as exc:
                print(f"{scenario.name:<26} {exc}")
                continue
            theirs = await _measure(floor_app, scenario, args.requests, args.repeats)
            print(f"{scenario.name:<26} {mine:16.1f} {theirs:12.1f} {mine / theirs:7.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenarios", default="", help="comma-separated scenario names (default all)")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    args.scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios.split(",")]
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
