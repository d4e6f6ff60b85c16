"""The translators a gateway knows, by wire-format name."""

from __future__ import annotations

import logging

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.translate import ClientTranslator, UpstreamTranslator

__all__ = ["Translators"]

log = logging.getLogger("cliproxy.registry")


class Translators:
    """Client-side and upstream-side translators, looked up by wire name."""

    def __init__(self) -> None:
        self._client: dict[str, ClientTranslator] = {}
        self._upstream: dict[str, UpstreamTranslator] = {}
        self._owner: dict[str, str] = {}

    def add(self, translator: object, plugin: str) -> None:
        """Register ``translator`` (from ``plugin``) under its ``name``, in each role it can play."""
        name = getattr(translator, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin {plugin!r} registered a translator without a 'name': {translator!r}")
        if name in self._owner:
            raise ValueError(
                f"translator {name!r} is registered by both {self._owner[name]!r} and {plugin!r}; "
                "disable one of them with CLIPROXY_DISABLE_PLUGINS"
            )
        is_client = isinstance(translator, ClientTranslator)
        is_upstream = isinstance(translator, UpstreamTranslator)
        if not (is_client or is_upstream):
            raise TypeError(
                f"plugin {plugin!r} registered {type(translator).__name__} as translator {name!r}, but it implements "
                "neither the ClientTranslator nor the UpstreamTranslator methods"
            )
        self._owner[name] = plugin
        if is_client:
            self._client[name] = translator  # type: ignore[assignment]
        if is_upstream:
            self._upstream[name] = translator  # type: ignore[assignment]

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
