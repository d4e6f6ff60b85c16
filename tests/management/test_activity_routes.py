"""The routes the web panel reads besides the management API's own: per-minute activity,
the last requests (filtered), and who serves each model -- and that a gateway without the
management API counts nothing for them."""

from __future__ import annotations

import httpx
import openai
import pytest

from .conftest import base_config


def test_recent_requests_are_listed_newest_first_and_filtered(config_path, serve):
    with serve(config_path) as served:
        assert served.chat("echo-1")
        with pytest.raises(openai.NotFoundError):
            served.chat("no-such-model")
        listed = served.api.get("/requests").json()["requests"]
        assert [r["status"] for r in listed] == [404, 200]
        assert listed[1]["model"] == "echo-1" and listed[1]["provider"] == "echo" and listed[1]["client"] == "key-1"
        assert listed[1]["credential"] == "echo #0" and listed[1]["duration_ms"] >= 0
        assert "no-such-model" in listed[0]["error"]
        assert [r["status"] for r in served.api.get("/requests", params={"status": "error"}).json()["requests"]] == [
            404
        ]
        assert [r["status"] for r in served.api.get("/requests", params={"status": "4xx"}).json()["requests"]] == [404]
        assert [r["status"] for r in served.api.get("/requests", params={"status": "200"}).json()["requests"]] == [200]
        assert len(served.api.get("/requests", params={"model": "ECHO"}).json()["requests"]) == 1
        assert len(served.api.get("/requests", params={"client": "key-2"}).json()["requests"]) == 0
        assert len(served.api.get("/requests", params={"limit": "1"}).json()["requests"]) == 1
        bad = served.api.get("/requests", params={"status": "bogus"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"
        zero = served.api.get("/requests", params={"limit": "0"})
        assert zero.status_code == 400 and zero.json()["error"]["param"] == "limit"

        activity = served.api.get("/activity", params={"minutes": "5"}).json()
        minutes = activity["minutes"]
        assert len(minutes) == 5 and sum(m["requests"] for m in minutes[:-1]) == 0
        now = minutes[-1]
        assert (now["requests"], now["errors"], now["doors"]) == (2, 1, {"openai-chat": 2})
        assert now["providers"] == {"echo": 1, "-": 1}
        assert activity["in_flight"] == 0 and activity["state_store"]["healthy"] is True
        assert activity["config"]["file"] == str(config_path) and activity["config"]["last_reload_error"] is None
        assert len(served.api.get("/activity", params={"minutes": "100000"}).json()["minutes"]) == 180
        assert httpx.get(served.url + "/v0/management/activity").status_code == 401  # the key, as everywhere


def test_models_list_the_credentials_serving_each(config_path, serve):
    with serve(config_path) as served:
        data = served.api.get("/models").json()
        models = {m["id"]: m for m in data["models"]}
        assert set(models) == served.models()
        assert [c["label"] for c in models["echo-1"]["credentials"]] == ["echo #0"]
        served_by = models["two/echo-2"]["credentials"][0]
        assert (served_by["prefix"], served_by["upstream_model"], served_by["alias"]) == ("two", "echo-2", False)
        assert data["strategy"] == "round-robin"


def test_a_gateway_without_the_management_api_counts_nothing_for_the_panel(tmp_path, auth_dir, serve):
    path = tmp_path / "config.yaml"
    text = base_config(auth_dir)
    start = text.index("remote-management:")
    end = text.index("auth-dir:")
    path.write_text(text[:start] + text[end:])
    with serve(path) as served:
        assert served.chat("echo-1")
        assert list(served.gateway.activity.recent()) == []
        assert served.gateway.activity.minutes(1, served.gateway.clock())[0]["requests"] == 0


def test_the_panel_counts_the_cost_the_lasting_usage_priced(tmp_path, auth_dir, serve):
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir, extra='pricing:\n  "echo-*": {input: 2, output: 8}\n'))
    with serve(path) as served:
        assert served.chat("echo-1")
        assert served.chat("echo-1")
        usage = served.api.get("/usage").json()["total"]
        now = served.api.get("/activity", params={"minutes": "1"}).json()["minutes"][-1]
    assert usage["cost_usd"] > 0  # (priced: the echo demo reports its tokens)
    assert now["requests"] == 2 and now["cost_usd"] == pytest.approx(usage["cost_usd"])
