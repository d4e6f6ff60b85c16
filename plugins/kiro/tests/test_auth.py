"""Token files, refresh by the method a token came from, one refresh at a time."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import cliproxy_kiro
import openai
import pytest
from cliproxy import ConfigError, TokenSet, create_app
from cliproxy.testing import FakeUpstream, Reply, serve_app
from cliproxy_kiro import testing as kt
from cliproxy_kiro.auth import KiroAuthType, format_time, parse_time, tokens_from_file

GENERATE = "/generateAssistantResponse"


def ask(url: str) -> str:
    answer = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0).chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
    )
    return answer.choices[0].message.content or ""


def test_recorded_ide_token_file_reads(recording):
    data = json.loads(recording("kiro/CONSTRUCTED-kiro-auth-token.json").read_text())
    tokens = tokens_from_file(data)
    assert tokens.access_token.startswith("aoa") and tokens.refresh_token.startswith("aor")
    assert tokens.expires_at == parse_time("2025-12-31T02:32:45.144Z")
    assert tokens.extra["auth_method"] == "social" and tokens.extra["profile_arn"].endswith("EXAMPLEPROFILE")
    assert format_time(tokens.expires_at) == "2025-12-31T02:32:45.144Z"


def test_ide_idc_login_finds_its_client_registration(tmp_path):
    (tmp_path / "abc123.json").write_text(json.dumps({"clientId": "cid", "clientSecret": "csecret"}))
    data = {
        "accessToken": "a",
        "refreshToken": "r",
        "expiresAt": "2030-01-01T00:00:00Z",
        "authMethod": "IdC",
        "clientIdHash": "abc123",
    }
    tokens = tokens_from_file(data, tmp_path / "kiro-auth-token.json")
    assert tokens.extra["auth_method"] == "idc"
    assert (tokens.extra["client_id"], tokens.extra["client_secret"]) == ("cid", "csecret")


def test_social_refresh_request_matches_the_recording(upstream: FakeUpstream, recording):
    want = json.loads(recording("kiro/CONSTRUCTED-refresh-social-request.json").read_text())
    answer = json.loads(recording("kiro/CONSTRUCTED-refresh-social-response.json").read_text())
    answer.pop("_comment")
    upstream.add("POST", "/refreshToken", Reply.json(answer))
    tokens = TokenSet("old", want["refreshToken"], 0.0, {"auth_method": "social", "auth_url": upstream.url})

    async def run():
        import aiohttp

        async with aiohttp.ClientSession() as http:
            return await KiroAuthType().refresh(tokens, http, None)

    before = time.time()
    fresh = asyncio.run(run())
    assert upstream.requests_to("/refreshToken")[0].json == {"refreshToken": want["refreshToken"]}
    assert fresh.access_token == answer["accessToken"] and fresh.refresh_token == answer["refreshToken"]
    assert before + 3590 < fresh.expires_at < time.time() + 3610
    assert fresh.extra["profile_arn"] == answer["profileArn"]


def test_idc_refresh_request_matches_the_recording(upstream: FakeUpstream, recording):
    want = json.loads(recording("kiro/CONSTRUCTED-refresh-idc-request.json").read_text())
    want.pop("_comment")
    answer = json.loads(recording("kiro/CONSTRUCTED-refresh-idc-response.json").read_text())
    upstream.add("POST", "/token", Reply.json(answer))
    extra = {
        "auth_method": "idc",
        "oidc_url": upstream.url,
        "client_id": want["clientId"],
        "client_secret": want["clientSecret"],
    }
    tokens = TokenSet("old", want["refreshToken"], 0.0, extra)

    async def run():
        import aiohttp

        async with aiohttp.ClientSession() as http:
            return await KiroAuthType().refresh(tokens, http, None)

    fresh = asyncio.run(run())
    assert upstream.requests_to("/token")[0].json == want
    assert (fresh.access_token, fresh.refresh_token) == (answer["accessToken"], answer["refreshToken"])


def test_idc_config_entry_refreshes_at_sso_oidc(upstream: FakeUpstream, kiro_app, kiro_entry, refresh_reply):
    upstream.add("POST", "/token", refresh_reply(access="at-idc"))
    upstream.add("POST", GENERATE, kt.reply(kt.text("ok")))
    entry = kiro_entry(
        **{
            "access-token": None,
            "auth-method": "idc",
            "client-id": "cid",
            "client-secret": "secret",
            "profile-arn": None,
        }
    )
    with serve_app(kiro_app([entry])) as url:
        assert ask(url) == "ok"
    assert upstream.requests_to("/token")[0].json == {
        "clientId": "cid",
        "clientSecret": "secret",
        "refreshToken": "rt-1",
        "grantType": "refresh_token",
    }
    sent = upstream.requests_to(GENERATE)[0]
    assert sent.headers["authorization"] == "Bearer at-idc" and "profileArn" not in sent.json
    assert not upstream.requests_to("/refreshToken")


def test_concurrent_requests_share_one_refresh(upstream: FakeUpstream, kiro_app, kiro_entry):
    upstream.add(
        "POST",
        "/refreshToken",
        Reply.json({"accessToken": "at-2", "refreshToken": "rt-2", "expiresIn": 3600}, delay=0.3),
    )
    upstream.add("POST", GENERATE, kt.reply(kt.text("ok")))
    entry = kiro_entry(**{"access-token": "at-expired", "expires-at": "2020-01-01T00:00:00Z"})

    async def burst(url: str) -> list[str]:
        client = openai.AsyncOpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
        answers = await asyncio.gather(
            *(
                client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
                for _ in range(6)
            )
        )
        await client.close()
        return [a.choices[0].message.content or "" for a in answers]

    with serve_app(kiro_app([entry])) as url:
        assert asyncio.run(burst(url)) == ["ok"] * 6
    assert len(upstream.requests_to("/refreshToken")) == 1
    assert {r.headers["authorization"] for r in upstream.requests_to(GENERATE)} == {"Bearer at-2"}


def test_auth_dir_token_file_loads_refreshes_and_is_written_back(
    upstream: FakeUpstream, kiro_app, refresh_reply, tmp_path
):
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    path = auth_dir / "kiro-social-google.json"
    path.write_text(
        json.dumps(
            {
                "type": "kiro",
                "access_token": "at-file",
                "refresh_token": "rt-file",
                "expires_at": "2020-01-01T00:00:00Z",
                "auth_method": "social",
                "provider": "Google",
                "region": "us-east-1",
                "auth_url": upstream.url,
                "base_url": upstream.url,
            }
        )
    )
    upstream.add("POST", "/refreshToken", refresh_reply(access="at-file-2", refresh="rt-file-2"))
    upstream.add("POST", GENERATE, kt.reply(kt.text("from the file")))
    with serve_app(kiro_app([], **{"auth-dir": str(auth_dir)})) as url:
        assert ask(url) == "from the file"
    assert upstream.requests_to("/refreshToken")[0].json == {"refreshToken": "rt-file"}
    saved = json.loads(path.read_text())
    assert (saved["type"], saved["access_token"], saved["refresh_token"]) == ("kiro", "at-file-2", "rt-file-2")
    assert parse_time(saved["expires_at"]) > time.time() + 3000 and saved["last_refresh"]
    assert saved["base_url"] == upstream.url  # what the file said is kept


def test_refresh_refused_rests_the_account(upstream: FakeUpstream, kiro_app, kiro_entry):
    """A refresh token the auth service refuses (here at start-up, by the background
    refresher) rests the account instead of failing requests one by one."""
    upstream.add(
        "POST",
        "/refreshToken",
        Reply.json({"error": "invalid_grant", "error_description": "Refresh token expired"}, status=400),
    )
    upstream.add("POST", GENERATE, kt.reply(kt.text("never")))
    with (
        serve_app(kiro_app([kiro_entry(**{"access-token": None})])) as url,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        ask(url)
    assert "cooling down" in caught.value.message
    assert not upstream.requests_to(GENERATE)


def test_refresh_refused_after_a_403_is_a_clear_401(upstream: FakeUpstream, kiro_app):
    upstream.add(
        "POST",
        "/refreshToken",
        Reply.json({"error": "invalid_grant", "error_description": "Refresh token expired"}, status=400),
    )
    upstream.add(
        "POST", GENERATE, Reply.json({"message": "The bearer token included in the request is invalid."}, status=403)
    )
    with serve_app(kiro_app()) as url, pytest.raises(openai.AuthenticationError) as caught:
        ask(url)
    message = caught.value.message
    assert "could not be refreshed" in message and "Refresh token expired" in message and "log in again" in message
    assert len(upstream.requests_to(GENERATE)) == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "needs 'token-file' or 'access-token'"),
        ({"token-file": "/nonexistent/kiro.json"}, "does not exist"),
        ({"refresh-token": "r", "auth-method": "idc"}, "needs 'client-id' and 'client-secret'"),
        ({"refresh-token": "r", "auth-method": "oauth"}, "not one of"),
        ({"refresh-token": "r", "region": "us-east-1", "regoin": "x"}, "did you mean 'region'"),
        ({"token-file": "/x.json", "access-token": "a"}, "not both"),
    ],
)
def test_config_mistakes_are_located_and_explained(kiro_app, entry, message):
    with pytest.raises(ConfigError, match=message):
        kiro_app([entry])


def test_entry_proxy_carries_calls_and_refreshes(kiro_app, kiro_entry, refresh_reply):
    """A FakeUpstream plays an HTTP proxy: it receives what was meant for other hosts."""
    with FakeUpstream() as proxy:
        proxy.add("POST", "/refreshToken", refresh_reply(access="at-proxied"))
        proxy.add("POST", GENERATE, kt.reply(kt.text("via proxy")))
        entry = kiro_entry(
            **{
                "access-token": None,
                "proxy-url": proxy.url,
                "base-url": "http://kiro.invalid:9",
                "auth-url": "http://auth.invalid:9",
            }
        )
        with serve_app(kiro_app([entry])) as url:
            assert ask(url) == "via proxy"
    assert proxy.requests_to("/refreshToken")[0].headers["host"] == "auth.invalid:9"
    sent = proxy.requests_to(GENERATE)[0]
    assert sent.headers["host"] == "kiro.invalid:9" and sent.headers["authorization"] == "Bearer at-proxied"


def test_expires_at_from_yaml_is_read_however_yaml_typed_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"auth-dir: {tmp_path / 'auth'}\n"
        "kiro:\n"
        "  - access-token: a\n    refresh-token: r\n    expires-at: 2031-05-01T10:00:00Z\n"
        "  - access-token: b\n    refresh-token: r2\n    expires-at: '2031-05-01T10:00:00Z'\n"
    )
    gateway = create_app(str(config), load_entrypoints=False, plugins=[cliproxy_kiro]).state.gateway
    want = datetime(2031, 5, 1, 10, tzinfo=UTC).timestamp()
    assert [gateway.tokens.tokens(c).expires_at for c in gateway.credentials] == [want, want]
    config.write_text("kiro:\n  - access-token: a\n    expires-at: next tuesday\n")
    with pytest.raises(ConfigError, match="ISO 8601"):
        create_app(str(config), load_entrypoints=False, plugins=[cliproxy_kiro])
