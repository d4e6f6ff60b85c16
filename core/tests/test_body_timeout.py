"""``body-read-timeout``: a client that stops sending its body part-way gets a 408 in its
door's error shape, and its connection is released instead of held open."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import cliproxy_openai
import pytest
from cliproxy.config import ConfigError, load_config
from cliproxy.testing import FakeUpstream, asgi_client, gateway_app, serve_app

TIMEOUT = 0.3


def app_for(upstream: FakeUpstream, **core: Any) -> Any:
    config = {
        "api-keys": ["client-key"],
        "body-read-timeout": TIMEOUT,
        "openai-compatibility": [
            {
                "name": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-team-0000000000001"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
        **core,
    }
    return gateway_app(config, plugins=[cliproxy_openai])


DOORS = [
    ("/v1/chat/completions", "Authorization: Bearer client-key", "openai"),
    ("/v1/messages", "x-api-key: client-key", "anthropic"),
    ("/v1beta/models/nano:generateContent", "x-goog-api-key: client-key", "gemini"),
]


def stalled_request(url: str, path: str, auth: str) -> bytes:
    """Send the headers and a part of the body, then nothing: what came back until the
    server closed the connection (a socket timeout, if it held on to it)."""
    port = int(url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n"
        "Content-Type: application/json\r\nContent-Length: 90\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"model": "nano", "messa')
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def body_of(response: bytes) -> dict[str, Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        size, _, body = body.partition(b"\r\n")
        body = body[: int(size, 16)]
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "auth", "shape"), DOORS)
def test_a_stalled_body_gets_a_408_in_its_doors_shape_and_the_connection_is_closed(upstream, path, auth, shape):
    with serve_app(app_for(upstream)) as url:
        response = stalled_request(url, path, auth)  # returns once the server closed the socket
    assert response.startswith(b"HTTP/1.1 408 ")
    body = body_of(response)
    if shape == "openai":
        message = body["error"]["message"]
        assert body["error"]["code"] == "request_timeout"
    elif shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "timeout_error"
        message = body["error"]["message"]
    else:
        assert body["error"]["code"] == 408 and body["error"]["status"] == "DEADLINE_EXCEEDED"
        message = body["error"]["message"]
    assert f"did not arrive within {TIMEOUT:g} s" in message and "body-read-timeout" in message
    assert upstream.requests == []


class StalledClient:
    """An ASGI client that sends the start of a body and then nothing, ever."""

    def __init__(self) -> None:
        self.parts = [{"type": "http.request", "body": b'{"model": "nano", ', "more_body": True}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.parts:
            return self.parts.pop(0)
        await asyncio.Event().wait()  # the rest of the body never comes
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def chat_scope(key: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"authorization", key),
            (b"content-type", b"application/json"),
            (b"content-length", b"90"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8317),
    }


@pytest.mark.parametrize(("key", "status"), [(b"Bearer client-key", 408), (b"Bearer wrong", 401)])
async def test_a_receive_that_never_completes_ends_in_a_408_once_authenticated(upstream, key, status):
    app = app_for(upstream)
    client = StalledClient()
    async with asgi_client(app):  # runs the lifespan
        await asyncio.wait_for(app(chat_scope(key), client.receive, client.send), 10)  # the bound only ends a hang
    assert client.sent[0]["status"] == status  # an unknown key is refused before the body is read
    error = json.loads(client.sent[1]["body"])["error"]
    assert error["code"] == ("request_timeout" if status == 408 else "invalid_api_key")
    assert upstream.requests == []


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_the_timeout_must_be_a_positive_number_of_seconds(tmp_path, value):
    path = tmp_path / "config.yaml"
    path.write_text(f"port: 8317\nbody-read-timeout: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.location == f"{path}:2:1"
    assert "body-read-timeout" in str(caught.value) and "e.g. 'body-read-timeout: 30'" in str(caught.value)


def test_the_default_is_thirty_seconds():
    assert load_config({}).body_read_timeout == 30.0


async def test_a_client_leaving_or_a_shutdown_is_not_taken_for_a_timeout():
    from cliproxy.asgi import read_body

    async def leaves() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(asyncio.CancelledError):
        await read_body(leaves, {}, 1024, timeout=10)

    async def never() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    reading = asyncio.create_task(read_body(never, {}, 1024, timeout=10))
    await asyncio.sleep(0)
    reading.cancel()  # the server shutting down
    with pytest.raises(asyncio.CancelledError):
        await reading
