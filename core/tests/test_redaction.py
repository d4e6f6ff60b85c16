"""The redactor: which secrets a config holds, the forms upstreams quote them in, cut text
that keeps no piece of a secret, and the helper plugins use for errors they build."""

from __future__ import annotations

import re
from urllib.parse import quote

from cliproxy import Call, Credential, DirectResponse, GatewayError, ModelEntry, Provider, hookimpl
from cliproxy.config import ConfigNode
from cliproxy.errors import ErrorKind
from cliproxy.redaction import REDACTED, Redactor, config_secrets, secret_forms
from cliproxy.testing import asgi_client, gateway_app

KEY = "sk-pro/j+Ab=Cd 1234567890"


def test_a_secret_is_redacted_in_the_forms_upstreams_quote_it_in():
    redactor = Redactor.of([KEY])
    lower_escapes = re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(KEY, safe=""))
    quoted = [KEY, quote(KEY, safe=""), lower_escapes, quote(KEY), KEY.replace("/", "\\/")]
    text = " | ".join(f"Bearer {form}" for form in quoted)
    assert redactor.text(text) == " | ".join(f"Bearer {REDACTED}" for _ in quoted)
    assert redactor.body(text.encode()) == redactor.text(text).encode()
    assert "sk-pro%2Fj%2BAb%3DCd+1234567890" in secret_forms(KEY)  # form encoding


def test_a_secret_containing_another_goes_whole():
    redactor = Redactor.of(["abcd", "xxabcdxx"])
    assert redactor.text("key xxabcdxx and abcd") == f"key {REDACTED} and {REDACTED}"


def test_short_values_and_none_are_not_secrets():
    redactor = Redactor.of([None, "", "abc"])
    assert not redactor and redactor.text("abc abc") == "abc abc"


def test_cut_text_keeps_no_piece_of_a_secret():
    redactor = Redactor.of([KEY])
    text = "x" * 95 + KEY + " tail"
    assert redactor.text(text, limit=100) == "x" * 95 + REDACTED[:5] + "... (cut)"
    assert redactor.body(b"refused: " + KEY.encode()[:12], truncated=True) == b"refused: " + REDACTED.encode()
    assert redactor.body(b"refused: sk-", truncated=True) == b"refused: sk-"  # three characters say nothing


def test_only_the_head_of_a_body_is_searched_when_asked():
    redactor = Redactor.of([KEY])
    body = b"a" * 10 + KEY.encode() + b"b" * 100
    assert redactor.body(body, head=16) == b"a" * 10 + REDACTED.encode() + b"b" * 100


def test_errors_are_redacted_in_every_text_field_and_cut():
    error = GatewayError(
        status=401, kind=ErrorKind.AUTHENTICATION, message=f"bad key {KEY}" + "!" * 9000, code=KEY, param=KEY
    )
    Redactor.of([KEY]).error(error, limit=50)
    assert error.message == f"bad key {REDACTED}" + "!" * 32 + "... (cut)"
    assert (error.code, error.param) == (REDACTED, REDACTED)


def test_the_secrets_of_a_config(monkeypatch):
    monkeypatch.setenv("ROUTER_KEY", "sk-or-from-the-environment")
    config = {
        "api-keys": ["client-one", "client-two"],
        "remote-management": {"secret-key": "management-secret"},
        "proxy-url": "socks5://user:proxy-password@proxy:1080",
        "state": {"backend": "redis", "url": "redis://:redis-password@cache:6379/0", "key-prefix": "cliproxy:"},
        "openai-compatibility": [
            {
                "name": "router",
                "base-url": "https://router.example/v1?api_key=query-secret",
                "api-key-entries": [{"api-key": "${ROUTER_KEY}"}],
                "headers": {"Authorization": "Bearer header-token", "X-Title": "my app"},
                "models": [{"name": "gpt-4.1", "alias": "quick"}],
            }
        ],
        "claude-oauth": {"client-id": "public-client-id", "client-secret": "oauth-client-secret"},
    }
    found = config_secrets(ConfigNode(config, "config.yaml"))
    assert found == {
        "client-one",
        "client-two",
        "management-secret",
        "proxy-password",
        "redis-password",
        "query-secret",
        "sk-or-from-the-environment",
        "header-token",
        "oauth-client-secret",
    }


# -- the helper for plugins ----------------------------------------------------------------


class QuotingProvider(Provider):
    """Builds its own error from an upstream's text, as a plugin with its own transport would."""

    name = "quoting"
    config_keys = ("quoting",)
    wire = "ir"

    def load_config(self, key, node, host):
        out = []
        for i, entry in enumerate(node.nodes(key)):
            entry.str("token", required=True)  # a secret of the config: redacted by name
            entry.done()
            out.append(Credential(f"quoting:{i}", self.name, f"quoting #{i}", models=(ModelEntry("q-1"),)))
        return out

    async def send(self, call: Call) -> DirectResponse:
        upstream_text = "token plugin-token-42abc is not allowed; nor is client-key-123"
        raise GatewayError(status=403, kind=ErrorKind.PERMISSION, message=call.redact(upstream_text, "extra-value"))


class QuotingPlugin:
    @hookimpl
    def register_providers(self, register):
        register(QuotingProvider())


async def test_plugins_redact_their_own_error_text_with_call_redact():
    config = {"api-keys": ["client-key-123"], "quoting": [{"token": "plugin-token-42abc"}]}
    app = gateway_app(config, plugins=[QuotingPlugin()])
    async with asgi_client(app) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "q-1", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer client-key-123"},
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == f"token {REDACTED} is not allowed; nor is {REDACTED}"
