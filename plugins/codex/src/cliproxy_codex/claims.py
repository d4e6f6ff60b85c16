"""What the ChatGPT sign-in's tokens say about the account.

The id token (and the access token) are JWTs whose claims name the ChatGPT account: the
``https://api.openai.com/auth`` claim holds ``chatgpt_account_id`` (sent as
``ChatGPT-Account-ID``) and ``chatgpt_plan_type`` (``free``, ``plus``, ``pro``, ``team``...).
The gateway reads them without checking the signature: they come from the token endpoint
it just asked, and only label and route the account.
"""

from __future__ import annotations

import base64
from typing import Any

import attrs
import orjson

__all__ = ["AccountClaims", "account_claims", "jwt_claims"]

_AUTH = "https://api.openai.com/auth"
_PROFILE = "https://api.openai.com/profile"
_MAX_TOKEN = 64 * 1024  # a JWT larger than this is not one of ours


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT, or ``{}`` when ``token`` is not one."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@attrs.frozen
class AccountClaims:
    """The account a sign-in belongs to (each field None when the tokens do not say)."""

    account_id: str | None = None
    plan_type: str | None = None
    email: str | None = None
    expires_at: float | None = None  # the access token's ``exp``


def account_claims(id_token: str | None, access_token: str | None = None) -> AccountClaims:
    """The account, plan and e-mail from the id token (the access token fills gaps), and
    the access token's expiry. The account falls back to a top-level
    ``chatgpt_account_id``, then to the first organization, as other clients do."""
    ident, access = jwt_claims(id_token), jwt_claims(access_token)
    account = plan = email = None
    for claims in (ident, access):
        auth = found if isinstance(found := claims.get(_AUTH), dict) else {}
        profile = found if isinstance(found := claims.get(_PROFILE), dict) else {}
        account = account or _text(auth.get("chatgpt_account_id")) or _text(claims.get("chatgpt_account_id"))
        plan = plan or _text(auth.get("chatgpt_plan_type"))
        email = email or _text(claims.get("email")) or _text(profile.get("email"))
        if account is None:
            organizations = auth.get("organizations") or claims.get("organizations")
            if isinstance(organizations, list) and organizations and isinstance(organizations[0], dict):
                account = _text(organizations[0].get("id"))
    exp = access.get("exp")
    expires = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    return AccountClaims(account, plan, email, expires)
