"""Gemini CLI's stored sign-in, for ``cliproxy login gemini --import``.

Gemini CLI keeps its Google OAuth tokens in ``~/.gemini/oauth_creds.json`` (below
``$GEMINI_CLI_HOME`` instead of the home directory when that is set; on Windows
``%USERPROFILE%\\.gemini``)::

    {"access_token": "ya29...", "refresh_token": "1//...", "expiry_date": 1767225600000,
     "scope": "...", "token_type": "Bearer", "id_token": "..."}

(``expiry_date`` in milliseconds), and the account's e-mail in ``google_accounts.json``
beside it (``{"active": "me@example.com", "old": []}``). The tokens were issued to Gemini
CLI's client, so the imported file names that client. Google does not rotate refresh
tokens: Gemini CLI and cliproxy can both keep refreshing the same sign-in.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cliproxy import TokenSet
from cliproxy.oauth import VendorFile, VendorPath, parse_expiry

from cliproxy_gemini.code_assist.auth import PROVIDER
from cliproxy_gemini.code_assist.options import GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET

__all__ = ["GEMINI_CLI_FILE", "active_account", "tokens_from_gemini_cli"]

GEMINI_CLI_FILE = VendorFile(
    vendor="Gemini CLI",
    create="run `gemini` and choose 'Login with Google'",
    paths=(VendorPath(".gemini/oauth_creds.json", env="GEMINI_CLI_HOME"), VendorPath(".gemini/oauth_creds.json")),
    provider=PROVIDER,
)


def tokens_from_gemini_cli(path: Path, data: dict[str, Any], now: float | None = None) -> TokenSet:
    """The tokens of a parsed ``oauth_creds.json`` (raises the vendor file's errors).

    An access token that expired is fine while a refresh token is there.
    """
    now = time.time() if now is None else now
    access, refresh = data.get("access_token"), data.get("refresh_token")
    refresh = refresh if isinstance(refresh, str) and refresh else None
    if (not isinstance(access, str) or not access) and refresh is None:
        raise GEMINI_CLI_FILE.malformed(path, "it holds neither an access_token nor a refresh_token")
    expires_at = parse_expiry(data.get("expiry_date"))
    if refresh is None and (expires_at is None or expires_at <= now):
        raise GEMINI_CLI_FILE.expired(path)
    return TokenSet(
        access_token=access if isinstance(access, str) else "",
        refresh_token=refresh,
        expires_at=expires_at if isinstance(access, str) and access else 0.0,
        extra={"client_id": GEMINI_CLI_CLIENT_ID, "client_secret": GEMINI_CLI_CLIENT_SECRET},
    )


def active_account(path: Path) -> str | None:
    """The e-mail Gemini CLI recorded as signed in, next to its credentials."""
    try:
        data = json.loads((path.parent / "google_accounts.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    active = data.get("active") if isinstance(data, dict) else None
    return active if isinstance(active, str) and active else None
