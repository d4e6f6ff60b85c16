"""The ``copilot`` and ``copilot-oauth`` blocks: ``${ENV}`` tokens, mistakes reported with
file, line, key and a fix; and no token ever reaching a client or the log."""

from __future__ import annotations

import json

import pytest
from cliproxy.cli import main as cli_main
from cliproxy.testing import Reply, asgi_client
from cliproxy_copilot.testing import API, GITHUB_TOKEN, GPT

AUTH = {"authorization": "Bearer client-key"}


async def test_a_github_token_from_the_environment_is_exchanged(copilot, copilot_app, monkeypatch):
    monkeypatch.setenv("MY_COPILOT_TOKEN", GITHUB_TOKEN)
    app = copilot_app([copilot.entry(**{"github-token": "${MY_COPILOT_TOKEN}"})])
    async with asgi_client(app) as client:
        answer = await client.post(
            "/v1/chat/completions", json={"model": GPT, "messages": [{"role": "user", "content": "hi"}]}, headers=AUTH
        )
    assert answer.status_code == 200
    assert copilot.requests_to("/copilot_internal/v2/token")[0].headers["authorization"] == f"token {GITHUB_TOKEN}"


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("copilot:\n  - github-tokn: x\n", "config.yaml:3:5: missing required key 'copilot[0].github-token'"),
        (
            "copilot:\n  - github-token: x\n    editor-versoin: vscode/2\n",
            "config.yaml:4:5: unknown key 'copilot[0].editor-versoin' -- did you mean 'editor-version'?",
        ),
        (
            "copilot:\n  - github-token: x\n    github-api-url: api.github.com\n",
            "config.yaml:4:5: github-api-url 'api.github.com' must start with https://",
        ),
        ("copilot:\n  - github-token: ${NOT_SET_ANYWHERE}\n", "environment variable NOT_SET_ANYWHERE is not set"),
        (
            "copilot-oauth:\n  client_id: Iv1.x\n",
            "config.yaml:3:3: unknown key 'copilot-oauth.client_id' -- did you mean 'client-id'?",
        ),
    ],
    ids=["missing-token", "typo", "bad-url", "unset-env", "oauth-typo"],
)
def test_config_mistakes_name_file_line_key_and_fix(tmp_path, capsys, monkeypatch, yaml, expected):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(f"auth-dir: {tmp_path / 'auth'}\n" + yaml)
    assert cli_main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err.replace(str(tmp_path) + "/", ""), err


async def test_tokens_an_error_echoes_reach_neither_client_nor_log(copilot, copilot_app, caplog):
    def echo(request):
        copilot_token = request.headers["authorization"][len("Bearer ") :]
        message = f"bad request from {copilot_token} (github {GITHUB_TOKEN})"
        return Reply.json({"error": {"message": message, "code": "bad"}}, status=500)

    copilot.server.add("POST", API + "/chat/completions", echo)
    async with asgi_client(copilot_app()) as client:
        answer = await client.post(
            "/v1/chat/completions", json={"model": GPT, "messages": [{"role": "user", "content": "hi"}]}, headers=AUTH
        )
        status = (await client.get("/v0/status")).text
    assert answer.status_code >= 500 and "bad request from" in answer.text
    everything = answer.text + status + " ".join(r.getMessage() for r in caplog.records) + json.dumps(answer.json())
    assert GITHUB_TOKEN not in everything and "tid=fake" not in everything
