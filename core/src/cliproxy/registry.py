"""What the installed plugins contributed: translators by wire name, providers, token
file types and the per-request hooks -- collected once per gateway, one plugin at a time
(a plugin that registers something broken is logged and skipped, or fatal in strict
mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from cliproxy.auth_types import AuthType
from cliproxy.config import CORE_KEYS
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.plugins import PluginError, Plugins
from cliproxy.providers import Provider
from cliproxy.translate import ClientTranslator, UpstreamTranslator, adapt_translator, implements

__all__ = ["Registry", "Translators"]

log = logging.getLogger("cliproxy.registry")

# A door action -> the translator method that answers it.
_DOOR_METHODS = {"count_tokens": "encode_count", "models": "encode_models"}


def _door_problem(translator: ClientTranslator) -> str | None:
    for door in translator.doors:
        method = _DOOR_METHODS.get(door.action)
        if method is not None and not implements(translator, method):
            return f"its door {door.path!r} ({door.action}) needs an {method} method, which it lacks"
    if implements(translator, "answers_models") and not implements(translator, "encode_models"):
        return "it claims GET /v1/models (answers_models) but has no encode_models method"
    return None


class Translators:
    """Client-side and upstream-side translators, looked up by wire name."""

    def __init__(self) -> None:
        self._client: dict[str, ClientTranslator] = {}
        self._upstream: dict[str, UpstreamTranslator] = {}
        self._owner: dict[str, str] = {}

    def add(self, translator: object, plugin: str) -> None:
        """Register ``translator`` (from ``plugin``) under its ``name``, in each role it can play.

        A translator that does not subclass :class:`~cliproxy.ClientTranslator` /
        :class:`~cliproxy.UpstreamTranslator` but has a role's methods is adapted once,
        here; its missing optional members get the base classes' defaults.
        """
        name = getattr(translator, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin {plugin!r} registered a translator without a 'name': {translator!r}")
        if name in self._owner:
            raise ValueError(
                f"translator {name!r} is registered by both {self._owner[name]!r} and {plugin!r}; "
                "disable one of them with CLIPROXY_DISABLE_PLUGINS"
            )
        client, upstream = adapt_translator(translator)
        if client is None and upstream is None:
            raise TypeError(
                f"plugin {plugin!r} registered {type(translator).__name__} as translator {name!r}, but it implements "
                "neither the ClientTranslator nor the UpstreamTranslator methods; subclass cliproxy.ClientTranslator "
                "and/or cliproxy.UpstreamTranslator and implement their abstract methods"
            )
        problem = _door_problem(client) if client is not None else None
        if problem is not None:
            raise TypeError(f"plugin {plugin!r} registered translator {name!r}, but {problem}")
        self._owner[name] = plugin
        if client is not None:
            self._client[name] = client
        if upstream is not None:
            self._upstream[name] = upstream

    def client(self, name: str) -> ClientTranslator:
        try:
            return self._client[name]
        except KeyError:
            raise GatewayError(
                status=500, kind=ErrorKind.INTERNAL, message=f"no translator can serve clients speaking {name!r}"
            ) from None

    def upstream(self, name: str) -> UpstreamTranslator:
        try:
            return self._upstream[name]
        except KeyError:
            raise GatewayError(
                status=500, kind=ErrorKind.INTERNAL, message=f"no translator can talk to upstreams speaking {name!r}"
            ) from None

    def clients(self) -> list[ClientTranslator]:
        """Client translators, in registration order."""
        return list(self._client.values())

    def has_client(self, name: str) -> bool:
        return name in self._client

    def has_upstream(self, name: str) -> bool:
        return name in self._upstream

    def names(self) -> list[str]:
        return sorted(self._owner)


@attrs.define(eq=False)
class Registry:
    """Everything the plugins registered, checked: unique names, owned config blocks."""

    plugins: Plugins
    translators: Translators = attrs.Factory(Translators)
    providers: dict[str, Provider] = attrs.Factory(dict)
    auth_types: dict[str, AuthType] = attrs.Factory(dict)
    authenticators: list[Callable[..., Any]] = attrs.Factory(list)
    preparers: list[Callable[..., Any]] = attrs.Factory(list)

    @classmethod
    def collect(cls, plugins: Plugins) -> Registry:
        registry = cls(plugins)
        registry._add_translators()
        registry._add_providers()
        registry._add_auth_types()
        registry.authenticators = plugins.implementations("authenticate_client")
        registry.preparers = plugins.implementations("prepare_upstream_request")
        return registry

    def owned_keys(self) -> dict[str, Provider]:
        """Config block -> the provider that owns it."""
        return {key: p for p in self.providers.values() for key in p.config_keys}

    def _isolated(self, plugin: str, what: str, exc: Exception) -> None:
        message = f"plugin {plugin!r}: {what}: {exc}"
        if self.plugins.strict:
            raise PluginError(message) from exc
        log.error("%s (skipped)", message)

    def _add_translators(self) -> None:
        for plugin, translator in self.plugins.translators():
            try:
                self.translators.add(translator, plugin)
            except (TypeError, ValueError) as exc:
                self._isolated(plugin, "bad translator", exc)

    def _add_providers(self) -> None:
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

    def _add_auth_types(self) -> None:
        for plugin, auth_type in self.plugins.auth_types():
            kind = getattr(auth_type, "type", None)
            if not isinstance(kind, str) or not isinstance(auth_type, AuthType):
                self._isolated(plugin, "bad auth type", TypeError(f"{auth_type!r} is not a cliproxy.AuthType"))
                continue
            if kind in self.auth_types:
                self._isolated(plugin, "bad auth type", ValueError(f"token file type {kind!r} is already handled"))
                continue
            self.auth_types[kind] = auth_type
