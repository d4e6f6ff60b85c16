"""Roo Code Cloud tokens: JWTs whose claims say whose they are and when they run out.

Claims (``apps/cli/src/lib/auth/token.ts`` of the Roo CLI): ``{iss, sub, exp, iat, nbf,
v, r: {u: user id, o: organization id, t: type}}``. They are read without checking the
signature -- to show and honour the expiry, never to trust anything else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

__all__ = ["TokenClaims", "claims_of", "read_cli_credentials", "token_from_cli_file"]


@attrs.frozen
class TokenClaims:
    expires_at: float | None = None
    user_id: str | None = None
    org_id: str | None = None


def claims_of(token: str) -> TokenClaims:
    """What a token's payload says (nothing, for a token that is not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return TokenClaims()
    try:
        payload: Any = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return TokenClaims()
    if not isinstance(payload, Mapping):
        return TokenClaims()
    exp = payload.get("exp")
    roles = found if isinstance(found := payload.get("r"), Mapping) else {}
    user = roles.get("u") or payload.get("sub")
    org = roles.get("o")
    return TokenClaims(
        expires_at=float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None,
        user_id=user if isinstance(user, str) and user else None,
        org_id=org if isinstance(org, str) and org else None,
    )


def token_from_cli_file(data: Mapping[str, Any]) -> str | None:
    """The session token in the Roo CLI's ``cli-credentials.json`` (``token``; an API key
    saved for the ``roo`` provider as a fallback)."""
    token = data.get("token")
    if isinstance(token, str) and token:
        return token
    keys = data.get("apiKeys")
    key = keys.get("roo") if isinstance(keys, Mapping) else None
    return key if isinstance(key, str) and key else None


def read_cli_credentials(path: Path) -> str:
    """The token in the Roo CLI's credentials file; ``ValueError`` saying what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    token = token_from_cli_file(data) if isinstance(data, Mapping) else None
    if token is None:
        raise ValueError(f"{path} holds no Roo Code Cloud token ('token')")
    return token
