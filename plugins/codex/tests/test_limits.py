"""Plan limits and failures: a usage limit rests the whole account until its reset, a plan
without the model rests that model, an overload inside a 200 stream is a 503 that fails
over; the ``x-codex-*`` windows (or the usage endpoint) show in ``/v0/status``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from cliproxy.app import gateway_of
from cliproxy.cli import main as cli_main
from cliproxy.testing import asgi_client, serve_app
from cliproxy_codex.testing import KEY, RESPONSES, USAGE

AUTH = {"authorization": f"Bearer {KEY}"}


async def ask(http: Any, model: str = "gpt-5.5", **extra: Any) -> Any:
    return await http.post("/v1/responses", headers=AUTH, json={"model": model, "input": "hi", **extra})


def credential(status: dict[str, Any], email: str) -> dict[str, Any]:
    return next(c for c in status["credentials"] if c["label"] == email)


async def test_a_usage_limit_rests_the_account_until_its_reset_and_another_serves(codex_app, backend):
    backend.script = ["usage_limit"]
    app = codex_app(accounts=("acct-plus-0001", "acct-free-0002"), routing={"strategy": "fill-first"})
    gateway = gateway_of(app)
    plus = next(c for c in gateway.credentials if c.label == "plus@example.com")
    plus.priority = 1  # the plus account is asked first
    gateway.refresh_routes()
    async with asgi_client(app) as http:
        first = await ask(http, model="gpt-5.4-mini")  # a model both plans include
        second = await ask(http, model="gpt-5.4-mini")
        status = (await http.get("/v0/status")).json()
    assert first.status_code == second.status_code == 200
    accounts = [r.headers["chatgpt-account-id"] for r in backend.server.requests_to(RESPONSES)]
    assert accounts == ["acct-plus-0001", "acct-free-0002", "acct-free-0002"]
    rest = credential(status, "plus@example.com")["unhealthy"]
    # rested by the usage-limit answer, or -- once the quota was read -- by its exhausted 5h window
    assert rest is not None and ("usage limit is reached" in rest["reason"] or "quota exhausted: 5h" in rest["reason"])
    assert abs(rest["seconds_left"] - backend.resets_in) < 30


async def test_a_usage_limit_on_the_only_account_says_when_it_resets(codex_app, backend):
    backend.script = ["usage_limit"]
    app = codex_app()
    async with asgi_client(app) as http:
        answer = await ask(http)
        again = await ask(http)
    assert answer.status_code == 429
    error = answer.json()["error"]
    assert error["code"] == "usage_limit_reached" and "resets at" in error["message"]
    assert abs(int(answer.headers["retry-after"]) - backend.resets_in) < 30
    assert again.status_code == 429 and len(backend.bodies) == 1  # resting: not asked again


async def test_a_plan_without_the_model_rests_that_model_only(codex_app, backend):
    backend.script = ["not_included"]
    app = codex_app()
    async with asgi_client(app) as http:
        refused = await ask(http, model="gpt-5.5")
        other = await ask(http, model="gpt-5.4-mini")
        status = (await http.get("/v0/status")).json()["credentials"][0]
    assert refused.status_code == 403 and "plan does not include this model" in refused.json()["error"]["message"]
    assert other.status_code == 200
    assert status["unhealthy"] is None and set(status["cooldowns"]) == {"gpt-5.5"}
    assert status["cooldowns"]["gpt-5.5"]["seconds_left"] > 3600


async def test_an_overload_inside_a_200_stream_is_a_503_that_fails_over(codex_app, backend):
    backend.script = ["overloaded"]
    app = codex_app(accounts=("acct-plus-0001", "acct-free-0002"))
    async with asgi_client(app) as http:
        served = await ask(http, stream=True)
        status = (await http.get("/v0/status")).json()
    assert served.status_code == 200 and "You said: hi" in served.text and "overloaded" not in served.text
    failed = next(c for c in status["credentials"] if c["failures"])
    assert "overloaded" in failed["last_error"]["message"] and "(503)" in failed["last_error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_overload_with_no_other_account_reaches_the_client_as_503(codex_app, backend, stream):
    backend.script = ["overloaded"]
    async with asgi_client(codex_app()) as http:
        answer = await ask(http, stream=stream)
    assert answer.status_code == 503 and "overloaded" in answer.json()["error"]["message"]


async def test_the_plans_windows_show_in_the_status_from_the_answers_headers(codex_app, backend):
    app = codex_app()
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        await gateway.read_quotas()  # (start-up reads it too)
        asked = len(backend.server.requests_to(USAGE))
        backend.used = {"primary": 55.0, "secondary": 21.0}
        await ask(http)  # its headers say what the account used since
        await gateway.read_quotas()
        quota = (await http.get("/v0/status")).json()["credentials"][0]["quota"]
    windows = {w["name"]: w for w in quota["windows"]}
    assert quota["plan"] == "plus" and set(windows) == {"5h", "weekly"}
    assert windows["5h"]["used_percent"] == 55.0 and windows["weekly"]["used_percent"] == 21.0
    reset = time.mktime(time.strptime(windows["5h"]["resets_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(reset - (time.time() + backend.resets_in)) < 30
    assert len(backend.server.requests_to(USAGE)) == asked == 1  # the headers were fresh: not asked again


async def test_an_idle_account_reads_its_usage_endpoint_at_a_modest_interval(codex_app, backend):
    app = codex_app()
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        await gateway.read_quotas()
        await gateway.read_quotas()  # within usage-interval: not asked again
        quota = (await http.get("/v0/status")).json()["credentials"][0]["quota"]
    assert len(backend.server.requests_to(USAGE)) == 1
    asked = backend.server.requests_to(USAGE)[0].headers
    assert asked["chatgpt-account-id"] == "acct-plus-0001" and asked["authorization"].startswith("Bearer ")
    windows = {w["name"]: w["used_percent"] for w in quota["windows"]}
    assert windows == {"5h": 83.0, "weekly": 40.0} and quota["plan"] == "plus" and quota["note"] == "credits: 5.39"


async def test_an_exhausted_window_rests_the_account_until_it_resets(codex_app, backend):
    backend.used["primary"] = 100.0
    app = codex_app()
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        await ask(http)
        await gateway.read_quotas()
        status = (await http.get("/v0/status")).json()["credentials"][0]
    assert status["state"] == "unhealthy" and "quota exhausted: 5h" in status["unhealthy"]["reason"]


def test_cliproxy_status_and_the_metrics_show_the_windows(codex_app, backend, capsys):
    app = codex_app(metrics={"enabled": True})
    with serve_app(app) as url:
        deadline = time.monotonic() + 10
        while "quota" not in httpx.get(url + "/v0/status").json()["credentials"][0]:  # read at start-up
            assert time.monotonic() < deadline, "the quota was not read at start-up"
            time.sleep(0.05)
        scrape = httpx.get(url + "/metrics").text
        assert cli_main(["status", "--url", url]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "quota (plus)" in line)
    assert "5h: 83% used, resets " in line and "weekly: 40% used" in line
    assert 'cliproxy_quota_used_percent{credential="plus@example.com",provider="codex",window="5h"} 83.0' in scrape
    assert 'cliproxy_quota_resets_in_seconds{credential="plus@example.com",provider="codex",window="weekly"}' in scrape


async def test_what_a_stream_may_make_the_gateway_hold_before_its_answer_starts_is_bounded(
    codex_app, backend, monkeypatch
):
    from cliproxy_codex import provider

    monkeypatch.setattr(provider, "MAX_HEAD", 100)  # less than the backend's opening events
    async with asgi_client(codex_app()) as http:
        answer = await ask(http, stream=True)
    assert answer.status_code == 502 and "without starting its answer" in answer.json()["error"]["message"]
