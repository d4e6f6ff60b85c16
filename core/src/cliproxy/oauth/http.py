"""An HTTP session for a login flow's own requests, through the configured proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.proxies import resolve_proxy

__all__ = ["login_session"]


@asynccontextmanager
async def login_session(
    *proxy_choices: str | None, headers: Mapping[str, str] | None = None, timeout: float = 60.0
) -> AsyncIterator[tuple[aiohttp.ClientSession, str | None]]:
    """``async with login_session(entry_proxy, config.proxy_url) as (http, proxy):`` --
    a session and the ``proxy=`` argument to pass with each request.

    The first proxy set among ``proxy_choices`` is used (``direct``/``none``: no proxy);
    a SOCKS proxy needs ``aiohttp-socks`` (``pip install 'cliproxy[socks]'``).
    """
    proxy = resolve_proxy(*proxy_choices)
    connector: aiohttp.BaseConnector | None = None
    if proxy is not None and proxy.startswith("socks"):
        try:
            from aiohttp_socks import ProxyConnector
        except ImportError:
            raise GatewayError(
                status=400,
                kind=ErrorKind.INVALID_REQUEST,
                message=f"proxy-url {proxy} is a SOCKS proxy, which needs: pip install 'cliproxy[socks]'",
            ) from None
        connector, proxy = ProxyConnector.from_url(proxy), None
    session = aiohttp.ClientSession(
        connector=connector, headers=dict(headers or {}), timeout=aiohttp.ClientTimeout(total=timeout)
    )
    async with session as http:
        yield http, proxy
