"""``/v0`` and ``/metrics`` refuse what a web page could send them: cross-site requests
(foreign ``Origin``/``Referer``, state changes not sent as JSON) and DNS rebinding
(a ``Host`` that is not this gateway's). Programs (curl, ``cliproxy status``) keep working."""

from __future__ import annotations

import json
import socket
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy.app import gateway_of
from cliproxy.cli import main
from cliproxy.config import ConfigError, load_config
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

AUTH = {"Authorization": "Bearer client-key"}
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
JSON = {"Content-Type": "application/json"}
EVIL = "http://evil.example"

STATE_CHANGING = [
    ("/v0/status/reset", b'{"credential": "all"}'),
    ("/v0/config/reload", b""),
    ("/v0/models/refresh", b""),
]


def cfg(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "metrics": {"enabled": True},
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


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


def app_for(upstream: FakeUpstream, **core: Any) -> Any:
    return gateway_app(cfg(upstream, **core), plugins=[cliproxy_openai])


# -- cross-site requests -------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), STATE_CHANGING)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Content-Type": "text/plain"},  # a form or a no-cors fetch: a "simple request"
        {"Origin": EVIL, "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},  # a sandboxed page
        {"Origin": "http://localhost:3000", "Content-Type": "application/json"},  # another local app
        {"Referer": EVIL + "/page", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
    ],
)
async def test_a_page_of_another_site_cannot_change_state(upstream, path, body, headers):
    app = app_for(upstream)
    gateway = gateway_of(app)
    async with asgi_client(app) as client:
        answer = await client.post(path, content=body, headers=headers)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "cross_site_request" and error["message"].startswith("cross-site request refused")
    assert gateway.reload_status.reloads == 0


@pytest.mark.parametrize(("path", "body"), STATE_CHANGING)
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},  # what curl -d sends
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Origin": "http://localhost"},  # a page, even our own, declares its JSON
        {},  # a body that does not say what it is
    ],
)
async def test_a_state_change_must_be_sent_as_json(upstream, path, body, headers):
    app = app_for(upstream)
    async with asgi_client(app) as client:
        answer = await client.post(path, content=body or b"{}", headers=headers)
    assert answer.status_code == 415
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type" and "Content-Type: application/json" in error["message"]


@pytest.mark.parametrize(("path", "body"), STATE_CHANGING)
async def test_programs_and_the_gateways_own_pages_may_change_state(upstream, path, body):
    app = app_for(upstream)
    async with asgi_client(app) as client:
        own = await client.post(path, content=body, headers={"Origin": "http://localhost", **JSON})
        with_charset = await client.post(
            path, content=body, headers={"Content-Type": "Application/JSON; charset=utf-8"}
        )
        same_origin = await client.post(path, content=body, headers={"Sec-Fetch-Site": "same-origin", **JSON})
        bare = await client.post(path) if not body else None  # curl -X POST: no body, no type, no page
    assert [own.status_code, with_charset.status_code, same_origin.status_code] == [200, 200, 200]
    assert bare is None or bare.status_code == 200


async def test_reading_status_from_a_foreign_origin_is_refused_but_a_link_is_followed(upstream):
    async with asgi_client(app_for(upstream)) as client:
        fetched = await client.get("/v0/status", headers={"Origin": EVIL})
        linked = await client.get("/v0/status", headers={"Referer": EVIL + "/page"})  # a click on a link
        scraped = await client.get("/metrics", headers={"Origin": EVIL})
    assert fetched.status_code == 403 and scraped.status_code == 403
    assert linked.status_code == 200


# -- DNS rebinding: the Host header ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v0/status", "/metrics"])
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 403),
        ("evil.example:8317", 403),
        ("localhost.evil.example", 403),
        ("localhost", 200),
        ("localhost:8317", 200),
        ("LOCALHOST:8317", 200),
        ("127.0.0.1:8317", 200),
        ("[::1]:8317", 200),
        ("10.1.2.3:8317", 200),  # an address: no page can re-point it
        ("gw.internal:8317", 200),  # allowed-hosts
        ("GW.Internal", 200),
        ("bind.example:8317", 200),  # the configured host
    ],
)
async def test_operator_endpoints_answer_only_to_their_own_host_names(upstream, path, host, status):
    app = app_for(upstream, **{"allowed-hosts": ["gw.internal"], "host": "bind.example"})
    async with asgi_client(app, headers={"Host": host}) as client:
        answer = await client.get(path)
    assert answer.status_code == status
    if status == 403:
        error = answer.json()["error"]
        assert error["code"] == "host_not_allowed" and "allowed-hosts" in error["message"]


async def test_public_metrics_still_check_the_host(upstream):
    app = app_for(upstream, metrics={"enabled": True, "public": True})
    async with asgi_client(app, host="203.0.113.9", headers={"Host": "evil.example"}) as client:
        rebound = await client.get("/metrics")
    async with asgi_client(app, host="203.0.113.9", headers={"Host": "10.0.0.5:8317"}) as client:
        remote = await client.get("/metrics")
    assert rebound.status_code == 403 and remote.status_code == 200


async def test_the_model_doors_do_not_look_at_the_host(upstream, ok):
    upstream.add("POST", "/v1/chat/completions", ok)
    async with asgi_client(app_for(upstream), base_url="http://api.example.com") as client:
        body = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
        answer = await client.post("/v1/chat/completions", json=body, headers={**AUTH, "Origin": EVIL})
    assert answer.status_code == 200


async def test_remote_management_with_the_key_needs_a_known_host(upstream):
    app = app_for(upstream, **{"remote-management": {"secret-key": "mgmt"}, "allowed-hosts": ["gw.internal"]})
    key = {"Authorization": "Bearer mgmt"}
    async with asgi_client(app, host="203.0.113.7", base_url="http://gw.internal:8317") as client:
        by_name = await client.get("/v0/status", headers=key)
        reset = await client.post("/v0/status/reset", json={"credential": "all"}, headers=key)
    async with asgi_client(app, host="203.0.113.7", base_url="http://other.example") as client:
        unknown = await client.get("/v0/status", headers=key)
    assert by_name.status_code == 200 and reset.status_code == 200
    assert unknown.status_code == 403


@pytest.mark.parametrize("name", ["http://gw.internal", "gw.internal:8317", "gw internal", ""])
def test_allowed_hosts_must_be_bare_names(tmp_path, name):
    path = tmp_path / "config.yaml"
    path.write_text(f'allowed-hosts:\n  - localhost\n  - "{name}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.location == f"{path}:3:5"
    assert "is not a host name" in str(caught.value) and "without scheme or port" in str(caught.value)


# -- through a real server ---------------------------------------------------------------------


def raw_request(url: str, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``request`` as it is (plus ``Connection: close``); the status and JSON body."""
    line, _, rest = request.partition(b"\r\n")
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(line + b"\r\nConnection: close\r\n" + rest)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        size, _, body = body.partition(b"\r\n")
        body = body[: int(size, 16)]
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_a_served_gateway_refuses_rebinding_and_cross_site_posts(upstream, capsys):
    app = app_for(upstream)
    gateway = gateway_of(app)
    with serve_app(app) as url:
        port = url.rsplit(":", 1)[1]
        rebound = raw_request(url, f"GET /v0/status HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n".encode())
        metrics = raw_request(url, f"GET /metrics HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n".encode())
        form = (
            f"POST /v0/config/reload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {EVIL}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}"
        )
        cross_site = raw_request(url, form.encode())
        plain = raw_request(
            url,
            f"POST /v0/status/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\n"
            'Content-Length: 21\r\n\r\n{"credential": "all"}'.encode(),
        )
        curl = httpx.post(url + "/v0/config/reload")  # no body, no type, no page
        assert main(["status", "--url", url, "--json"]) == 0
        assert main(["status", "--url", url, "--reset", "all"]) == 0
        localhost = httpx.get(f"http://localhost:{port}/v0/status")
    assert rebound[0] == 403 and rebound[1]["error"]["code"] == "host_not_allowed"
    assert metrics[0] == 403 and metrics[1]["error"]["code"] == "host_not_allowed"
    assert cross_site[0] == 403 and cross_site[1]["error"]["code"] == "cross_site_request"
    assert plain[0] == 415 and plain[1]["error"]["code"] == "unsupported_media_type"
    assert curl.status_code == 200 and gateway.reload_status.reloads == 1
    assert localhost.status_code == 200
    out = capsys.readouterr().out
    assert '"credentials"' in out and "cleared 0 cooldown(s) of 1 credential(s)" in out
