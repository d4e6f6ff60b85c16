"""Credentials through the API: listed masked with their state and quota; disabled for
good (across reloads and restarts, never selected); token files uploaded (checked by
their plugin first) and deleted; tried on demand; cooldowns ended; quotas read."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cliproxy_claude
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    Host,
    ModelEntry,
    Provider,
    Quota,
    QuotaWindow,
    credential_id,
    hookimpl,
    ir,
)
from cliproxy.testing import Reply

from .conftest import base_config

THIRD_ECHO = "  - models: [echo-1]\n    prefix: three\n"
ACCESS = "sk-ant-oat01-access-token-0123456789"
REFRESH = "sk-ant-ort01-refresh-token-0123456789"
UPSTREAM_KEY = "sk-upstream-0123456789-gamma"


def echo_ids(served) -> list[str]:
    return [c["id"] for c in served.api.get("/credentials").json()["credentials"] if c["provider"] == "echo"]


def requests_of(served, cred_id: str) -> int:
    status = httpx.get(served.url + "/v0/status").json()
    return next(c["requests"] for c in status["credentials"] if c["id"] == cred_id)


def test_credentials_are_listed_with_state_and_source(config_path, serve):
    with serve(config_path) as served:
        creds = served.api.get("/credentials").json()["credentials"]
        one = served.api.get(f"/credentials/{quote(creds[1]['id'], safe='')}").json()["credential"]
        by_label = served.api.get(f"/credentials/{quote('echo #0', safe='')}").json()["credential"]
    assert [c["label"] for c in creds] == ["echo #0", "echo #1"]
    assert creds[0]["state"] == "ok" and creds[0]["enabled"] and creds[0]["source"]["kind"] == "config"
    assert creds[0]["source"]["at"].startswith(f"{config_path}:")
    assert one["prefix"] == "two" and by_label["id"] == creds[0]["id"]


def test_a_disabled_credential_is_never_selected_and_stays_disabled(tmp_path, auth_dir, serve):
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + THIRD_ECHO)
    with serve(path) as served:
        first, _, third = echo_ids(served)
        answer = served.api.post(f"/credentials/{quote(first, safe='')}/disable", json={})
        assert answer.status_code == 200, answer.text
        assert answer.json()["credential"]["state"] == "disabled" and not answer.json()["credential"]["enabled"]
        reload = answer.json()["reload"]
        assert reload["credentials_disabled"] == ["echo #0"] and reload["credentials_removed"] == []
        for _ in range(6):
            served.chat("echo-1")
        assert requests_of(served, first) == 0 and requests_of(served, third) == 6
        assert served.api.post("/config/reload", json={}).status_code == 200  # a reload keeps it
        served.chat("echo-1")
        assert requests_of(served, first) == 0
    text = path.read_text()
    assert f"disabled-credentials:\n  - {first}  # echo #0\n" in text
    assert "# the first client" in text

    with serve(path) as served:  # a restart keeps it
        states = {c["id"]: c["state"] for c in served.api.get("/credentials").json()["credentials"]}
        assert states[first] == "disabled"
        status = httpx.get(served.url + "/v0/status").json()
        assert {c["id"]: c["state"] for c in status["credentials"]}[first] == "disabled"
        served.chat("echo-1")
        assert requests_of(served, first) == 0
        enabled = served.api.post(f"/credentials/{quote(first, safe='')}/enable", json={})
        assert enabled.status_code == 200 and enabled.json()["credential"]["state"] == "ok"
        assert enabled.json()["reload"]["credentials_enabled"] == ["echo #0"]
        for _ in range(4):
            served.chat("echo-1")
        assert requests_of(served, first) > 0
    assert "disabled-credentials" not in path.read_text()


def test_disabling_the_last_serving_credential_needs_force(config_path, serve):
    with serve(config_path) as served:
        first, second = echo_ids(served)
        assert served.api.post(f"/credentials/{quote(first, safe='')}/disable", json={}).status_code == 200
        before = config_path.read_bytes()
        refused = served.api.post(f"/credentials/{quote(second, safe='')}/disable", json={})
        assert refused.status_code == 422 and "it disables every credential" in refused.json()["error"]["message"]
        assert config_path.read_bytes() == before and served.chat("two/echo-2")
        forced = served.api.post(f"/credentials/{quote(second, safe='')}/disable", json={"force": True})
        assert forced.status_code == 200 and served.models() == set()


def claude_config(auth_dir: Path, upstream) -> str:
    block = (
        "claude-oauth:\n"
        f"  base-url: {upstream.url}\n"
        f"  token-url: {upstream.url}/v1/oauth/token\n"
        "  models:\n    - {name: claude-sonnet-4-5, alias: sonnet}\n"
    )
    return base_config(auth_dir) + block


def claude_token(**extra: Any) -> dict[str, Any]:
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
    return {
        "type": "claude",
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expiry": expiry,
        "email": "me@example.com",
        **extra,
    }


def test_an_uploaded_token_file_serves_at_once_and_a_deleted_one_stops(tmp_path, auth_dir, serve, upstream, recording):
    upstream.add(
        "POST", "/v1/messages", Reply.json(json.loads(recording("anthropic/vercel-anthropic-text.json").read_text()))
    )
    path = tmp_path / "config.yaml"
    path.write_text(claude_config(auth_dir, upstream))
    with serve(path, plugins=(cliproxy_claude,)) as served:
        served.recorder.secrets |= {ACCESS, REFRESH}
        answer = served.api.post("/credentials", json={"content": claude_token(), "name": "claude-me.json"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["credentials"] == [
            {
                "id": "claude-oauth:" + answer.json()["credentials"][0]["id"].split(":")[1],
                "label": "me@example.com",
                "provider": "claude",
                "enabled": True,
            }
        ]
        written = auth_dir / "claude-me.json"
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        assert served.chat("sonnet").startswith("Hello")
        assert upstream.requests_to("/v1/messages")[0].headers["authorization"] == f"Bearer {ACCESS}"

        listed = {c["label"]: c for c in served.api.get("/credentials").json()["credentials"]}
        assert listed["me@example.com"]["source"] == {"kind": "token-file", "file": "claude-me.json"}
        assert "token_expires" in listed["me@example.com"]

        again = served.api.post("/credentials", json={"content": claude_token(), "name": "claude-me.json"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "token_file_exists"

        gone = served.api.delete(f"/credentials/{quote('me@example.com', safe='')}")
        assert gone.status_code == 200 and gone.json()["removed"][0]["label"] == "me@example.com"
        assert not written.exists() and "sonnet" not in served.models()

        echo_one = echo_ids(served)[0]
        in_config = served.api.delete(f"/credentials/{quote(echo_one, safe='')}")
        assert in_config.status_code == 409 and in_config.json()["error"]["code"] == "not_a_token_file"


@pytest.mark.parametrize(
    ("content", "name", "status", "says"),
    [
        ({"type": "nobody", "access_token": ACCESS}, "x.json", 422, "known: claude"),
        ({"type": "claude", "refresh_token": REFRESH}, "x.json", 422, "it has no access_token"),
        ({**claude_token(), "disabled": True}, "x.json", 422, "found no credential"),
        (claude_token(), "../escape.json", 400, "is not a token file name"),
        (claude_token(), ".hidden.json", 400, "is not a token file name"),
        (claude_token(), "notjson.txt", 400, "is not a token file name"),
    ],
)
def test_a_bad_token_file_is_refused_and_not_kept(tmp_path, auth_dir, serve, upstream, content, name, status, says):
    path = tmp_path / "config.yaml"
    path.write_text(claude_config(auth_dir, upstream))
    with serve(path, plugins=(cliproxy_claude,)) as served:
        served.recorder.secrets |= {ACCESS, REFRESH}
        answer = served.api.post("/credentials", json={"content": content, "name": name})
        assert answer.status_code == status, answer.text
        assert says in answer.json()["error"]["message"]
        assert len(served.api.get("/credentials").json()["credentials"]) == 2
    assert not auth_dir.exists() or not list(auth_dir.iterdir())
    assert not (tmp_path / "escape.json").exists()


def test_trying_a_credential_lists_its_models_or_sends_one_request(tmp_path, auth_dir, serve, upstream, recording):
    ok = json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())
    upstream.add("GET", "/v1/models", Reply.json({"object": "list", "data": [{"id": "gpt-4.1-nano"}, {"id": "o3"}]}))
    upstream.add("POST", "/v1/chat/completions", Reply.json(ok))
    compat = (
        "openai-compatibility:\n"
        "  - name: team\n"
        "    prefix: team\n"
        f"    base-url: {upstream.url}/v1\n"
        f"    api-key-entries: [{{api-key: {UPSTREAM_KEY}}}]\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + compat)
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        creds = {c["label"]: c["id"] for c in served.api.get("/credentials").json()["credentials"]}
        team = quote(creds["team sk-u...amma"], safe="")
        listed = served.api.post(f"/credentials/{team}/test", json={}).json()
        assert listed["ok"] and listed["method"] == "models" and listed["models"] == 2
        one = served.api.post(f"/credentials/{team}/test", json={"model": "gpt-4.1-nano"}).json()
        assert one["ok"] and one["method"] == "request" and one["status"] == 200
        sent = upstream.requests_to("/v1/chat/completions")[-1].json
        assert sent["model"] == "gpt-4.1-nano" and sent["max_tokens"] == 1
        echo = served.api.post(f"/credentials/{quote(creds['echo #0'], safe='')}/test", json={}).json()
        assert echo["ok"] and echo["method"] == "request" and echo["model"] == "echo-1"

        upstream.add("GET", "/v1/models", Reply.error(401, f"Incorrect API key provided: {UPSTREAM_KEY}"))
        failed = served.api.post(f"/credentials/{team}/test", json={}).json()
        assert not failed["ok"] and failed["method"] == "models"
        assert "answered 401: Incorrect API key provided: [redacted]" in failed["message"]
        status = httpx.get(served.url + "/v0/status").json()
        assert all(c["state"] == "ok" and c["requests"] == 0 for c in status["credentials"])  # a look, not traffic


def test_reset_ends_a_credentials_cooldowns(tmp_path, auth_dir, serve, upstream):
    upstream.add("POST", "/v1/chat/completions", Reply.error(429, "slow down", headers={"retry-after": "600"}))
    compat = (
        "openai-compatibility:\n"
        "  - name: team\n"
        "    prefix: team\n"
        f"    base-url: {upstream.url}/v1\n"
        f"    api-key-entries: [{{api-key: {UPSTREAM_KEY}}}]\n"
        "    models: [gpt-4.1-nano]\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + compat)
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        with pytest.raises(openai.RateLimitError):
            served.chat("team/gpt-4.1-nano")
        ids = [c["id"] for c in served.api.get("/credentials").json()["credentials"]]
        team_id = next(i for i in ids if i.startswith("openai-compatibility/team:"))  # an id with a '/'
        team = quote(team_id, safe="")
        listed = served.api.get(f"/credentials/{team}").json()["credential"]
        assert listed["id"] == team_id
        assert listed["state"] == "cooling" and listed["cooldowns"]["gpt-4.1-nano"]["status"] == 429
        answer = served.api.post(f"/credentials/{team}/reset", json={})
        assert answer.status_code == 200 and answer.json()["cleared"] == 1
        assert served.api.get(f"/credentials/{team}").json()["credential"]["state"] == "ok"


class Metered(Provider):
    """An account whose quota the test sets."""

    name = "metered"
    config_keys = ("metered",)
    wire = "openai-chat"

    def __init__(self) -> None:
        self.left = 40.0

    def load_config(self, key: str, node: ConfigNode, host: Host) -> list[Credential]:
        entries = node.nodes(key)
        for entry in entries:
            entry.done()
        return [
            Credential(
                id=credential_id("metered", str(i)), provider=self.name, label=f"metered {i}", models=(ModelEntry("m"),)
            )
            for i, _ in enumerate(entries)
        ]

    async def send(self, call: Call) -> DirectResponse:
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart("ok"),)))

    async def quota(self, credential: Credential, host: Host) -> Quota:
        return Quota(windows=[QuotaWindow("monthly", limit=100, remaining=self.left, unit="requests")], plan="pro")


def test_a_credentials_quota_is_read_and_refreshed(tmp_path, auth_dir, serve):
    provider = Metered()

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(provider)

    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + "metered:\n  - {}\n")
    with serve(path, plugins=(Plugin(),)) as served:
        metered = quote(credential_id("metered", "0"), safe="")
        served.gateway.quotas.clear()
        first = served.api.get(f"/credentials/{metered}/quota").json()
        assert first["supported"] and first["quota"] is None
        provider.left = 25.0
        refreshed = served.api.post(f"/credentials/{metered}/quota/refresh", json={}).json()
        assert refreshed["quota"]["plan"] == "pro"
        assert refreshed["quota"]["windows"] == [
            {"name": "monthly", "limit": 100, "remaining": 25.0, "unit": "requests", "used_percent": 75.0}
        ]
        listed = {c["label"]: c for c in served.api.get("/credentials").json()["credentials"]}
        assert listed["metered 0"]["quota"]["windows"][0]["remaining"] == 25.0
        assert not listed["echo #0"]["quota_supported"]
        echo = quote(listed["echo #0"]["id"], safe="")
        assert served.api.get(f"/credentials/{echo}/quota").json() == {
            "id": listed["echo #0"]["id"],
            "supported": False,
            "quota": None,
        }
