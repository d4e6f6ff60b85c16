"""Claude subscriptions over OAuth: PKCE, the token endpoint, and token files.

A token file in ``auth-dir`` (written by ``cliproxy login claude``)::

    {"type": "claude", "access_token": "...", "refresh_token": "...",
     "expiry": "2026-11-25T20:00:00Z", "email": "me@example.com", "client_id": "..."}

CLIProxyAPI's own ``claude-*.json`` files (``expired`` instead of ``expiry``) load too.
The core's token manager refreshes the access token four hours before it expires (as
CLIProxyAPI does) and after a 401, one refresh at a time, through :class:`ClaudeAuth`.

Endpoints and the OAuth client come from the ``claude-oauth:`` block; by default the
client is Claude Code's own (:data:`CLAUDE_CODE_CLIENT_ID`, see the README).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
from cliproxy import (
    ConfigNode,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    TokenSet,
    credential_id,
    read_common_fields,
)
from cliproxy.oauth import Pkce, TokenEndpoint, format_expiry, parse_expiry

from cliproxy_claude.settings import DEFAULT_BASE_URL, PROVIDER, ClaudeSettings

__all__ = [
    "CLAUDE_CODE_CLIENT_ID",
    "OAUTH_BETA",
    "ClaudeAuth",
    "OAuthSettings",
    "authorize_url",
    "exchange_code",
    "read_oauth_settings",
    "refresh_tokens",
    "token_endpoint",
    "token_file",
]

OAUTH_BETA = "oauth-2025-04-20"
"""The ``anthropic-beta`` value Anthropic requires with OAuth bearer tokens."""
REFRESH_LEAD = 4 * 3600.0
CLAUDE_CODE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
"""The public OAuth client of Anthropic's Claude Code CLI: the ``CLIENT_ID`` constant in
the published ``@anthropic-ai/claude-code`` npm package (``cli.js``), also used by
CLIProxyAPI (``internal/auth/claude/anthropic_auth.go``). The default, so ``cliproxy
login claude`` works unconfigured and Claude Code's stored sign-ins refresh; the
account's terms apply. ``claude-oauth.client-id`` or ``--client-id`` use another."""
DEFAULT_AUTHORIZE_URL = "https://claude.ai/oauth/authorize"
DEFAULT_TOKEN_URL = "https://platform.claude.com/v1/oauth/token"
DEFAULT_CALLBACK_PORTS = (54545, 0)
"""54545 as CLIProxyAPI uses; when it is taken, any free port (Anthropic accepts any
localhost port, as Claude Code's own sign-in picks one at random)."""
DEFAULT_SCOPES = "org:create_api_key user:profile user:inference"


@attrs.frozen
class OAuthSettings:
    """The ``claude-oauth:`` block: where to sign in, and defaults for OAuth credentials."""

    client_id: str = CLAUDE_CODE_CLIENT_ID
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    callback_ports: tuple[int, ...] = DEFAULT_CALLBACK_PORTS
    scopes: str = DEFAULT_SCOPES
    base_url: str = DEFAULT_BASE_URL
    prefix: str | None = None
    proxy_url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    models: tuple[ModelEntry, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1


def _ports(configured: int | None) -> tuple[int, ...]:
    """A configured port is used as is (it may be forwarded or allow-listed somewhere)."""
    return (configured,) if configured else DEFAULT_CALLBACK_PORTS


def read_oauth_settings(root: ConfigNode, *, check: bool = False) -> OAuthSettings:
    """Read ``claude-oauth`` from the top-level config (defaults when absent); ``check``
    reports unknown keys."""
    node = root.node("claude-oauth")
    if node is None:
        return OAuthSettings()
    fields = read_common_fields(node, api_key=None, base_url=DEFAULT_BASE_URL)
    settings = OAuthSettings(
        client_id=node.str("client-id") or CLAUDE_CODE_CLIENT_ID,
        authorize_url=node.str("authorize-url", DEFAULT_AUTHORIZE_URL),
        token_url=node.str("token-url", DEFAULT_TOKEN_URL),
        callback_ports=_ports(node.int("callback-port", None, minimum=1)),
        scopes=node.str("scopes", DEFAULT_SCOPES),
        base_url=fields.base_url or DEFAULT_BASE_URL,
        prefix=fields.prefix,
        proxy_url=fields.proxy_url,
        headers=fields.headers,
        models=fields.models,
        excluded_models=fields.excluded_models,
        priority=fields.priority,
        weight=fields.weight,
    )
    if check:
        node.done()
    return settings


# -- the authorization URL -------------------------------------------------------------------


def authorize_url(settings: OAuthSettings, client_id: str, redirect_uri: str, pkce: Pkce, state: str) -> str:
    query = urlencode(
        {
            "code": "true",
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": settings.scopes,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": state,
        }
    )
    return f"{settings.authorize_url}?{query}"


# -- the token endpoint --------------------------------------------------------------------


def token_endpoint(url: str) -> TokenEndpoint:
    """Anthropic's token endpoint (JSON bodies), named for errors."""
    return TokenEndpoint(
        url=url,
        name="the Claude token endpoint",
        provider=PROVIDER,
        login_command="cliproxy login claude",
        client_setting="claude-oauth.client-id",
        encoding="json",
    )


def tokens_from(data: Mapping[str, Any], previous: TokenSet | None, now: float) -> TokenSet:
    """A token set from a token-endpoint answer (keeping what it does not repeat)."""
    extra = dict(previous.extra) if previous is not None else {}
    account = data.get("account")
    if isinstance(account, Mapping) and isinstance(account.get("email_address"), str):
        extra["email"] = account["email_address"]
    organization = data.get("organization")
    if isinstance(organization, Mapping) and isinstance(organization.get("name"), str):
        extra["organization"] = organization["name"]
    expires_in = data.get("expires_in")
    refresh = data.get("refresh_token")
    return TokenSet(
        access_token=str(data["access_token"]),
        refresh_token=refresh
        if isinstance(refresh, str) and refresh
        else (previous.refresh_token if previous else None),
        expires_at=now + float(expires_in) if isinstance(expires_in, int | float) else None,
        extra=extra,
    )


async def exchange_code(
    http: aiohttp.ClientSession,
    settings: OAuthSettings,
    *,
    client_id: str,
    code: str,
    state: str,
    redirect_uri: str,
    pkce: Pkce,
    proxy: str | None = None,
) -> TokenSet:
    """Trade an authorization code for tokens."""
    payload = {
        "grant_type": "authorization_code",
        "code": code,
        "state": state,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_verifier": pkce.verifier,
    }
    data = await token_endpoint(settings.token_url).post(http, payload, proxy=proxy)
    tokens = tokens_from(data, None, time.time())
    tokens.extra["client_id"] = client_id
    return tokens


async def refresh_tokens(http: aiohttp.ClientSession, tokens: TokenSet, proxy: str | None) -> TokenSet:
    """Spend the refresh token at the token endpoint the credential was loaded with."""
    client_id = tokens.extra.get("client_id") or CLAUDE_CODE_CLIENT_ID
    url = tokens.extra.get("token_url") or DEFAULT_TOKEN_URL
    if not tokens.refresh_token:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message="the token file has no refresh token; sign in again with 'cliproxy login claude'",
            provider=PROVIDER,
        )
    payload = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": client_id}
    return tokens_from(await token_endpoint(url).post(http, payload, proxy=proxy), tokens, time.time())


# -- token files ---------------------------------------------------------------------------


def token_file(tokens: TokenSet, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON content of a token file for ``tokens`` (keeping other keys of ``previous``)."""
    out = {k: v for k, v in (previous or {}).items() if k != "expired"}
    out["type"] = "claude"
    out["access_token"] = tokens.access_token
    if tokens.refresh_token:
        out["refresh_token"] = tokens.refresh_token
    out["expiry"] = None if tokens.expires_at is None else format_expiry(tokens.expires_at)
    for key in ("email", "client_id", "organization"):
        if tokens.extra.get(key):
            out[key] = tokens.extra[key]
    out["last_refresh"] = format_expiry(time.time())
    return out


class ClaudeAuth:
    """The ``claude`` token-file type (see :class:`cliproxy.AuthType`)."""

    type = "claude"
    provider = PROVIDER
    refresh_lead = REFRESH_LEAD

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        if data.get("disabled") is True:
            return []
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("it has no access_token")
        settings = read_oauth_settings(host.config.root)
        email = data.get("email") if isinstance(data.get("email"), str) else None
        refresh = data.get("refresh_token")
        tokens = TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=parse_expiry(data.get("expiry", data.get("expired"))),
            extra={
                "email": email,
                "client_id": data.get("client_id") or settings.client_id,
                "token_url": settings.token_url,
            },
        )
        priority = data.get("priority")
        proxy = (
            data.get("proxy_url")
            if isinstance(data.get("proxy_url"), str) and data.get("proxy_url")
            else settings.proxy_url
        )
        credential = Credential(
            id=credential_id("claude-oauth", email or path.stem),
            provider=PROVIDER,
            label=email or path.name,
            prefix=data.get("prefix")
            if isinstance(data.get("prefix"), str) and data.get("prefix")
            else settings.prefix,
            models=settings.models,
            excluded_models=settings.excluded_models,
            priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else settings.priority,
            weight=settings.weight,
            proxy_url=proxy,
            settings=ClaudeSettings(base_url=settings.base_url, oauth=True, headers=settings.headers, proxy_url=proxy),
            source=str(path),
        )
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return token_file(tokens, previous)

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        return await refresh_tokens(http, tokens, proxy)
