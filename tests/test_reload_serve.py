"""`cliproxy serve` as a real process: SIGHUP reloads the config in place -- in every
worker with --workers -- while a running stream goes on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cliproxy.servers import SERVERS

CONFIG = "watch-config: false\necho:\n  - models: [{models}]\n    delay-ms: 40\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(config: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cliproxy",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; the timeout only ends a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(what)


def models(url: str) -> set[str]:
    return {m["id"] for m in httpx.get(url + "/v1/models", timeout=2).json()["data"]}


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize("server", SERVERS)
def test_sighup_reloads_while_a_stream_runs(tmp_path: Path, server: str):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(models="echo-1"))
    process, url = serve(config, tmp_path / "serve.log", "--server", server)
    try:
        until(
            lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200,
            "cliproxy serve did not come up",
        )
        words = " ".join(f"w{i}" for i in range(30))
        body = {"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": words}]}
        received = []
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as reply:
            lines = reply.iter_lines()
            for line in lines:
                received.append(line)
                if '"content":"w1 "' in line:
                    break
            config.write_text(CONFIG.format(models="echo-1, echo-2"))
            process.send_signal(signal.SIGHUP)
            until(lambda: "echo-2" in models(url), "SIGHUP did not reload the config")
            received.extend(lines)
        streamed = "".join(line for line in received if '"content"' in line)
        assert '"content":"w29"' in streamed and "data: [DONE]" in received, "the reload cut the stream"
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "config reloaded from" in log and "models 1 added (echo-2)" in log


@pytest.mark.parametrize("server", SERVERS)
def test_sighup_reloads_every_worker(tmp_path: Path, server: str):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(models="echo-1"))
    log = tmp_path / "serve.log"
    process, url = serve(config, log, "--workers", "2", "--server", server)
    try:
        until(lambda: log.read_text().count("serving 1 models") == 2, "the workers did not start")
        until(
            lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200,
            "cliproxy serve did not come up",
        )
        config.write_text(CONFIG.format(models="echo-1, echo-2"))
        process.send_signal(signal.SIGHUP)
        until(
            lambda: log.read_text().count("models 1 added (echo-2)") == 2,
            "not every worker reloaded",
        )
        for _ in range(6):  # new connections, whichever worker takes them
            assert "echo-2" in models(url)
        assert process.poll() is None
    finally:
        assert stop(process) == 0
