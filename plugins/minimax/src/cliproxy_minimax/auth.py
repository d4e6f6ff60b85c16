"""MiniMax Coding/Token Plan sign-ins in ``auth-dir`` (``"type": "minimax"``), and their
refresh.

Layout::

    {"type": "minimax", "region": "global", "access_token", "refresh_token",
     "expires_at": "2026-01-31T12:00:00Z", "client_id": "...",
     "resource_url": "<the API base the sign-in named, if any>", "wire": "anthropic"}

A token refreshes at ``POST {host}/oauth/token`` (form ``grant_type=refresh_token``,
``client_id``, ``refresh_token``), through the client it was issued to.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import TokenEndpoint, format_expiry, parse_expiry

from cliproxy_minimax.settings import REGIONS, WIRES, MiniMaxSettings, api_root

__all__ = [
    "CLIENT_ID",
    "TOKEN_TYPE",
    "MiniMaxAuthType",
    "expiry_from",
    "oauth_host",
    "token_endpoint",
    "token_file",
]

TOKEN_TYPE = "minimax"
CLIENT_ID = "78257093-7e40-4613-99e0-527b14b39113"
"""The public client MiniMax's Coding Plan sign-in is issued to (the same for both
regions), as OpenClaw's MiniMax sign-in uses it."""
LOGIN = "cliproxy login minimax"
DEFAULT_LIFETIME = 3600.0
_EPOCH_MS = 1e11
_EPOCH_S = 1e9


def expiry_from(value: Any, now: float) -> float | None:
    """When a token (or code) expires, from MiniMax's ``expired_in``: its unit is not
    documented -- one client reads an epoch time in milliseconds, another seconds to live
    -- so a value past 10^11 is epoch milliseconds, past 10^9 epoch seconds, and anything
    smaller seconds from ``now``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    if value > _EPOCH_MS:
        return float(value) / 1000.0
    if value > _EPOCH_S:
        return float(value)
    return now + float(value)


def oauth_host(tokens_or_data: Mapping[str, Any]) -> str:
    """Where a sign-in refreshes: the file's ``oauth_url``, else its region's host."""
    explicit = tokens_or_data.get("oauth_url")
    if isinstance(explicit, str) and explicit:
        return api_root(explicit)
    return REGIONS.get(str(tokens_or_data.get("region") or "global"), REGIONS["global"])


def token_endpoint(host: str) -> TokenEndpoint:
    return TokenEndpoint(
        url=f"{host}/oauth/token",
        name="the MiniMax token endpoint",
        provider="minimax",
        login_command=LOGIN,
        client_setting="the token file's client_id",
    )


def token_file(tokens: TokenSet, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The content of a ``"type": "minimax"`` token file (``previous`` keeps what else
    the file held)."""
    out = dict(previous or {})
    out["type"] = TOKEN_TYPE
    out["access_token"] = tokens.access_token
    if tokens.refresh_token:
        out["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        out["expires_at"] = format_expiry(tokens.expires_at)
    for key in ("region", "client_id", "resource_url", "oauth_url"):
        if tokens.extra.get(key):
            out[key] = tokens.extra[key]
    return out


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


class MiniMaxAuthType:
    """``"type": "minimax"`` token files (see :class:`cliproxy.AuthType`)."""

    type = TOKEN_TYPE
    provider = "minimax"
    refresh_lead = 300.0

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        access, refresh = _text(data, "access_token"), _text(data, "refresh_token")
        if access is None and refresh is None:
            raise ValueError("the file holds neither an access token nor a refresh token")
        region = _text(data, "region") or "global"
        if region not in REGIONS:
            raise ValueError(f"region {region!r} is not one of {', '.join(REGIONS)}")
        wire = _text(data, "wire") or "anthropic"
        if wire not in WIRES:
            raise ValueError(f"wire {wire!r} is not one of {', '.join(WIRES)}")
        base = _text(data, "base_url") or _text(data, "resource_url") or REGIONS[region]
        settings = MiniMaxSettings(
            root=api_root(base), region=region, wire=WIRES[wire], proxy_url=_text(data, "proxy_url")
        )
        prefix = _text(data, "prefix")
        credential = Credential(
            id=credential_id("minimax", "file", path.name),
            provider=self.provider,
            label=f"minimax {path.name}",
            prefix=prefix,
            any_model=prefix is not None,
            proxy_url=settings.proxy_url,
            settings=settings,
            source=str(path),
        )
        extra = {
            key: data[key]
            for key in ("region", "client_id", "resource_url", "oauth_url")
            if _text(data, key) is not None
        }
        expires = parse_expiry(data.get("expires_at")) if access else 0.0
        tokens = TokenSet(access_token=access or "", refresh_token=refresh, expires_at=expires, extra=extra)
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return token_file(tokens, previous)

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        if not tokens.refresh_token:
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message=f"this MiniMax sign-in has no refresh token; sign in again with `{LOGIN}`",
                provider=self.provider,
            )
        endpoint = token_endpoint(oauth_host(tokens.extra))
        payload = {
            "grant_type": "refresh_token",
            "client_id": tokens.extra.get("client_id") or CLIENT_ID,
            "refresh_token": tokens.refresh_token,
        }
        data = await endpoint.post(http, payload, proxy=proxy, require=None)
        access = data.get("access_token")
        if not isinstance(access, str) or not access or data.get("status") == "error":
            resp = found if isinstance(found := data.get("base_resp"), Mapping) else {}
            said = f"{resp.get('status_msg') or 'no access token'} ({resp.get('status_code', '-')})"
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message=f"{endpoint.name} refused the refresh: {said}; sign in again with `{LOGIN}`",
                provider=self.provider,
            )
        now = time.time()
        refresh = data.get("refresh_token")
        extra = dict(tokens.extra)
        if isinstance(data.get("resource_url"), str) and data["resource_url"]:
            extra["resource_url"] = data["resource_url"]
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else tokens.refresh_token,
            expires_at=expiry_from(data.get("expired_in"), now) or now + DEFAULT_LIFETIME,
            extra=extra,
        )
