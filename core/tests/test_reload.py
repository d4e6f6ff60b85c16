"""Reloading the config of a running gateway: POST /v0/config/reload, Gateway.reload(),
and the file watcher (config file and auth-dir token files)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy import create_app
from cliproxy.app import gateway_of, reload_app
from cliproxy.config import ConfigError
from cliproxy.reload import reload_gateway
from cliproxy.testing import FakeUpstream, Reply, asgi_client, serve_app


def _load_oauth_helper() -> Any:
    spec = importlib.util.spec_from_file_location("cliproxy_test_oauth_reload", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HELPER = Path(__file__).parent / "helpers" / "oauth_gateway.py"
oauth = _load_oauth_helper()

AUTH = {"Authorization": "Bearer client-key"}
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
CHAT = "/v1/chat/completions"


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


def entry(name: str, upstream: FakeUpstream, *keys: str, models: dict[str, str] | None = None) -> dict[str, Any]:
    models = models or {"gpt-4.1-nano": "nano"}
    return {
        "name": name,
        "base-url": upstream.url + "/v1",
        "api-key-entries": [{"api-key": k} for k in keys],
        "models": [{"name": n, "alias": a} for n, a in models.items()],
    }


def write(path: Path, *entries: dict[str, Any], **core: Any) -> Path:
    """Write a config file (JSON is YAML) with the given openai-compatibility entries."""
    config = {"api-keys": ["client-key"], "auth-dir": str(path.parent / "auth"), **core}
    if entries:
        config["openai-compatibility"] = list(entries)
    path.write_text(json.dumps(config, indent=2))
    return path


def keys_used(upstream: FakeUpstream) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.requests_to(CHAT)]


def app_for(path: Path | dict[str, Any], *plugins: object) -> Any:
    return create_app(path, plugins=plugins or [cliproxy_openai], load_entrypoints=False)


async def chat(client: httpx.AsyncClient, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return await client.post(CHAT, json=body, headers=AUTH)


async def model_ids(client: httpx.AsyncClient) -> set[str]:
    return {m["id"] for m in (await client.get("/v1/models", headers=AUTH)).json()["data"]}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds (no timing is asserted; the timeout only ends a hang)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail("the change was not picked up")
        await asyncio.sleep(0.02)


async def test_a_new_entry_and_alias_route_to_their_upstream_after_reload(tmp_path, ok):
    with FakeUpstream() as first, FakeUpstream() as second:
        first.add("POST", CHAT, ok)
        second.add("POST", CHAT, ok)
        config = write(tmp_path / "config.yaml", entry("one", first, "sk-one-000000000001"))
        async with asgi_client(app_for(config)) as client:
            assert (await chat(client, "extra")).status_code == 404
            write(
                config,
                entry("one", first, "sk-one-000000000001"),
                entry("two", second, "sk-two-000000000002", models={"gpt-4.1-mini": "extra"}),
            )
            answer = await client.post("/v0/config/reload")
            assert answer.status_code == 200
            result = answer.json()
            assert result["changed"] and result["models_added"] == ["extra"] and result["models_removed"] == []
            assert len(result["credentials_added"]) == 1 and result["credentials_removed"] == []
            assert "sk-two-000000000002" not in answer.text  # labels are masked
            assert (await chat(client, "extra")).status_code == 200
            assert (await chat(client, "nano")).status_code == 200
    assert keys_used(second) == ["sk-two-000000000002"]
    assert second.requests_to(CHAT)[0].json["model"] == "gpt-4.1-mini"
    assert keys_used(first) == ["sk-one-000000000001"]


async def test_a_removed_credential_is_no_longer_used(tmp_path, ok):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = write(
            tmp_path / "config.yaml",
            entry("team", upstream, "sk-alpha-00000000001", "sk-beta-000000000002"),
        )
        async with asgi_client(app_for(config)) as client:
            for _ in range(2):
                assert (await chat(client, "nano")).status_code == 200
            assert set(keys_used(upstream)) == {"sk-alpha-00000000001", "sk-beta-000000000002"}
            write(config, entry("team", upstream, "sk-beta-000000000002"))
            result = (await client.post("/v0/config/reload")).json()
            assert len(result["credentials_removed"]) == 1 and result["models_removed"] == []
            upstream.clear()
            upstream.add("POST", CHAT, ok)
            for _ in range(4):
                assert (await chat(client, "nano")).status_code == 200
            status = (await client.get("/v0/status")).json()
    assert keys_used(upstream) == ["sk-beta-000000000002"] * 4
    assert len(status["credentials"]) == 1


async def test_an_invalid_edit_keeps_the_old_config_and_reports_the_error(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = write(tmp_path / "config.yaml", entry("team", upstream, "sk-alpha-00000000001"))
        good = config.read_text()
        async with asgi_client(app_for(config)) as client:
            config.write_text('api_keys: ["client-key"]\n')
            with caplog.at_level(logging.ERROR, logger="cliproxy.reload"):
                answer = await client.post("/v0/config/reload")
            assert answer.status_code == 422
            message = answer.json()["error"]["message"]
            assert f"{config}:1:1: unknown key 'api_keys'" in message and "did you mean 'api-keys'" in message
            assert "still serving the previous config" in caplog.text and f"{config}:1:1" in caplog.text
            assert (await chat(client, "nano")).status_code == 200  # the old config serves on
            status = (await client.get("/v0/status")).json()["config"]
            assert "unknown key 'api_keys'" in status["last_reload_error"]["message"]
            assert status["file"] == str(config) and status["reloads"] == 0

            config.write_text(good)
            assert (await client.post("/v0/config/reload")).status_code == 200
            status = (await client.get("/v0/status")).json()["config"]
            assert status["last_reload_error"] is None and status["reloads"] == 1


async def test_the_reload_endpoint_follows_the_management_access_rule(tmp_path, ok):
    with FakeUpstream() as upstream:
        secured = write(
            tmp_path / "config.yaml",
            entry("team", upstream, "sk-alpha-00000000001"),
            **{"remote-management": {"secret-key": "mgmt-secret"}},
        )
        async with asgi_client(app_for(secured), host="203.0.113.7") as client:
            missing = await client.post("/v0/config/reload")
            api_key = await client.post("/v0/config/reload", headers=AUTH)
            bearer = await client.post("/v0/config/reload", headers={"Authorization": "Bearer mgmt-secret"})
            forwarded = await client.post("/v0/config/reload", headers={"X-Management-Key": "mgmt-secret"})
        assert (missing.status_code, api_key.status_code) == (401, 401)
        assert bearer.status_code == 200 and forwarded.status_code == 200

        open_config = write(tmp_path / "open.yaml", entry("team", upstream, "sk-alpha-00000000001"))
        async with asgi_client(app_for(open_config), host="203.0.113.7") as client:
            assert (await client.post("/v0/config/reload")).status_code == 403
        async with asgi_client(app_for(open_config)) as client:
            proxied = await client.post("/v0/config/reload", headers={"X-Forwarded-For": "198.51.100.4"})
            assert proxied.status_code == 403
            assert (await client.post("/v0/config/reload")).status_code == 200


async def test_a_reload_that_changes_nothing_still_says_it_was_read(tmp_path, caplog):
    with FakeUpstream() as upstream:
        config = write(tmp_path / "config.yaml", entry("team", upstream, "sk-alpha-00000000001"))
        app = app_for(config)
        async with asgi_client(app):
            with caplog.at_level(logging.INFO, logger="cliproxy.reload"):
                result = await reload_app(app)
    assert not result.changed
    assert f"config reloaded from {config}: credentials 0 added" in caplog.text


async def test_keys_that_need_a_restart_are_kept_and_reported(tmp_path, caplog):
    with FakeUpstream() as upstream:
        config = write(tmp_path / "config.yaml", entry("team", upstream, "sk-alpha-00000000001"))
        app = app_for(config)
        gateway = gateway_of(app)
        async with asgi_client(app):
            write(
                config,
                entry("team", upstream, "sk-alpha-00000000001"),
                port=9999,
                metrics={"enabled": True},
                **{"request-retry": 7},
            )
            with caplog.at_level(logging.WARNING, logger="cliproxy.reload"):
                result = await reload_gateway(gateway)
    assert result.needs_restart == ("port", "metrics")
    assert result.settings_changed == ("request-retry",)
    assert gateway.config.port == 8317 and gateway.config.request_retry == 7
    assert not gateway.config.metrics.enabled and gateway.metrics is None
    assert "'port' changed, which needs a restart" in caplog.text and "9999" not in caplog.text


async def test_an_embedding_app_reloads_from_code(ok):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        base = {"api-keys": ["client-key"], "auth-dir": "/nonexistent/cliproxy-test-auth"}
        app = app_for({**base, "openai-compatibility": [entry("team", upstream, "sk-alpha-00000000001")]})
        gateway = gateway_of(app)
        async with asgi_client(app) as client:
            unchanged = await reload_gateway(gateway)  # a mapping: re-reads auth-dir only
            assert not unchanged.changed
            new = {
                **base,
                "openai-compatibility": [entry("team", upstream, "sk-alpha-00000000001", models={"m": "fresh"})],
            }
            result = await reload_gateway(gateway, new)
            assert result.models_added == ("fresh",) and result.models_removed == ("nano",)
            assert result.credentials_changed and not result.credentials_added
            assert await model_ids(client) == {"fresh"}
            with pytest.raises(ConfigError, match="unknown key 'api_keys'"):
                await reload_gateway(gateway, {"api_keys": []})
            assert await model_ids(client) == {"fresh"}


async def test_a_stream_in_flight_during_a_reload_completes(tmp_path, ok):
    words = [{"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]} for i in range(20)]
    with FakeUpstream() as old, FakeUpstream() as new:
        old.add("POST", CHAT, Reply.sse_events(words, done=True, chunk_delay=0.02))
        new.add("POST", CHAT, ok)
        config = write(tmp_path / "config.yaml", entry("old", old, "sk-old-000000000001"))
        app = app_for(config)
        with serve_app(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                body = {
                    "model": "nano",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                received = []
                async with client.stream("POST", CHAT, json=body, headers=AUTH) as reply:
                    lines = reply.aiter_lines()
                    async for line in lines:
                        received.append(line)
                        if "w1 " in line:
                            break
                    write(config, entry("new", new, "sk-new-000000000002"))
                    swapped = await client.post("/v0/config/reload")
                    assert swapped.status_code == 200 and len(swapped.json()["credentials_removed"]) == 1
                    received.extend([line async for line in lines])
                assert (await chat(client, "nano")).status_code == 200
    streamed = "".join(received)
    assert "w19 " in streamed and "data: [DONE]" in received, "the stream was cut short by the reload"
    assert keys_used(new) == ["sk-new-000000000002"] and len(keys_used(old)) == 1


async def test_the_watcher_applies_an_edit_of_the_config_file(tmp_path, ok):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = write(
            tmp_path / "config.yaml",
            entry("team", upstream, "sk-alpha-00000000001"),
            **{"watch-interval": 0.05},
        )
        async with asgi_client(app_for(config)) as client:
            write(
                config,
                entry(
                    "team",
                    upstream,
                    "sk-alpha-00000000001",
                    models={"gpt-4.1-nano": "nano", "gpt-4.1-mini": "mini"},
                ),
                **{"watch-interval": 0.05},
            )

            async def has_mini() -> bool:
                return "mini" in await model_ids(client)

            await eventually(has_mini)
            assert (await chat(client, "mini")).status_code == 200
    assert upstream.requests_to(CHAT)[0].json["model"] == "gpt-4.1-mini"


async def test_watching_can_be_turned_off(tmp_path):
    with FakeUpstream() as upstream:
        options = {"watch-interval": 0.02, "watch-config": False}
        config = write(tmp_path / "config.yaml", entry("team", upstream, "sk-alpha-00000000001"), **options)
        app = app_for(config)
        async with asgi_client(app) as client:
            write(
                config,
                entry("team", upstream, "sk-alpha-00000000001", models={"m": "other"}),
                **options,
            )
            for _ in range(10):  # several polls' worth: nothing may happen
                await asyncio.sleep(0.02)
            assert await model_ids(client) == {"nano"}
            assert (await client.get("/v0/status")).json()["config"]["watching"] is False
            await reload_app(app)  # an explicit reload still works
            assert await model_ids(client) == {"other"}


def token_file(upstream: FakeUpstream, account: str) -> dict[str, Any]:
    return {
        "type": "test-oauth",
        "account": account,
        "access_token": f"access-{account}",
        "refresh_token": f"refresh-{account}",
        "expires_at": time.time() + 3600,
        "base_url": upstream.url + "/v1",
        "token_url": upstream.url + "/token",
    }


async def test_a_token_file_dropped_into_auth_dir_becomes_a_credential(tmp_path, ok):
    auth = tmp_path / "auth"
    auth.mkdir()
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = write(tmp_path / "config.yaml", **{"watch-interval": 0.05})
        app = app_for(config, oauth.Plugin())
        async with asgi_client(app) as client:
            assert await model_ids(client) == set()
            (auth / "login.json").write_text(json.dumps(token_file(upstream, "me")))

            async def listed() -> bool:
                return oauth.MODEL in await model_ids(client)

            await eventually(listed)
            assert (await chat(client, oauth.MODEL)).status_code == 200
            assert keys_used(upstream) == ["access-me"]

            (auth / "login.json").unlink()

            async def gone() -> bool:
                return oauth.MODEL not in await model_ids(client)

            await eventually(gone)
            assert gateway_of(app).credentials == []


async def test_an_unchanged_token_file_keeps_its_refreshed_tokens(tmp_path, ok):
    auth = tmp_path / "auth"
    auth.mkdir()
    with FakeUpstream() as upstream:
        (auth / "login.json").write_text(json.dumps(token_file(upstream, "me")))
        app = app_for(write(tmp_path / "config.yaml", **{"watch-config": False}), oauth.Plugin())
        gateway = gateway_of(app)
        async with asgi_client(app):
            [cred] = gateway.credentials
            held = gateway.tokens.tokens(cred)
            result = await reload_gateway(gateway)
            assert not result.changed and gateway.credentials == [cred]
            assert gateway.tokens.tokens(cred) is held
            relogged = token_file(upstream, "me") | {
                "access_token": "access-new",
                "expires_at": time.time() + 7200,
            }
            (auth / "login.json").write_text(json.dumps(relogged))
            await reload_gateway(gateway)
            assert gateway.tokens.tokens(gateway.credentials[0]).access_token == "access-new"


def test_cliproxy_status_shows_the_config_and_a_failed_reload():
    from cliproxy.status import render_text

    snapshot = {
        "state_store": {"backend": "memory"},
        "config": {
            "file": "config.yaml",
            "loaded_at": "2026-09-01T10:00:00Z",
            "last_reload_error": {
                "at": "2026-09-01T10:05:00Z",
                "message": "config.yaml:3:1: unknown key 'api_keys'",
            },
        },
        "credentials": [],
    }
    text = render_text(snapshot)
    assert "config: config.yaml, loaded 2026-09-01T10:00:00Z" in text
    assert "LAST RELOAD FAILED at 2026-09-01T10:05:00Z" in text and "unknown key 'api_keys'" in text
