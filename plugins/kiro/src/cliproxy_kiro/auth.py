"""Kiro tokens: the files they live in, and refreshing them the way they were issued.

Two token file layouts are read and written back in their own layout:

* the Kiro IDE's ``~/.aws/sso/cache/kiro-auth-token.json`` (camelCase: ``accessToken``,
  ``refreshToken``, ``expiresAt``, ``authMethod``, ``profileArn``, ``region``; an IdC
  login keeps its OIDC client in the sibling ``<clientIdHash>.json``);
* cliproxy's own ``auth-dir`` files, ``{"type": "kiro", "access_token", "refresh_token",
  "expires_at", "auth_method", "profile_arn", "region", "client_id", "client_secret",
  ...}`` (CLIProxyAPI's layout), written by ``cliproxy login kiro``.

A token refreshes through the service that issued it: social logins (Google, GitHub) at
Kiro's auth service (``POST https://prod.{region}.auth.desktop.kiro.dev/refreshToken``),
AWS Builder ID and IAM Identity Center logins at AWS SSO-OIDC (``POST
https://oidc.{region}.amazonaws.com/token``). ``auth_url`` / ``oidc_url`` in a token file
(``auth-url`` / ``oidc-url`` in config) point either somewhere else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import TokenEndpoint, parse_expiry

from cliproxy_kiro.settings import KiroSettings

__all__ = [
    "BUILDER_ID_START_URL",
    "DEFAULT_REGION",
    "KiroAuthType",
    "cliproxy_token_file",
    "format_time",
    "ide_token_file",
    "oidc_base",
    "parse_time",
    "refresh_endpoint",
    "social_base",
    "tokens_from_file",
]

log = logging.getLogger("cliproxy.kiro")

TOKEN_TYPE = "kiro"
DEFAULT_REGION = "us-east-1"
SOCIAL_AUTH = "https://prod.{region}.auth.desktop.kiro.dev"
SSO_OIDC = "https://oidc.{region}.amazonaws.com"
BUILDER_ID_START_URL = "https://view.awsapps.com/start"
DEFAULT_LIFETIME = 3600
USER_AGENT = "KiroIDE"

# token-file field (cliproxy layout) -> TokenSet.extra key
_EXTRA_FIELDS = (
    "auth_method",
    "provider",
    "profile_arn",
    "region",
    "client_id",
    "client_secret",
    "start_url",
    "email",
    "auth_url",
    "oidc_url",
    "base_url",
    "proxy_url",
)
_IDE_FIELDS = {
    "authMethod": "auth_method",
    "provider": "provider",
    "profileArn": "profile_arn",
    "region": "region",
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "startUrl": "start_url",
    "email": "email",
}


parse_time = parse_expiry
"""Unix seconds from an ISO 8601 string, a datetime (YAML parses bare timestamps into
one) or a number (seconds or milliseconds) -- :func:`cliproxy.oauth.parse_expiry`."""


def format_time(seconds: float) -> str:
    """``2025-12-31T02:32:45.144Z``, as the Kiro IDE writes expiry times."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def auth_method(raw: Any) -> str:
    """``social`` or ``idc`` (Builder ID and IAM Identity Center both use SSO-OIDC)."""
    value = str(raw or "social").strip().lower().replace("_", "-")
    if value in ("idc", "builder-id", "builderid", "iam", "identity-center", "sso", "aws"):
        return "idc"
    return "social"


def social_base(tokens: TokenSet) -> str:
    region = tokens.extra.get("region") or DEFAULT_REGION
    return str(tokens.extra.get("auth_url") or SOCIAL_AUTH.format(region=region)).rstrip("/")


def oidc_base(tokens: TokenSet) -> str:
    region = tokens.extra.get("region") or DEFAULT_REGION
    return str(tokens.extra.get("oidc_url") or SSO_OIDC.format(region=region)).rstrip("/")


def is_ide_layout(data: Mapping[str, Any]) -> bool:
    return "accessToken" in data or "refreshToken" in data


def tokens_from_file(data: Mapping[str, Any], path: Path | None = None) -> TokenSet:
    """The tokens in a parsed token file of either layout (raises ``ValueError``)."""
    extra: dict[str, Any] = {}
    if is_ide_layout(data):
        access, refresh = data.get("accessToken"), data.get("refreshToken")
        expires = parse_time(data.get("expiresAt"))
        for field, key in _IDE_FIELDS.items():
            if data.get(field):
                extra[key] = data[field]
        client_hash = data.get("clientIdHash")
        if path is not None and isinstance(client_hash, str) and client_hash and "client_id" not in extra:
            registration = _read_registration(path.parent / f"{client_hash}.json")
            extra.update(registration)
    else:
        access, refresh = data.get("access_token"), data.get("refresh_token")
        expires = parse_time(data.get("expires_at") or data.get("expired"))
        for key in _EXTRA_FIELDS:
            if data.get(key):
                extra[key] = data[key]
    if not isinstance(refresh, str) or not refresh:
        refresh = None
    if not isinstance(access, str) or not access:
        if refresh is None:
            raise ValueError("the file holds neither an access token nor a refresh token")
        access, expires = "", 0.0  # refresh before first use
    extra["auth_method"] = auth_method(extra.get("auth_method"))
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=expires, extra=extra)


def _read_registration(path: Path) -> dict[str, str]:
    """The OIDC client an IdC login registered (``clientId``, ``clientSecret``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("kiro: the OIDC client registration %s is missing or unreadable; refresh will fail", path)
        return {}
    out = {}
    if isinstance(data, dict):
        if isinstance(data.get("clientId"), str):
            out["client_id"] = data["clientId"]
        if isinstance(data.get("clientSecret"), str):
            out["client_secret"] = data["clientSecret"]
    return out


def ide_token_file(tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The Kiro IDE layout, keeping whatever else the IDE stored in the file."""
    out = dict(previous)
    out["accessToken"] = tokens.access_token
    if tokens.refresh_token:
        out["refreshToken"] = tokens.refresh_token
    if tokens.expires_at is not None:
        out["expiresAt"] = format_time(tokens.expires_at)
    if tokens.extra.get("profile_arn"):
        out["profileArn"] = tokens.extra["profile_arn"]
    return out


def cliproxy_token_file(tokens: TokenSet, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """cliproxy's ``auth-dir`` layout (``"type": "kiro"``).

    Rewriting a file (``previous``) updates the tokens and the fields the file already
    had (and the profile ARN a refresh may bring); settings that came from elsewhere (a
    config entry pointing at the file) stay out of it.
    """
    out = dict(previous or {})
    out["type"] = TOKEN_TYPE
    out["access_token"] = tokens.access_token
    if tokens.refresh_token:
        out["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        out["expires_at"] = format_time(tokens.expires_at)
    for key in _EXTRA_FIELDS:
        if tokens.extra.get(key) and (previous is None or key in previous or key == "profile_arn"):
            out[key] = tokens.extra[key]
    if tokens.extra.get("last_refresh"):
        out["last_refresh"] = tokens.extra["last_refresh"]
    return out


def refresh_endpoint(tokens: TokenSet) -> TokenEndpoint:
    """Where ``tokens`` refresh: AWS SSO-OIDC for IdC logins, else Kiro's auth service."""
    if tokens.extra.get("auth_method") == "idc":
        url, name = oidc_base(tokens) + "/token", "AWS SSO-OIDC"
    else:
        url, name = social_base(tokens) + "/refreshToken", "the Kiro auth service"
    return TokenEndpoint(
        url=url,
        name=name,
        provider="kiro",
        login_command="cliproxy login kiro",
        encoding="json",
        headers={"user-agent": USER_AGENT},
    )


class KiroAuthType:
    """``"type": "kiro"`` token files in ``auth-dir`` (see :class:`cliproxy.AuthType`);
    also refreshes the tokens of ``kiro:`` config entries."""

    type = TOKEN_TYPE
    provider = "kiro"
    refresh_lead = 300.0

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        tokens = tokens_from_file(data, path)
        extra = tokens.extra
        settings = KiroSettings(
            base_url=extra.get("base_url"), region=extra.get("region"), profile_arn=extra.get("profile_arn")
        )
        prefix = data.get("prefix") if isinstance(data.get("prefix"), str) and data.get("prefix") else None
        credential = Credential(
            id=credential_id("kiro-file", path.name),
            provider=self.provider,
            label=f"kiro {path.name}",
            prefix=prefix,
            any_model=prefix is not None,
            proxy_url=extra.get("proxy_url"),
            settings=settings,
            source=str(path),
        )
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        if is_ide_layout(previous):
            return ide_token_file(tokens, previous)
        return cliproxy_token_file(tokens, previous)

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        if not tokens.refresh_token:
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message="this Kiro credential has no refresh token; add 'refresh-token' or log in again",
                provider="kiro",
            )
        extra = dict(tokens.extra)
        body: dict[str, Any] = {"refreshToken": tokens.refresh_token}
        if extra.get("auth_method") == "idc":
            if not extra.get("client_id") or not extra.get("client_secret"):
                raise GatewayError(
                    status=401,
                    kind=ErrorKind.AUTHENTICATION,
                    message="this Kiro IdC token has no OIDC client id/secret to refresh with; "
                    "log in again with 'cliproxy login kiro --builder-id'",
                    provider="kiro",
                )
            body = {
                "clientId": extra["client_id"],
                "clientSecret": extra["client_secret"],
                "refreshToken": tokens.refresh_token,
                "grantType": "refresh_token",
            }
        data = await refresh_endpoint(tokens).post(http, body, proxy=proxy, require="accessToken")
        access = data["accessToken"]
        refresh = data.get("refreshToken")
        lifetime = data.get("expiresIn")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME
        if isinstance(data.get("profileArn"), str) and data["profileArn"]:
            extra["profile_arn"] = data["profileArn"]
        now = time.time()
        extra["last_refresh"] = format_time(now)
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else tokens.refresh_token,
            expires_at=now + float(lifetime),
            extra=extra,
        )
