"""Gemini CLI token files (``"type": "gemini-cli"``) and their refresh.

A token file holds one Google account's OAuth tokens and the Code Assist project(s) it
uses::

    {"type": "gemini-cli", "email": "me@example.com", "project_id": "proj-a,proj-b",
     "access_token": "...", "refresh_token": "...", "expires_at": 1767225600,
     "token_uri": "https://oauth2.googleapis.com/token", "client_id": "...", "client_secret": "..."}

Tokens may also sit in a nested ``"token"`` object (``expiry`` as an RFC 3339 time), as
other tools write them. Optional keys: ``prefix``, ``priority``, ``excluded_models``,
``disabled``.

Each project becomes its own credential, so the router spreads load over them and can move
to the next when one runs out of quota. Each holds the account's tokens and is refreshed
by the core's token manager like any OAuth credential: ahead of expiry and after a 401,
one refresh in flight per credential, the file rewritten atomically. (Google does not
rotate refresh tokens, so projects of one account refreshing on their own is safe.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import TokenEndpoint, parse_expiry

from cliproxy_gemini.code_assist.options import CodeAssistOptions, read_options

__all__ = [
    "PROVIDER",
    "TOKEN_TYPE",
    "Account",
    "GeminiCLIAuth",
    "google_token_endpoint",
    "project_ids",
    "refresh_google_tokens",
]

TOKEN_TYPE = "gemini-cli"
PROVIDER = "gemini-cli"


@attrs.frozen
class Account:
    """A credential's settings: its project and the Google account it belongs to
    (``account`` is the same for every project of one token file)."""

    project: str
    account: str
    options: CodeAssistOptions
    email: str | None = None


def project_ids(value: Any) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (blanks and repeats dropped)."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _expiry(token: Mapping[str, Any]) -> float | None:
    """``expires_at`` (seconds or milliseconds), else ``expiry`` (RFC 3339)."""
    value = token.get("expires_at")
    return parse_expiry(value) if isinstance(value, int | float) else parse_expiry(token.get("expiry"))


def google_token_endpoint(url: str) -> TokenEndpoint:
    """Google's token endpoint (form bodies), named for errors."""
    return TokenEndpoint(
        url=url,
        name="Google's token endpoint",
        provider=PROVIDER,
        login_command="cliproxy login gemini",
        client_setting="gemini-cli.client-id",
    )


def _client(data: Mapping[str, Any], token: Mapping[str, Any], options: CodeAssistOptions) -> tuple[Any, Any]:
    """The client the tokens were issued to: the file's, else the configured one (or
    Gemini CLI's, which issued files that name none). A secret only goes with its id."""
    client_id = data.get("client_id") or token.get("client_id")
    secret = data.get("client_secret") or token.get("client_secret")
    if not client_id:
        return options.client_id, secret or options.client_secret
    return client_id, secret or (options.client_secret if client_id == options.client_id else None)


class GeminiCLIAuth:
    """Reads, refreshes and writes ``gemini-cli`` token files (a :class:`cliproxy.AuthType`)."""

    type = TOKEN_TYPE
    provider = PROVIDER
    refresh_lead = 300.0

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        if data.get("disabled") is True:
            return []
        options = read_options(host.config.root)
        projects = project_ids(data.get("project_id"))
        if not projects:
            raise ValueError("it names no project_id; run 'cliproxy login gemini' again (--project-id ID picks one)")
        token = found if isinstance(found := data.get("token"), Mapping) else data
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("it has no access_token; run 'cliproxy login gemini' again")
        refresh = token.get("refresh_token") if isinstance(token.get("refresh_token"), str) else None
        client_id, client_secret = _client(data, token, options)
        extra = {
            "client_id": client_id,
            "client_secret": client_secret,
            "token_uri": data.get("token_uri") or token.get("token_uri") or options.token_url,
        }
        email = data.get("email") if isinstance(data.get("email"), str) else None
        excluded = data.get("excluded_models")
        priority = data.get("priority")
        prefix = data.get("prefix")
        prefix = (prefix.strip().strip("/") or None) if isinstance(prefix, str) else None
        loaded: list[tuple[Credential, TokenSet]] = []
        account = credential_id(TOKEN_TYPE, email or path.name)
        expires_at = _expiry(token)
        for project in projects:
            credential = Credential(
                id=credential_id(TOKEN_TYPE, email or path.name, project),
                provider=PROVIDER,
                label=f"{path.name} [{project}]",
                prefix=prefix,
                excluded_models=tuple(str(m) for m in excluded) if isinstance(excluded, list) else (),
                priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
                source=str(path),
            )
            credential.settings = Account(project, account, options, email)
            loaded.append((credential, TokenSet(access, refresh, expires_at, dict(extra))))
        return loaded

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        content = dict(previous)
        expiry = None
        if tokens.expires_at is not None:
            expiry = datetime.fromtimestamp(tokens.expires_at, UTC).isoformat().replace("+00:00", "Z")
        fields: dict[str, Any] = {"access_token": tokens.access_token}
        if tokens.refresh_token:
            fields["refresh_token"] = tokens.refresh_token
        if isinstance(previous.get("token"), Mapping):
            nested = dict(previous["token"])
            nested.update(fields)
            if expiry is not None:
                nested["expiry"] = expiry
            content["token"] = nested
        else:
            content.update(fields)
            if tokens.expires_at is not None:
                content["expires_at"] = int(tokens.expires_at)
                content["expiry"] = expiry
        return content

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        return await refresh_google_tokens(tokens, http, proxy)


async def refresh_google_tokens(tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
    """Spend the refresh token at the token endpoint and with the client the tokens name."""
    client_id = tokens.extra.get("client_id")
    client_secret = tokens.extra.get("client_secret")
    if not tokens.refresh_token:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message="the token file has no refresh_token; run 'cliproxy login gemini' again",
        )
    if not client_id or not client_secret:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message="refreshing needs the OAuth client id and secret the token was issued to: add client_secret "
            "to the token file, or set gemini-cli.client-id/client-secret (or CLIPROXY_GEMINI_CLIENT_ID/_SECRET)",
        )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    endpoint = google_token_endpoint(str(tokens.extra.get("token_uri") or ""))
    answer = await endpoint.post(http, form, proxy=proxy)
    lifetime = answer.get("expires_in")
    lifetime = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else 3600.0
    rotated = answer.get("refresh_token")
    return TokenSet(
        access_token=answer["access_token"],
        refresh_token=rotated if isinstance(rotated, str) and rotated else tokens.refresh_token,
        expires_at=time.time() + lifetime,
        extra=dict(tokens.extra),
    )
