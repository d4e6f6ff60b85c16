"""The web panel's other pages in a real browser: client keys used from the openai SDK,
a config edit with a typo (located error, fix, diff, saved live: the alias is served), a
new account signed in through a device-code flow, a failed request's kept log, and every
page at a phone's width. Every wait is for something the page shows, never for a time."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import cliproxy_kiro
import cliproxy_openai
import openai
import pytest
from cliproxy.testing import RecordedRequest, Reply
from cliproxy_kiro import testing as kt
from playwright.sync_api import Page, expect

from .conftest import CLIENT_KEY, base_config

UPSTREAM_KEY = "sk-upstream-0123456789-pages"
SHOTS = Path(__file__).parents[2] / "docs" / "panel"
MANAGEMENT_KEY = "mgmt-key-0123456789-abcdef"
KEYS_POLL_MS = 5000  # the Client keys page's polling interval (static/js/keys.js)


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Page, str], None]:
    """Screenshot a page: into docs/panel/ with CLIPROXY_PANEL_SCREENSHOTS=1, else beside the test."""
    folder = SHOTS if os.environ.get("CLIPROXY_PANEL_SCREENSHOTS") else tmp_path

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def sign_in(page: Page, url: str, where: str = "") -> None:
    page.goto(f"{url}/v0/panel/{where}")
    page.get_by_label("Management key").fill(MANAGEMENT_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()


def team_block(upstream_url: str, models: str = "[gpt-4.1-nano]") -> str:
    return (
        "openai-compatibility:\n"
        "  - name: team\n"
        "    prefix: team\n"
        f"    base-url: {upstream_url}/v1\n"
        f"    api-key-entries: [{{api-key: {UPSTREAM_KEY}}}]\n"
        f"    models: {models}\n"
    )


def test_a_client_key_added_in_the_panel_answers_the_openai_sdk(config_path, serve, page, shot):
    new_key = "client-key-from-the-panel-0001"
    renamed = "client-key-from-the-panel-0002"
    with serve(config_path) as served:
        served.recorder.secrets |= {new_key, renamed}
        assert served.chat("echo-1")  # usage of key-1 to show
        sign_in(page, served.url)
        page.get_by_role("link", name="Client keys").click()
        keys = page.locator("#key-list")
        expect(keys.get_by_role("cell", name="key-2", exact=True)).to_be_visible()
        page.get_by_label("New client key").fill(new_key)
        page.get_by_role("button", name="Add key").click()
        expect(page.get_by_role("status")).to_contain_text("added key-3")
        expect(keys.get_by_role("cell", name="key-3", exact=True)).to_be_visible()
        assert new_key not in page.content()  # listed masked only
        assert served.chat("echo-1", key=new_key)

        page.get_by_label("New value for key-3").fill(renamed)
        keys.locator("tr", has_text="key-3").get_by_role("button", name="Rename").click()
        expect(page.get_by_role("status")).to_contain_text("key-3 has a new value")
        with pytest.raises(openai.AuthenticationError):
            served.chat("echo-1", key=new_key)
        assert served.chat("echo-1", key=renamed)

        usage = page.locator("section", has_text="Usage per key per day")
        # polled, no reload: the Client keys page asks every 5 s, so wait past one interval
        expect(usage.get_by_role("cell", name="key-3", exact=True)).to_be_visible(timeout=KEYS_POLL_MS * 3)
        expect(usage.get_by_role("img")).to_be_visible()
        shot(page, "keys")

        row = keys.locator("tr", has_text="key-3")
        row.get_by_role("button", name="Remove").click()
        row.get_by_role("button", name="Confirm remove key-3").click()
        expect(keys.get_by_role("cell", name="key-3", exact=True)).to_have_count(0)
        with pytest.raises(openai.AuthenticationError):
            served.chat("echo-1", key=renamed)
        assert served.chat("echo-1", key=CLIENT_KEY)


def test_the_client_keys_page_shows_a_limited_keys_usage_of_its_limits(config_path, serve, page):
    team_key = "client-key-with-limits-0001"
    with serve(config_path) as served:
        served.recorder.secrets.add(team_key)
        added = served.api.post("/keys", json={"key": team_key, "name": "team-a", "rpm": 10, "daily-tokens": 5000})
        assert added.status_code == 201, added.text
        assert served.chat("echo-1", key=team_key)
        sign_in(page, served.url)
        page.get_by_role("link", name="Client keys").click()
        limits = page.locator("#key-limits")
        rpm = limits.locator("tr", has=page.get_by_role("cell", name="rpm", exact=True))
        expect(rpm).to_have_count(1)
        cells = rpm.get_by_role("cell")
        expect(cells).to_have_text(["team-a", "rpm", "1", "10", "9", "sliding 60 s"])
        daily = limits.locator("tr", has=page.get_by_role("cell", name="daily-tokens", exact=True))
        expect(daily.get_by_role("cell").nth(5)).to_contain_text("T00:00:00Z")
        expect(limits.get_by_role("cell", name="key-1", exact=True)).to_have_count(0)  # no limits, not listed
        assert served.chat("echo-1", key=team_key)
        # polled, no reload: the next refresh shows the second request
        expect(rpm.get_by_role("cell").nth(2)).to_have_text("2", timeout=KEYS_POLL_MS * 3)


def test_a_config_typo_is_shown_at_its_line_and_the_fix_serves_the_alias(
    tmp_path, auth_dir, serve, upstream, page, shot
):
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + team_block(upstream.url))
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        assert "nano" not in served.models()
        sign_in(page, served.url)
        page.get_by_role("link", name="Config").click()
        editor = page.get_by_label("config.yaml")
        expect(editor).to_have_value(re.compile(re.escape("models: [gpt-4.1-nano]")))
        assert UPSTREAM_KEY not in editor.input_value()  # a reference stands for it

        text = editor.input_value()
        typo = text.replace("models: [gpt-4.1-nano]", "models: [{name: gpt-4.1-nano, aliaz: nano}]")
        line = typo.splitlines().index("    models: [{name: gpt-4.1-nano, aliaz: nano}]") + 1
        editor.fill(typo)
        error = page.locator("#config-verdict [role=alert]")
        expect(error).to_contain_text(f"Line {line}")
        expect(error).to_contain_text("unknown key 'openai-compatibility[0].models[0].aliaz'")
        expect(error).to_contain_text("did you mean 'alias'")
        expect(page.locator(".gutter mark")).to_have_text(str(line))
        shot(page, "config-error")
        page.get_by_role("button", name=f"Go to line {line}").click()
        assert page.evaluate("document.activeElement.id") == "config-text"
        assert "aliaz" in page.evaluate(
            "(t => t.value.slice(t.selectionStart, t.selectionEnd))(document.activeElement)"
        )

        page.get_by_role("button", name="Save and apply").click()  # refused: nothing written
        expect(page.get_by_role("status")).to_contain_text("aliaz")
        assert "aliaz" not in path.read_text()

        editor.fill(typo.replace("aliaz", "alias"))
        expect(page.locator("#config-verdict")).to_contain_text("Valid:")
        expect(page.locator(".gutter mark")).to_have_count(0)
        diff = page.locator("#config-diff")
        expect(diff.locator(".del")).to_have_text("-     models: [gpt-4.1-nano]")
        expect(diff.locator(".add")).to_have_text("+     models: [{name: gpt-4.1-nano, alias: nano}]")
        shot(page, "config")
        page.get_by_role("button", name="Save and apply").click()
        expect(page.get_by_role("status")).to_contain_text("models added:")
        assert "alias: nano" in path.read_text() and "# the gateway's config" in path.read_text()
        assert {"nano", "team/nano"} <= served.models()  # live, no restart

        page.get_by_role("link", name="Models").click()
        row = page.locator("tr", has_text="team/nano")
        expect(row).to_contain_text("alias of gpt-4.1-nano")
        expect(page.locator("tr", has_text="echo-1")).to_contain_text("echo #0")
        shot(page, "models")
        page.get_by_label("Filter").fill("nano")
        expect(page.locator("tr", has_text="echo-1")).to_have_count(0)


def lambda_contains(text: str):
    import re

    return re.compile(re.escape(text))


def test_a_new_account_signs_in_through_a_device_code_flow_in_the_panel(
    tmp_path, auth_dir, serve, upstream, page, monkeypatch, shot
):
    monkeypatch.setattr("cliproxy_kiro.provider.API_BASE", upstream.url)  # the token file names no API base
    upstream.add("POST", "/generateAssistantResponse", kt.reply(kt.text("Hello", " from Kiro")))
    upstream.add("POST", "/client/register", Reply.json({"clientId": "cid", "clientSecret": "kiro-client-secret-01"}))
    upstream.add(
        "POST",
        "/device_authorization",
        Reply.json(
            {
                "deviceCode": "dev-1",
                "userCode": "ABCD-EFGH",
                "verificationUri": "https://device.example/",
                "verificationUriComplete": "https://device.example/?user_code=ABCD-EFGH",
                "expiresIn": 600,
                "interval": 1,
            }
        ),
    )
    approved = threading.Event()  # the operator entered the code on the provider's page

    def token(request: RecordedRequest) -> Reply:
        if not approved.is_set():
            return Reply.json({"error": "authorization_pending"}, status=400)
        return Reply.json(
            {"accessToken": "kiro-remote-access-0001", "refreshToken": "kiro-remote-refresh-0001", "expiresIn": 3600}
        )

    upstream.add("POST", "/token", token)
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir))
    with serve(path, plugins=(cliproxy_kiro,)) as served:
        served.recorder.secrets |= {"kiro-remote-access-0001", "kiro-remote-refresh-0001", "kiro-client-secret-01"}
        sign_in(page, served.url, "#/credentials")
        panel = page.locator("section", has_text="Sign in a new account")
        panel.get_by_label("Provider").select_option("kiro")
        panel.get_by_label("--builder-id").check()
        panel.get_by_label("--oidc-url").fill(upstream.url)
        panel.get_by_role("button", name="Start sign-in").click()
        expect(panel.locator("[data-user-code]")).to_have_text("ABCD-EFGH")
        expect(panel.get_by_role("link", name="Open the sign-in page")).to_have_attribute(
            "href", "https://device.example/?user_code=ABCD-EFGH"
        )
        expect(panel.get_by_role("textbox", name="Address your browser ended on")).to_have_count(0)  # no paste
        shot(page, "sign-in")
        approved.set()
        expect(panel.locator("[data-session-state]")).to_have_text("succeeded")
        expect(panel).to_contain_text("Signed in: kiro-idc-builderid.json")
        expect(page.locator("tr", has_text="kiro-idc-builderid.json")).to_contain_text("healthy")
        assert served.chat("claude-sonnet-4.5") == "Hello from Kiro"


def test_a_failed_requests_log_opens_with_its_upstream_attempts(tmp_path, auth_dir, serve, upstream, page, shot):
    upstream.add("POST", "/v1/chat/completions", Reply.error(500, "the upstream fell over"))
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir, extra="request-log: true\n") + team_block(upstream.url))
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        assert served.chat("echo-1")
        with pytest.raises(openai.APIStatusError) as failed:
            served.chat("team/gpt-4.1-nano")
        request_id = failed.value.response.headers["x-request-id"]
        sign_in(page, served.url, "#/logs")
        recent = page.locator("section", has_text="Recent requests")
        expect(recent.locator("tbody tr")).to_have_count(2)
        page.get_by_label("Status").select_option("error")
        expect(recent.locator("tbody tr")).to_have_count(1)
        row = recent.locator("tbody tr")
        expect(row).to_contain_text("team/gpt-4.1-nano")
        expect(row).to_contain_text("the upstream fell over")
        page.get_by_label("Model").fill("echo")
        expect(recent).to_contain_text("No requests match")
        page.get_by_label("Model").fill("")
        shot(page, "logs")
        row.get_by_role("button", name="Open log").click()
        detail = page.locator("section", has_text=f"Request {request_id}")
        expect(detail.get_by_role("heading", name=f"Request {request_id}")).to_be_focused()
        expect(detail).to_contain_text("Upstream attempts")
        expect(detail.locator("summary", has_text="Attempt 1")).to_contain_text("500")
        detail.locator("summary", has_text="Attempt 1").click()
        expect(detail.locator("pre").first).to_contain_text('"model": "gpt-4.1-nano"')  # the body sent upstream
        expect(detail.locator("pre").nth(1)).to_contain_text("the upstream fell over")  # and its answer
        assert UPSTREAM_KEY not in detail.inner_text()
        shot(page, "log")


def test_every_page_fits_a_phone_and_the_keyboard_reaches_the_pages(config_path, serve, browser, shot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        with serve(config_path) as served:
            sign_in(page, served.url)
            for name, heading in [
                ("overview", "Overview"),
                ("credentials", "Credentials"),
                ("models", "Models"),
                ("keys", "Client keys"),
                ("config", "Config"),
                ("logs", "Logs"),
            ]:
                page.goto(f"{served.url}/v0/panel/#/{name}")
                expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"the {name} page is {overflow}px wider than a phone"
                if name == "credentials":
                    shot(page, "phone-credentials")
            page.locator(".brand").click()  # the keyboard goes on from the header
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Overview"
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Credentials", exact=True)).to_be_visible()
    finally:
        context.close()
    assert not errors, errors
