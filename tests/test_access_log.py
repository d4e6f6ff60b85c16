"""The access log and request ids: one line per client request, an ``x-request-id`` on
every answer, and that id on every log line of the request."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.servers import SERVERS
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

CHAT_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-chat",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
}
CLIENT_KEY = "sk-client-secret-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-9876543210"


def config(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY],
        "openai-compatibility": [
            {
                "name": "compat",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": UPSTREAM_KEY}],
                "models": [{"name": "deepseek-chat", "alias": "ds"}],
            }
        ],
        **core,
    }


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cliproxy.access"]


async def test_one_access_line_per_request_with_who_answered_and_tokens(upstream, caplog) -> None:
    caplog.set_level(logging.INFO)
    upstream.add("POST", "/v1/chat/completions", [Reply.json(CHAT_OK), Reply.error(429, "slow down")])
    async with asgi_client(gateway_app(config(upstream, **{"request-retry": 0}), plugins=[cliproxy_openai])) as client:
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        body = {"model": "ds", "messages": [{"role": "user", "content": "hi"}]}
        ok = await client.post("/v1/chat/completions", json=body, headers=headers)
        limited = await client.post("/v1/chat/completions", json=body, headers=headers)
        unknown = await client.post("/v1/chat/completions", json={**body, "model": "nope"}, headers=headers)
        denied = await client.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer wrong"})
    assert [r.status_code for r in (ok, limited, unknown, denied)] == [200, 429, 404, 401]
    lines = access_lines(caplog)
    assert len(lines) == 4
    served, rested, missing, refused = lines
    assert re.fullmatch(
        r"openai-chat key-1 200 'ds' -> openai-compatibility \[compat sk-\S+\] deepseek-chat upstream=200 in=11 out=7 \d+ms",
        served,
    ), served
    assert "key-1 429 'ds' -> openai-compatibility" in rested and "upstream=429" in rested and "error=" in rested
    assert "key-1 404 'nope'" in missing and "->" not in missing
    assert refused.startswith("openai-chat - 401 ") and "invalid API key" in refused
    for line in caplog.text.splitlines():
        assert CLIENT_KEY not in line and UPSTREAM_KEY not in line


async def test_access_log_can_be_turned_off(upstream, caplog) -> None:
    caplog.set_level(logging.INFO)
    upstream.add("POST", "/v1/chat/completions", Reply.json(CHAT_OK))
    app = gateway_app(config(upstream, **{"access-log": False}), plugins=[cliproxy_openai])
    async with asgi_client(app) as client:
        body = {"model": "ds", "messages": [{"role": "user", "content": "hi"}]}
        reply = await client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert reply.status_code == 200 and access_lines(caplog) == []


def test_request_ids_are_sent_echoed_and_sanitised(upstream) -> None:
    upstream.add("POST", "/v1/chat/completions", Reply.json(CHAT_OK))
    with serve_app(gateway_app(config(upstream), plugins=[cliproxy_openai])) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="ds", messages=[{"role": "user", "content": "hi"}])
        generated = raw.headers["x-request-id"]
        echoed = client.chat.completions.with_raw_response.create(
            model="ds", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": "trace-42"}
        )
        hostile = client.chat.completions.with_raw_response.create(
            model="ds", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": "a b\tc" * 100}
        )
        with pytest.raises(openai.AuthenticationError) as refused:
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        error_answer = httpx.post(
            url + "/v1/chat/completions", content=b"{", headers={"authorization": f"Bearer {CLIENT_KEY}"}
        )
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    assert echoed.headers["x-request-id"] == "trace-42"
    assert re.fullmatch(r"[0-9a-f]{16}", hostile.headers["x-request-id"])
    assert refused.value.response.status_code == 401  # /v1/models is not a door; doors below
    assert error_answer.status_code == 400 and re.fullmatch(r"[0-9a-f]{16}", error_answer.headers["x-request-id"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("server", SERVERS)
def test_every_log_line_of_a_request_carries_its_id(tmp_path: Path, server: str) -> None:
    """Through ``cliproxy serve``: the access line and the pipeline's own lines of one
    request show the id its client saw; the server writes no access line of its own."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text("api-keys: [k]\necho:\n  - models: [echo-1]\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cliproxy",
            "serve",
            "--config",
            str(config_file),
            "--port",
            str(port),
            "--server",
            server,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        body = {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}
        reply = httpx.post(
            url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer k", "x-request-id": "req-abc"}
        )
        assert reply.status_code == 200 and reply.headers["x-request-id"] == "req-abc"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    mine = [line for line in output.splitlines() if "[req-abc]" in line]
    assert any("cliproxy.access" in line and "200 'echo-1' -> echo" in line for line in mine), output
    assert not [line for line in output.splitlines() if "/v1/chat/completions" in line or "/healthz" in line], output
    assert all("[req-abc]" not in line for line in output.splitlines() if "serving" in line)
