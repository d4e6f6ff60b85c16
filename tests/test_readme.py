"""The README's promises: `cliproxy serve` on the example config works, offline, with the
official SDK -- run as a real process, the way a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cliproxy",
            "serve",
            "--config",
            str(ROOT / "examples" / "config.yaml"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CLIPROXY_LOG_LEVEL": "info"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("cliproxy serve did not come up: " + process.communicate()[0].decode())
    yield url, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def test_serve_example_config_answers_the_openai_sdk(served):
    url, _ = served
    client = openai.OpenAI(base_url=url + "/v1", api_key="sk-demo", max_retries=0)
    whole = client.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": "Hello, gateway"}])
    assert whole.choices[0].message.content == "Hello, gateway"
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "stream these words back"}], stream=True
        )
        if chunk.choices
    )
    assert streamed == "stream these words back"
    assert {"echo-1"} <= {m.id for m in client.models.list()}


def test_sigterm_stops_the_server_cleanly(served):
    _, process = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    output = process.stdout.read().decode()
    assert "Traceback" not in output


def test_secrets_never_reach_the_log(served):
    url, process = served
    httpx.post(
        url + "/v1/chat/completions", headers={"authorization": "Bearer sk-demo-wrong-secret"}, json={"model": "x"}
    )
    process.send_signal(signal.SIGTERM)
    process.wait(15)
    output = process.stdout.read().decode()
    assert "sk-demo" not in output


def test_workers_flag_serves_with_several_processes():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cliproxy",
            "serve",
            "--config",
            str(ROOT / "examples" / "config.yaml"),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    headers={"authorization": "Bearer sk-demo"},
                    json={"model": "echo-1", "messages": [{"role": "user", "content": "two workers"}]},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("multi-worker server did not come up")
        assert reply.json()["choices"][0]["message"]["content"] == "two workers"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
