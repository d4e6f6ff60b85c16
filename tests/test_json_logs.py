"""``logging: {format: json, level, file}`` through ``cliproxy serve``: every line on
stderr and in the file is one JSON object; a request's access line carries its id, door,
model, credential label, status and duration as fields; and no configured secret -- not
even one an upstream echoes back in an error -- appears anywhere in the log."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cliproxy.redaction import secret_forms
from cliproxy.testing import FakeUpstream, Reply

CLIENT_KEY = "sk-client-json-logs-7d41c2"
UPSTREAM_KEY = "sk-ant-upstream-json-logs-93be51f0"
FAILING_KEY = "sk-ant-failing-json-logs-1c8e77aa"
MANAGEMENT_KEY = "mgmt-json-logs-secret-55e2a9"

ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "pong"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 7, "output_tokens": 2},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(config: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", *extra, "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("cliproxy serve did not come up:\n" + process.communicate()[0])


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_log_lines_carry_the_request_fields_and_no_secret(tmp_path: Path):
    with FakeUpstream() as upstream:

        def answer(request: Any) -> Reply:
            if FAILING_KEY in (
                request.headers.get("x-api-key"),
                request.headers.get("authorization", "")[7:],
            ):  # an upstream that echoes the key it refused
                error = {"type": "authentication_error", "message": f"invalid x-api-key {FAILING_KEY}"}
                return Reply.json({"type": "error", "error": error}, status=401)
            return Reply.json(ANSWER)

        upstream.add("POST", "/v1/messages", answer)
        config_file = tmp_path / "config.yaml"
        config_file.write_text(
            f"""
api-keys: ["{CLIENT_KEY}"]
watch-config: false
logging:
  format: json
  level: info
  file: logs/cliproxy.log
remote-management:
  secret-key: "{MANAGEMENT_KEY}"
claude-api-key:
  - api-key: "{UPSTREAM_KEY}"
    base-url: "{upstream.url}"
    models: [{{name: claude-sonnet-4-5, alias: good}}]
  - api-key: "{FAILING_KEY}"
    base-url: "{upstream.url}"
    models: [{{name: claude-sonnet-4-5, alias: bad}}]
echo:
  - models: [echo-1]
"""
        )
        process, url = serve(config_file)
        try:
            auth = {"authorization": f"Bearer {CLIENT_KEY}", "x-request-id": "req-json-1"}
            good = httpx.post(
                url + "/v1/chat/completions",
                json={"model": "good", "messages": [{"role": "user", "content": "ping"}]},
                headers=auth,
            )
            bad = httpx.post(
                url + "/v1/messages",
                json={"model": "bad", "max_tokens": 10, "messages": [{"role": "user", "content": "ping"}]},
                headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
            )
            refused = httpx.post(
                url + "/v1/chat/completions",
                json={"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {UPSTREAM_KEY}"},  # a secret, sent where it does not belong
            )
            status = httpx.get(url + "/v0/status", headers={"authorization": f"Bearer {MANAGEMENT_KEY}"})
        finally:
            process.terminate()
            stderr = process.communicate(timeout=30)[0]
    assert good.status_code == 200 and good.headers["x-request-id"] == "req-json-1"
    assert bad.status_code >= 400 and refused.status_code == 401 and status.status_code == 200, bad.text

    logged = json_lines(stderr)  # every line is JSON
    in_file = (tmp_path / "logs" / "cliproxy.log").read_text()
    assert json_lines(in_file)
    assert {"time", "level", "logger", "request_id", "message"} <= logged[-1].keys()

    access = [line for line in logged if line["logger"] == "cliproxy.access"]
    (first,) = [line for line in access if line["request_id"] == "req-json-1"]
    assert first["door"] == "openai-chat" and first["model"] == "good" and first["status"] == 200
    assert first["provider"] == "claude" and first["credential"] and first["upstream_status"] == 200
    assert first["input_tokens"] == 7 and first["output_tokens"] == 2
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    (second,) = [line for line in access if line["model"] == "bad"]
    assert second["status"] == bad.status_code and second["upstream_status"] == 401 and second["door"] == "anthropic"
    assert second["request_id"] == bad.headers["x-request-id"]
    assert second["credential"] != first["credential"]

    everything = stderr + in_file
    for secret in (CLIENT_KEY, UPSTREAM_KEY, FAILING_KEY, MANAGEMENT_KEY):
        for form in secret_forms(secret):
            assert form not in everything, f"a form of a configured secret is in the log: {form!r}"


def levels(config_file: Path, *extra: str) -> set[str]:
    """The levels of what ``cliproxy serve`` logs while answering one request."""
    process, url = serve(config_file, *extra)
    try:
        body = {"model": "echo-1", "messages": [{"role": "user", "content": "x"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200
    finally:
        process.terminate()
        stderr = process.communicate(timeout=30)[0]
    return {line["level"] for line in json_lines(stderr)}


def test_logging_level_applies_and_the_command_line_wins(tmp_path: Path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "watch-config: false\nlogging: {format: json, level: warning}\necho:\n  - models: [echo-1]\n"
    )
    assert "info" not in levels(config_file)
    assert "info" in levels(config_file, "--log-level", "info")


def test_a_bad_logging_format_is_a_located_config_error(tmp_path: Path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("logging:\n  format: jsonl\n")
    done = subprocess.run(
        [sys.executable, "-m", "cliproxy", "check", "--config", str(config_file)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "config.yaml:2:" in done.stderr and "'logging.format' is 'jsonl'" in done.stderr
    assert "did you mean 'json'?" in done.stderr
