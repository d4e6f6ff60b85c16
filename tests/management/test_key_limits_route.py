"""``GET /v0/management/keys/{ref}/limits`` and ``cliproxy keys limits``: one client key's
usage against each of its limits, read from the state store -- on Redis, the same from
every instance sharing it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from .conftest import CLIENT_KEY, MANAGEMENT_KEY, Served, base_config
from .test_cli import cli  # noqa: F401  (the fixture)

TEAM_KEY = "client-key-0123456789-team-a"
POLICY = {"rpm": 10, "tpm": 50_000, "max-parallel": 3, "daily-tokens": 1_000_000, "monthly-budget-usd": 5}


def _settled(served: Served, ref: str) -> dict[str, Any]:
    """The key's limits once no request is in flight (a request's slot and token charge
    are settled just after its answer reaches the client)."""
    deadline = time.monotonic() + 10
    while True:
        answer = served.api.get(f"/keys/{ref}/limits")
        assert answer.status_code == 200, answer.text
        limits = answer.json()["limits"]
        if limits["max-parallel"]["used"] == 0 or time.monotonic() > deadline:
            return dict(answer.json())
        time.sleep(0.05)


def _add_team_key(served: Served) -> None:
    served.recorder.secrets.add(TEAM_KEY)
    added = served.api.post("/keys", json={"key": TEAM_KEY, "name": "team-a", **POLICY})
    assert added.status_code == 201, added.text


def _check_after_two_requests(answer: dict[str, Any]) -> None:
    limits = answer["limits"]
    assert set(limits) == {"rpm", "tpm", "max-parallel", "daily-tokens", "monthly-budget-usd"}
    assert limits["rpm"] == {"limit": 10, "used": 2, "remaining": 8, "window_seconds": 60.0}
    assert limits["max-parallel"] == {"limit": 3, "used": 0, "remaining": 3}
    tokens = limits["tpm"]["used"]
    assert tokens > 0 and limits["tpm"]["remaining"] == 50_000 - tokens
    assert limits["daily-tokens"]["used"] == tokens  # the same requests' tokens, settled
    assert limits["daily-tokens"]["remaining"] == 1_000_000 - tokens
    assert limits["daily-tokens"]["day"] == dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    assert limits["daily-tokens"]["resets_at"] == tomorrow
    budget = limits["monthly-budget-usd"]
    assert budget["limit"] == 5 and budget["used"] == 0 and budget["remaining"] == 5  # echo has no price
    assert budget["resets_at"].endswith("-01T00:00:00Z")
    assert answer["key"]["name"] == "team-a" and "value" not in answer["key"]


def test_a_keys_usage_against_each_of_its_limits(config_path: Path, serve: Any, cli: Any) -> None:  # noqa: F811
    with serve(config_path) as served:
        _add_team_key(served)
        fresh = served.api.get("/keys/team-a/limits").json()
        assert fresh["limits"]["rpm"]["used"] == 0 and fresh["shared"] is False
        assert served.chat("echo-1", key=TEAM_KEY) and served.chat("echo-1", key=TEAM_KEY)
        answer = _settled(served, "team-a")
        _check_after_two_requests(answer)
        by_id = served.api.get(f"/keys/{answer['key']['id']}/limits").json()
        assert by_id["limits"]["rpm"] == answer["limits"]["rpm"]

        plain = served.api.get("/keys/key-1/limits")  # a key without limits: nothing read
        assert plain.status_code == 200 and plain.json()["limits"] == {}
        missing = served.api.get("/keys/nobody/limits")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_key"
        assert served.client(CLIENT_KEY).get("/keys/team-a/limits").status_code == 401  # a client key is no admin

        status, out, err = cli(served.url, "keys", "limits", "team-a")
        assert status == 0, err
        lines = out.splitlines()
        assert lines[0] == "team-a (this instance's counts)"
        assert lines[1].split() == ["LIMIT", "USED", "OF", "REMAINING", "RESETS"]
        assert lines[2].split() == ["rpm", "2", "10", "8", "sliding", "60", "s"]
        assert lines[6].split()[:4] == ["monthly-budget-usd", "0.0000", "5.0000", "5.0000"]
        status, out, _ = cli(served.url, "keys", "limits", "key-1")
        assert status == 0 and out.strip().startswith("key-1 has no rates or budgets")


def test_on_redis_every_instance_reads_the_same_usage(
    tmp_path: Path, auth_dir: Path, serve: Any, redis_url: str, redis_prefix: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        base_config(
            auth_dir,
            extra=f"state:\n  backend: redis\n  url: {redis_url}\n  key-prefix: '{redis_prefix}'\n  timeout: 5\n",
        )
    )
    with serve(path) as first:
        _add_team_key(first)
        with serve(path) as second:
            assert first.chat("echo-1", key=TEAM_KEY) and second.chat("echo-1", key=TEAM_KEY)
            _settled(first, "team-a")
            one, other = _settled(first, "team-a"), _settled(second, "team-a")
    assert one == other and one["shared"] is True
    _check_after_two_requests(one)


def test_the_route_is_listed(config_path: Path, serve: Any) -> None:
    with serve(config_path) as served:
        index = served.client(MANAGEMENT_KEY).get("").text
    assert "/keys/{ref}/limits" in index
