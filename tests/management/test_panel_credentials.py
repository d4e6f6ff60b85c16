"""The panel's credential tools in a real browser: a token file uploaded and deleted,
quota bars read and refreshed, and an account signed in by pasting the address the
browser ended on (a flow that redirects to localhost)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import cliproxy_claude
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
from playwright.sync_api import Page, expect

from .conftest import MANAGEMENT_KEY, base_config
from .test_remote_sign_in import FakeClaudeAuth, browse, free_port

ACCESS = "sk-ant-oat01-access-token-0123456789"
REFRESH = "sk-ant-ort01-refresh-token-0123456789"


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/v0/panel/#/credentials")
    page.get_by_label("Management key").fill(MANAGEMENT_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Credentials", exact=True)).to_be_visible()


def claude_block(upstream_url: str, *, auth: bool = False) -> str:
    login = (
        f"  client-id: test-client\n  authorize-url: {upstream_url}/oauth/authorize\n  callback-port: {free_port()}\n"
        if auth
        else ""
    )
    return (
        "claude-oauth:\n"
        f"  base-url: {upstream_url}\n"
        f"  token-url: {upstream_url}/v1/oauth/token\n"
        + login
        + "  models:\n    - {name: claude-sonnet-4-5, alias: sonnet}\n"
    )


def test_a_token_file_is_uploaded_and_deleted_from_the_panel(tmp_path, auth_dir, serve, upstream, recording, page):
    upstream.add(
        "POST", "/v1/messages", Reply.json(json.loads(recording("anthropic/vercel-anthropic-text.json").read_text()))
    )
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
    token = {"type": "claude", "access_token": ACCESS, "refresh_token": REFRESH, "expiry": expiry, "email": "me@x.io"}
    file = tmp_path / "claude-me.json"
    file.write_text(json.dumps(token))
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + claude_block(upstream.url))
    with serve(path, plugins=(cliproxy_claude,)) as served:
        served.recorder.secrets |= {ACCESS, REFRESH}
        sign_in(page, served.url)
        upload = page.locator("section", has_text="Upload a token file")
        upload.get_by_label("Token file").set_input_files(str(file))
        upload.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("status")).to_contain_text("uploaded claude-me.json: me@x.io")
        row = page.locator("tr", has_text="token file claude-me.json")
        expect(row.locator(".badge")).to_have_text("healthy")
        expect(row).to_contain_text("token expires")
        assert (auth_dir / "claude-me.json").exists() and served.chat("sonnet").startswith("Hello")

        upload.get_by_label("Token file").set_input_files(str(file))  # the same name again: refused
        upload.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("status")).to_contain_text("replace")

        row.get_by_role("button", name="Delete").click()
        row.get_by_role("button", name="Confirm delete").click()
        expect(page.get_by_role("status")).to_contain_text("deleted claude-me.json")
        expect(page.locator("tr", has_text="token file claude-me.json")).to_have_count(0)
        assert not (auth_dir / "claude-me.json").exists() and "sonnet" not in served.models()
        expect(page.locator("tr", has_text="echo #0").get_by_role("button", name="Delete")).to_have_count(0)


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
                id=credential_id("metered", "0"), provider=self.name, label="metered 0", models=(ModelEntry("m"),)
            )
        ]

    async def send(self, call: Call) -> DirectResponse:
        return DirectResponse(response=ir.Response(id="r", model=call.model, parts=(ir.TextPart("ok"),)))

    async def quota(self, credential: Credential, host: Host) -> Quota:
        window = QuotaWindow("monthly", limit=100, remaining=self.left, unit="requests", resets_at=2_000_000_000)
        return Quota(windows=[window], plan="pro")


def test_quota_bars_show_use_and_reset_and_refresh_from_the_panel(tmp_path, auth_dir, serve, page):
    provider = Metered()

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(provider)

    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + "metered:\n  - {}\n")
    with serve(path, plugins=(Plugin(),)) as served:
        served.api.post(f"/credentials/{credential_id('metered', '0')}/quota/refresh", json={})
        sign_in(page, served.url)
        row = page.locator("tr", has_text="metered 0")
        bar = row.get_by_role("meter")
        expect(bar).to_have_attribute("value", "60")
        expect(row).to_contain_text("monthly: 60% used (resets 2033-05-18 03:33:20)")
        expect(row).to_contain_text("pro")
        provider.left = 25.0
        row.get_by_role("button", name="Refresh quota").click()
        expect(bar).to_have_attribute("value", "75")
        expect(page.locator("tr", has_text="echo #0").get_by_role("button", name="Refresh quota")).to_have_count(0)


def test_an_account_signs_in_by_pasting_the_address_the_browser_ended_on(
    tmp_path, auth_dir, serve, upstream, recording, page
):
    FakeClaudeAuth(upstream)
    upstream.add(
        "POST", "/v1/messages", Reply.json(json.loads(recording("anthropic/vercel-anthropic-text.json").read_text()))
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + claude_block(upstream.url, auth=True))
    with serve(path, plugins=(cliproxy_claude,)) as served:
        served.recorder.secrets |= {"sk-ant-oat-remote-access-0001", "sk-ant-ort-remote-refresh-0001"}
        sign_in(page, served.url)
        panel = page.locator("section", has_text="Sign in a new account")
        panel.get_by_label("Provider").select_option("claude")
        panel.get_by_role("button", name="Start sign-in").click()
        link = panel.get_by_role("link", name="Open the sign-in page")
        expect(link).to_have_attribute("href", re.compile("^" + re.escape(upstream.url + "/oauth/authorize?")))
        ended_on = browse(link.get_attribute("href") or "")  # the operator's browser, elsewhere
        panel.get_by_label("Address your browser ended on").fill(ended_on)
        panel.get_by_role("button", name="Finish sign-in").click()
        expect(panel.locator("[data-session-state]")).to_have_text("succeeded")
        expect(panel).to_contain_text("Signed in: claude-remote@example.com.json - serving remote@example.com")
        expect(page.locator("tr", has_text="remote@example.com").locator(".badge")).to_have_text("healthy")
        assert served.chat("sonnet").startswith("Hello")
