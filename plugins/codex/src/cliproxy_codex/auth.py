"""ChatGPT sign-ins as token files, and their refresh.

A token file in ``auth-dir`` (written by ``cliproxy login codex``; CLIProxyAPI's
``codex-*.json`` files have the same keys and load too)::

    {"type": "codex", "id_token": "...", "access_token": "...", "refresh_token": "...",
     "account_id": "...", "email": "me@example.com", "plan_type": "plus",
     "expired": "2026-12-05T10:00:00Z", "last_refresh": "2026-11-25T10:00:00Z",
     "client_id": "app_EMoamEEZ73f0CkXaXp7hrann"}

One credential per ChatGPT account: its id derives from the account id (the id token's
``chatgpt_account_id``), so the same account signed in twice is one credential. The core's
token manager refreshes the access token an hour before it expires and after a 401, one
refresh at a time per credential across instances; the refresh token rotates. A refresh
token the sign-in service refuses for good (``refresh_token_expired``,
``refresh_token_reused``, ``refresh_token_invalidated``, or any 401) is never offered again:
the credential rests with "sign in again" (:data:`cliproxy.SIGN_IN_AGAIN`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
from cliproxy import SIGN_IN_AGAIN, Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import TokenEndpoint, format_expiry, parse_expiry, token_file_name

from cliproxy_codex.claims import account_claims
from cliproxy_codex.settings import CODEX_CLIENT_ID, DEFAULT_ISSUER, PROVIDER, CodexConfig, read_codex_config

__all__ = [
    "REFRESH_LEAD",
    "CodexAuth",
    "CodexSettings",
    "RefreshEndpoint",
    "file_name",
    "refresh_tokens",
    "token_endpoint",
    "token_file",
    "tokens_from_answer",
]

REFRESH_LEAD = 3600.0
LOGIN_COMMAND = "cliproxy login codex"
PERMANENT = {
    "refresh_token_expired": "the refresh token expired",
    "refresh_token_reused": "the refresh token was already spent (another program holding the same sign-in "
    "refreshed it first -- Codex itself, for an imported sign-in)",
    "refresh_token_invalidated": "the refresh token was revoked",
}
"""The sign-in service's codes for a refresh token that can never work again."""


@attrs.frozen
class CodexSettings:
    """What a request on behalf of one ChatGPT account needs (besides its tokens).

    Attributes:
        account_id: Sent as ``ChatGPT-Account-ID`` (None for an account whose tokens name
            none).
        config: The ``codex:`` block the account was loaded with (backend, headers...).
        proxy_url: The account's outbound proxy (``direct`` for none).
    """

    account_id: str | None
    config: CodexConfig
    proxy_url: str | None = None


def token_endpoint(url: str) -> TokenEndpoint:
    """The sign-in service's token endpoint for code exchanges (form bodies)."""
    return TokenEndpoint(
        url=url,
        name="the ChatGPT token endpoint",
        provider=PROVIDER,
        login_command=LOGIN_COMMAND,
        client_setting="codex.client-id",
    )


def _refusal_code(body: bytes) -> str | None:
    """The code of a refusal: ``error.code``, a string ``error``, or a top-level ``code``."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"]).lower()
    if isinstance(error, str):
        return error.lower()
    return str(data["code"]).lower() if isinstance(data.get("code"), str) else None


@attrs.frozen
class RefreshEndpoint(TokenEndpoint):
    """The token endpoint for refreshes (JSON bodies, as Codex sends them): a refresh
    token refused for good becomes a :data:`~cliproxy.SIGN_IN_AGAIN` error."""

    def error(self, status: int, body: bytes, *, secrets: Iterable[str | None] = ()) -> GatewayError:
        code = _refusal_code(body)
        if code in PERMANENT or status == 401:
            why = PERMANENT.get(code or "", f"the sign-in was refused ({code or status})")
            return GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message=f"{self.name} refused the refresh: {why}; sign in again with `{LOGIN_COMMAND}`",
                provider=PROVIDER,
                code=SIGN_IN_AGAIN,
            )
        return super().error(status, body, secrets=secrets)


def refresh_endpoint(url: str) -> RefreshEndpoint:
    return RefreshEndpoint(
        url=url,
        name="the ChatGPT token endpoint",
        provider=PROVIDER,
        login_command=LOGIN_COMMAND,
        client_setting="codex.client-id",
        encoding="json",
    )


def tokens_from_answer(data: Mapping[str, Any], previous: TokenSet | None, now: float) -> TokenSet:
    """A token set from a token-endpoint answer, keeping what it does not repeat (a refresh
    may leave out the id token or the refresh token)."""
    extra = dict(previous.extra) if previous is not None else {}
    id_token = data.get("id_token") if isinstance(data.get("id_token"), str) else None
    if id_token:
        extra["id_token"] = id_token
    access = str(data["access_token"])
    claims = account_claims(extra.get("id_token"), access)
    for key, value in (("account_id", claims.account_id), ("plan_type", claims.plan_type), ("email", claims.email)):
        if value:
            extra[key] = value
    extra["last_refresh"] = format_expiry(now)
    expires_in = data.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at: float | None = now + float(expires_in)
    else:
        expires_at = claims.expires_at
    refresh = data.get("refresh_token")
    return TokenSet(
        access_token=access,
        refresh_token=refresh
        if isinstance(refresh, str) and refresh
        else (previous.refresh_token if previous else None),
        expires_at=expires_at,
        extra=extra,
    )


async def refresh_tokens(http: aiohttp.ClientSession, tokens: TokenSet, proxy: str | None) -> TokenSet:
    """Spend the refresh token (it rotates) at the endpoint and for the client the sign-in
    was made with."""
    if not tokens.refresh_token:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"this ChatGPT sign-in has no refresh token; sign in again with `{LOGIN_COMMAND}`",
            provider=PROVIDER,
            code=SIGN_IN_AGAIN,
        )
    payload = {
        "client_id": tokens.extra.get("client_id") or CODEX_CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
    }
    url = tokens.extra.get("token_url") or DEFAULT_ISSUER + "/oauth/token"
    answer = await refresh_endpoint(url).post(http, payload, proxy=proxy)
    return tokens_from_answer(answer, tokens, time.time())


# -- token files ---------------------------------------------------------------------------------

_FILE_KEYS = ("id_token", "account_id", "email", "plan_type", "last_refresh", "client_id")


def token_file(tokens: TokenSet, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON content of a token file for ``tokens`` (other keys of ``previous`` kept)."""
    out = {k: v for k, v in (previous or {}).items() if k != "expiry"}
    out["type"] = PROVIDER
    out["access_token"] = tokens.access_token
    if tokens.refresh_token:
        out["refresh_token"] = tokens.refresh_token
    out["expired"] = None if tokens.expires_at is None else format_expiry(tokens.expires_at)
    for key in _FILE_KEYS:
        if tokens.extra.get(key):
            out[key] = tokens.extra[key]
    return out


def file_name(tokens: TokenSet) -> str:
    """``codex-<email>-<account>.json``: one file per ChatGPT account (a workspace of the
    same e-mail is another account)."""
    email = tokens.extra.get("email") or "account"
    account = str(tokens.extra.get("account_id") or "")[:8]
    return token_file_name(PROVIDER, f"{email}-{account}" if account else email)


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


class CodexAuth:
    """The ``codex`` token-file type (see :class:`cliproxy.AuthType`)."""

    type = PROVIDER
    provider = PROVIDER
    refresh_lead = REFRESH_LEAD

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        if data.get("disabled") is True:
            return []
        access = _text(data, "access_token")
        if access is None:
            raise ValueError("it has no access_token")
        config = read_codex_config(host.config.root)
        id_token = _text(data, "id_token")
        claims = account_claims(id_token, access)
        account = _text(data, "account_id") or claims.account_id
        email = _text(data, "email") or claims.email
        expires_at = parse_expiry(data.get("expired", data.get("expiry")))
        tokens = TokenSet(
            access_token=access,
            refresh_token=_text(data, "refresh_token"),
            expires_at=expires_at if expires_at is not None else claims.expires_at,
            extra={
                "id_token": id_token,
                "account_id": account,
                "email": email,
                "plan_type": _text(data, "plan_type") or claims.plan_type,
                "last_refresh": _text(data, "last_refresh"),
                "client_id": _text(data, "client_id") or config.client_id,
                "token_url": config.token_url,
            },
        )
        proxy = _text(data, "proxy_url") or config.proxy_url
        priority = data.get("priority")
        credential = Credential(
            id=credential_id(PROVIDER, account or email or path.stem),
            provider=PROVIDER,
            label=email or path.name,
            prefix=_text(data, "prefix") or config.prefix,
            models=config.models,
            excluded_models=config.excluded_models,
            priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else config.priority,
            weight=config.weight,
            proxy_url=proxy,
            settings=CodexSettings(account_id=account, config=config, proxy_url=proxy),
            source=str(path),
        )
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return token_file(tokens, previous)

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        return await refresh_tokens(http, tokens, proxy)
