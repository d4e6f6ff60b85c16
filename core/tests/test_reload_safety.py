"""A bad edit never empties the gateway: empty, truncated and half-written config files,
reloads that would remove every credential or empty ``api-keys`` (refused unless forced),
and the warnings a reload gives when it removes credentials or opens the gateway."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy import create_app, mask_secret
from cliproxy.app import gateway_of
from cliproxy.cli import main
from cliproxy.config import ConfigError
from cliproxy.reload import ReloadRefused, reload_gateway, watch_files
from cliproxy.testing import FakeUpstream, Reply, asgi_client

AUTH = {"Authorization": "Bearer client-key"}
CHAT = "/v1/chat/completions"
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
ONE_KEY = "sk-one-000000000000001"
TWO_KEY = "sk-two-000000000000002"


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


def yaml_config(upstream: FakeUpstream, tmp_path: Path, *, interval: float = 0.05) -> str:
    """Two providers, written as an operator would (YAML, one key per line)."""
    return f"""\
api-keys:
  - client-key
auth-dir: {tmp_path / "auth"}
watch-interval: {interval}
openai-compatibility:
  - name: one
    base-url: {upstream.url}/v1
    api-key-entries:
      - api-key: {ONE_KEY}
    models:
      - name: gpt-4.1-nano
        alias: nano
  - name: two
    base-url: {upstream.url}/v1
    api-key-entries:
      - api-key: {TWO_KEY}
    models:
      - name: gpt-4.1-mini
        alias: mini
"""


def app_for(path: Path | dict[str, Any]) -> Any:
    return create_app(path, plugins=[cliproxy_openai], load_entrypoints=False)


async def chat(client: httpx.AsyncClient, model: str = "nano", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return await client.post(CHAT, json=body, headers=AUTH if headers is None else headers)


async def model_ids(client: httpx.AsyncClient) -> set[str]:
    return {m["id"] for m in (await client.get("/v1/models", headers=AUTH)).json()["data"]}


async def reload_error(client: httpx.AsyncClient) -> str | None:
    error = (await client.get("/v0/status")).json()["config"]["last_reload_error"]
    return None if error is None else str(error["message"])


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds (no timing is asserted; the timeout only ends a hang)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail("the watcher did not get there")
        await asyncio.sleep(0.02)


# -- the file watcher, on a real file ------------------------------------------------------


async def test_truncating_the_config_while_the_watcher_runs_keeps_the_gateway_serving(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = tmp_path / "config.yaml"
        config.write_text(yaml_config(upstream, tmp_path))
        app = app_for(config)
        async with asgi_client(app) as client:
            with caplog.at_level(logging.INFO, logger="cliproxy.reload"):
                config.write_text("")  # `: > config.yaml`, or an editor that died mid-save

                async def reported() -> bool:
                    return "the config file is empty" in (await reload_error(client) or "")

                await eventually(reported)
            assert f"{config}:1:1: the config file is empty" in (await reload_error(client) or "")
            assert await model_ids(client) == {"nano", "mini"}
            assert (await chat(client)).status_code == 200
            assert (await chat(client, headers={})).status_code == 401  # api-keys still apply
            assert "still serving the previous config" in caplog.text
            assert "config reloaded" not in caplog.text and "removed" not in caplog.text

            config.write_text(yaml_config(upstream, tmp_path))  # restored

            async def recovered() -> bool:
                return await reload_error(client) is None

            await eventually(recovered)
            assert gateway_of(app).reload_status.reloads == 1


async def test_a_half_written_block_is_a_located_error_and_the_complete_file_applies(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = tmp_path / "config.yaml"
        full = yaml_config(upstream, tmp_path)
        config.write_text(full)
        app = app_for(config)
        async with asgi_client(app) as client:
            cut = full[: full.index("      - api-key: " + TWO_KEY)]  # ends with "    api-key-entries:\n"
            cut_line = cut.count("\n")
            with caplog.at_level(logging.WARNING, logger="cliproxy.reload"):
                config.write_text(cut)

                async def reported() -> bool:
                    return await reload_error(client) is not None

                await eventually(reported)
            error = await reload_error(client) or ""
            assert f"{config}:{cut_line}:" in error
            assert "'openai-compatibility[1].api-key-entries' has no value" in error
            assert await model_ids(client) == {"nano", "mini"}  # nothing was dropped
            assert (await chat(client, "mini")).status_code == 200
            assert "removed" not in caplog.text

            config.write_text(full.replace("alias: mini", "alias: small"))

            async def applied() -> bool:
                return "small" in await model_ids(client)

            await eventually(applied)
            assert await reload_error(client) is None


async def test_the_watcher_waits_for_a_file_written_in_steps(tmp_path, ok, caplog):
    """Each poll sees the file half-written a different way: none of those states is
    loaded (so none is reported); the finished file, once it holds still, is."""
    with FakeUpstream() as upstream:
        config = tmp_path / "config.yaml"
        full = yaml_config(upstream, tmp_path, interval=3600)  # the gateway's own watcher stays asleep
        config.write_text(full)
        app = app_for(config)
        gateway = gateway_of(app)
        async with asgi_client(app) as client:
            polls: asyncio.Queue[None] = asyncio.Queue()
            polled = asyncio.Event()

            async def next_poll(_: float) -> None:
                polled.set()
                await polls.get()

            async def poll() -> None:
                polled.clear()
                polls.put_nowait(None)
                await polled.wait()  # the watcher ran one poll and waits for the next

            watcher = asyncio.create_task(watch_files(gateway, sleep=next_poll))
            await polled.wait()
            edited = full.replace("alias: mini", "alias: small")
            steps = ["", edited[:40], edited[:200], edited[: edited.index("  - name: two")], edited[:-30], edited]
            with caplog.at_level(logging.DEBUG, logger="cliproxy.reload"):
                for step in steps:
                    config.write_text(step)
                    await poll()
                assert gateway.reload_status.reloads == 0 and await model_ids(client) == {"nano", "mini"}
                await poll()  # the finished file held still for one interval
            watcher.cancel()
            assert await model_ids(client) == {"nano", "small"}
            assert gateway.reload_status.reloads == 1
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- reloads that would empty the gateway -----------------------------------------------------


async def test_a_reload_that_removes_every_credential_is_refused_until_forced(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = tmp_path / "config.yaml"
        config.write_text(yaml_config(upstream, tmp_path, interval=3600))
        app = app_for(config)
        async with asgi_client(app) as client:
            config.write_text(f"api-keys: [client-key]\nauth-dir: {tmp_path / 'auth'}\n")
            with caplog.at_level(logging.WARNING, logger="cliproxy.reload"):
                refused = await client.post("/v0/config/reload")
            assert refused.status_code == 422
            message = refused.json()["error"]["message"]
            assert "refusing to apply the new config: it defines no credentials" in message
            assert "all 2 serving now would be removed" in message and f"one {mask_secret(ONE_KEY)}" in message
            assert '{"force": true}' in message and ONE_KEY not in message
            [record] = [r for r in caplog.records if r.name == "cliproxy.reload"]
            assert record.levelno == logging.ERROR and "config reload refused" in record.getMessage()
            assert '{"force": true}' in record.getMessage()
            assert "refusing to apply" in (await reload_error(client) or "")
            assert (await chat(client)).status_code == 200  # the old config serves on

            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="cliproxy.reload"):
                forced = await client.post("/v0/config/reload", json={"force": True})
            assert forced.status_code == 200
            assert len(forced.json()["credentials_removed"]) == 2
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            labels = (f"one {mask_secret(ONE_KEY)}", f"two {mask_secret(TWO_KEY)}")
            assert any("removed 2 credential(s)" in w and all(label in w for label in labels) for w in warnings)
            assert any("no credentials after this reload" in w for w in warnings)
            assert await reload_error(client) is None
            assert (await chat(client)).status_code == 404


async def test_emptying_api_keys_is_refused_and_a_forced_reload_says_the_gateway_is_open(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        upstream.add("POST", CHAT, ok)
        config = tmp_path / "config.yaml"
        full = yaml_config(upstream, tmp_path, interval=3600)
        config.write_text(full)
        app = app_for(config)
        gateway = gateway_of(app)
        async with asgi_client(app) as client:
            config.write_text(full.replace("api-keys:\n  - client-key\n", "api-keys: []\n"))
            with pytest.raises(ReloadRefused) as refused:
                await reload_gateway(gateway)
            assert str(refused.value).startswith(f"{config}:1:1: refusing to apply the new config: its 'api-keys' is")
            assert "accept requests from anyone" in str(refused.value)
            assert (await chat(client, headers={})).status_code == 401

            with caplog.at_level(logging.WARNING, logger="cliproxy.reload"):
                await reload_gateway(gateway, force=True)
            [loud] = [r for r in caplog.records if "accepts requests from anyone" in r.getMessage()]
            assert loud.levelno == logging.WARNING
            assert (await chat(client, headers={})).status_code == 200


async def test_a_reload_that_removes_a_credential_names_it_at_warning(tmp_path, ok, caplog):
    with FakeUpstream() as upstream:
        config = tmp_path / "config.yaml"
        full = yaml_config(upstream, tmp_path, interval=3600)
        config.write_text(full)
        app = app_for(config)
        async with asgi_client(app) as client:
            config.write_text(full[: full.index("  - name: two")])  # cut between two entries: valid YAML
            with caplog.at_level(logging.INFO, logger="cliproxy.reload"):
                answer = await client.post("/v0/config/reload")
            assert answer.status_code == 200
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "config reload removed 1 credential(s)" in warning.getMessage()
    assert f"two {mask_secret(TWO_KEY)} [openai-compatibility]" in warning.getMessage()
    assert TWO_KEY not in caplog.text


async def test_an_embedding_app_forces_a_reload_from_code(ok):
    with FakeUpstream() as upstream:
        base = {"api-keys": ["client-key"], "auth-dir": "/nonexistent/cliproxy-test-auth"}
        entry = {"name": "one", "base-url": upstream.url + "/v1", "models": ["gpt-4.1-nano"]}
        app = app_for({**base, "openai-compatibility": [entry]})
        gateway = gateway_of(app)
        async with asgi_client(app):
            with pytest.raises(ReloadRefused, match="defines no credentials"):
                await reload_gateway(gateway, base)
            assert len(gateway.credentials) == 1
            result = await reload_gateway(gateway, base, force=True)
            assert len(result.credentials_removed) == 1 and gateway.credentials == []
            await reload_gateway(gateway, base)  # nothing left to remove: an ordinary reload


@pytest.mark.parametrize(
    ("body", "param"),
    [({"force": "yes"}, "force"), ({"forse": True}, "forse")],
)
async def test_the_reload_endpoint_checks_its_body(tmp_path, body, param):
    with FakeUpstream() as upstream:
        config = tmp_path / "config.yaml"
        config.write_text(yaml_config(upstream, tmp_path, interval=3600))
        app = app_for(config)
        async with asgi_client(app) as client:
            answer = await client.post("/v0/config/reload", json=body)
            assert gateway_of(app).reload_status.reloads == 0
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


# -- check, serve and the loader ----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n   \n", "# all commented out\n# api-keys: [x]\n"])
@pytest.mark.parametrize("command", ["check", "serve"])
def test_check_and_serve_reject_an_empty_config_file(tmp_path, capsys, text, command):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert main([command, "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}:1:1: the config file is empty" in err
    assert "examples/config.yaml" in err


def test_create_app_rejects_an_empty_file_but_takes_an_empty_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="the config file is empty"):
        app_for(path)
    assert gateway_of(app_for({})).credentials == []


@pytest.mark.parametrize(
    ("tail", "key"),
    [
        ("openai-compatibility:\n", "openai-compatibility"),
        ("openai-compatibility:\n  - name: one\n    base-url: http://127.0.0.1:1/v1\n    models:\n", "models"),
        ("api-keys:\n", "api-keys"),
    ],
)
def test_a_key_cut_off_before_its_list_is_a_located_error(tmp_path, capsys, tail, key):
    path = tmp_path / "config.yaml"
    path.write_text(f"port: 8317\n{tail}")
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    line = f"port: 8317\n{tail}".count("\n")
    assert f"{path}:{line}:" in err and f"has no value (nothing follows '{key}:')" in err
    assert f"'{key}: []'" in err
