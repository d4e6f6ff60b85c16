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
from cliproxy.servers import SERVERS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_drains_a_running_stream(tmp_path: Path, server: str):
    config = tmp_path / "config.yaml"
    config.write_text("echo:\n  - models: [echo-1]\n    delay-ms: 40\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(port), "--server", server],
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


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("workers", [1, 2])
def test_streams_outliving_the_graceful_timeout_end_with_an_error_event(tmp_path: Path, workers: int, server: str):
    """Streams still running when --graceful-timeout expires are ended by the gateway
    with their door's error event (OpenAI and Anthropic clients here), quietly: no
    traceback in the log, exit code 0."""
    config = tmp_path / "config.yaml"
    config.write_text("echo:\n  - models: [echo-1]\n    delay-ms: 200\n")
    port = free_port()
    command = [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(port)]
    command += ["--graceful-timeout", "1", "--workers", str(workers), "--server", server]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    words = " ".join(f"w{i}" for i in range(60))  # 12 s of streaming: far past the timeout
    bodies = {
        "/v1/chat/completions": {"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": words}]},
        "/v1/messages": {
            "model": "echo-1",
            "stream": True,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": words}],
        },
    }
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("cliproxy serve did not come up")
        with httpx.Client(timeout=30) as client:
            streams = {path: client.stream("POST", url + path, json=body) for path, body in bodies.items()}
            replies = {path: stream.__enter__() for path, stream in streams.items()}
            for reply in replies.values():
                assert reply.status_code == 200
            lines = {path: reply.iter_lines() for path, reply in replies.items()}
            first = {path: next(each) for path, each in lines.items()}
            process.send_signal(signal.SIGTERM)
            texts = {path: first[path] + "\n" + "\n".join(each) for path, each in lines.items()}
            for stream in streams.values():
                stream.__exit__(None, None, None)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=10)[0]
    chat, anthropic = texts["/v1/chat/completions"], texts["/v1/messages"]
    assert '"w59' not in chat and '"error":{"message":"the gateway is shutting down' in chat
    assert chat.rstrip().endswith("}")  # the error event is the last one; no [DONE] after it
    assert "event: error" in anthropic and "shutting down" in anthropic
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert "ending" in output and "requests still in flight" in output
