"""The web panel in a real browser (headless Chromium, driven by Playwright) against a
gateway served by a real server: sign-in, the overview, credentials with a live cooldown
countdown and their actions. Nothing here waits for a time: every wait is for something
the page shows."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.testing import Reply
from playwright.sync_api import Page, expect

from .conftest import MANAGEMENT_KEY, base_config

UPSTREAM_KEY = "sk-upstream-0123456789-panel"
SHOTS = Path(__file__).parents[2] / "docs" / "panel"


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Page, str], None]:
    """Screenshot a page: into docs/panel/ with CLIPROXY_PANEL_SCREENSHOTS=1 (how the docs'
    pictures are made), else beside the test."""
    folder = SHOTS if os.environ.get("CLIPROXY_PANEL_SCREENSHOTS") else tmp_path

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def sign_in(page: Page, url: str, key: str = MANAGEMENT_KEY) -> None:
    page.goto(url + "/v0/panel")
    page.get_by_label("Management key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def team_config(auth_dir: Path, upstream_url: str) -> str:
    return base_config(auth_dir) + (
        "openai-compatibility:\n"
        "  - name: team\n"
        "    prefix: team\n"
        f"    base-url: {upstream_url}/v1\n"
        f"    api-key-entries: [{{api-key: {UPSTREAM_KEY}}}]\n"
        "    models: [gpt-4.1-nano]\n"
    )


def test_the_panel_signs_in_with_the_management_key_kept_in_the_tab_only(config_path, serve, page):
    with serve(config_path) as served:
        files = httpx.get(served.url + "/v0/panel/")
        assert files.status_code == 200 and "text/html" in files.headers["content-type"]
        assert "script-src 'self'" in files.headers["content-security-policy"]
        assert files.headers["x-frame-options"] == "DENY"
        assert httpx.get(served.url + "/v0/panel/js/nope.js").status_code == 404
        foreign = httpx.get(served.url + "/v0/panel/", headers={"Host": "evil.example"})
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "host_not_allowed"

        sign_in(page, served.url, "not-the-key-at-all")
        expect(page.get_by_role("alert")).to_contain_text("management key")
        expect(page.get_by_role("navigation", name="Pages")).to_be_hidden()

        sign_in(page, served.url)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_text("Requests, last hour")).to_be_visible()
        expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
        assert page.evaluate("sessionStorage.getItem('cliproxy.management-key')") == MANAGEMENT_KEY
        assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []

        page.reload()  # the tab keeps it
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        other = page.context.browser.new_page()  # another tab (context) does not
        other.goto(served.url + "/v0/panel/")
        expect(other.get_by_label("Management key")).to_be_visible()
        other.close()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("Management key")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0


def test_the_panel_is_off_without_the_management_api(tmp_path, auth_dir, serve):
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir).replace("remote-management:\n", "unused:\n").replace("  secret-key", "  x"))
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith(("unused", "  x"))))
    with serve(path) as served:
        answer = httpx.get(served.url + "/v0/panel/")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "management_disabled"
        assert "secret-key" in answer.json()["error"]["message"]


def test_a_429_rests_a_credential_the_panel_counts_it_down_and_resets_it(
    tmp_path, auth_dir, serve, upstream, page, shot
):
    upstream.add("POST", "/v1/chat/completions", Reply.error(429, "slow down", headers={"retry-after": "600"}))
    path = tmp_path / "config.yaml"
    path.write_text(team_config(auth_dir, upstream.url))
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        with pytest.raises(openai.RateLimitError):
            served.chat("team/gpt-4.1-nano")

        sign_in(page, served.url)
        expect(page.get_by_text("Requests, last hour")).to_be_visible()
        requests_card = page.locator(".card", has_text="Requests, last hour")
        expect(requests_card.locator(".value")).to_have_text("1")
        expect(page.locator(".card", has_text="Error rate").locator(".value")).to_have_text("100.0%")
        shot(page, "overview")

        page.get_by_role("link", name="Credentials").click()
        row = page.locator("tr", has_text="team sk-u")
        expect(row.locator(".badge")).to_have_text("resting")
        countdown = row.locator(".countdown").first
        expect(countdown).to_have_text(re.compile(r"resting (9|10):\d\d"))
        first = countdown.inner_text()
        expect(countdown).not_to_have_text(first)  # it moves without a reload
        expect(row).to_contain_text("429")
        shot(page, "credentials")

        row.get_by_role("button", name="Reset cooldown").click()
        expect(page.get_by_role("status")).to_contain_text("1 cooldown ended")
        expect(row.locator(".badge")).to_have_text("healthy")
        expect(row.locator(".countdown")).to_have_count(0)
        listed = served.api.get("/credentials").json()["credentials"]
        assert next(c for c in listed if c["provider"] == "openai-compatibility")["state"] == "ok"


def test_credentials_are_disabled_enabled_and_tested_from_the_panel(tmp_path, auth_dir, serve, upstream, page):
    upstream.add("GET", "/v1/models", Reply.json({"object": "list", "data": [{"id": "gpt-4.1-nano"}]}))
    path = tmp_path / "config.yaml"
    path.write_text(team_config(auth_dir, upstream.url))
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.secrets.add(UPSTREAM_KEY)
        sign_in(page, served.url)
        page.get_by_role("link", name="Credentials").click()
        row = page.locator("tr", has_text="team sk-u")
        row.get_by_role("button", name="Test").click()
        expect(page.get_by_role("status")).to_contain_text("works: 1 models")
        row.get_by_role("button", name="Disable").click()
        expect(row.locator(".badge")).to_have_text("disabled")
        assert "disabled-credentials:" in path.read_text()
        row.get_by_role("button", name="Enable").click()
        expect(row.locator(".badge")).to_have_text("healthy")
