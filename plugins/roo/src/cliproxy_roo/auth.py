"""Roo Code Cloud tokens under the gateway's token manager.

Every Roo credential's token is tracked there -- a ``roo:`` entry's (``token``,
``token-file``, ``ROO_CODE_CLOUD_TOKEN``) and ``cliproxy login roo``'s files in
``auth-dir`` (``"type": "roo"``) -- with its JWT ``exp`` as the expiry, so ``/v0/status``
shows ``token_expires`` and an expired token is never sent.

Roo tokens cannot be renewed. "Refreshing" one re-reads the file it came from when that
is the Roo CLI's ``cli-credentials.json`` (a new sign-in with the Roo CLI is picked up
without a restart); otherwise, or when the file holds no newer token, the credential rests
with "sign in again".

File layout::

    {"type": "roo", "token": "<JWT>", "user_id": "...", "org_id": "...",
     "expires_at": "2026-01-31T12:00:00Z", "created_at": "...", "base_url": "<non-default>"}
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import format_expiry, parse_expiry

from cliproxy_roo.settings import RooSettings, proxy_base
from cliproxy_roo.token import claims_of, read_cli_credentials

__all__ = ["TOKEN_TYPE", "RooAuthType", "sign_in_again", "token_file", "tokens_for"]

TOKEN_TYPE = "roo"
LOGIN = "cliproxy login roo"


def sign_in_again(tokens: TokenSet) -> str:
    """What to do about a spent token, naming where it came from."""
    if tokens.extra.get("token_file"):
        return f"sign in again with `{LOGIN}`, or with the Roo CLI (`roo auth login`), which writes {tokens.extra['token_file']}"
    return f"sign in again with `{LOGIN}`"


def tokens_for(token: str, **extra: Any) -> TokenSet:
    """The token set of a Roo token (expiring at its JWT ``exp``)."""
    return TokenSet(
        access_token=token, expires_at=claims_of(token).expires_at, extra={k: v for k, v in extra.items() if v}
    )


def token_file(token: str, *, base_url: str | None = None) -> dict[str, Any]:
    """The content of a ``"type": "roo"`` token file."""
    claims = claims_of(token)
    content: dict[str, Any] = {"type": TOKEN_TYPE, "token": token}
    if claims.user_id:
        content["user_id"] = claims.user_id
    if claims.org_id:
        content["org_id"] = claims.org_id
    if claims.expires_at is not None:
        content["expires_at"] = format_expiry(claims.expires_at)
    content["created_at"] = format_expiry(time.time())
    if base_url and proxy_base(base_url) != proxy_base(environ={}):
        content["base_url"] = base_url
    return content


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


class RooAuthType:
    """``"type": "roo"`` token files (see :class:`cliproxy.AuthType`); also the
    "refresh" of every Roo credential's token (see the module doc)."""

    type = TOKEN_TYPE
    provider = "roo"
    refresh_lead = 0.0  # a Roo token is good until its exp: nothing to renew ahead of it

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        token = _text(data, "token")
        if token is None:
            raise ValueError(f"the file holds no Roo Code Cloud token ('token'); sign in again with '{LOGIN}'")
        settings = RooSettings(base_url=proxy_base(_text(data, "base_url")), source=str(path))
        prefix = _text(data, "prefix")
        credential = Credential(
            id=credential_id("roo", "file", path.name, token),  # a new sign-in is a new credential: no stale rests
            provider=self.provider,
            label=f"roo {path.name}",
            prefix=prefix,
            any_model=prefix is not None,
            proxy_url=_text(data, "proxy_url"),
            settings=settings,
            source=str(path),
        )
        tokens = tokens_for(token, user_id=_text(data, "user_id"), org_id=_text(data, "org_id"))
        if tokens.expires_at is None:
            tokens.expires_at = parse_expiry(data.get("expires_at"))
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return {**previous, "token": tokens.access_token}

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        source = tokens.extra.get("token_file")
        if source:
            try:
                fresh = read_cli_credentials(Path(source))
            except ValueError:
                fresh = None
            expires = claims_of(fresh).expires_at if fresh else None
            if fresh and fresh != tokens.access_token and (expires is None or expires > time.time()):
                return tokens_for(fresh, **tokens.extra)
        expired = tokens.expires_at is not None and tokens.expires_at <= time.time()
        what = (
            f"the Roo Code Cloud sign-in expired at {format_expiry(tokens.expires_at)}"  # type: ignore[arg-type]
            if expired
            else "Roo Code Cloud refused the token"
        )
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"{what} (Roo tokens cannot be renewed); {sign_in_again(tokens)}",
            provider=self.provider,
            code="sign_in_again",
        )
