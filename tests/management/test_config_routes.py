"""The config routes through a real server, the openai SDK alongside: edits keep the
file's comments and take effect at once; a bad edit changes nothing -- the file's bytes
and the config serving stay as they were."""

from __future__ import annotations

import re

import openai
import pytest

from .conftest import CLIENT_KEY, MANAGEMENT_KEY


def test_reading_shows_the_file_with_its_comments_and_secrets_as_references(config_path, serve):
    with serve(config_path) as served:
        text = served.api.get("/config.yaml").json()["yaml"]
        data = served.api.get("/config").json()["config"]
    assert "# the gateway's config -- this comment must survive every edit" in text
    assert "# the first client" in text and "# the demo provider answers locally" in text
    assert CLIENT_KEY not in text and MANAGEMENT_KEY not in text
    assert re.search(r'^  - "<secret:[0-9a-f]{16}>"', text, re.M)
    assert data["echo"][1] == {"models": ["echo-2"], "prefix": "two"}
    assert re.fullmatch(r"<secret:[0-9a-f]{16}>", data["remote-management"]["secret-key"])


def test_a_setting_edit_keeps_every_comment_and_takes_effect(config_path, serve):
    before = config_path.read_text()
    with serve(config_path) as served:
        assert served.gateway.config.routing.strategy == "round-robin"
        answer = served.api.put("/config/settings/routing.strategy", json={"value": "fill-first"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["written"] and answer.json()["reload"]["settings_changed"] == ["routing"]
        assert served.gateway.config.routing.strategy == "fill-first"
        assert served.api.get("/config/settings/routing.strategy").json()["value"] == "fill-first"
        assert served.chat("echo-1")  # still serving
    after = config_path.read_text()
    assert after == before + "routing:\n  strategy: fill-first\n"  # every other byte as it was


def test_an_edit_that_breaks_the_config_changes_nothing(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        answer = served.api.put("/config/settings/request-retry", json={"value": "many"})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "config_invalid" and error["location"]["key"] == "request-retry"
        assert error["location"]["file"] == str(config_path) and error["location"]["line"] == 10
        assert "must be a whole number" in error["message"]
        assert config_path.read_bytes() == before
        assert served.gateway.config.request_retry == 1
        assert served.chat("echo-1")
        assert served.gateway.reload_status.last_error is None  # a refused edit is no failed reload


def test_a_plugin_refusing_an_entry_changes_nothing(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        answer = served.api.post("/providers/echo", json={"entry": {"models": ["echo-3"], "delay": "soon"}})
        assert answer.status_code == 422
        assert "unknown key 'echo[2].delay' -- did you mean 'delay-ms'?" in answer.json()["error"]["message"]
        assert config_path.read_bytes() == before
        assert "echo-3" not in served.models()


def test_the_whole_file_round_trips_with_its_secrets_put_back(config_path, serve):
    before = config_path.read_text()
    with serve(config_path) as served:
        text = served.api.get("/config.yaml").json()["yaml"]
        edited = text.replace("request-retry: 1", "request-retry: 2  # raised through the API")
        answer = served.api.put("/config.yaml", json={"yaml": edited})
        assert answer.status_code == 200, answer.text
        assert served.gateway.config.request_retry == 2
        assert served.chat("echo-1", key=CLIENT_KEY)  # the client key came back from its reference
    assert config_path.read_text() == before.replace("request-retry: 1", "request-retry: 2  # raised through the API")


def test_a_reference_to_a_secret_the_config_never_held_is_refused(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        text = served.api.get("/config.yaml").json()["yaml"]
        forged = re.sub(r"<secret:[0-9a-f]{16}>", "<secret:0000000000000000>", text, count=1)
        answer = served.api.put("/config.yaml", json={"yaml": forged})
        assert answer.status_code == 422 and "stands for no secret" in answer.json()["error"]["message"]
    assert config_path.read_bytes() == before


def test_json_replacement_keeps_the_comments_of_what_stays(config_path, serve):
    with serve(config_path) as served:
        data = served.api.get("/config").json()["config"]
        data["echo"] = [data["echo"][0]]  # drop the second entry
        data["force-model-prefix"] = True
        answer = served.api.put("/config", json={"config": data})
        assert answer.status_code == 200, answer.text
        assert "echo-2" not in served.models() and served.chat("echo-1")
    text = config_path.read_text()
    assert "# the first client" in text and "# first entry" in text and "prefix: two" not in text
    assert text.rstrip().endswith("force-model-prefix: true")


def test_emptying_the_gateway_is_refused_unless_forced(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        answer = served.api.delete("/providers/echo")
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "config_refused"
        assert "it defines no credentials" in answer.json()["error"]["message"]
        assert '"force": true' in answer.json()["error"]["hint"]
        assert config_path.read_bytes() == before and served.chat("echo-1")
        forced = served.api.delete("/providers/echo", params={"force": "true"})
        assert forced.status_code == 200, forced.text
        assert served.models() == set()
    assert "echo:" not in config_path.read_text()


def test_check_reports_without_writing(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        good = served.api.post("/config/check", json={"yaml": "api-keys: [k-123456789]\necho:\n  - models: [x]\n"})
        assert good.status_code == 200 and good.json()["models"] == ["x"]
        opening = served.api.post("/config/check", json={"yaml": "echo:\n  - models: [x]\n"})
        assert opening.status_code == 422 and opening.json()["error"]["code"] == "config_refused"
        assert "'api-keys' is empty" in opening.json()["error"]["message"]
        bad = served.api.post("/config/check", json={"yaml": "api_keys: []\n"})
        assert bad.status_code == 422 and "did you mean 'api-keys'" in bad.json()["error"]["message"]
        assert bad.json()["error"]["location"]["line"] == 1
    assert config_path.read_bytes() == before


def test_removing_a_setting_brings_its_default_back(config_path, serve):
    with serve(config_path) as served:
        assert served.api.delete("/config/settings/request-retry").status_code == 200
        assert served.gateway.config.request_retry == 3
        assert served.api.get("/config/settings/request-retry").status_code == 404
    assert "request-retry" not in config_path.read_text()


def test_settings_that_have_routes_of_their_own_are_pointed_there(config_path, serve):
    with serve(config_path) as served:
        answer = served.api.put("/config/settings/api-keys", json={"value": ["x"]})
    assert answer.status_code == 400 and "/v0/management/keys" in answer.json()["error"]["message"]


def test_a_hand_broken_file_is_reported_and_can_be_replaced(config_path, serve):
    with serve(config_path) as served:
        good = config_path.read_text()
        config_path.write_text(good + "routing: [\n")
        answer = served.api.put("/config/settings/request-retry", json={"value": 2})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "config_file_broken"
        fixed = served.api.put("/config.yaml", json={"yaml": good.replace("request-retry: 1", "request-retry: 2")})
        assert fixed.status_code == 200 and served.gateway.config.request_retry == 2


def test_the_reload_route_applies_a_hand_edit(config_path, serve):
    with serve(config_path) as served:
        config_path.write_text(config_path.read_text().replace("echo-2", "echo-9"))
        answer = served.api.post("/config/reload", json={})
        assert answer.status_code == 200 and answer.json()["reload"]["models_added"] == ["echo-9", "two/echo-9"]
        assert "echo-9" in served.models()


def test_with_the_watcher_on_an_api_edit_is_applied_once_and_stays(tmp_path, auth_dir, serve):
    path = tmp_path / "config.yaml"
    from .conftest import base_config

    path.write_text(base_config(auth_dir).replace("watch-config: false", "watch-config: true\nwatch-interval: 0.1"))
    with serve(path) as served:
        assert served.api.put("/config/settings/request-retry", json={"value": 5}).status_code == 200
        import time

        time.sleep(0.5)  # the watcher sees the new file and reloads it: the same config
        assert served.gateway.config.request_retry == 5
        assert served.gateway.reload_status.last_error is None


async def test_a_gateway_built_from_a_mapping_has_no_file_to_edit():
    import cliproxy_echo
    from cliproxy.testing import asgi_client, gateway_app

    app = gateway_app(
        {"remote-management": {"secret-key": MANAGEMENT_KEY}, "echo": [{"models": ["e"]}]}, plugins=[cliproxy_echo]
    )
    async with asgi_client(app, headers={"authorization": f"Bearer {MANAGEMENT_KEY}"}) as client:
        answer = await client.put("/v0/management/config/settings/request-retry", json={"value": 2})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "no_config_file"


def test_the_client_key_change_applies_to_the_sdk_at_once(config_path, serve):
    with serve(config_path) as served:
        added = served.api.post("/keys", json={"key": "client-key-0123456789-third"})
        assert added.status_code == 201, added.text
        served.recorder.secrets.add("client-key-0123456789-third")
        assert served.chat("echo-1", key="client-key-0123456789-third")
        with pytest.raises(openai.AuthenticationError):
            served.chat("echo-1", key="client-key-unknown-000")


def test_an_edit_that_would_turn_the_api_off_needs_force(config_path, serve):
    before = config_path.read_bytes()
    with serve(config_path) as served:
        refused = served.api.delete("/config/settings/remote-management.secret-key")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "config_refused"
        assert "turns this management API off" in refused.json()["error"]["message"]
        assert config_path.read_bytes() == before
        forced = served.api.delete("/config/settings/remote-management.secret-key", params={"force": "true"})
        assert forced.status_code == 200
        assert served.api.get("/keys").json()["error"]["code"] == "management_disabled"
    assert "remote-management" not in config_path.read_text()
