"""`cliproxy serve` as a real process: SIGTERM while a stream runs lets it finish."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sigterm_drains_a_running_stream(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("echo:\n  - models: [echo-1]\n    delay-ms: 40\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("cliproxy serve did not come up")
        words = " ".join(f"w{i}" for i in range(30))  # about 1.2 s of streaming
        body = {"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": words}]}
        received = []
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as reply:
            lines = reply.iter_lines()
            for line in lines:
                received.append(line)
                if '"content":"w1 "' in line:
                    process.send_signal(signal.SIGTERM)  # mid-stream
                    break
            received.extend(lines)
        assert received[-1] == "data: [DONE]" or "data: [DONE]" in received
        streamed = "".join(line for line in received if '"content"' in line)
        assert '"content":"w29"' in streamed, "the stream was cut short by the shutdown"
        assert process.wait(20) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/healthz", timeout=1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
