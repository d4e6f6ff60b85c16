"""OAuth token files: the kinds a plugin understands, and loading ``auth-dir``.

A plugin registers an :class:`AuthType` for each kind of token file it reads (the file's
top-level ``"type"``); :func:`load_auth_dir` hands every ``*.json`` in ``auth-dir`` to the
matching one, and the :class:`~cliproxy.tokens.TokenManager` refreshes what it loaded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import aiohttp

from cliproxy.credentials import Credential
from cliproxy.errors import GatewayError
from cliproxy.host import Host
from cliproxy.tokens import TokenSet

__all__ = ["AuthType", "load_auth_dir"]

log = logging.getLogger("cliproxy.tokens")


@runtime_checkable
class AuthType(Protocol):
    """Reads, refreshes and writes one kind of token file.

    Attributes:
        type: The ``"type"`` value of the token files it reads (``claude``).
        provider: The provider that executes the credentials it loads.
        refresh_lead: Seconds before expiry at which to refresh.
    """

    type: str
    provider: str
    refresh_lead: float

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        """Credentials (with their tokens) from one parsed token file."""
        ...

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        """The file content for refreshed ``tokens`` (``previous`` is the file as read)."""
        ...

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        """Spend the refresh token; raise :class:`~cliproxy.GatewayError` on failure."""
        ...


def load_auth_dir(directory: Path, auth_types: Mapping[str, AuthType], host: Host) -> list[Credential]:
    """Load every ``*.json`` token file in ``directory``.

    A file that is not JSON, has no known ``type``, or that its auth type rejects is
    logged with the reason and skipped: one bad file never stops the gateway.
    """
    if not directory.is_dir():
        return []
    credentials: list[Credential] = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("skipping token file %s: not readable JSON (%s)", path, exc)
            continue
        if not isinstance(data, dict):
            log.warning("skipping token file %s: not a JSON object", path)
            continue
        kind = data.get("type")
        auth_type = auth_types.get(kind) if isinstance(kind, str) else None
        if auth_type is None:
            known = ", ".join(sorted(auth_types)) or "none installed"
            log.warning("skipping token file %s: unknown type %r (known types: %s)", path, kind, known)
            continue
        try:
            loaded = auth_type.load(path, data, host)
        except (GatewayError, KeyError, ValueError, TypeError) as exc:
            log.warning("skipping token file %s: %s", path, exc)
            continue
        for credential, tokens in loaded:
            host.tokens.track(credential, tokens, auth_type, path=path, file_data=data)
            credentials.append(credential)
    return credentials
