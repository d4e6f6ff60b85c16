"""Who may use /v0/management: off without a key (404 with how to turn it on), the key
from this machine too (plain or hashed, compared in constant time), other hosts only
with allow-remote, wrong keys locking an address out, web pages kept away."""

from __future__ import annotations

import logging
from typing import Any

import cliproxy_echo
import httpx
import pytest
from cliproxy.cli import main
from cliproxy.config import ConfigError, load_config
from cliproxy.keyhash import hash_key, key_matches
from cliproxy.lockout import Lockout
from cliproxy.testing import FakeClock, asgi_client, gateway_app

from .conftest import MANAGEMENT_KEY

REMOTE = "203.0.113.9"


def app_for(**remote: Any) -> Any:
    config: dict[str, Any] = {"api-keys": ["client-key-123456"], "echo": [{"models": ["echo-1"]}]}
    if remote:
        config["remote-management"] = remote
    return gateway_app(config, plugins=[cliproxy_echo])


def bearer(key: str = MANAGEMENT_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_without_a_key_configured_the_api_is_off_and_says_how_to_turn_it_on():
    async with asgi_client(app_for()) as client:
        answers = [
            await client.get("/v0/management"),
            await client.get("/v0/management/keys", headers=bearer()),
            await client.post("/v0/management/keys", json={"key": "whatever-123"}, headers=bearer()),
            await client.get("/v0/management/no/such/route"),
        ]
        status = await client.get("/v0/status")  # the old endpoints keep their rules
    for answer in answers:
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert error["code"] == "management_disabled"
        assert "remote-management: {secret-key: <key>}" in error["message"] and "cliproxy hash-key" in error["message"]
    assert status.status_code == 200


@pytest.mark.parametrize("configured", [MANAGEMENT_KEY, hash_key(MANAGEMENT_KEY)], ids=["plain", "hashed"])
async def test_the_key_is_needed_from_this_machine_too(configured):
    async with asgi_client(app_for(**{"secret-key": configured})) as client:
        missing = await client.get("/v0/management/keys")
        wrong = await client.get("/v0/management/keys", headers=bearer("not-the-key-000"))
        by_bearer = await client.get("/v0/management/keys", headers=bearer())
        by_header = await client.get("/v0/management/keys", headers={"x-management-key": MANAGEMENT_KEY})
        again = await client.get("/v0/management/keys", headers=bearer())  # remembered: no second scrypt
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_management_key"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_management_key"
    assert by_bearer.status_code == by_header.status_code == again.status_code == 200
    assert by_bearer.headers["cache-control"] == "no-store"


USAGE_AND_LOGS = [
    ("GET", "/v0/management/usage"),
    ("GET", "/v0/management/usage/export"),
    ("POST", "/v0/management/usage/import"),
    ("GET", "/v0/management/logs"),
    ("DELETE", "/v0/management/logs"),
    ("GET", "/v0/management/logs/req-1"),
    ("DELETE", "/v0/management/logs/req-1"),
    ("GET", "/v0/management/app-log"),
]


@pytest.mark.parametrize(("method", "path"), USAGE_AND_LOGS)
async def test_usage_and_logs_follow_the_same_rules(method, path):
    async with asgi_client(app_for()) as client:
        off = await client.request(method, path, headers=bearer())
    async with asgi_client(app_for(**{"secret-key": MANAGEMENT_KEY})) as client:
        keyless = await client.request(method, path)
        wrong = await client.request(method, path, headers=bearer("not-the-key-000"))
    async with asgi_client(app_for(**{"secret-key": MANAGEMENT_KEY}), host=REMOTE) as client:
        remote = await client.request(method, path, headers=bearer())
    assert off.status_code == 404 and off.json()["error"]["code"] == "management_disabled"
    assert keyless.status_code == 401 and keyless.json()["error"]["code"] == "missing_management_key"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_management_key"
    assert remote.status_code == 403 and remote.json()["error"]["code"] == "remote_management_disabled"


async def test_other_hosts_are_refused_unless_allowed():
    async with asgi_client(app_for(**{"secret-key": MANAGEMENT_KEY}), host=REMOTE) as client:
        refused = await client.get("/v0/management/keys", headers=bearer())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "remote_management_disabled"
    assert "allow-remote: true" in refused.json()["error"]["message"]

    app = app_for(**{"secret-key": MANAGEMENT_KEY, "allow-remote": True})
    async with asgi_client(app, host=REMOTE) as client:
        allowed = await client.get("/v0/management/keys", headers=bearer())
        keyless = await client.get("/v0/management/keys")
    assert allowed.status_code == 200 and keyless.status_code == 401


async def test_a_request_forwarded_by_a_local_proxy_counts_as_remote():
    async with asgi_client(app_for(**{"secret-key": MANAGEMENT_KEY})) as client:
        forwarded = await client.get("/v0/management/keys", headers={**bearer(), "x-forwarded-for": REMOTE})
    assert forwarded.status_code == 403


async def test_repeated_wrong_keys_lock_the_address_out_for_a_while(caplog):
    app = app_for(**{"secret-key": hash_key(MANAGEMENT_KEY), "allow-remote": True})
    clock = FakeClock().install(app)
    caplog.set_level(logging.INFO, "cliproxy.management")
    async with asgi_client(app, host=REMOTE) as attacker:
        answers = [await attacker.get("/v0/management", headers=bearer(f"guess-{i}-000000")) for i in range(5)]
        locked = await attacker.get("/v0/management", headers=bearer())  # even the right key
        old_endpoint = await attacker.get("/v0/status", headers=bearer())
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "management_locked_out"
    assert int(locked.headers["retry-after"]) == 1800
    assert old_endpoint.status_code == 429  # the same table guards /v0/status
    async with asgi_client(app, host="198.51.100.7") as neighbour:
        assert (await neighbour.get("/v0/management", headers=bearer())).status_code == 200
    clock.advance(1801)
    async with asgi_client(app, host=REMOTE) as attacker:
        assert (await attacker.get("/v0/management", headers=bearer())).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"5 wrong keys from {REMOTE}" in line for line in warnings)
    assert not any("guess-" in r.getMessage() or MANAGEMENT_KEY in r.getMessage() for r in caplog.records)


async def test_a_right_key_clears_the_count_of_wrong_ones():
    app = app_for(**{"secret-key": MANAGEMENT_KEY, "allow-remote": True})
    FakeClock().install(app)
    async with asgi_client(app, host=REMOTE) as client:
        for _ in range(3):
            for i in range(4):
                assert (await client.get("/v0/management", headers=bearer(f"typo-{i}-00000"))).status_code == 401
            assert (await client.get("/v0/management", headers=bearer())).status_code == 200


def test_the_lockout_table_is_bounded():
    clock = FakeClock()
    table = Lockout(clock, max_failures=2, capacity=10)
    for _ in range(3):
        table.failed("10.0.0.1")  # locked
    for i in range(100):
        table.failed(f"192.0.2.{i}")
    assert len(table) == 10
    assert table.locked_for("10.0.0.1") > 0  # locked addresses go last


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"origin": "https://evil.example"}, 403, "cross_site_request"),
        ({"host": "evil.example"}, 403, "host_not_allowed"),
        ({"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
async def test_web_pages_cannot_reach_the_api(headers, status, code):
    async with asgi_client(app_for(**{"secret-key": MANAGEMENT_KEY})) as client:
        answer = await client.post(
            "/v0/management/keys", content=b'{"key": "client-key-999999"}', headers={**bearer(), **headers}
        )
    assert answer.status_code == status and answer.json()["error"]["code"] == code


async def test_the_old_endpoints_take_a_hashed_key_from_other_hosts():
    app = app_for(**{"secret-key": hash_key(MANAGEMENT_KEY)})
    async with asgi_client(app, host=REMOTE) as client:
        ok = await client.get("/v0/status", headers=bearer())
        hash_as_key = await client.get(
            "/v0/status", headers=bearer(app.state.gateway.config.remote_management.secret_key)
        )
    assert ok.status_code == 200 and hash_as_key.status_code == 401


def test_hash_key_prints_a_hash_the_config_takes(capsys, tmp_path):
    assert main(["hash-key", "an-operator-key-1"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("scrypt$32768$8$1$") and "an-operator-key-1" not in printed
    assert key_matches("an-operator-key-1", printed) and not key_matches("an-operator-key-2", printed)
    path = tmp_path / "config.yaml"
    path.write_text(f"remote-management:\n  secret-key: '{printed}'\n")
    assert load_config(path).remote_management.secret_key == printed


def test_a_mangled_hash_is_a_located_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("port: 8317\nremote-management:\n  secret-key: 'scrypt$32768$8$1$abc'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (3, "remote-management.secret-key")
    assert "paste the whole line 'cliproxy hash-key' printed" in str(caught.value)


def test_the_served_api_answers_the_key_over_a_real_socket(config_path, serve):
    with serve(config_path) as served:
        assert served.client(key=None).get("").status_code == 401
        assert served.api.get("").json()["routes"][0] == {
            "method": "GET",
            "path": "/v0/management",
            "summary": "this list of routes, and what the gateway holds",
        }
        unknown = served.api.get("/no/such/thing")
        wrong_method = served.api.put("/keys", json={})
        index = httpx.get(served.url + "/").json()
        listed = {(r["method"], r["path"]) for r in served.api.get("").json()["routes"]}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_such_route"
    assert wrong_method.status_code == 405 and "it takes GET, POST" in wrong_method.json()["error"]["message"]
    assert index["endpoints"][-1] == "/v0/management"
    assert set(USAGE_AND_LOGS) - listed == {
        ("GET", "/v0/management/logs/req-1"),
        ("DELETE", "/v0/management/logs/req-1"),
    }
    assert {("GET", "/v0/management/logs/{id:path}"), ("DELETE", "/v0/management/logs/{id:path}")} <= listed
