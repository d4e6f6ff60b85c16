"""Client keys and provider entries through the API, with the openai SDK as the client
whose access and models change at once."""

from __future__ import annotations

import json

import cliproxy_openai
import openai
import pytest
from cliproxy.testing import Reply

from .conftest import CLIENT_KEY

NEW_KEY = "client-key-0123456789-newer"
UPSTREAM_KEY = "sk-upstream-0123456789-alpha"
SECOND_UPSTREAM_KEY = "sk-upstream-0123456789-beta"


def test_keys_are_listed_masked_and_named_as_in_status(config_path, serve):
    with serve(config_path) as served:
        keys = served.api.get("/keys").json()["keys"]
    assert [k["name"] for k in keys] == ["key-1", "key-2"]
    assert keys[0]["masked"] == "clie...irst" and len(keys[0]["id"]) == 16 and not keys[0]["from_env"]


def test_rename_gives_a_key_a_new_value_in_its_place(config_path, serve):
    with serve(config_path) as served:
        served.recorder.secrets.add(NEW_KEY)
        answer = served.api.patch("/keys/key-1", json={"key": NEW_KEY})
        assert answer.status_code == 200, answer.text
        assert answer.json()["edit"]["key"]["name"] == "key-1"
        assert served.chat("echo-1", key=NEW_KEY)
        with pytest.raises(openai.AuthenticationError):
            served.chat("echo-1", key=CLIENT_KEY)
    text = config_path.read_text()
    assert f'  - "{NEW_KEY}"   # the first client\n' in text  # quoting and comment kept


def test_remove_by_id_and_the_key_stops_working(config_path, serve):
    with serve(config_path) as served:
        key_id = served.api.get("/keys").json()["keys"][0]["id"]
        answer = served.api.delete(f"/keys/{key_id}")
        assert answer.status_code == 200 and answer.json()["edit"]["removed"]["name"] == "key-1"
        with pytest.raises(openai.AuthenticationError):
            served.chat("echo-1", key=CLIENT_KEY)
        assert served.chat("echo-1", key="client-key-0123456789-second")


def test_removing_the_last_key_opens_the_gateway_only_when_forced(config_path, serve):
    with serve(config_path) as served:
        assert served.api.delete("/keys/key-1").status_code == 200
        refused = served.api.delete("/keys/key-1")
        assert refused.status_code == 422 and "'api-keys' is empty" in refused.json()["error"]["message"]
        assert len(served.api.get("/keys").json()["keys"]) == 1
        assert served.api.delete("/keys/key-1", params={"force": "true"}).status_code == 200
        assert served.api.get("/keys").json() == {"keys": [], "open": True}
        assert served.chat("echo-1", key="anything")


def test_bad_keys_are_refused_with_a_reason(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        short = served.api.post("/keys", json={"key": "abc"})
        again = served.api.post("/keys", json={"key": CLIENT_KEY})
        missing = served.api.delete("/keys/key-9")
        unknown_field = served.api.post("/keys", json={"key": NEW_KEY, "nickname": "x"})
    assert short.status_code == 400 and "at least 8 characters" in short.json()["error"]["message"]
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_exists"
    assert missing.status_code == 404 and "key-1" in missing.json()["error"]["message"]
    assert unknown_field.status_code == 400 and unknown_field.json()["error"]["param"] == "nickname"
    assert config_path.read_bytes() == before


@pytest.fixture
def upstream_ok(upstream, recording):
    upstream.add("POST", "/v1/chat/completions", Reply.json(json.loads(recording(SIMPLE).read_text())))
    return upstream


SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"


def compat_entry(upstream, key: str = UPSTREAM_KEY) -> dict:
    return {
        "name": "team",
        "prefix": "team",
        "base-url": upstream.url + "/v1",
        "api-key-entries": [{"api-key": key}],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
    }


def test_a_provider_entry_added_serves_at_once(config_path, serve, upstream_ok):
    with serve(config_path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets |= {UPSTREAM_KEY, SECOND_UPSTREAM_KEY}
        answer = served.api.post("/providers/openai-compatibility", json={"entry": compat_entry(upstream_ok)})
        assert answer.status_code == 201, answer.text
        assert answer.json()["reload"]["models_added"] == ["nano", "team/nano"]
        assert served.chat("team/nano")
        assert upstream_ok.requests_to("/v1/chat/completions")[0].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"

        listed = served.api.get("/providers").json()
        block = next(b for b in listed["blocks"] if b["block"] == "openai-compatibility")
        entry = block["entries"][0]
        assert entry["name"] == "team" and entry["entry"]["api-key-entries"][0]["api-key"].startswith("<secret:")
        assert [c["label"] for c in entry["credentials"]] == ["team sk-u...lpha"]

        # a second key, then the first one removed by its id: traffic moves to the second
        added = served.api.post("/providers/openai-compatibility/team/keys", json={"key": SECOND_UPSTREAM_KEY})
        assert added.status_code == 201, added.text
        first_id = entry["entry"]["api-key-entries"][0]["api-key"][len("<secret:") : -1]
        removed = served.api.delete(f"/providers/openai-compatibility/team/keys/{first_id}")
        assert removed.status_code == 200, removed.text
        served.chat("team/nano")
        last = upstream_ok.requests_to("/v1/chat/completions")[-1]
        assert last.headers["authorization"] == f"Bearer {SECOND_UPSTREAM_KEY}"

        patched = served.api.patch("/providers/openai-compatibility/0", json={"entry": {"prefix": "crew"}})
        assert patched.status_code == 200, patched.text
        assert "crew/nano" in served.models() and "team/nano" not in served.models()

        assert served.api.delete("/providers/openai-compatibility/nobody").status_code == 404
        assert served.api.delete("/providers/openai-compatibility/team").status_code == 200  # by its name
        assert "nano" not in served.models()
    assert "openai-compatibility" not in config_path.read_text()


def test_an_entry_the_plugin_refuses_is_not_written(config_path, serve, upstream_ok):
    before = config_path.read_bytes()
    with serve(config_path, plugins=(cliproxy_openai,)) as served:
        entry = compat_entry(upstream_ok)
        entry["base-url"] = "ftp://example.invalid"
        answer = served.api.post("/providers/openai-compatibility", json={"entry": entry})
        assert answer.status_code == 422
        assert "must start with http:// or https://" in answer.json()["error"]["message"]
        unknown = served.api.post("/providers/no-such-block", json={"entry": {}})
        assert unknown.status_code == 404 and "echo" in unknown.json()["error"]["message"]
    assert config_path.read_bytes() == before


def test_a_mapping_block_is_patched_and_removed(config_path, serve):
    import cliproxy_claude

    with serve(config_path, plugins=(cliproxy_claude,)) as served:
        set_block = served.api.put("/providers/claude-oauth", json={"block": {"callback-port": 54999}})
        assert set_block.status_code == 200, set_block.text
        patched = served.api.patch("/providers/claude-oauth", json={"entry": {"callback-port": None}})
        assert patched.status_code == 200, patched.text
        assert "claude-oauth: {}\n" in config_path.read_text()
        as_list = served.api.post("/providers/claude-oauth", json={"entry": {}})
        assert as_list.status_code == 409 and as_list.json()["error"]["code"] == "not_a_list"
        assert served.api.delete("/providers/claude-oauth").status_code == 200
    assert "claude-oauth" not in config_path.read_text()
