"""Client keys with a model allowlist, through a served gateway and the official SDKs:
each of the four doors refuses a model outside the key's ``models`` with a 403 in its own
shape that names the allowed patterns, the model lists show each key only what it may
use, plain keys keep working, an expired key is refused, and the management API edits a
key's policy (hot-reloaded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.app import create_app
from cliproxy.config import ConfigError, load_config
from cliproxy.key_policy import client_key_hash
from cliproxy.testing import FakeUpstream, Reply, serve_app
from google import genai
from google.genai import errors, types

CHAT = "/v1/chat/completions"
PLAIN = "sk-plain-key-000000000001"
TEAM_A = "sk-team-a-key-00000000001"
HASHED = "sk-hashed-key-0000000001"
EXPIRED = "sk-expired-key-000000001"
MANAGEMENT_KEY = "mgmt-key-policy-0123456789"


def config(upstream: FakeUpstream, tmp_path: Path) -> dict[str, Any]:
    return {
        "api-keys": [
            PLAIN,
            {"key": TEAM_A, "name": "team-a", "models": ["claude-*", "team-a/"], "metadata": {"owner": "ana"}},
            {"key": client_key_hash(HASHED), "name": "hashed", "models": ["gpt-5"]},
            {"key": EXPIRED, "expires": "2001-01-01"},
        ],
        "remote-management": {"secret-key": MANAGEMENT_KEY},
        "auth-dir": str(tmp_path / "auth"),
        "openai-compatibility": [
            {
                "name": "pool",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream"}],
                "models": [
                    {"name": "gpt-4.1-nano", "alias": "claude-sonnet"},
                    {"name": "gpt-4.1-nano", "alias": "gpt-5"},
                ],
            },
            {
                "name": "own",
                "prefix": "team-a",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream-2"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            },
        ],
    }


@pytest.fixture
def url(upstream: FakeUpstream, recording, tmp_path: Path) -> Iterator[str]:
    upstream.add(
        "POST", CHAT, Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text()))
    )
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config(upstream, tmp_path)))
    with serve_app(create_app(path, plugins=[cliproxy_openai], load_entrypoints=False)) as served:
        yield served


def _allowed_named(message: str) -> None:
    assert "team-a" in message and "gpt-5" in message and "claude-*, team-a/" in message


def test_openai_chat_door_refuses_a_model_outside_the_allowlist(url: str) -> None:
    client = openai.OpenAI(api_key=TEAM_A, base_url=url + "/v1", max_retries=0)
    answer = client.chat.completions.create(model="claude-sonnet", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    assert client.chat.completions.create(model="team-a/nano", messages=[{"role": "user", "content": "hi"}]).id
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert denied.value.status_code == 403
    body: Any = denied.value.body
    assert body["code"] == "model_not_allowed" and body["param"] == "model"
    _allowed_named(body["message"])


def test_responses_door_refuses_a_model_outside_the_allowlist(url: str) -> None:
    client = openai.OpenAI(api_key=TEAM_A, base_url=url + "/v1", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.responses.create(model="gpt-5", input="hi", store=False)
    _allowed_named(denied.value.message)
    assert client.responses.create(model="claude-sonnet", input="hi", store=False).output_text


def test_anthropic_door_refuses_a_model_outside_the_allowlist(url: str) -> None:
    client = anthropic.Anthropic(api_key=TEAM_A, base_url=url, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        client.messages.create(model="gpt-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    body: Any = denied.value.body
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    _allowed_named(body["error"]["message"])
    # a thinking suffix does not get around the list, nor does counting tokens
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="gpt-5(high)", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.count_tokens(model="gpt-5", messages=[{"role": "user", "content": "hi"}])


def test_gemini_door_refuses_a_model_outside_the_allowlist(url: str) -> None:
    client = genai.Client(
        api_key=TEAM_A, http_options=types.HttpOptions(base_url=url, api_version="v1beta", retry_options=None)
    )
    with pytest.raises(errors.ClientError) as denied:
        client.models.generate_content(model="gpt-5", contents="hi")
    assert denied.value.code == 403 and denied.value.status == "PERMISSION_DENIED"
    _allowed_named(str(denied.value.message))
    assert client.models.generate_content(model="claude-sonnet", contents="hi").text


def test_model_lists_show_each_key_what_it_may_use(url: str) -> None:
    def ids(key: str, **headers: str) -> set[str]:
        body = httpx.get(url + "/v1/models", headers={"authorization": f"Bearer {key}", **headers}).json()
        return {m["id"] for m in body["data"]}

    assert ids(PLAIN) == {"claude-sonnet", "gpt-5", "nano", "team-a/nano"}
    assert ids(TEAM_A) == {"claude-sonnet", "team-a/nano"}
    assert ids(TEAM_A, **{"anthropic-version": "2023-06-01"}) == {"claude-sonnet", "team-a/nano"}
    assert ids(HASHED) == {"gpt-5"}
    gemini = httpx.get(url + "/v1beta/models", headers={"x-goog-api-key": TEAM_A}).json()
    assert {m["name"].removeprefix("models/") for m in gemini["models"]} == {"claude-sonnet", "team-a/nano"}
    assert [m.id for m in openai.OpenAI(api_key=HASHED, base_url=url + "/v1").models.list()] == ["gpt-5"]


def test_plain_and_hashed_keys_work_and_an_expired_key_is_refused(url: str) -> None:
    for key in (PLAIN, HASHED):
        client = openai.OpenAI(api_key=key, base_url=url + "/v1", max_retries=0)
        assert client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}]).id
    with pytest.raises(openai.PermissionDeniedError):  # the hashed key's own list
        openai.OpenAI(api_key=HASHED, base_url=url + "/v1", max_retries=0).chat.completions.create(
            model="claude-sonnet", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.AuthenticationError) as expired:
        openai.OpenAI(api_key=EXPIRED, base_url=url + "/v1", max_retries=0).chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert "expired at 2001-01-01 00:00 UTC" in expired.value.message
    with pytest.raises(openai.AuthenticationError):  # the hash itself is no key
        openai.OpenAI(api_key=client_key_hash(HASHED), base_url=url + "/v1", max_retries=0).models.list()


def test_management_api_edits_a_keys_policy(url: str) -> None:
    api = httpx.Client(base_url=url + "/v0/management", headers={"authorization": f"Bearer {MANAGEMENT_KEY}"})
    listed = {k["name"]: k for k in api.get("/keys").json()["keys"]}
    assert set(listed) == {"key-1", "team-a", "hashed", "key-4"}
    assert listed["team-a"]["policy"] == {"models": ["claude-*", "team-a/"], "metadata": {"owner": "ana"}}
    assert TEAM_A not in json.dumps(listed) and listed["team-a"]["masked"] != TEAM_A
    # a plain key gets a policy (and a name): it becomes a mapping, applied at once
    edited = api.patch("/keys/key-1", json={"name": "ops", "models": ["gpt-*"], "rpm": 100})
    assert edited.status_code == 200, edited.text
    assert edited.json()["edit"]["key"]["policy"] == {"models": ["gpt-*"], "rpm": 100}
    client = openai.OpenAI(api_key=PLAIN, base_url=url + "/v1", max_retries=0)
    assert [m.id for m in client.models.list()] == ["gpt-5"]
    # null removes a field; a wrong type is a located error, nothing applied
    assert api.patch("/keys/ops", json={"models": None}).status_code == 200
    assert {m.id for m in client.models.list()} == {"claude-sonnet", "gpt-5", "nano", "team-a/nano"}
    wrong = api.patch("/keys/ops", json={"rpm": "lots"})
    assert wrong.status_code == 422 and "'api-keys[0].rpm' must be a whole number" in wrong.text
    added = api.post("/keys", json={"key": "sk-new-team-key-0001", "name": "team-b", "models": ["gpt-5"]})
    assert added.status_code == 201 and added.json()["edit"]["key"]["name"] == "team-b"
    client_b = openai.OpenAI(api_key="sk-new-team-key-0001", base_url=url + "/v1", max_retries=0)
    assert [m.id for m in client_b.models.list()] == ["gpt-5"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"key": "k" * 10, "modles": ["a"]}, "unknown key 'api-keys[0].modles' -- did you mean 'models'?"),
        ({"key": "k" * 10, "rpm": "fast"}, "'api-keys[0].rpm' must be a whole number, not 'fast'"),
        ({"key": "k" * 10, "rpm": 0}, "'api-keys[0].rpm' must be at least 1, not 0"),
        ({"key": "k" * 10, "models": "gpt-*", "tpm": True}, "'api-keys[0].tpm' must be a whole number"),
        ({"key": "k" * 10, "expires": "soon"}, "'api-keys[0].expires' is not a date: 'soon'"),
        ({"key": "sha256:abc"}, "'api-keys[0].key' starts like a key hash but is not one"),
        ({"name": "x"}, "missing required key 'api-keys[0].key'"),
        ({"key": "k" * 10, "monthly-budget-usd": -1}, "'api-keys[0].monthly-budget-usd' must be at least 0"),
    ],
)
def test_key_objects_with_bad_fields_are_located_errors(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: 8317\napi-keys:\n  - " + json.dumps(entry) + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value) and str(error.value).startswith(f"{path}:3:")


def test_key_names_and_keys_are_unique(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("api-keys:\n  - first-key-1\n  - {key: second-key, name: key-1}\n")
    with pytest.raises(ConfigError, match="named 'key-1', like 'api-keys\\[0\\]'"):
        load_config(path)
    path.write_text(f"api-keys:\n  - first-key-1\n  - {{key: '{client_key_hash('first-key-1')}'}}\n")
    with pytest.raises(ConfigError, match="the same key as 'api-keys\\[0\\]'"):
        load_config(path)


def test_yaml_dates_and_policies_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "api-keys:\n"
        "  - plain-key-000\n"
        "  - key: team-key-000\n"
        "    name: team\n"
        "    models: [claude-*]\n"
        "    rpm: 60\n"
        "    tpm: 1000\n"
        "    max-parallel: 2\n"
        "    daily-tokens: 5000\n"
        "    monthly-budget-usd: 12.5\n"
        "    expires: 2030-01-02\n"
    )
    loaded = load_config(path)
    assert loaded.api_keys == ("plain-key-000", "team-key-000")
    team = loaded.client_keys[1].policy
    assert (team.rpm, team.tpm, team.max_parallel, team.daily_tokens) == (60, 1000, 2, 5000)
    assert team.monthly_budget_nanos == 12_500_000_000 and team.expires == 1893542400.0
    assert loaded.client_keys[0].name == "key-1" and loaded.client_keys[1].name == "team"
