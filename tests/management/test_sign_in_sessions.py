"""Remote sign-in sessions stay bounded: a few run at once, each ends when its time is
up, finished ones are forgotten after a while, and stopping the gateway ends them all."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import cliproxy_echo
from cliproxy import LoginContext, LoginFlow, hookimpl
from cliproxy.app import gateway_of
from cliproxy.management_api.login_sessions import KEEP_FINISHED, MAX_ACTIVE, SESSION_TTL
from cliproxy.testing import FakeClock, asgi_client, gateway_app

from .conftest import MANAGEMENT_KEY


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label", default="default")


class Plugin:
    """A login flow that shows a URL and waits for a paste that never comes."""

    def __init__(self) -> None:
        self.started: list[asyncio.Task[Any]] = []

    async def waits_for_the_user(self, args: argparse.Namespace, ctx: LoginContext) -> str:
        self.started.append(asyncio.current_task())  # type: ignore[arg-type]
        await ctx.show_url(f"https://auth.example/authorize?label={args.label}", "Sign in")
        await ctx.ask_redirect("Paste the address")
        raise AssertionError("never answered in these tests")

    @hookimpl
    def register_login_flows(self, register: Any) -> None:
        register(LoginFlow("waiting", "a sign-in that waits", self.waits_for_the_user, _arguments))


async def test_sessions_are_bounded_expire_and_are_forgotten():
    plugin = Plugin()
    config = {"remote-management": {"secret-key": MANAGEMENT_KEY}, "echo": [{"models": ["echo-1"]}]}
    served = gateway_app(config, plugins=[cliproxy_echo, plugin])
    clock = FakeClock().install(served)
    async with asgi_client(served, headers={"authorization": f"Bearer {MANAGEMENT_KEY}"}) as client:
        ids = []
        for i in range(MAX_ACTIVE):
            answer = await client.post("/v0/management/oauth/waiting", json={"options": {"label": f"n{i}"}})
            session = answer.json()["session"]
            assert answer.status_code == 201 and session["challenge"]["url"].endswith(f"label=n{i}")
            ids.append(session["id"])
        over = await client.post("/v0/management/oauth/waiting", json={})
        assert over.status_code == 429 and over.json()["error"]["code"] == "too_many_sign_ins"

        clock.advance(SESSION_TTL + 1)
        expired = (await client.get(f"/v0/management/oauth/sessions/{ids[0]}")).json()["session"]
        assert expired["state"] == "failed" and expired["error"]["code"] == "expired"
        await asyncio.sleep(0)
        assert all(task.cancelled() or task.done() for task in plugin.started[-MAX_ACTIVE:])
        assert (await client.post("/v0/management/oauth/waiting", json={})).status_code == 201

        clock.advance(KEEP_FINISHED + 1)
        assert (await client.get(f"/v0/management/oauth/sessions/{ids[0]}")).status_code == 404
        assert len((await client.get("/v0/management/oauth/sessions")).json()["sessions"]) == 1
        last = plugin.started[-1]
    await asyncio.sleep(0)
    assert last.done()  # the gateway stopped: the running sign-in ended with it
    assert gateway_of(served).credentials  # nothing else was touched
