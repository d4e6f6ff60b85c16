"""The running gateway: config, plugins, translators, providers, credentials, routing, state.

:meth:`Gateway.build` does all start-up work that can fail on bad config -- loading
plugins' translators and providers, parsing provider blocks, reading token files, building
the routing table -- so ``cliproxy check`` and ``create_app`` report problems before any
request is served. :meth:`Gateway.start` opens what needs an event loop (the HTTP session,
the state store, provider start-up, the token refresher).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs

from cliproxy.affinity import Affinity
from cliproxy.config import CORE_KEYS, Config, ConfigError, suggest
from cliproxy.credentials import Credential, ModelEntry, dedupe
from cliproxy.drain import Drain
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.pipeline import CountRefusals
from cliproxy.plugins import PluginError, Plugins, await_me_maybe
from cliproxy.providers import ClientIdentity, InboundRequest, Provider
from cliproxy.proxies import ProxySessions, resolve_proxy
from cliproxy.redaction import Redactor, config_secrets, header_secrets, url_secrets
from cliproxy.registry import Translators
from cliproxy.reload import ReloadResult, ReloadStatus, watch_files
from cliproxy.response_store import ResponseStore
from cliproxy.routing import Router
from cliproxy.selection import Selector
from cliproxy.state import StateStore, create_store
from cliproxy.tokens import AuthType, TokenManager, load_auth_dir
from cliproxy.upstream import create_session

if TYPE_CHECKING:
    from cliproxy.metrics import Metrics

__all__ = ["KNOWN_PLUGIN_BLOCKS", "Gateway"]

log = logging.getLogger("cliproxy")

KNOWN_PLUGIN_BLOCKS = {
    "openai-compatibility": "cliproxy-openai",
    "openai-api-key": "cliproxy-openai",
    "mistral": "cliproxy-openai",
    "groq": "cliproxy-openai",
    "deepseek": "cliproxy-openai",
    "together": "cliproxy-openai",
    "fireworks": "cliproxy-openai",
    "novita": "cliproxy-openai",
    "siliconflow": "cliproxy-openai",
    "claude-api-key": "cliproxy-claude",
    "claude-oauth": "cliproxy-claude",
    "gemini-api-key": "cliproxy-gemini",
    "openrouter": "cliproxy-openrouter",
    "mlx": "cliproxy-mlx",
    "kiro": "cliproxy-kiro",
    "echo": "cliproxy-echo",
}
"""Config blocks of known plugin packages, to name the package when it is missing."""


@attrs.define(eq=False)
class Gateway:
    """Everything one gateway instance runs on. Built once; shared by all requests."""

    config: Config
    plugins: Plugins
    translators: Translators = attrs.Factory(Translators)
    providers: dict[str, Provider] = attrs.Factory(dict)
    auth_types: dict[str, AuthType] = attrs.Factory(dict)
    credentials: list[Credential] = attrs.Factory(list)
    state: StateStore = attrs.field(default=None)
    tokens: TokenManager = attrs.field(default=None)
    router: Router = attrs.field(default=None)
    selector: Selector = attrs.field(default=None)
    http: aiohttp.ClientSession = attrs.field(default=None)
    responses: ResponseStore | None = None  # kept Responses answers (responses-store)
    metrics: Metrics | None = None  # Prometheus metrics (metrics.enabled)
    reload_status: ReloadStatus = attrs.field(default=None)  # when the config was loaded
    count_refusals: CountRefusals = attrs.Factory(CountRefusals)  # upstreams that cannot count a model
    drain: Drain = attrs.Factory(Drain)  # requests in flight, ended at the shutdown deadline
    _sessions: ProxySessions | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _authenticators: list[Callable[..., Any]] = attrs.Factory(list)
    _preparers: list[Callable[..., Any]] = attrs.Factory(list)
    _tasks: list[asyncio.Task[Any]] = attrs.Factory(list)
    _configured: tuple[Config, list[Credential], Redactor] | None = None  # secrets of config + credentials

    # -- start-up --------------------------------------------------------------------------

    @classmethod
    def build(cls, config: Config, plugins: Plugins, *, state: StateStore | None = None) -> Gateway:
        """Assemble a gateway; raises :class:`ConfigError` for a config it cannot serve."""
        gateway = cls(config=config, plugins=plugins)
        gateway.reload_status = ReloadStatus(file=config.file, loaded_at=gateway.clock())
        gateway.state = state if state is not None else create_store(config.state, file=config.file)
        gateway.tokens = TokenManager(gateway.state, gateway.clock)
        gateway.tokens.redact = gateway.redact
        gateway.tokens.default_proxy = config.proxy_url
        if config.responses_store.enabled:
            gateway.responses = ResponseStore.from_config(gateway.state, config.responses_store)
        if config.metrics.enabled:
            from cliproxy.metrics import create_metrics

            gateway.metrics = create_metrics(config)
        gateway._register_translators()
        gateway._register_providers()
        gateway._register_auth_types()
        gateway._check_blocks()
        gateway._load_credentials()
        routing = config.routing
        affinity = None
        if routing.session_affinity:
            affinity = Affinity(gateway.state, routing.session_ttl)
        gateway.selector = Selector(gateway.state, routing.strategy, gateway.clock, affinity)
        gateway.refresh_routes()
        gateway._authenticators = plugins.implementations("authenticate_client")
        gateway._preparers = plugins.implementations("prepare_upstream_request")
        return gateway

    def _isolated(self, plugin: str, what: str, exc: Exception) -> None:
        message = f"plugin {plugin!r}: {what}: {exc}"
        if self.plugins.strict:
            raise PluginError(message) from exc
        log.error("%s (skipped)", message)

    def _register_translators(self) -> None:
        for plugin, translator in self.plugins.translators():
            try:
                self.translators.add(translator, plugin)
            except (TypeError, ValueError) as exc:
                self._isolated(plugin, "bad translator", exc)

    def _register_providers(self) -> None:
        owners: dict[str, str] = {}
        for plugin, provider in self.plugins.providers():
            problem = None
            if not isinstance(provider, Provider):
                problem = f"{type(provider).__name__} is not a cliproxy.Provider"
            elif not provider.name:
                problem = f"{type(provider).__name__} has no name"
            elif provider.name in self.providers:
                problem = f"provider name {provider.name!r} is already taken"
            else:
                clash = [k for k in provider.config_keys if k in owners or k in CORE_KEYS]
                if clash:
                    taken = owners.get(clash[0], "the core")
                    problem = f"config block {clash[0]!r} is already owned by {taken}"
            if problem:
                self._isolated(plugin, "bad provider", ValueError(problem))
                continue
            self.providers[provider.name] = provider
            for key in provider.config_keys:
                owners[key] = provider.name

    def _register_auth_types(self) -> None:
        for plugin, auth_type in self.plugins.auth_types():
            kind = getattr(auth_type, "type", None)
            if not isinstance(kind, str) or not isinstance(auth_type, AuthType):
                self._isolated(plugin, "bad auth type", TypeError(f"{auth_type!r} is not a cliproxy.AuthType"))
                continue
            if kind in self.auth_types:
                self._isolated(plugin, "bad auth type", ValueError(f"token file type {kind!r} is already handled"))
                continue
            self.auth_types[kind] = auth_type

    def owned_keys(self) -> dict[str, Provider]:
        return {key: p for p in self.providers.values() for key in p.config_keys}

    def _check_blocks(self) -> None:
        owned = self.owned_keys()
        root = self.config.root
        for key in self.config.plugin_keys:
            if key in owned:
                continue
            package = KNOWN_PLUGIN_BLOCKS.get(key)
            if package is not None:
                raise root.error(
                    key,
                    f"'{key}' is configured, but no installed plugin provides it",
                    hint=f"install it with 'pip install {package}', or remove the block",
                )
            close = suggest(key, [*CORE_KEYS, *owned, *KNOWN_PLUGIN_BLOCKS])
            raise root.error(
                key,
                f"unknown key '{key}'",
                hint=f"did you mean '{close}'?" if close else "see examples/config.yaml for the valid keys",
            )

    def _load_credentials(self) -> None:
        creds: list[Credential] = []
        for key, provider in self.owned_keys().items():
            if key not in self.config.plugin_keys:
                continue
            try:
                loaded = list(provider.load_config(key, self.config.root, self))
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(
                    message=f"provider {provider.name!r} could not read '{key}': {type(exc).__name__}: {exc}",
                    file=self.config.file,
                    key=key,
                ) from exc
            for cred in loaded:
                if cred.provider not in self.providers:
                    raise ConfigError(
                        message=f"provider {provider.name!r} made a credential for unknown provider {cred.provider!r}",
                        file=self.config.file,
                        key=key,
                    )
            creds.extend(loaded)
        auth_dir = Path(self.config.auth_dir).expanduser()
        if self.auth_types:
            for cred in load_auth_dir(auth_dir, self.auth_types, self):
                if cred.provider in self.providers:
                    creds.append(cred)
                else:
                    log.warning("token file %s needs provider %r, which is not installed", cred.source, cred.provider)
        self.credentials = dedupe(creds)

    def refresh_routes(self) -> None:
        """Rebuild the routing table (after credentials or their model lists change)."""

        def defaults(cred: Credential) -> Any:
            return self.providers[cred.provider].default_models(cred)

        logged = set(self.router.ambiguities) if self.router is not None else set()
        self.router = Router(
            self.credentials, force_model_prefix=self.config.force_model_prefix, default_models=defaults
        )
        self.router.log_ambiguities(skip=logged)  # each once: at start-up, or when discovery adds one

    # -- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session and start providers, discovery and token refresh."""
        self.http = create_session(self.config.upstream_timeouts)
        self._sessions = ProxySessions(self.http, self.http.timeout)
        self.tokens.session_for = self.session_for
        if not self.config.api_keys:
            log.warning("no api-keys configured: the gateway accepts requests from anyone who can reach it")
        for provider in self.providers.values():
            try:
                await provider.start(self)
            except Exception:
                log.exception("provider %s failed to start; its credentials stay unavailable", provider.name)
        self._tasks.append(asyncio.create_task(self.discover_models(), name="cliproxy-discovery"))
        if any(True for _ in self.auth_types):
            self._tasks.append(asyncio.create_task(self.tokens.run_refresh_loop(), name="cliproxy-refresh"))
        self._tasks.append(asyncio.create_task(watch_files(self), name="cliproxy-watch"))
        log.info(
            "serving %d models from %d credentials (%s)",
            len(self.router.models()),
            len(self.credentials),
            ", ".join(sorted({c.provider for c in self.credentials})) or "no providers",
        )

    async def discover_models(self, credentials: Iterable[Credential] | None = None) -> None:
        """Ask providers for their model lists, all credentials (or ``credentials``) at
        once; rebuild the routes if any list changed. Never raises."""
        pool = self.credentials if credentials is None else credentials
        pending = [cred for cred in pool if not cred.models]  # else the config says
        found = await asyncio.gather(*(self._discover(cred) for cred in pending))
        changed = False
        for cred, names in zip(pending, found, strict=True):
            if names is None:
                continue
            entries = tuple(ModelEntry(name) for name in names)
            if entries != cred.discovered:
                cred.discovered = entries
                changed = True
        if changed:
            self.refresh_routes()

    async def _discover(self, cred: Credential) -> Sequence[str] | None:
        try:
            return await self.providers[cred.provider].discover_models(cred, self)
        except Exception as exc:
            log.warning("could not list %s models for %s: %s", cred.provider, cred.label, self.redact(str(exc)))
            return None

    async def reload(
        self, config: Config | str | Path | Mapping[str, Any] | None = None, *, force: bool = False
    ) -> ReloadResult:
        """Apply the config file again (or ``config``) while serving: see
        :mod:`cliproxy.reload`. Raises :class:`ConfigError` for an invalid config, which
        leaves the running one as it was -- also for one that would remove every
        credential or empty ``api-keys``, unless ``force`` is set."""
        from cliproxy.reload import reload_gateway

        return await reload_gateway(self, config, force=force)

    async def stop(self) -> None:
        self.drain.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for provider in self.providers.values():
            try:
                await provider.stop()
            except Exception:
                log.exception("provider %s failed to stop cleanly", provider.name)
        if self._sessions is not None:
            await self._sessions.close()
        await self.state.close()

    def http_for(self, credential: Credential, proxy: str | None = None) -> tuple[aiohttp.ClientSession, str | None]:
        """The HTTP session and ``proxy=`` argument for a request on behalf of
        ``credential``: ``proxy`` if given, else the credential's ``proxy_url``, else the
        gateway's ``proxy-url`` (``direct`` at any level means no proxy)."""
        return self.session_for(resolve_proxy(proxy, credential.proxy_url, self.config.proxy_url))

    def session_for(self, proxy: str | None) -> tuple[aiohttp.ClientSession, str | None]:
        """The HTTP session for requests through ``proxy`` (None: direct), and the
        ``proxy=`` argument to give it."""
        if self._sessions is None:
            raise GatewayError(status=503, kind=ErrorKind.UNAVAILABLE, message="the gateway has not been started")
        return self._sessions.session_for(proxy)

    async def authenticate(self, request: InboundRequest) -> ClientIdentity:
        """Run the ``authenticate_client`` hooks; 401 in the caller's format if none accepts."""
        identity: ClientIdentity | None = None
        config = self.config
        for check in self._authenticators:
            result = check(request=request, config=config)
            if result is not None and not isinstance(result, ClientIdentity):
                result = await await_me_maybe(result)  # an async implementation
            if identity is None and result is not None:
                identity = result
        if identity is not None:
            return identity
        from cliproxy.auth import presented_key

        if presented_key(request.headers, request.query) is None:
            message = "missing API key: send it as 'Authorization: Bearer <key>' (or x-api-key / x-goog-api-key)"
        else:
            message = "invalid API key"
        raise GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message=message, code="invalid_api_key")

    # -- secrets ---------------------------------------------------------------------------

    def redactor(self, *extra: str | None, known: Redactor | None = None) -> Redactor:
        """A :class:`~cliproxy.redaction.Redactor` for every secret the gateway holds --
        client ``api-keys``, the management secret, credentials' keys and the config's
        other secrets, OAuth tokens as they are now -- and ``extra`` (and what ``known``
        redacts). Built on demand (on error paths); the config's part is kept until the
        config or the credentials change."""
        configured = self._configured
        if configured is None or configured[0] is not self.config or configured[1] is not self.credentials:
            configured = (self.config, self.credentials, Redactor.of(self._configured_secrets()))
            self._configured = configured
        redactor = Redactor.of([*self.tokens.secrets(), *extra], known=configured[2])
        return redactor if known is None else redactor | known

    def redact(self, text: str, *extra: str | None) -> str:
        """``text`` without any secret the gateway holds (nor ``extra``): for error text
        that came from an upstream, before it is logged or shown."""
        return self.redactor(*extra).text(text)

    def _configured_secrets(self) -> set[str]:
        config = self.config
        found = config_secrets(config.root)
        found.update(config.api_keys)
        if config.remote_management.secret_key:
            found.add(config.remote_management.secret_key)
        for cred in self.credentials:
            settings = cred.settings
            key = getattr(settings, "api_key", None)
            if isinstance(key, str):
                found.add(key)
            headers = getattr(settings, "headers", None)
            if isinstance(headers, Mapping):
                found.update(header_secrets(headers))
            if cred.proxy_url:
                found.update(url_secrets(cred.proxy_url))
        return found

    async def prepare_upstream(self, call: Any, url: str, headers: dict[str, str]) -> None:
        for prepare in self._preparers:
            await await_me_maybe(prepare(call=call, url=url, headers=headers))

    @property
    def has_preparers(self) -> bool:
        return bool(self._preparers)
