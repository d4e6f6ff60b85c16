"""``cliproxy login minimax`` end to end against a fake MiniMax sign-in (user code with
PKCE, polling with back-off), on the command line and without a terminal; the token file
serving requests and refreshing (once, across instances sharing Redis)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import cliproxy_minimax
import pytest
from cliproxy import write_token_file
from cliproxy.cli import main
from cliproxy.config import load_config
from cliproxy.oauth import RemoteLoginContext
from cliproxy.testing import RecordedRequest, Reply, asgi_client, gateway_app
from cliproxy_minimax import login
from cliproxy_minimax.login import poll_interval

MESSAGES = "/anthropic/v1/messages"
AUTH = {"authorization": "Bearer client-key"}
BODY = {"model": "MiniMax-M2.5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def form(request: RecordedRequest) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.body.decode()).items()}


class FakeSignIn:
    """MiniMax's ``/oauth/code`` and ``/oauth/token``: PKCE checked, the user confirms after
    ``pending`` polls, refresh tokens rotate (a spent one is refused)."""

    def __init__(self, minimax) -> None:
        self.minimax = minimax
        self.pending = 2
        self.expired_in: float = (time.time() + 3600) * 1000  # OpenClaw's reading: epoch ms
        self.code: dict[str, str] = {}
        self.polls: list[float] = []
        self.refresh = "rt-0"
        self.refreshes = 0
        self.refresh_delay = 0.0
        self.state_override: str | None = None
        self.lock = threading.Lock()
        minimax.server.add("POST", "/oauth/code", self.start)
        minimax.server.add("POST", "/oauth/token", self.token)

    def start(self, request: RecordedRequest) -> Reply:
        self.code = form(request)
        self.code["request_id"] = request.headers.get("x-request-id", "")
        answer = {
            "user_code": "MMX-4821",
            "verification_uri": f"{self.minimax.url}/oauth/authorize?user_code=MMX-4821",
            "expired_in": int((time.time() + 600) * 1000),
            "interval": 150,
            "state": self.state_override or self.code["state"],
        }
        return Reply.json(answer)

    def token(self, request: RecordedRequest) -> Reply:
        sent = form(request)
        if sent["grant_type"] == "refresh_token":
            return self._refresh(sent)
        self.polls.append(time.monotonic())
        challenge = base64.urlsafe_b64encode(hashlib.sha256(sent["code_verifier"].encode()).digest()).rstrip(b"=")
        if challenge.decode() != self.code["code_challenge"] or sent["user_code"] != "MMX-4821":
            return Reply.json({"status": "error", "base_resp": {"status_code": 1004, "status_msg": "bad verifier"}})
        if self.pending > 0:
            self.pending -= 1
            return Reply.json({"status": "pending", "base_resp": {"status_code": 0, "status_msg": ""}})
        self.minimax.tokens.add("at-1")
        return Reply.json(
            {
                "status": "success",
                "access_token": "at-1",
                "refresh_token": "rt-0",
                "expired_in": self.expired_in,
                "token_type": "Bearer",
                "resource_url": f"{self.minimax.url}/anthropic",
                "notification_message": "Welcome to the Coding Plan",
            }
        )

    def _refresh(self, sent: dict[str, str]) -> Reply:
        with self.lock:
            if sent.get("refresh_token") != self.refresh or sent.get("client_id") != login.CLIENT_ID:
                return Reply.json(
                    {"status": "error", "base_resp": {"status_code": 1004, "status_msg": "refresh token reused"}}
                )
            self.refreshes += 1
            self.refresh = f"rt-{self.refreshes}"
            access = f"at-fresh-{self.refreshes}"
            self.minimax.tokens.add(access)
        body = {"status": "success", "access_token": access, "refresh_token": self.refresh, "expired_in": 3600}
        return Reply.json(body, delay=self.refresh_delay)


@pytest.fixture
def sign_in(minimax) -> FakeSignIn:
    return FakeSignIn(minimax)


@pytest.fixture
def cli(tmp_path: Path):
    auth_dir = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {auth_dir}\n")

    def run(*argv: str) -> tuple[int, list[Path]]:
        status = main(["login", "minimax", "--config", str(config), *argv])
        return status, sorted(auth_dir.glob("*.json")) if auth_dir.exists() else []

    return run


def saved(path: Path) -> dict:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return json.loads(path.read_text())


def test_the_sign_in_on_the_command_line(cli, minimax, sign_in, capsys, monkeypatch):
    polling: dict = {}
    real_poll = login.poll_device_token

    async def watched(request, **options):
        polling.update(options)
        return await real_poll(request, **options)

    monkeypatch.setattr(login, "poll_device_token", watched)
    status, files = cli("--no-browser", "--base-url", minimax.url)
    assert status == 0 and [f.name for f in files] == ["minimax-global.json"]
    content = saved(files[0])
    assert (content["type"], content["access_token"], content["refresh_token"]) == ("minimax", "at-1", "rt-0")
    assert content["region"] == "global" and content["client_id"] == login.CLIENT_ID
    assert content["resource_url"] == f"{minimax.url}/anthropic" and content["base_url"] == minimax.url
    expires = time.mktime(time.strptime(content["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 3600)) < 60  # expired_in read as epoch milliseconds
    code = sign_in.code
    assert code["response_type"] == "code" and code["code_challenge_method"] == "S256"
    assert code["scope"] == "group_id profile model.completion" and code["client_id"] == login.CLIENT_ID
    assert len(code["request_id"]) == 36
    out = capsys.readouterr().out
    assert "MMX-4821" in out and "Welcome to the Coding Plan" in out
    assert len(sign_in.polls) == 3  # pending, pending, success
    backoff = polling["backoff"]
    assert polling["interval"] == pytest.approx(0.15)  # MiniMax's interval: 150 ms
    assert backoff(0.15) == pytest.approx(0.225) and backoff(8.0) == 10.0  # x1.5, at most 10 s


def test_another_sign_ins_state_is_refused(cli, minimax, sign_in, capsys):
    sign_in.state_override = "someone-elses-state"
    status, files = cli("--no-browser", "--base-url", minimax.url)
    assert status == 1 and files == [] and "state mismatch" in capsys.readouterr().err
    assert sign_in.polls == []


def test_a_refusal_says_what_minimax_said(cli, minimax, sign_in, capsys):
    minimax.server.add(
        "POST",
        "/oauth/token",
        Reply.json({"status": "error", "base_resp": {"status_code": 1004, "status_msg": "user denied"}}),
    )
    status, files = cli("--no-browser", "--base-url", minimax.url)
    err = capsys.readouterr().err
    assert status == 1 and files == [] and "user denied (1004)" in err and "start the login again" in err


def test_the_china_region_signs_in_and_serves_there(cli, minimax, sign_in, monkeypatch, tmp_path):
    monkeypatch.setitem(login.REGIONS, "cn", minimax.url)  # the fake stands in for api.minimaxi.com
    sign_in.expired_in = 7200  # the other reading: seconds to live
    status, files = cli("--no-browser", "--region", "cn", "--label", "china")
    assert status == 0 and [f.name for f in files] == ["minimax-china.json"]
    content = saved(files[0])
    assert content["region"] == "cn" and "base_url" not in content and "oauth_url" not in content
    expires = time.mktime(time.strptime(content["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 7200)) < 60


async def test_a_whole_sign_in_runs_without_a_terminal(minimax, sign_in, tmp_path):
    ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))
    args = argparse.Namespace(
        region="global", base_url=minimax.url, client_id=None, wire="openai", label=None, timeout=60.0
    )
    flow = asyncio.create_task(login.run(args, ctx))
    challenge = await ctx.next_challenge(timeout=10)
    assert challenge.kind == "device_code" and challenge.user_code == "MMX-4821"
    assert challenge.url == f"{minimax.url}/oauth/authorize?user_code=MMX-4821"
    path = Path(await asyncio.wait_for(flow, 20))
    content = saved(path)
    assert content["access_token"] == "at-1" and content["wire"] == "openai"


@pytest.mark.parametrize(("value", "seconds"), [(None, 2.0), (150, 0.15), (3, 3.0), (5000, 5.0), (60_000, 10.0)])
def test_the_poll_interval_reads_milliseconds_and_seconds(value, seconds):
    assert poll_interval(value) == pytest.approx(seconds)


# -- the token file serving and refreshing ------------------------------------------------------


def token_file(directory: Path, minimax, *, access: str, refresh: str, expires_in: float) -> Path:
    path = directory / "minimax-global.json"
    content = {
        "type": "minimax",
        "region": "global",
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in)),
        "client_id": login.CLIENT_ID,
        "base_url": minimax.url,
        "oauth_url": minimax.url,
    }
    write_token_file(path, content)
    return path


async def test_a_signed_in_file_refreshes_ahead_of_expiry_and_is_written_back(minimax, sign_in, tmp_path):
    path = token_file(tmp_path, minimax, access="at-old", refresh="rt-0", expires_in=60)  # within the 5 min lead
    app = gateway_app({"api-keys": ["client-key"], "auth-dir": str(tmp_path)}, plugins=[cliproxy_minimax])
    async with asgi_client(app) as client:
        answer = await client.post("/v1/messages", json=BODY, headers=AUTH)
        status = (await client.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == 200 and sign_in.refreshes == 1
    assert minimax.server.requests_to(MESSAGES)[0].headers["authorization"] == "Bearer at-fresh-1"
    refresh = form(next(r for r in minimax.server.requests_to("/oauth/token")))
    assert refresh == {"grant_type": "refresh_token", "client_id": login.CLIENT_ID, "refresh_token": "rt-0"}
    content = saved(path)
    assert (content["access_token"], content["refresh_token"]) == ("at-fresh-1", "rt-1")
    assert status["token_expires"] and status["label"] == "minimax minimax-global.json"


async def test_a_refused_refresh_rests_the_credential_and_says_sign_in_again(minimax, sign_in, tmp_path):
    token_file(tmp_path, minimax, access="at-old", refresh="rt-spent", expires_in=60)
    app = gateway_app({"api-keys": ["client-key"], "auth-dir": str(tmp_path)}, plugins=[cliproxy_minimax])
    async with asgi_client(app) as client:
        answer = await client.post("/v1/messages", json=BODY, headers=AUTH)
        status = (await client.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code in (401, 429)
    assert status["state"] == "unhealthy"
    reason = status["unhealthy"]["reason"]
    assert "refresh token reused (1004)" in reason and "cliproxy login minimax" in reason


async def test_instances_sharing_redis_spend_the_refresh_token_once(
    minimax, sign_in, tmp_path, redis_url, redis_prefix
):
    sign_in.refresh_delay = 0.3  # slow: both instances want it at once
    apps = []
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        token_file(directory, minimax, access="at-old", refresh="rt-0", expires_in=-10)
        config = {
            "api-keys": ["client-key"],
            "auth-dir": str(directory),
            "state": {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},
        }
        apps.append(gateway_app(config, plugins=[cliproxy_minimax]))
    async with asgi_client(apps[0]) as first, asgi_client(apps[1]) as second:
        answers = await asyncio.gather(
            *(client.post("/v1/messages", json=BODY, headers=AUTH) for client in (first, second, first, second))
        )
    assert [a.status_code for a in answers] == [200] * 4
    assert sign_in.refreshes == 1 and sign_in.refresh == "rt-1"
    assert {r.headers["authorization"] for r in minimax.server.requests_to(MESSAGES)} == {"Bearer at-fresh-1"}
