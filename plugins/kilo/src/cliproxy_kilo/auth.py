"""Kilo token files in ``auth-dir`` (``"type": "kilo"``), written by ``cliproxy login kilo``.

Layout::

    {"type": "kilo", "token": "<JWT>", "organization_id": "<org id or absent>",
     "email": "...", "expires_at": "2027-01-31T12:00:00Z", "base_url": "<non-default API root>"}

CLIProxyAPI++'s layout (``kilocodeToken``, ``kilocodeOrganizationId``) is read too. Kilo
tokens cannot be refreshed: when one expires (its JWT ``exp``) or Kilo refuses it, the
credential rests with "sign in again with `cliproxy login kilo`".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import format_expiry, parse_expiry

from cliproxy_kilo.settings import KiloSettings, api_root, env_api_url, jwt_expiry

__all__ = ["TOKEN_TYPE", "KiloAuthType", "token_file"]

TOKEN_TYPE = "kilo"
SIGN_IN_AGAIN = "sign in again with `cliproxy login kilo`"


def token_file(
    token: str,
    *,
    organization_id: str | None = None,
    email: str | None = None,
    api_url: str | None = None,
    expires_at: float | None = None,
) -> dict[str, Any]:
    """The content of a ``"type": "kilo"`` token file."""
    content: dict[str, Any] = {"type": TOKEN_TYPE, "token": token}
    if organization_id:
        content["organization_id"] = organization_id
    if email:
        content["email"] = email
    expiry = expires_at if expires_at is not None else jwt_expiry(token)
    if expiry is not None:
        content["expires_at"] = format_expiry(expiry)
    if api_url and api_root(api_url) != env_api_url({}):
        content["base_url"] = api_root(api_url)
    return content


def _text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class KiloAuthType:
    """``"type": "kilo"`` token files (see :class:`cliproxy.AuthType`)."""

    type = TOKEN_TYPE
    provider = "kilo"
    refresh_lead = 0.0  # nothing to refresh ahead of: the token is good until it expires

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        token = _text(data, "token", "kilocodeToken")
        if token is None:
            raise ValueError("the file holds no Kilo token ('token'); sign in again with 'cliproxy login kilo'")
        organization = _text(data, "organization_id", "kilocodeOrganizationId")
        root = api_root(_text(data, "base_url") or env_api_url())
        settings = KiloSettings(
            base_url=root + "/api/gateway",
            api_root=root,
            organization_id=organization,
            proxy_url=_text(data, "proxy_url"),
        )
        prefix = _text(data, "prefix")
        credential = Credential(
            id=credential_id("kilo", "file", path.name),
            provider=self.provider,
            label=f"kilo {path.name}",
            prefix=prefix,
            any_model=prefix is not None,
            proxy_url=settings.proxy_url,
            settings=settings,
            source=str(path),
        )
        expires = parse_expiry(data.get("expires_at")) or jwt_expiry(token)
        extra = {"email": _text(data, "email"), "organization_id": organization}
        return [(credential, TokenSet(access_token=token, expires_at=expires, extra=extra))]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return dict(previous)  # a Kilo token never changes: the file stays as it was

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"the Kilo sign-in has expired or was refused (Kilo tokens cannot be renewed); {SIGN_IN_AGAIN}",
            provider=self.provider,
            code="sign_in_again",
        )
