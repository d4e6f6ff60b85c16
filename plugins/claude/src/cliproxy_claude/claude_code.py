"""Claude Code's stored sign-in, for ``cliproxy login claude --import``.

Claude Code keeps its OAuth tokens in ``.credentials.json`` in its config directory
(``$CLAUDE_CONFIG_DIR``, default ``~/.claude``; on Windows ``%USERPROFILE%\\.claude``)::

    {"claudeAiOauth": {"accessToken": "...", "refreshToken": "...", "expiresAt": 1767225600000,
                       "refreshTokenExpiresAt": ..., "scopes": [...], "subscriptionType": "max"}}

(times in milliseconds). On macOS it keeps them in the login Keychain instead, under
``Claude Code-credentials``. The account's e-mail sits in ``.claude.json`` beside the
config directory (``oauthAccount.emailAddress``). The tokens were issued to Claude
Code's client, so the imported file names that client and refreshes through it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from cliproxy import TokenSet
from cliproxy.oauth import VendorFile, VendorPath, parse_expiry

from cliproxy_claude.oauth import CLAUDE_CODE_CLIENT_ID
from cliproxy_claude.settings import PROVIDER

__all__ = ["claude_code_file", "tokens_from_claude_code"]

_CREATE = "run `claude` and sign in with /login"
_KEYCHAIN = (
    " (Claude Code on macOS keeps its sign-in in the Keychain: save it with "
    "`security find-generic-password -s 'Claude Code-credentials' -w > claude-credentials.json` "
    "and import that file)"
)


def claude_code_file(platform: str | None = None) -> VendorFile:
    """Where Claude Code keeps its sign-in, and what creates it, on ``platform``."""
    platform = platform or sys.platform
    return VendorFile(
        vendor="Claude Code",
        create=_CREATE + (_KEYCHAIN if platform == "darwin" else ""),
        paths=(VendorPath(".credentials.json", env="CLAUDE_CONFIG_DIR"), VendorPath(".claude/.credentials.json")),
        provider=PROVIDER,
    )


def _account(path: Path) -> dict[str, str]:
    """The e-mail and organization Claude Code recorded next to its config directory."""
    for candidate in (path.parent.parent / ".claude.json", path.parent / ".claude.json"):
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        account = data.get("oauthAccount") if isinstance(data, dict) else None
        if isinstance(account, dict):
            found = {"email": account.get("emailAddress"), "organization": account.get("organizationName")}
            return {key: value for key, value in found.items() if isinstance(value, str) and value}
    return {}


def tokens_from_claude_code(path: Path, data: dict[str, Any], vendor: VendorFile, now: float | None = None) -> TokenSet:
    """The tokens of a parsed Claude Code credentials file (raises the vendor's errors)."""
    now = time.time() if now is None else now
    oauth = data.get("claudeAiOauth")
    if not isinstance(oauth, dict):
        raise vendor.malformed(path, "it holds no claudeAiOauth sign-in")
    access, refresh = oauth.get("accessToken"), oauth.get("refreshToken")
    if not isinstance(access, str) or not access:
        raise vendor.malformed(path, "it has no accessToken")
    refresh = refresh if isinstance(refresh, str) and refresh else None
    expires_at = parse_expiry(oauth.get("expiresAt"))
    refresh_until = parse_expiry(oauth.get("refreshTokenExpiresAt"))
    access_dead = expires_at is not None and expires_at <= now
    if (refresh is None and access_dead) or (refresh_until is not None and refresh_until <= now):
        raise vendor.expired(path)
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        extra={"client_id": CLAUDE_CODE_CLIENT_ID, **_account(path)},
    )
