"""The plugin system: loading, isolation of broken plugins, and one test per hook."""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import cliproxy_echo
import cliproxy_openai
import pytest
from cliproxy import (
    ClientIdentity,
    DirectResponse,
    Door,
    GatewayError,
    ModelEntry,
    Provider,
    hookimpl,
    ir,
)
from cliproxy import hookspecs as specs
from cliproxy.cli import main
from cliproxy.plugins import PluginError, Plugins
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"
HOOKS = [name for name, fn in inspect.getmembers(specs, inspect.isfunction) if hasattr(fn, "cliproxy_spec")]


# -- loading ------------------------------------------------------------------------------


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A directory on sys.path for throwaway plugin modules, and a way to publish them as
    entry points in the ``cliproxy`` group."""
    monkeypatch.syspath_prepend(str(tmp_path))
    published: list[EntryPoint] = []

    def add(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        published.append(EntryPoint(name=name, value=name, group="cliproxy"))

    real = __import__("cliproxy.plugins", fromlist=["entry_points"]).entry_points

    def fake_entry_points(group: str) -> list[EntryPoint]:
        return [*real(group=group), *published] if group == "cliproxy" else real(group=group)

    monkeypatch.setattr("cliproxy.plugins.entry_points", fake_entry_points)
    return add


GOOD = """
from cliproxy import hookimpl, Command

@hookimpl
def register_commands(register):
    register(Command("hello-plugin", "say hello", lambda args: print("hello from a plugin") or 0))
"""


def test_broken_plugin_is_skipped_and_reported(plugin_dir, caplog):
    plugin_dir("broken_at_import", "raise RuntimeError('boom')\n")
    plugin_dir("good_plugin", GOOD)
    plugins = Plugins.load()
    assert plugins.infos["broken_at_import"].status == "failed"
    assert "boom" in plugins.infos["broken_at_import"].error
    assert plugins.infos["good_plugin"].status == "loaded"
    assert "plugin 'broken_at_import' skipped" in caplog.text


def test_strict_mode_makes_a_broken_plugin_fatal(plugin_dir):
    plugin_dir("broken_at_import", "raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match="broken_at_import"):
        Plugins.load(strict=True)


def test_a_hook_that_raises_skips_only_that_plugin(plugin_dir):
    plugin_dir(
        "raises_in_hook",
        """
        from cliproxy import hookimpl
        @hookimpl
        def register_providers(register):
            raise ValueError("bad config handling")
        """,
    )
    app = gateway_app({"echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo], entry_points=True)
    assert "echo" in app.state.gateway.providers
    assert app.state.gateway.plugins.infos["raises_in_hook"].status == "failed"


def test_allow_and_block_lists(plugin_dir, monkeypatch):
    plugin_dir("good_plugin", GOOD)
    monkeypatch.setenv("CLIPROXY_PLUGINS", "echo")
    infos = Plugins.load().infos
    assert infos["echo"].status == "loaded" and infos["good_plugin"].status == "skipped"
    assert infos["openai"].status == "skipped"
    monkeypatch.delenv("CLIPROXY_PLUGINS")
    monkeypatch.setenv("CLIPROXY_DISABLE_PLUGINS", "good_plugin")
    infos = Plugins.load().infos
    assert infos["good_plugin"].status == "blocked" and infos["echo"].status == "loaded"
    monkeypatch.setenv("CLIPROXY_PLUGINS", "")
    infos = Plugins.load().infos
    assert all(i.status == "skipped" for i in infos.values() if not i.builtin)


def test_plugins_command_lists_versions_and_hooks(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"openai\s+cliproxy-openai\s+0\.1\.0\s+loaded\s+register_init_choices, register_providers", out)
    assert "cliproxy (built in)" in out and "authenticate_client" in out


def test_each_app_has_its_own_plugin_manager():
    first = gateway_app({}, plugins=[cliproxy_echo])
    second = gateway_app({})
    assert "echo" in first.state.gateway.providers
    assert "echo" not in second.state.gateway.providers


# -- documentation ------------------------------------------------------------------------


def test_every_hook_is_documented_with_its_signature():
    docs = DOCS.read_text()
    for name in HOOKS:
        params = ", ".join(inspect.signature(getattr(specs, name)).parameters)
        assert f"## {name}({params})" in docs, f"docs/plugins.md lacks a '## {name}({params})' section"


def test_every_hook_has_a_test():
    names = {n for n, _ in inspect.getmembers(__import__(__name__), inspect.isfunction)}
    missing = [h for h in HOOKS if f"test_hook_{h}" not in globals() and f"test_hook_{h}" not in names]
    assert not missing, f"hooks without a test_hook_<name>: {missing}"


# -- one test per hook --------------------------------------------------------------------


class ShoutFormat:
    """A tiny client wire format: {"model", "say"} -> {"shout"}."""

    name = "shout"
    doors = (Door("/shout"),)

    def decode_request(self, body, *, model=None, stream=None):
        if not isinstance(body.get("say"), str):
            raise GatewayError.invalid("'say' must be a string", param="say")
        return ir.Request(model=model or body["model"], messages=[ir.Message("user", [ir.TextPart(body["say"])])])

    def encode_response(self, response, ctx):
        return json.dumps({"shout": response.text.upper(), "model": ctx.model}).encode()

    def stream_encoder(self, ctx):
        raise GatewayError.invalid("shout does not stream")

    def encode_error(self, error):
        return json.dumps({"oops": error.message}).encode()


class ShoutPlugin:
    @hookimpl
    def register_translators(self, register):
        register(ShoutFormat())


async def test_hook_register_translators():
    app = gateway_app({"echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo, ShoutPlugin()])
    async with asgi_client(app) as client:
        ok = await client.post("/shout", json={"model": "echo-1", "say": "hello"})
        bad = await client.post("/shout", json={"model": "echo-1", "say": 3})
    assert ok.status_code == 200 and ok.json() == {"shout": "HELLO", "model": "echo-1"}
    assert bad.status_code == 400 and bad.json() == {"oops": "'say' must be a string"}


class FixedProvider(Provider):
    name = "fixed"
    config_keys = ("fixed",)
    wire = "ir"

    def load_config(self, key, node, host):
        from cliproxy import Credential

        out = []
        for i, entry in enumerate(node.nodes(key)):
            answer = entry.str("answer", required=True)
            entry.done()
            out.append(
                Credential(f"fixed:{i}", self.name, f"fixed #{i}", models=(ModelEntry("fixed-1"),), settings=answer)
            )
        return out

    async def send(self, call):
        return DirectResponse(
            response=ir.Response(id="f", model=call.model, parts=[ir.TextPart(call.credential.settings)])
        )


class FixedPlugin:
    @hookimpl
    def register_providers(self, register):
        register(FixedProvider())


async def test_hook_register_providers():
    app = gateway_app({"fixed": [{"answer": "forty-two"}]}, plugins=[FixedPlugin()])
    async with asgi_client(app) as client:
        models = (await client.get("/v1/models")).json()
        reply = await client.post(
            "/v1/chat/completions", json={"model": "fixed-1", "messages": [{"role": "user", "content": "?"}]}
        )
    assert [m["id"] for m in models["data"]] == ["fixed-1"]
    assert reply.json()["choices"][0]["message"]["content"] == "forty-two"


class HeaderAuth:
    @hookimpl
    async def authenticate_client(self, request, config):
        token = request.headers.get("x-team-token")
        if token == "revoked":
            raise GatewayError(status=403, kind="permission", message="this team token was revoked")
        return ClientIdentity("team-a") if token == "team-a-secret" else None


async def test_hook_authenticate_client():
    config = {"api-keys": ["k1"], "echo": [{"models": ["echo-1"]}]}
    app = gateway_app(config, plugins=[cliproxy_echo, HeaderAuth()])
    body = {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as client:
        by_key = await client.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer k1"})
        by_plugin = await client.post("/v1/chat/completions", json=body, headers={"x-team-token": "team-a-secret"})
        revoked = await client.post(
            "/v1/chat/completions", json=body, headers={"x-team-token": "revoked", "authorization": "Bearer k1"}
        )
        nobody = await client.post("/v1/chat/completions", json=body)
    assert by_key.status_code == 200 and by_plugin.status_code == 200
    assert revoked.status_code == 403 and revoked.json()["error"]["message"] == "this team token was revoked"
    assert nobody.status_code == 401


class TraceHeader:
    @hookimpl
    def prepare_upstream_request(self, call, url, headers):
        headers["x-trace"] = f"{call.credential.provider}:{call.model}"


async def test_hook_prepare_upstream_request(upstream: FakeUpstream):
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.json(
            {
                "id": "1",
                "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            }
        ),
    )
    config = {"openai-compatibility": [{"name": "u", "base-url": upstream.url + "/v1", "models": ["m"]}]}
    app = gateway_app(config, plugins=[cliproxy_openai, TraceHeader()])
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
        )
    assert reply.status_code == 200
    assert upstream.requests[0].headers["x-trace"] == "openai-compatibility:m"


class FileTokenType:
    """An OAuth token file type whose refresh endpoint is a fake upstream."""

    type = "test-oauth"
    provider = "fixed-oauth"
    refresh_lead = 60.0

    def __init__(self, token_url: str) -> None:
        self.token_url = token_url

    def load(self, path, data, host):
        from cliproxy import Credential, TokenSet

        cred = Credential(
            f"oauth:{data['email']}", self.provider, path.name, models=(ModelEntry("oauth-1"),), source=str(path)
        )
        return [(cred, TokenSet(data["access_token"], data["refresh_token"], data["expires_at"]))]

    def dump(self, tokens, previous):
        return {
            **previous,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
        }

    async def refresh(self, tokens, http, proxy):
        from cliproxy import TokenSet

        async with http.post(self.token_url, json={"refresh_token": tokens.refresh_token}) as response:
            data = await response.json()
            if response.status != 200:
                raise GatewayError(status=401, kind="authentication", message=data["error"])
        return TokenSet(data["access_token"], data["refresh_token"], data["expires_at"])


class TokenEchoProvider(Provider):
    name = "fixed-oauth"
    config_keys = ()
    wire = "ir"

    def load_config(self, key, node, host):
        return []

    async def send(self, call):
        token = await call.host.tokens.access_token(call.credential)
        return DirectResponse(response=ir.Response(id="t", model=call.model, parts=[ir.TextPart(token)]))


class OAuthPlugin:
    def __init__(self, token_url: str) -> None:
        self.token_url = token_url

    @hookimpl
    def register_auth_types(self, register):
        register(FileTokenType(self.token_url))

    @hookimpl
    def register_providers(self, register):
        register(TokenEchoProvider())


async def test_hook_register_auth_types(tmp_path, upstream: FakeUpstream):
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    mode_before = auth_dir.stat().st_mode & 0o777
    token_file = auth_dir / "me.json"
    token_file.write_text(
        json.dumps(
            {"type": "test-oauth", "email": "me@x", "access_token": "old", "refresh_token": "r1", "expires_at": 1}
        )
    )
    (auth_dir / "junk.json").write_text("{not json")
    (auth_dir / "other.json").write_text(json.dumps({"type": "unknown-kind"}))
    refreshed = {"access_token": "new", "refresh_token": "r2", "expires_at": 4_000_000_000}
    upstream.add("POST", "/token", [Reply.json(refreshed), Reply.json({"error": "refresh token reused"}, status=400)])
    app = gateway_app({"auth-dir": str(auth_dir)}, plugins=[OAuthPlugin(upstream.url + "/token")])
    body = {"model": "oauth-1", "messages": [{"role": "user", "content": "x"}]}
    async with asgi_client(app) as client:
        replies = [await client.post("/v1/chat/completions", json=body) for _ in range(3)]
    assert [r.json()["choices"][0]["message"]["content"] for r in replies] == ["new", "new", "new"]
    assert len(upstream.requests_to("/token")) == 1  # refreshed once, then the new token was fresh
    saved = json.loads(token_file.read_text())
    assert saved["access_token"] == "new" and saved["refresh_token"] == "r2" and saved["email"] == "me@x"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert auth_dir.stat().st_mode & 0o777 == mode_before  # an existing directory is left alone


async def test_failed_refresh_rests_the_credential_and_says_why(tmp_path, upstream: FakeUpstream):
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    (auth_dir / "me.json").write_text(
        json.dumps(
            {"type": "test-oauth", "email": "me@x", "access_token": "old", "refresh_token": "r1", "expires_at": 1}
        )
    )
    upstream.add("POST", "/token", Reply.json({"error": "invalid_grant"}, status=400))
    app = gateway_app({"auth-dir": str(auth_dir)}, plugins=[OAuthPlugin(upstream.url + "/token")])
    body = {"model": "oauth-1", "messages": [{"role": "user", "content": "x"}]}
    async with asgi_client(app) as client:
        first = await client.post("/v1/chat/completions", json=body)
        second = await client.post("/v1/chat/completions", json=body)
    assert first.status_code == 401 and "invalid_grant" in first.json()["error"]["message"]
    assert second.status_code == 429  # the credential is resting; no second refresh attempt
    assert len(upstream.requests_to("/token")) == 1
    cooldowns = await app.state.gateway.state.cooldowns()
    assert "could not be refreshed: invalid_grant" in next(iter(cooldowns.values()))["*"].reason


COMMAND_PLUGIN = """
from cliproxy import hookimpl, Command

def add(parser):
    parser.add_argument("--name", default="world")

async def run(args):
    print(f"hello {args.name}")
    return 3

@hookimpl
def register_commands(register):
    register(Command("greet", "greet someone", run, add))
    register(Command("serve", "tries to take a built-in name", run))
"""


def test_hook_register_commands(plugin_dir, capsys):
    plugin_dir("greeter", COMMAND_PLUGIN)
    assert main(["greet", "--name", "cliproxy"]) == 3
    assert "hello cliproxy" in capsys.readouterr().out


LOGIN_PLUGIN = """
from pathlib import Path
from cliproxy import hookimpl, LoginFlow, write_token_file

def add(parser):
    parser.add_argument("--account", required=True)

async def run(args, ctx):
    code = ctx.prompt("paste the code: ")
    path = Path(ctx.auth_dir) / f"demo-{args.account}.json"
    write_token_file(path, {"type": "demo", "account": args.account, "code": code, "no_browser": ctx.no_browser})
    return str(path)

@hookimpl
def register_login_flows(register):
    register(LoginFlow("demo", "log in to the demo provider", run, add))
"""


def test_hook_register_login_flows(plugin_dir, tmp_path, monkeypatch, capsys):
    plugin_dir("demo_login", LOGIN_PLUGIN)
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {tmp_path / 'auth'}\n")
    monkeypatch.setattr("builtins.input", lambda prompt: "the-code")
    assert main(["login", "demo", "--config", str(config), "--account", "me", "--no-browser"]) == 0
    saved = json.loads((tmp_path / "auth" / "demo-me.json").read_text())
    assert saved == {"type": "demo", "account": "me", "code": "the-code", "no_browser": True}
    assert "saved credentials to" in capsys.readouterr().out


INIT_PLUGIN = """
from cliproxy import hookimpl, InitChoice

@hookimpl
def register_init_choices(register):
    register(InitChoice("acme-key", "Acme with an API key", 'acme:\\n  - api-key: "${{{env}}}"\\n',
                        "acme-large", "acme-small", env="ACME_API_KEY"))
    register(InitChoice("echo", "takes a name another plugin has", "", "x"))
"""


def test_hook_register_init_choices(plugin_dir, tmp_path, monkeypatch, capsys, caplog):
    plugin_dir("acme_init", INIT_PLUGIN)
    monkeypatch.setenv("ACME_API_KEY", "sk-acme-test")
    config = tmp_path / "config.yaml"
    code = main(["init", "--config", str(config), "--provider", "acme-key", "--yes", "--no-login"])
    out = capsys.readouterr().out
    text = config.read_text()
    assert 'acme:\n  - api-key: "${ACME_API_KEY}"' in text  # the block, with the key's variable
    assert "sk-acme-test" not in text + out  # referenced, never written out
    assert "ANTHROPIC_MODEL=acme-large" in out and "ANTHROPIC_DEFAULT_HAIKU_MODEL=acme-small" in out
    assert code == 1  # (no plugin serves the made-up `acme` block: the check says so, and init says to fix it)
    assert "init choice 'echo' is already taken" in caplog.text  # the echo demo registered it first


def test_hook_names_are_stable():
    assert sorted(HOOKS) == [
        "authenticate_client",
        "prepare_upstream_request",
        "register_auth_types",
        "register_commands",
        "register_init_choices",
        "register_login_flows",
        "register_providers",
        "register_translators",
    ]


def test_implementations_may_take_fewer_arguments():
    class NoArgs:
        @hookimpl
        def authenticate_client(self):
            return ClientIdentity("always")

    from cliproxy.client import InboundRequest
    from cliproxy.config import load_config

    plugins = Plugins.load(entry_points=False, extra=[NoArgs()])
    impls = plugins.implementations("authenticate_client")
    request = InboundRequest("POST", "/", {}, {})
    results = [impl(request=request, config=load_config({"api-keys": ["k"]})) for impl in impls]
    assert ClientIdentity("always") in results
