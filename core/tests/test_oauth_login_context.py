"""LoginContext in a terminal and RemoteLoginContext with none: a whole login -- browser
flow and device flow -- driven with no terminal, against a fake OAuth server."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import stat
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
import pytest
from cliproxy import LoginContext
from cliproxy.config import load_config
from cliproxy.oauth import (
    PasteUnavailable,
    Pkce,
    RemoteLoginContext,
    TokenEndpoint,
    authorize_in_browser,
    new_state,
    poll_device_token,
    save_token_file,
)
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply


class FakeOAuth:
    """An authorization server: /authorize redirects with a code, /token trades it
    (checking PKCE), /device starts a device login that is confirmed on the second poll."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.challenges: dict[str, str] = {}
        self.polls = 0
        server.add("GET", "/authorize", self.authorize)
        server.add("POST", "/token", self.token)
        server.add(
            "POST",
            "/device",
            Reply.json({"device_code": "dc", "user_code": "WXYZ-1234", "verification_uri": "https://x/device"}),
        )

    def authorize(self, request: RecordedRequest) -> Reply:
        q = request.query
        self.challenges["code-1"] = q["code_challenge"]
        target = q["redirect_uri"] + "?" + urlencode({"code": "code-1", "state": q["state"]})
        return Reply(status=302, headers={"Location": target})

    def token(self, request: RecordedRequest) -> Reply:
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        if form["grant_type"] == "device_code":
            self.polls += 1
            if self.polls < 2:
                return Reply.json({"error": "authorization_pending"}, status=400)
            return Reply.json({"access_token": "at-device", "refresh_token": "rt"})
        expected = self.challenges.pop(form["code"], None)
        digest = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
        if expected != digest.decode():
            return Reply.json({"error": "invalid_grant"}, status=400)
        return Reply.json({"access_token": "at-browser", "refresh_token": "rt"})


async def browser_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    """A provider's login, written with the toolkit only."""
    pkce, state = Pkce.new(), new_state()

    def url(redirect_uri: str) -> str:
        query = {"redirect_uri": redirect_uri, "state": state, "code_challenge": pkce.challenge}
        return f"{args.base}/authorize?{urlencode(query)}"

    answer = await authorize_in_browser(ctx, url, ports=[0], path="/callback", state=state, hint="Sign in to Test")
    async with aiohttp.ClientSession() as http:
        tokens = await TokenEndpoint(args.base + "/token", "the Test token endpoint").post(
            http,
            {
                "grant_type": "authorization_code",
                "code": answer.code,
                "redirect_uri": answer.redirect_uri,
                "code_verifier": pkce.verifier,
            },
        )
    return str(save_token_file(ctx.auth_dir, "test-account.json", {"type": "test", **tokens}))


async def device_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    endpoint = TokenEndpoint(args.base + "/token", "the Test token endpoint")
    async with aiohttp.ClientSession() as http:
        async with http.post(args.base + "/device") as response:
            device = await response.json()
        await ctx.show_device_code(device["user_code"], device["verification_uri"], 600)

        async def poll() -> tuple[int, object]:
            async with http.post(endpoint.url, data={"grant_type": "device_code", "device_code": "dc"}) as answer:
                return answer.status, await answer.json()

        tokens = await poll_device_token(poll, interval=0.01, expires_in=5)
    return str(save_token_file(ctx.auth_dir, "test-device.json", {"type": "test", **tokens}))


def fake_oauth() -> tuple[FakeUpstream, FakeOAuth]:
    server = FakeUpstream().start()
    return server, FakeOAuth(server)


async def test_a_whole_browser_login_without_a_terminal(tmp_path: Path):
    server, _ = fake_oauth()
    try:
        ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path / "auth"))
        task = asyncio.create_task(browser_login(argparse.Namespace(base=server.url), ctx))
        challenge = await ctx.next_challenge(timeout=5)
        assert challenge.kind == "url" and challenge.hint == "Sign in to Test"
        # the operator signs in in a browser somewhere else; its redirect to localhost fails there
        redirect = httpx.get(challenge.url, follow_redirects=False).headers["location"]
        ctx.supply_redirect(redirect)
        written = Path(await asyncio.wait_for(task, 10))
    finally:
        server.stop()
    assert json.loads(written.read_text())["access_token"] == "at-browser"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert ctx.awaiting_redirect is None and ctx.challenges == (challenge,)
    assert any(challenge.url in line for line in ctx.messages)


async def test_a_whole_device_login_without_a_terminal(tmp_path: Path):
    server, oauth = fake_oauth()
    try:
        ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))
        task = asyncio.create_task(device_login(argparse.Namespace(base=server.url), ctx))
        challenge = await ctx.next_challenge(timeout=5)
        written = Path(await asyncio.wait_for(task, 10))
    finally:
        server.stop()
    assert (challenge.kind, challenge.user_code, challenge.url, challenge.expires_in) == (
        "device_code",
        "WXYZ-1234",
        "https://x/device",
        600,
    )
    assert json.loads(written.read_text())["access_token"] == "at-device" and oauth.polls == 2


async def test_a_redirect_supplied_before_the_flow_asks_is_kept(tmp_path: Path):
    ctx = RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))
    ctx.supply_redirect("early")
    assert await asyncio.wait_for(ctx.ask_redirect("?"), 1) == "early"
    asking = asyncio.create_task(ctx.ask_redirect("Paste it"))
    await asyncio.sleep(0)
    assert ctx.awaiting_redirect == "Paste it"
    ctx.supply_redirect("late")
    assert await asyncio.wait_for(asking, 1) == "late" and ctx.awaiting_redirect is None


async def test_the_terminal_context_prints_and_opens_a_browser_unless_told_not_to(tmp_path: Path):
    lines: list[str] = []
    opened: list[str] = []
    ctx = LoginContext(config=load_config({}), auth_dir=str(tmp_path), echo=lines.append, open_browser=opened.append)
    await ctx.show_url("https://example/sign-in", "Sign in to Test")
    await ctx.show_device_code("AB-CD", "https://example/device", 900, verification_uri_complete="https://x/?c=AB")
    quiet = LoginContext(
        config=load_config({}), auth_dir=str(tmp_path), no_browser=True, echo=lines.append, open_browser=opened.append
    )
    await quiet.show_url("https://example/other", "Sign in")
    assert opened == ["https://example/sign-in", "https://x/?c=AB"]
    assert "Sign in to Test:\n\n  https://example/sign-in\n" in lines and "https://example/other" in lines[-1]
    assert any("AB-CD" in line and "15 min" in line for line in lines)

    def broken(url: str) -> None:
        raise OSError("no display")

    shaky = LoginContext(config=load_config({}), auth_dir=str(tmp_path), echo=lines.append, open_browser=broken)
    await shaky.show_url("https://example/x", "Sign in")  # the URL is printed; the login goes on
    assert "could not open a browser" in lines[-1]


async def test_the_terminal_context_reads_the_paste_and_says_when_it_cannot(tmp_path: Path):
    typed = LoginContext(config=load_config({}), auth_dir=str(tmp_path), prompt=lambda q: f"answer to {q}")
    assert await typed.ask_redirect("Q") == "answer to Q"

    def closed(question: str) -> str:
        raise EOFError

    with pytest.raises(PasteUnavailable):
        await LoginContext(config=load_config({}), auth_dir=str(tmp_path), prompt=closed).ask_redirect("Q")
