"""Outbound proxies: ``proxy-url`` may be http(s) or socks4/socks5, per gateway or per entry.

HTTP proxies ride on the worker's one session (aiohttp takes a proxy per request); a SOCKS
proxy needs a connector of its own, so each distinct SOCKS URL gets one session, opened on
first use and kept for the worker's life. ``direct`` or ``none`` means no proxy even when
the gateway has one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["NO_PROXY", "ProxySessions", "check_proxy_url", "resolve_proxy"]

NO_PROXY = ("direct", "none")
_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")


def check_proxy_url(url: str) -> str | None:
    """None when ``url`` is usable, else what is wrong with it (for config errors)."""
    if url in NO_PROXY:
        return None
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        return f"proxy-url '{url}' must look like http://host:port or socks5://host:port (or be 'direct')"
    if parts.scheme.startswith("socks"):
        try:
            import aiohttp_socks  # noqa: F401
        except ImportError:
            return f"proxy-url '{url}' is a SOCKS proxy, which needs the aiohttp-socks package (pip install 'cliproxy[socks]')"
    return None


def resolve_proxy(*choices: str | None) -> str | None:
    """The first proxy set among ``choices`` (most specific first); None for no proxy."""
    for choice in choices:
        if choice:
            return None if choice in NO_PROXY else choice
    return None


class ProxySessions:
    """The main session plus one session per SOCKS proxy."""

    def __init__(self, main: aiohttp.ClientSession, timeout: aiohttp.ClientTimeout) -> None:
        self.main = main
        self._timeout = timeout
        self._socks: dict[str, aiohttp.ClientSession] = {}

    def session_for(self, proxy: str | None) -> tuple[aiohttp.ClientSession, str | None]:
        """The session to use and the ``proxy=`` argument to pass it."""
        if proxy is None or not proxy.startswith("socks"):
            return self.main, proxy
        session = self._socks.get(proxy)
        if session is None:
            try:
                from aiohttp_socks import ProxyConnector
            except ImportError:
                raise GatewayError(
                    status=500,
                    kind=ErrorKind.INTERNAL,
                    message="a SOCKS proxy-url needs the aiohttp-socks package (pip install 'cliproxy[socks]')",
                ) from None
            session = aiohttp.ClientSession(connector=ProxyConnector.from_url(proxy), timeout=self._timeout)
            self._socks[proxy] = session
        return session, None

    async def close(self) -> None:
        for session in self._socks.values():
            await session.close()
        self._socks.clear()
        await self.main.close()
