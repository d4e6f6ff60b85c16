"""Several gateway processes sharing one Redis: one instance's cooldown is honoured by
the other, round-robin alternates across them, and a rotating refresh token is spent
once however many instances want it at the same moment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply

AUTH = {"Authorization": "Bearer client-key"}
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
HELPER = Path(__file__).parent / "helpers" / "oauth_gateway.py"
KEY_A = "sk-shared-key-aaaaaaaaaaaa"
KEY_B = "sk-shared-key-bbbbbbbbbbbb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """A gateway process on its own port."""

    def __init__(self, command: list[str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{Path(self._log.name).read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway did not start:\n{Path(self._log.name).read_text()}")

    def chat(self, model: str) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return httpx.post(self.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


@pytest.fixture
def instances() -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for instance in started:
        instance.stop()


def start(instances: list[Instance], commands: list[list[str]], tmp_path: Path, ports: list[int]) -> list[Instance]:
    for i, (command, port) in enumerate(zip(commands, ports, strict=True)):
        instances.append(Instance(command, port, tmp_path / f"gateway-{i}.log"))
    for instance in instances:
        instance.wait_ready()
    return instances


def serve_commands(tmp_path: Path, config: dict[str, Any], count: int = 2) -> tuple[list[list[str]], list[int]]:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    ports = [free_port() for _ in range(count)]
    commands = [[sys.executable, "-m", "cliproxy", "serve", "--config", str(path), "--port", str(p)] for p in ports]
    return commands, ports


def shared_config(upstream: FakeUpstream, redis_url: str, redis_prefix: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "api-keys": ["client-key"],
        "auth-dir": str(tmp_path / "no-auth"),
        "request-retry": 0,
        "state": {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},
        "openai-compatibility": [
            {
                "name": "shared",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": KEY_A}, {"api-key": KEY_B}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
    }


def keys_seen(upstream: FakeUpstream) -> list[str]:
    names = {f"Bearer {KEY_A}": "A", f"Bearer {KEY_B}": "B"}
    return [names[r.headers["authorization"]] for r in upstream.requests_to("/v1/chat/completions")]


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


def test_two_serve_processes_share_round_robin_and_cooldowns(
    upstream, ok, tmp_path, redis_url, redis_prefix, instances
):
    key_a_limited = False

    def reply(request: RecordedRequest) -> Reply:
        if key_a_limited and request.headers["authorization"] == f"Bearer {KEY_A}":
            return Reply.error(429, "rate limit reached for key A", headers={"Retry-After": "600"})
        return ok

    upstream.add("POST", "/v1/chat/completions", reply)
    commands, ports = serve_commands(tmp_path, shared_config(upstream, redis_url, redis_prefix, tmp_path))
    first, second = start(instances, commands, tmp_path, ports)

    # Round-robin: one shared cursor, so the keys alternate whichever instance takes the
    # request (separate cursors would give A, A, B, B, A, A).
    for gateway in (first, second, first, second, first, second):
        assert gateway.chat("nano").status_code == 200
    assert keys_seen(upstream) in (["A", "B"] * 3, ["B", "A"] * 3)

    # Cooldowns: the first instance meets key A's 429; the second never tries A again.
    key_a_limited = True
    before = len(keys_seen(upstream))
    while "A" not in keys_seen(upstream)[before:]:
        assert first.chat("nano").status_code == 200  # failed over to B, never an error
    met = len(keys_seen(upstream))
    for _ in range(4):
        assert second.chat("nano").status_code == 200
    assert keys_seen(upstream)[met:] == ["B"] * 4
    calls = len(keys_seen(upstream))
    for _ in range(100):  # counters are written just after each response
        status = httpx.get(second.url + "/v0/status").json()
        if sum(c["requests"] for c in status["credentials"]) >= calls:
            break
        time.sleep(0.05)
    assert sum(c["requests"] for c in status["credentials"]) == calls  # counted by both, in one place
    (a,) = [c for c in status["credentials"] if c["state"] != "ok"]
    assert a["cooldowns"]["gpt-4.1-nano"]["reason"] == "rate limit reached for key A (429)"
    assert status["state_store"]["backend"] == "redis" and status["state_store"]["healthy"] is True


def test_two_processes_spend_a_rotating_refresh_token_once(upstream, ok, tmp_path, redis_url, redis_prefix, instances):
    spent: list[str] = []
    rejected: list[str] = []
    current = {"access": "access-0", "refresh": "refresh-0"}

    def token(request: RecordedRequest) -> Reply:
        offered = request.json["refresh_token"]
        if offered != current["refresh"]:
            rejected.append(offered)
            return Reply.json({"error": "invalid_grant", "error_description": "refresh token reused"}, status=400)
        spent.append(offered)
        current["access"], current["refresh"] = f"access-{len(spent)}", f"refresh-{len(spent)}"
        body = {"access_token": current["access"], "refresh_token": current["refresh"], "expires_in": 3600}
        return Reply.json(body, delay=0.5)  # slow, so both processes are in flight at once

    def chat(request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {current['access']}":
            return Reply.error(401, "expired token")
        return ok

    upstream.add("POST", "/oauth/token", token)
    upstream.add("POST", "/v1/chat/completions", chat)
    ports = [free_port(), free_port()]
    commands = []
    for i, port in enumerate(ports):
        auth_dir = tmp_path / f"auth-{i}"
        auth_dir.mkdir()
        (auth_dir / "test-oauth-me.json").write_text(
            json.dumps(
                {
                    "type": "test-oauth",
                    "account": "me@example.com",
                    "access_token": "access-0",
                    "refresh_token": "refresh-0",
                    "expires_at": time.time() - 60,  # due: both want to refresh at start-up
                    "base_url": upstream.url + "/v1",
                    "token_url": upstream.url + "/oauth/token",
                }
            )
        )
        config = {
            "api-keys": ["client-key"],
            "auth-dir": str(auth_dir),
            "state": {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},
        }
        path = tmp_path / f"config-{i}.yaml"
        path.write_text(json.dumps(config))
        commands.append([sys.executable, str(HELPER), str(path), str(port)])
    first, second = start(instances, commands, tmp_path, ports)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda gw: gw.chat("oauth-model"), [first, second, first, second]))
    assert [a.status_code for a in answers] == [200] * 4
    assert spent == ["refresh-0"], f"refresh tokens spent: {spent}"
    assert rejected == [], "an instance spent a refresh token that had already rotated"
    for i in range(2):
        saved = json.loads((tmp_path / f"auth-{i}" / "test-oauth-me.json").read_text())
        assert (saved["access_token"], saved["refresh_token"]) == ("access-1", "refresh-1")
