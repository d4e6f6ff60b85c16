"""The running gateway: what lives for the process, and the snapshot a reload replaces.

Core's private state; plugins see it through :class:`~cliproxy.Host`. Two parts:

* for the process: the plugins and what they registered (:class:`~cliproxy.registry.Registry`),
  the HTTP sessions, the state store, the token manager, metrics, the Responses store, the
  requests in flight (:class:`~cliproxy.drain.Drain`);
* the :class:`~cliproxy.snapshot.Snapshot` -- config, credentials, routing table,
  selector -- which a reload builds beside the serving one and swaps in with one
  assignment (see :mod:`cliproxy.reload`).

:meth:`Gateway.build` does all start-up work that can fail on bad config, so
``cliproxy check`` and ``create_app`` report problems before any request is served;
:meth:`Gateway.start` opens what needs an event loop (the HTTP session, provider start-up,
model discovery, token refresh, quota reading).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs

from cliproxy.activity import Activity
from cliproxy.auth import presented_key
from cliproxy.client import ClientIdentity, InboundRequest
from cliproxy.config import Config
from cliproxy.credentials import Credential, ModelEntry
from cliproxy.deadlines import Deadlines
from cliproxy.drain import Drain
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.host import Host
from cliproxy.key_guard import KeyGuard
from cliproxy.metrics import Metrics, create_metrics
from cliproxy.plugins import Plugins, await_me_maybe
from cliproxy.providers import Provider
from cliproxy.proxies import ProxySessions, resolve_proxy
from cliproxy.quota import Quota
from cliproxy.redaction import Redactor, config_secrets, header_secrets, url_secrets
from cliproxy.refusals import CountRefusals
from cliproxy.registry import Registry, Translators
from cliproxy.reload_status import ReloadStatus
from cliproxy.request_log_files import RequestLog
from cliproxy.response_store import ResponseStore
from cliproxy.routing import ModelInfo, Router
from cliproxy.selection import Selector
from cliproxy.snapshot import KNOWN_PLUGIN_BLOCKS, Snapshot
from cliproxy.state import StateStore, create_store
from cliproxy.state.base import Cooldown
from cliproxy.tokens import TokenManager
from cliproxy.tracing import Tracing, create_tracing
from cliproxy.translate import UpstreamTranslator
from cliproxy.upstream import create_session
from cliproxy.usage_ledger import UsageLedger

__all__ = ["KNOWN_PLUGIN_BLOCKS", "Gateway"]

log = logging.getLogger("cliproxy")

QUOTA_INTERVAL = 300.0
"""Seconds between readings of the accounts' quotas (providers that implement ``quota``)."""


@attrs.define(eq=False)
class Gateway:
    """Everything one gateway instance runs on. Built once; shared by all requests."""

    registry: Registry
    snapshot: Snapshot
    state: StateStore
    tokens: TokenManager
    reload_status: ReloadStatus
    responses: ResponseStore | None = None  # kept Responses answers (responses-store)
    metrics: Metrics | None = None  # Prometheus metrics (metrics.enabled)
    tracing: Tracing | None = None  # OpenTelemetry spans (tracing.enabled)
    count_refusals: CountRefusals = attrs.Factory(CountRefusals)  # upstreams that cannot count a model
    drain: Drain = attrs.Factory(Drain)  # requests in flight, ended at the shutdown deadline
    deadlines: Deadlines = attrs.Factory(Deadlines)  # body reads' timeouts, one sweeper for all
    quotas: dict[str, Quota] = attrs.Factory(dict)  # credential id -> its account's quota, as last read
    ledger: UsageLedger = attrs.field(default=None)  # lasting usage per client, credential, model and day
    request_log: RequestLog = attrs.Factory(RequestLog)  # kept requests (request-log, failed requests)
    activity: Activity = attrs.Factory(Activity)  # the panel's recent requests and per-minute counts
    http: aiohttp.ClientSession | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    host: Host = attrs.field(default=None)
    key_guard: KeyGuard = attrs.field(default=None)  # management key checks, wrong-key lockout
    _sessions: ProxySessions | None = None
    _tasks: list[asyncio.Task[Any]] = attrs.Factory(list)
    _configured: tuple[Snapshot, Redactor] | None = None  # secrets of the config and credentials

    def __attrs_post_init__(self) -> None:
        if self.host is None:
            self.host = Host(self)
        if self.key_guard is None:
            self.key_guard = KeyGuard(lambda: self.clock())
        if self.ledger is None:
            self.ledger = UsageLedger(self.state, lambda: self.config, lambda: self.clock())

    # -- start-up --------------------------------------------------------------------------

    @classmethod
    def build(cls, config: Config, plugins: Plugins, *, state: StateStore | None = None) -> Gateway:
        """Assemble a gateway; raises :class:`ConfigError` for a config it cannot serve."""
        registry = Registry.collect(plugins)
        state = state if state is not None else create_store(config.state, file=config.file)
        tokens = TokenManager(state, time.time)
        tokens.default_proxy = config.proxy_url
        gateway = cls(
            registry=registry,
            snapshot=None,  # type: ignore[arg-type]  # loaded below, with the gateway's host
            state=state,
            tokens=tokens,
            reload_status=ReloadStatus(file=config.file, loaded_at=time.time()),
            responses=ResponseStore.from_config(state, config.responses_store)
            if config.responses_store.enabled
            else None,
            metrics=create_metrics(config) if config.metrics.enabled else None,
            tracing=create_tracing(config.tracing, config.file) if config.tracing.enabled else None,
        )
        tokens.redact = gateway.redact
        gateway.snapshot = Snapshot.load(config, registry, gateway.host.staging(config, tokens), state)
        return gateway

    # -- the snapshot, read as attributes ----------------------------------------------------

    @property
    def config(self) -> Config:
        return self.snapshot.config

    @property
    def credentials(self) -> list[Credential]:
        return self.snapshot.credentials

    @property
    def router(self) -> Router:
        return self.snapshot.router

    @property
    def selector(self) -> Selector:
        return self.snapshot.selector

    @property
    def plugins(self) -> Plugins:
        return self.registry.plugins

    @property
    def translators(self) -> Translators:
        return self.registry.translators

    @property
    def providers(self) -> dict[str, Provider]:
        return self.registry.providers

    def listed_models(self, identity: ClientIdentity | None = None) -> list[ModelInfo]:
        """The model ids clients may request, for the model lists: each listed id, then
        its ``thinking-suffixes`` variants where a provider of it may think -- only those
        ``identity``'s key may use, when its policy lists models."""
        models = [self._marked(model) for model in self.router.models()]
        policy = None if identity is None else identity.policy
        if policy is not None and policy.models:
            models = [m for m in models if policy.allows(m.id)]
        suffixes = self.config.thinking_suffixes
        if not suffixes:
            return models
        listed: list[ModelInfo] = []
        for model in models:
            listed.append(model)
            if model.embeds:
                continue
            route = self.router.resolve(model.id)
            if any(
                self.providers[c.credential.provider].can_reason(c.credential, c.upstream_model) is not False
                for c in route
            ):
                listed.extend(ModelInfo(f"{model.id}({suffix})", model.owned_by) for suffix in suffixes)
        return listed

    def _marked(self, model: ModelInfo) -> ModelInfo:
        """``model``, marked as embedding when a provider of it says it embeds."""
        providers = self.providers
        for c in self.router.resolve(model.id):
            if providers[c.credential.provider].embeds(c.credential, c.upstream_model):
                return ModelInfo(model.id, model.owned_by, embeds=True)
        return model

    def swap(self, snapshot: Snapshot, tokens: TokenManager | None = None) -> None:
        """Serve ``snapshot`` from now on (with ``tokens`` staged for it). Synchronous:
        every request runs on the old snapshot or the new one, never a mix."""
        self.snapshot = snapshot
        if tokens is not None:
            self.tokens.take_over(tokens)
            self.tokens.default_proxy = snapshot.config.proxy_url

    def refresh_routes(self) -> None:
        """Rebuild the routing table (after credentials' model lists changed)."""
        self.snapshot = self.snapshot.with_routes(self.registry)

    # -- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session and start providers, discovery, token refresh and quota
        reading."""
        self.http = create_session(self.config.upstream_timeouts)
        self._sessions = ProxySessions(self.http, self.http.timeout)
        self.tokens.session_for = self.session_for
        if not self.config.api_keys:
            log.warning("no api-keys configured: the gateway accepts requests from anyone who can reach it")
        for provider in self.providers.values():
            try:
                await provider.start(self.host)
            except Exception:
                log.exception("provider %s failed to start; its credentials stay unavailable", provider.name)
        self.run_in_background(self.discover_models(), "cliproxy-discovery")
        if self.registry.auth_types:
            self.run_in_background(self.tokens.run_refresh_loop(), "cliproxy-refresh")
        if any(type(p).quota is not Provider.quota for p in self.providers.values()):
            self.run_in_background(self._read_quotas_forever(), "cliproxy-quota")
        self.run_in_background(self.ledger.keep_counting(), "cliproxy-usage-writer")
        self.run_in_background(self.ledger.keep_writing(), "cliproxy-usage-snapshot")
        log.info(
            "serving %d models from %d credentials (%s)",
            len(self.router.models()),
            len(self.credentials),
            ", ".join(sorted({c.provider for c in self.credentials})) or "no providers",
        )

    def run_in_background(self, work: Awaitable[Any], name: str) -> None:
        """Run ``work`` until the gateway stops (then it is cancelled)."""
        self._tasks.append(asyncio.ensure_future(work))
        self._tasks[-1].set_name(name)

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
            return await self.providers[cred.provider].discover_models(cred, self.host)
        except Exception as exc:
            log.warning("could not list %s models for %s: %s", cred.provider, cred.label, self.redact(str(exc)))
            return None

    # -- quotas ----------------------------------------------------------------------------

    async def read_quotas(self, credentials: Iterable[Credential] | None = None) -> None:
        """Ask providers how much each account may still use. A credential resting past a
        known reset of its quota rests only until that reset. Never raises."""
        pool = [c for c in (self.credentials if credentials is None else credentials)]
        pool = [c for c in pool if type(self.providers[c.provider]).quota is not Provider.quota]
        found = await asyncio.gather(*(self._quota(cred) for cred in pool))
        for cred, quota in zip(pool, found, strict=True):
            if quota is None:
                continue
            self.quotas[cred.id] = attrs.evolve(quota, checked_at=self.clock())
            await self._rest_until_reset(cred, quota)
        live = {c.id for c in self.credentials}
        for gone in [key for key in self.quotas if key not in live]:
            del self.quotas[gone]

    async def _quota(self, cred: Credential) -> Quota | None:
        try:
            return await self.providers[cred.provider].quota(cred, self.host)
        except Exception as exc:
            log.warning("could not read the %s quota of %s: %s", cred.provider, cred.label, self.redact(str(exc)))
            return None

    async def _rest_until_reset(self, cred: Credential, quota: Quota) -> None:
        """An exhausted account rests until its reset (only the models of a window that
        meters some models, when that is what ran out); a rest past the reset of an
        account that has room again ends at the reset."""
        now = self.clock()
        until = quota.exhausted_until()
        if until is not None and until > now:
            reason = "quota exhausted: " + ", ".join(w.name for w in quota.windows if w.exhausted and not w.models)
            await self.state.set_cooldown(cred.id, None, Cooldown(until=until, reason=reason, status=429))
            return
        for model, model_until in quota.exhausted_models().items():
            if model_until > now:
                reason = "quota exhausted: " + ", ".join(
                    w.name for w in quota.windows if w.exhausted and model in w.models
                )
                await self.state.set_cooldown(cred.id, model, Cooldown(until=model_until, reason=reason, status=429))
        reset = quota.next_reset()
        if reset is None:
            return
        resting = (await self.state.cooldowns()).get(cred.id) or {}
        for model, cooldown in resting.items():
            if cooldown.until > reset > now and cooldown.status in (429, 402, 403):
                shortened = attrs.evolve(cooldown, until=reset)
                await self.state.set_cooldown(cred.id, None if model == "*" else model, shortened)

    async def _read_quotas_forever(self) -> None:
        while True:
            await self.read_quotas()
            await asyncio.sleep(QUOTA_INTERVAL)

    async def stop(self) -> None:
        self.drain.close()
        await self.deadlines.close()
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
        await self.ledger.flush()  # the usage counted here, into the store (and the memory store's snapshot file)
        await self.request_log.close()
        await self.state.close()

    # -- what a host offers ----------------------------------------------------------------

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

    def upstream_translator(self, wire: str) -> UpstreamTranslator:
        return self.registry.translators.upstream(wire)

    async def prepare_upstream(self, call: Any, url: str, headers: dict[str, str]) -> None:
        for prepare in self.registry.preparers:
            await await_me_maybe(prepare(call=call, url=url, headers=headers))

    @property
    def has_preparers(self) -> bool:
        return bool(self.registry.preparers)

    # -- inbound authentication ------------------------------------------------------------

    async def authenticate(self, request: InboundRequest) -> ClientIdentity:
        """Run the ``authenticate_client`` hooks; 401 in the caller's format if none accepts."""
        identity: ClientIdentity | None = None
        config = self.config
        for check in self.registry.authenticators:
            result = check(request=request, config=config)
            if result is not None and not isinstance(result, ClientIdentity):
                result = await await_me_maybe(result)  # an async implementation
            if identity is None and result is not None:
                identity = result
        if identity is not None:
            return identity
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
        snapshot changes."""
        configured = self._configured
        if configured is None or configured[0] is not self.snapshot:
            configured = (self.snapshot, Redactor.of(self._configured_secrets()))
            self._configured = configured
        redactor = Redactor.of([*self.tokens.secrets(), *extra], known=configured[1])
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
