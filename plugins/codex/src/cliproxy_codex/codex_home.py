"""Codex CLI's stored sign-in, for ``cliproxy login codex --import``.

Codex keeps its ChatGPT sign-in in ``auth.json`` in its home directory (``$CODEX_HOME``,
default ``~/.codex``; on Windows ``%USERPROFILE%\\.codex``), mode 0600::

    {"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
     "tokens": {"id_token": "<JWT>", "access_token": "<JWT>", "refresh_token": "...",
                "account_id": "..."},
     "last_refresh": "2026-11-25T10:00:00.123456Z"}

With ``cli_auth_credentials_store = "keyring"`` (or ``auto`` where a keyring exists) it
keeps it in the OS keyring instead, and there is no file to import. The tokens were issued
to Codex's client, so the imported token file names that client and refreshes through it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cliproxy import TokenSet
from cliproxy.oauth import VendorFile, VendorPath, format_expiry, parse_expiry

from cliproxy_codex.claims import account_claims
from cliproxy_codex.settings import CODEX_CLIENT_ID, PROVIDER

__all__ = ["codex_auth_file", "tokens_from_codex"]

_CREATE = (
    'run `codex login` and sign in with ChatGPT (with cli_auth_credentials_store = "keyring" in '
    '~/.codex/config.toml Codex keeps no auth.json: set it to "file" and sign in again)'
)


def codex_auth_file() -> VendorFile:
    """Where Codex keeps its sign-in, and what creates it."""
    return VendorFile(
        vendor="Codex CLI",
        create=_CREATE,
        paths=(VendorPath("auth.json", env="CODEX_HOME"), VendorPath(".codex/auth.json")),
        provider=PROVIDER,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def tokens_from_codex(path: Path, data: dict[str, Any], vendor: VendorFile, now: float | None = None) -> TokenSet:
    """The tokens of a parsed Codex ``auth.json`` (raises the vendor's errors)."""
    now = time.time() if now is None else now
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        if _text(data.get("OPENAI_API_KEY")):
            raise vendor.malformed(path, "it holds an OpenAI API key, not a ChatGPT sign-in")
        raise vendor.malformed(path, "it holds no ChatGPT tokens")
    access = _text(tokens.get("access_token"))
    if access is None:
        raise vendor.malformed(path, "it has no access_token")
    refresh = _text(tokens.get("refresh_token"))
    id_token = _text(tokens.get("id_token"))
    claims = account_claims(id_token, access)
    if refresh is None and claims.expires_at is not None and claims.expires_at <= now:
        raise vendor.expired(path)
    last = parse_expiry(data.get("last_refresh"))
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=claims.expires_at,
        extra={
            "id_token": id_token,
            "account_id": _text(tokens.get("account_id")) or claims.account_id,
            "email": claims.email,
            "plan_type": claims.plan_type,
            "last_refresh": format_expiry(last) if last is not None else None,
            "client_id": CODEX_CLIENT_ID,
        },
    )
