"""What a plugin is handed: :class:`Host`, the one typed context of the plugin contract.

Every place a plugin runs inside the gateway -- ``Provider.load_config``, ``send`` (as
``call.host``), ``count_tokens``, ``discover_models``, ``quota``, ``start``, ``reload``,
and ``AuthType.load`` -- receives a :class:`Host`. It offers what plugins need and nothing
of the gateway's internals: HTTP sessions (per proxy), the translators of upstream wires,
the state store (cooldowns, values, locks), OAuth tokens (access and refresh), the clock,
the config and its paths, the credentials being served, a logger, and secret redaction.

The gateway makes one host when it starts and keeps it; while a reload stages a new
config, plugins reading that config get a host that shows the new config and records
their tokens beside the running ones (see :mod:`cliproxy.reload`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from cliproxy.config import Config
from cliproxy.credentials import Credential
from cliproxy.redaction import Redactor
from cliproxy.state import StateStore
from cliproxy.tokens import TokenManager
from cliproxy.translate import UpstreamTranslator

__all__ = ["Host"]


class _Runtime(Protocol):
    """What a host reads from the running gateway (the gateway itself, in core)."""

    @property
    def config(self) -> Config: ...

    @property
    def credentials(self) -> Sequence[Credential]: ...

    state: StateStore
    tokens: TokenManager
    clock: Callable[[], float]

    def upstream_translator(self, wire: str) -> UpstreamTranslator: ...

    def session_for(self, proxy: str | None) -> tuple[aiohttp.ClientSession, str | None]: ...

    def http_for(
        self, credential: Credential, proxy: str | None = None
    ) -> tuple[aiohttp.ClientSession, str | None]: ...

    def refresh_routes(self) -> None: ...

    def redactor(self, *extra: str | None, known: Redactor | None = None) -> Redactor: ...

    @property
    def has_preparers(self) -> bool: ...

    async def prepare_upstream(self, call: Any, url: str, headers: dict[str, str]) -> None: ...


class Host:
    """The gateway as a plugin sees it. Made by the gateway; plugins never construct one
    (tests get one from a running app: ``cliproxy.testing`` does it for you)."""

    __slots__ = ("_config", "_runtime", "_tokens")

    def __init__(self, runtime: _Runtime, *, config: Config | None = None, tokens: TokenManager | None = None) -> None:
        self._runtime = runtime
        self._config = config  # a config being staged by a reload, else None: the running one
        self._tokens = tokens

    # -- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The config: ``config.root`` for reading blocks (a :class:`~cliproxy.ConfigNode`),
        ``config.file`` for messages, ``proxy_url``, ``quota_exceeded``..."""
        return self._config if self._config is not None else self._runtime.config

    @property
    def auth_dir(self) -> Path:
        """The expanded ``auth-dir``, where ``cliproxy login`` writes token files."""
        return Path(self.config.auth_dir).expanduser()

    def credentials(self, provider: str | None = None) -> tuple[Credential, ...]:
        """The credentials being served (all of them, or those of ``provider``)."""
        served = self._runtime.credentials
        if provider is None:
            return tuple(served)
        return tuple(c for c in served if c.provider == provider)

    # -- doing work ------------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], float]:
        """Unix time now (tests move it by hand)."""
        return self._runtime.clock

    @property
    def state(self) -> StateStore:
        """The state store: cooldowns, values with a TTL, locks, shared by every instance
        on one Redis."""
        return self._runtime.state

    @property
    def tokens(self) -> TokenManager:
        """OAuth tokens: ``access_token(credential)`` (refreshed ahead of expiry),
        ``tokens(credential)``, ``track(...)`` from ``load_config``, ``refresh(...)``."""
        return self._tokens if self._tokens is not None else self._runtime.tokens

    def http_for(self, credential: Credential, proxy: str | None = None) -> tuple[aiohttp.ClientSession, str | None]:
        """The HTTP session and ``proxy=`` argument for a request on behalf of
        ``credential``: ``proxy`` if given, else the credential's ``proxy_url``, else the
        config's ``proxy-url`` (``direct`` at any level means no proxy)."""
        return self._runtime.http_for(credential, proxy)

    def session_for(self, proxy: str | None) -> tuple[aiohttp.ClientSession, str | None]:
        """The HTTP session for requests through ``proxy`` (None: direct)."""
        return self._runtime.session_for(proxy)

    def translator(self, wire: str) -> UpstreamTranslator:
        """The upstream side of the translator for ``wire`` (``openai-chat``, ``gemini``...)."""
        return self._runtime.upstream_translator(wire)

    def models_changed(self) -> None:
        """Rebuild the routing table after this plugin changed which models credentials
        serve (their ``discovered`` lists): clients see the new ids at once."""
        self._runtime.refresh_routes()

    def redact(self, text: str, *extra: str | None) -> str:
        """``text`` with every secret the gateway knows (and ``extra``) taken out: for
        upstream error text a plugin passes on or logs itself."""
        return self._runtime.redactor(*extra).text(text)

    def redactor(self, *extra: str | None, known: Redactor | None = None) -> Redactor:
        """A :class:`~cliproxy.redaction.Redactor` for every secret the gateway holds,
        ``extra``, and what ``known`` redacts (to redact several texts, or bytes)."""
        return self._runtime.redactor(*extra, known=known)

    @property
    def has_request_hooks(self) -> bool:
        """Whether any plugin implements ``prepare_upstream_request``."""
        return self._runtime.has_preparers

    async def prepare_request(self, call: Any, url: str, headers: dict[str, str]) -> None:
        """Run the ``prepare_upstream_request`` hooks on a request a plugin sends itself
        (:meth:`cliproxy.Call.post` runs them for you)."""
        await self._runtime.prepare_upstream(call, url, headers)

    def logger(self, plugin: str) -> logging.Logger:
        """The logger for ``plugin``'s messages (``cliproxy.plugin.<plugin>``)."""
        return logging.getLogger(f"cliproxy.plugin.{plugin}")

    def staging(self, config: Config, tokens: TokenManager) -> Host:
        """A host for reading ``config`` beside the running one: plugins that load it see
        ``config`` and record their tokens in ``tokens`` (core use, during a reload)."""
        return Host(self._runtime, config=config, tokens=tokens)
