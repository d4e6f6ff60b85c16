"""The provider contract: the tests every provider plugin passes, run by subclassing.

::

    import pytest
    from cliproxy.testing import ProviderContract, wire_answer

    import cliproxy_hello


    class TestHello(ProviderContract):
        plugins = [cliproxy_hello]
        model = "hello-1"

        @pytest.fixture
        def upstream(self, fake_upstream):
            fake_upstream.add("POST", "/v1/chat/completions", wire_answer("openai-chat"))
            return fake_upstream

        @pytest.fixture
        def config(self, upstream):
            return {"hello": [{"api-key": "sk-hello-test-key", "base-url": upstream.url + "/v1"}]}

The gateway is built in-process for every test from ``config`` with only ``plugins``
loaded, and is reached as clients reach it (the four doors, ``/v1/models``, ``/v0``) and
through the :class:`~cliproxy.Host` its plugins are handed. What each check proves is in
:attr:`ProviderContract.checks`; docs/plugins.md ("Testing your plugin") explains it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from ruamel.yaml import YAML

from cliproxy.app import create_app
from cliproxy.config import ConfigError
from cliproxy.config.model import CORE_KEYS
from cliproxy.host import Host
from cliproxy.redaction import config_secrets, secret_forms
from cliproxy.state.base import WHOLE, Cooldown
from cliproxy.testing.apps import gateway_app, host_of
from cliproxy.testing.checks import Contract, check
from cliproxy.testing.client_doors import DOORS, Answer, ClientDoor, read_answer
from cliproxy.testing.server import asgi_client
from cliproxy.testing.upstream import FakeUpstream, Reply

__all__ = ["CLIENT_KEY", "PROMPT", "ProviderContract"]

CLIENT_KEY = "contract-client-key-5f1c2a"
"""The client key the contract's gateway accepts (it replaces the config's ``api-keys``)."""

PROMPT = "Say hello."
"""What every contract request asks."""

_TYPO = "x-contract-typo"
_MODELS_POLLS = 100
_MODELS_POLL_INTERVAL = 0.05
_RETRY_AFTER = 7
_CHAT, _RESPONSES, _MESSAGES, _GEMINI = DOORS
_STATUS_CHECKS = {401: "unauthorized", 429: "rate_limit", 500: "server_error", 400: "bad_request"}


class ProviderContract(Contract):
    """The provider contract. Subclass it in a test module (named ``Test...``) and fill in:

    Attributes:
        plugins: The plugin modules (or hook objects) to load, as ``gateway_app`` takes
            them; nothing else is loaded (installed entry points are not).
        model: A model id the ``config`` serves, as a client names it.
        opt_out: ``{check name: reason}`` for checks that cannot apply to this provider
            (see :attr:`checks`); opted-out checks are listed with their reason in the
            test run's summary. Empty by default: every check runs.

    Fixtures a subclass provides:
        ``config``: the config as a mapping (as YAML would give), with the plugin's
            block(s) pointing at the fake upstream. The contract sets ``api-keys`` (to
            :data:`CLIENT_KEY`), ``request-retry: 0`` and an empty ``auth-dir`` unless
            the config names one.
        ``upstream``: the provider's fake upstream, scripted to answer the provider's
            requests for ``model`` -- whole or streamed, as the request asks
            (:func:`~cliproxy.testing.wire_answer` does that for the built-in wires). It
            must record what it receives in a ``requests`` list, as
            :class:`~cliproxy.testing.FakeUpstream` does. None (the default) means the
            provider has no upstream; then opt out of the checks that need one.

    Override :meth:`fail_upstream` when the fake is not a ``FakeUpstream`` or the
    upstream's errors have a shape of their own.
    """

    plugins: ClassVar[Sequence[object]] = ()
    model: ClassVar[str] = ""

    checks: ClassVar[Mapping[str, str]] = {
        "config": "credentials load from the config, and a stray key in an entry is a ConfigError naming file, "
        "line and key",
        "models": "GET /v1/models lists the model (within 5 s of start-up, for models discovered in the background)",
        "doors": "a request through each client door (OpenAI chat, OpenAI Responses, Anthropic messages, "
        "Gemini generateContent), whole and streamed, comes back well-formed in that door's format (decoded by "
        "the door's own translator: content, one finish, token usage, no error), under the model's name, "
        "with the same text at every door",
        "upstream": "each door's request reaches the fake upstream",
        "unauthorized": "an upstream 401 rests the credential",
        "rate_limit": "an upstream 429 rests the model on the credential, for as long as Retry-After says",
        "server_error": "an upstream 500 rests the model on the credential",
        "bad_request": "an upstream 400 rests nothing and reaches the client as a 400",
        "secrets": "the config's secrets (and tokens) never appear in logs, /v0/status or client answers, "
        "even when the upstream quotes them in its errors",
    }

    # -- what a subclass provides ------------------------------------------------------------

    @pytest.fixture
    def upstream(self) -> Any:
        """The provider's fake upstream (see the class docstring); None: it has none."""
        return None

    @pytest.fixture
    def config(self, upstream: Any) -> Mapping[str, Any]:
        """The config mapping (see the class docstring)."""
        pytest.fail(
            f"{type(self).__name__} must provide a 'config' fixture: the config mapping with the plugin's "
            "block(s) pointing at the fake upstream",
            pytrace=False,
        )

    def fail_upstream(self, upstream: Any, status: int, *, message: str, headers: Mapping[str, str]) -> None:
        """Make the fake upstream answer every request from now on with ``status``, the
        response ``headers`` (``Retry-After`` for a 429) and an error body whose text is
        ``message`` -- which quotes the credentials' secrets, as careless upstreams do, so
        the contract can see they never get further. Called more than once per test, each
        call replacing the last. The default answers with an OpenAI-style error body
        through :meth:`FakeUpstream.answer_all`; override it for another fake, or to use
        the upstream's own error shape."""
        if not isinstance(upstream, FakeUpstream):
            pytest.fail(
                f"{type(self).__name__}.fail_upstream: the upstream fixture gave {type(upstream).__name__}, not a "
                "FakeUpstream: override fail_upstream(upstream, status, *, message, headers) to make it answer "
                "with an error",
                pytrace=False,
            )
        upstream.answer_all(Reply.error(status, message, headers=headers))

    # -- config ------------------------------------------------------------------------------

    @check("config")
    @pytest.mark.asyncio
    async def test_credentials_load_from_the_config(self, config: Mapping[str, Any]) -> None:
        async with self._gateway(config) as (client, host):
            credentials = host.credentials()
            assert credentials, "the config loaded no credential"
            status = await client.get("/v0/status")
            assert status.status_code == 200, status.text
            listed = {c["id"] for c in status.json()["credentials"]}
            missing = [c.label for c in credentials if c.id not in listed]
            assert not missing, f"/v0/status does not list {missing}"

    @check("config")
    def test_a_stray_key_is_a_located_config_error(self, config: Mapping[str, Any], tmp_path: Path) -> None:
        data = self._full_config(config)
        entry, where = _plugin_entry(data)
        entry[_TYPO] = "a key no plugin reads"
        path = tmp_path / "config.yaml"
        with path.open("w") as out:
            YAML().dump(data, out)
        line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if f"{_TYPO}:" in text)
        try:
            create_app(path, plugins=self._plugins(), load_entrypoints=False)
        except ConfigError as raised:
            error = raised
        else:
            pytest.fail(
                f"a stray key in {where} ({_TYPO}) was accepted: read the entry through ConfigNode and call "
                "entry.done() once every key is read",
                pytrace=False,
            )
        assert (error.file, error.line) == (str(path), line), (
            f"the error for the stray key in {where} should point at {path}:{line}, not "
            f"{error.file}:{error.line} ({error}): read the entry through ConfigNode and call entry.done()"
        )
        assert error.key is not None and error.key.endswith(_TYPO), f"the error names key {error.key!r}: {error}"
        assert error.hint, f"the error suggests no fix: {error}"

    # -- models ------------------------------------------------------------------------------

    @check("models")
    @pytest.mark.asyncio
    async def test_models_lists_the_model(self, config: Mapping[str, Any]) -> None:
        ids: list[Any] = []
        async with self._gateway(config) as (client, _):
            for _ in range(_MODELS_POLLS):  # models a provider discovers in the background come a little later
                reply = await client.get("/v1/models", headers={"authorization": f"Bearer {CLIENT_KEY}"})
                assert reply.status_code == 200, reply.text
                ids = [m.get("id") for m in reply.json().get("data", [])]
                if self._model() in ids:
                    return
                await asyncio.sleep(_MODELS_POLL_INTERVAL)
        pytest.fail(
            f"GET /v1/models lists {ids}, not {self._model()!r} (waited {_MODELS_POLLS * _MODELS_POLL_INTERVAL:.0f} s)",
            pytrace=False,
        )

    # -- doors -------------------------------------------------------------------------------

    @check("doors")
    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
    async def test_every_door_answers(self, config: Mapping[str, Any], upstream: Any, stream: bool) -> None:
        count_upstream = self.opted_out("upstream") is None
        if count_upstream:
            self._need_upstream(upstream, "upstream")
        problems: list[str] = []
        answers: dict[str, Answer] = {}
        async with self._gateway(config) as (client, host):
            for door in DOORS:
                seen = len(upstream.requests) if count_upstream else 0
                reply = await self._ask(client, door, stream=stream)
                answer = read_answer(
                    host.translator(door.wire), reply.status_code, reply.headers, reply.content, stream=stream
                )
                if answer.problem is not None:
                    problems.append(f"{door.name}: {answer.problem}")
                elif answer.response is not None and answer.response.model != self._model():
                    problems.append(f"{door.name}: answered as model {answer.response.model!r}, not {self._model()!r}")
                else:
                    answers[door.name] = answer
                if count_upstream and len(upstream.requests) == seen:
                    problems.append(f"{door.name}: the request never reached the fake upstream")
        contents = {name: (a.text, a.tool_names) for name, a in answers.items()}
        if len(set(contents.values())) > 1:
            problems.append(f"the doors disagree on the answer: {contents}")
        assert not problems, "\n".join(problems)

    # -- the cooldown table ------------------------------------------------------------------

    @check("unauthorized")
    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
    async def test_upstream_401_rests_the_credential(
        self, config: Mapping[str, Any], upstream: Any, stream: bool
    ) -> None:
        rests, reply = await self._fail_once(config, upstream, 401, stream=stream)
        assert reply.status_code >= 400, f"the client got {reply.status_code} for an upstream 401"
        assert rests, "an upstream 401 rested nothing: it should rest the whole credential"
        wrong = {cred: list(models) for cred, models in rests.items() if set(models) != {WHOLE}}
        assert not wrong, f"an upstream 401 should rest whole credentials, not models: {wrong}"

    @check("rate_limit")
    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
    async def test_upstream_429_rests_the_model_as_long_as_retry_after_says(
        self, config: Mapping[str, Any], upstream: Any, stream: bool
    ) -> None:
        async with self._gateway(config) as (client, host):
            start = host.clock()
            reply = await self._fail(client, host, upstream, 429, _CHAT, retry_after=_RETRY_AFTER, stream=stream)
            end = host.clock()
            rests = await host.state.cooldowns()
        assert reply.status_code >= 400, f"the client got {reply.status_code} for an upstream 429"
        rested = _model_rests(rests)
        assert rested, f"an upstream 429 should rest the model on the credential; rests: {_show(rests)}"
        for cooldown in rested:
            assert start + _RETRY_AFTER - 1 <= cooldown.until <= end + _RETRY_AFTER + 1, (
                f"the upstream said Retry-After: {_RETRY_AFTER}, but the model rests for "
                f"{cooldown.until - end:.1f} s: map the header onto GatewayError.retry_after"
            )

    @check("server_error")
    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
    async def test_upstream_500_rests_the_model(self, config: Mapping[str, Any], upstream: Any, stream: bool) -> None:
        rests, reply = await self._fail_once(config, upstream, 500, stream=stream)
        assert reply.status_code >= 400, f"the client got {reply.status_code} for an upstream 500"
        assert _model_rests(rests), f"an upstream 500 should rest the model on the credential; rests: {_show(rests)}"

    @check("bad_request")
    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
    async def test_upstream_400_rests_nothing(self, config: Mapping[str, Any], upstream: Any, stream: bool) -> None:
        rests, reply = await self._fail_once(config, upstream, 400, stream=stream)
        assert not rests, f"an upstream 400 is the request's fault and should rest nothing; rests: {_show(rests)}"
        assert reply.status_code == 400, f"the client got {reply.status_code} for an upstream 400: {reply.text}"

    # -- secrets -----------------------------------------------------------------------------

    @check("secrets")
    @pytest.mark.asyncio
    async def test_secrets_never_leak(
        self, config: Mapping[str, Any], upstream: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        answers: list[tuple[str, bytes]] = []
        async with self._gateway(config) as (client, host):
            secrets = self._secrets(host)
            assert secrets, (
                "the config holds no secret to watch for (values of keys named like api-key, token, secret, "
                "password): if the provider has none, opt out of 'secrets' with that reason"
            )
            for door in DOORS:
                reply = await self._ask(client, door, stream=door is _CHAT)
                answers.append((f"{door.name} answer", reply.content))
            if upstream is not None:
                for status, door in ((400, _CHAT), (500, _RESPONSES), (429, _GEMINI), (401, _MESSAGES)):
                    reply = await self._fail(
                        client, host, upstream, status, door, stream=door in (_RESPONSES, _MESSAGES)
                    )
                    answers.append((f"{door.name} answer to an upstream {status}", reply.content))
                    await client.post("/v0/status/reset", json={"credential": "all"})
            document = await client.get("/v0/status")
            answers.append(("/v0/status", document.content))
            secrets |= self._secrets(host)
        leaks = [
            f"{where} shows {form!r}"
            for where, text in [*answers, *(("the log", r.encode()) for r in _log_texts(caplog))]
            for secret in secrets
            for form in secret_forms(secret)
            if form.encode() in text
        ]
        assert not leaks, "secrets leaked: " + "; ".join(sorted(set(leaks)))

    # -- machinery ---------------------------------------------------------------------------

    def _plugins(self) -> list[object]:
        plugins = list(self.plugins)
        if not plugins:
            pytest.fail(f"{type(self).__name__}.plugins must list the plugin module(s) to load", pytrace=False)
        return plugins

    def _model(self) -> str:
        if not self.model:
            pytest.fail(f"{type(self).__name__}.model must name a model the config serves", pytrace=False)
        return self.model

    def _full_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(config, Mapping):
            pytest.fail(f"the config fixture gave {type(config).__name__}, not a mapping", pytrace=False)
        full = _plain(config)
        full["api-keys"] = [CLIENT_KEY]
        full["request-retry"] = 0
        full.setdefault("auth-dir", "/nonexistent/cliproxy-contract-auth")
        return full

    @contextlib.asynccontextmanager
    async def _gateway(self, config: Mapping[str, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Host]]:
        app = gateway_app(self._full_config(config), plugins=self._plugins())
        async with asgi_client(app) as client:
            yield client, host_of(app)

    def _need_upstream(self, upstream: Any, check_name: str) -> None:
        if upstream is None:
            pytest.fail(
                f"{type(self).__name__} has no 'upstream' fixture (or it gave None): provide the fake upstream, "
                f"or opt out of {check_name!r} with the reason",
                pytrace=False,
            )
        if not isinstance(getattr(upstream, "requests", None), list):
            pytest.fail(
                f"the upstream fixture gave {type(upstream).__name__}, which records no 'requests' list: record "
                "what the fake receives there (FakeUpstream does)",
                pytrace=False,
            )

    async def _ask(self, client: httpx.AsyncClient, door: ClientDoor, *, stream: bool) -> httpx.Response:
        path, body, headers = door.request(self._model(), PROMPT, stream=stream, key=CLIENT_KEY)
        return await client.post(path, json=body, headers=headers)

    async def _fail(
        self,
        client: httpx.AsyncClient,
        host: Host,
        upstream: Any,
        status: int,
        door: ClientDoor,
        *,
        retry_after: int | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Make the upstream fail with ``status``, and ask through ``door``."""
        self._need_upstream(upstream, _STATUS_CHECKS.get(status, "secrets"))
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        message = f"request refused ({status}) for credentials {' '.join(sorted(self._secrets(host)))}"
        self.fail_upstream(upstream, status, message=message, headers=headers)
        reply = await self._ask(client, door, stream=stream)
        if reply.status_code >= 400:
            try:
                parsed = orjson.loads(reply.content)
            except orjson.JSONDecodeError:
                parsed = None
            assert isinstance(parsed, dict) and "error" in parsed, (
                f"the {door.name} door answered an upstream {status} with {reply.status_code} and a body that is no "
                f"error in its format: {reply.content[:300]!r}"
            )
        return reply

    async def _fail_once(
        self, config: Mapping[str, Any], upstream: Any, status: int, *, stream: bool
    ) -> tuple[Mapping[str, Mapping[str, Cooldown]], httpx.Response]:
        async with self._gateway(config) as (client, host):
            before = await host.state.cooldowns()
            assert not before, f"something rested before the upstream failed: {_show(before)}"
            reply = await self._fail(client, host, upstream, status, _CHAT, stream=stream)
            return await host.state.cooldowns(), reply

    def _secrets(self, host: Host) -> set[str]:
        return config_secrets(host.config.root) | set(host.tokens.secrets())


def _plain(value: Any) -> Any:
    """``value`` with mappings and sequences made plain dicts and lists (a YAML dump's input)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _plugin_entry(config: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The first entry of a block the plugin owns (a key no core setting uses), and its name."""
    for key, block in config.items():
        if key in CORE_KEYS:
            continue
        if isinstance(block, dict):
            return block, key
        if isinstance(block, list) and block and isinstance(block[0], dict):
            return block[0], f"{key}[0]"
    pytest.fail(
        "the config has no block of the plugin's own with an entry to put a stray key in: the contract needs one "
        "(or opt out of 'config' with the reason)",
        pytrace=False,
    )


def _model_rests(rests: Mapping[str, Mapping[str, Cooldown]]) -> list[Cooldown]:
    """The model-level rests, when no credential rests whole (else none)."""
    if any(WHOLE in models for models in rests.values()):
        return []
    return [cooldown for models in rests.values() for cooldown in models.values()]


def _show(rests: Mapping[str, Mapping[str, Cooldown]]) -> str:
    shown = {
        cred: {("whole credential" if m == WHOLE else m): f"{c.status}: {c.reason}" for m, c in models.items()}
        for cred, models in rests.items()
    }
    return str(shown) if shown else "none"


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_text:
            texts.append(record.exc_text)
    return texts
