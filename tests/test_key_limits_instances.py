"""Two real gateway processes (``cliproxy serve``) on the real Redis enforce one client
key's limits together: its ``rpm`` and its ``daily-tokens`` are one limit across both,
not one per instance, and what an answer says is left is what is left across both."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cliproxy.testing import FakeUpstream, Reply

CHAT = "/v1/chat/completions"
RPM_KEY = "sk-shared-rpm-key-000001"
BUDGET_KEY = "sk-shared-budget-key-001"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gateway:
    """One ``cliproxy serve`` process."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        command = [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(self.port)]
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

    def chat(self, key: str) -> httpx.Response:
        body = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
        return httpx.post(self.url + CHAT, json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


@pytest.fixture
def gateways(upstream: FakeUpstream, redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[list[Gateway]]:
    answer: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-nano",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 100, "total_tokens": 400},
    }
    upstream.add("POST", CHAT, Reply.json(answer))
    config = {
        "host": "127.0.0.1",
        "api-keys": [
            {"key": RPM_KEY, "name": "shared-rpm", "rpm": 3},
            {"key": BUDGET_KEY, "name": "shared-budget", "daily-tokens": 700},
        ],
        "auth-dir": str(tmp_path / "no-auth"),
        "watch-config": False,
        "state": {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},  # (a busy machine)
        "openai-compatibility": [
            {
                "name": "pool",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream-0001"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    started = [Gateway(path, tmp_path / f"gateway-{i}.log") for i in range(2)]
    try:
        for gateway in started:
            gateway.wait_ready()
        yield started
    finally:
        for gateway in started:
            gateway.stop()


def test_two_instances_share_one_keys_rpm_and_daily_tokens(gateways: list[Gateway]) -> None:
    a, b = gateways
    admitted = [a.chat(RPM_KEY), b.chat(RPM_KEY), a.chat(RPM_KEY)]
    assert [r.status_code for r in admitted] == [200, 200, 200]
    # each answer says what the one shared window has left, whichever instance served it
    assert [r.headers["x-ratelimit-remaining-requests"] for r in admitted] == ["2", "1", "0"]
    refused = [b.chat(RPM_KEY), a.chat(RPM_KEY)]
    assert [r.status_code for r in refused] == [429, 429]  # three a minute in all, not three per instance
    assert refused[0].headers["x-ratelimit-limit-requests"] == "3" and int(refused[0].headers["retry-after"]) >= 1

    # 400 tokens an answer, settled in Redis: the third request, on either instance, finds no room
    assert a.chat(BUDGET_KEY).status_code == 200
    assert b.chat(BUDGET_KEY).status_code == 200
    spent = a.chat(BUDGET_KEY)
    assert spent.status_code == 429 and "daily-tokens budget of 700 tokens" in spent.json()["error"]["message"]
    assert b.chat(BUDGET_KEY).status_code == 429
