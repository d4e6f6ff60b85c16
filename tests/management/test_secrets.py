"""No answer of the management API holds a secret. Every test here runs under the
recorder of conftest.py, which scans every answer for every configured key and token;
these check the scan itself, and the redaction every answer passes through."""

from __future__ import annotations

import cliproxy_openai
import pytest

from .conftest import MANAGEMENT_KEY, base_config


def test_the_scan_catches_a_leak(recorder):
    recorder.answers.append(("GET /v0/management/example", f'{{"key": "{MANAGEMENT_KEY}"}}'))
    with pytest.raises(AssertionError, match="answered with a secret"):
        recorder.check()
    recorder.answers.clear()


def test_every_route_a_panel_reads_hides_the_secrets(tmp_path, auth_dir, serve, upstream):
    compat = (
        "openai-compatibility:\n"
        "  - name: team\n"
        "    prefix: team\n"
        f"    base-url: {upstream.url}/v1?key=sk-in-the-url-0123456789\n"
        "    headers: {X-Api-Key: sk-in-a-header-0123456789, X-Trace: visible}\n"
        "    api-key-entries:\n"
        "      - api-key: sk-upstream-0123456789-delta\n"
        "        proxy-url: http://user:proxy-password-0123@127.0.0.1:9\n"
        "    models: [m]\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + compat)
    with serve(path, plugins=(cliproxy_openai,)) as served:
        for route in ("", "/config", "/config.yaml", "/keys", "/providers", "/credentials", "/oauth/providers"):
            assert served.api.get(route).status_code == 200, route
        text = served.api.get("/config.yaml").json()["yaml"]
    assert "X-Trace: visible" in text  # only the secrets are hidden
    assert "proxy-url: http://user:<secret:" in text and "?key=<secret:" in text


def test_a_secret_that_looks_like_json_does_not_break_answers(tmp_path, auth_dir, serve, upstream):
    compat = (
        "openai-compatibility:\n"
        "  - name: local\n"
        "    prefix: local\n"
        f"    base-url: {upstream.url}/v1\n"
        '    api-key-entries: [{api-key: "true"}]\n'
        "    models: [m]\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(base_config(auth_dir) + compat)
    with serve(path, plugins=(cliproxy_openai,)) as served:
        served.recorder.ignored.add("true")  # the literal stays in the JSON; the key itself shows nowhere else
        answer = served.api.get("/credentials")
        listed = answer.json()["credentials"]  # parses: literals untouched
        keys = served.api.get("/providers").json()["blocks"]
    assert all(c["enabled"] is True for c in listed)
    compat = next(b for b in keys if b["block"] == "openai-compatibility")
    assert compat["entries"][0]["entry"]["api-key-entries"][0]["api-key"].startswith("<secret:")
