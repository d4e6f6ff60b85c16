"""GitHub's side of Copilot: trading a GitHub token for a Copilot token, the signed-in
user, and the account's Copilot usage.

The exchange (``GET {github-api}/copilot_internal/v2/token`` with ``Authorization: token
<github token>``) answers a short-lived Copilot token, when it expires, and the API host
the account must use (``endpoints.api``: individual, business and enterprise accounts
differ). Its refusals become errors that say what to do: a revoked token needs a new
sign-in, an account without Copilot needs a subscription.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
import orjson
from cliproxy import ErrorKind, GatewayError

from cliproxy_copilot.settings import DEFAULT_API_URL, PROVIDER, Client

__all__ = ["CopilotToken", "exchange_token", "fetch_usage", "fetch_user", "refusal"]

TOKEN_PATH = "/copilot_internal/v2/token"
USAGE_PATH = "/copilot_internal/user"
LOGIN_AGAIN = "sign in again with `cliproxy login copilot` (or replace the github-token in the config)"
SUBSCRIBE = (
    "subscribe at https://github.com/features/copilot, or sign in with an account that has Copilot "
    "(`cliproxy login copilot`)"
)
_NO_SUBSCRIPTION = frozenset({"no_copilot_access", "not_signed_up", "subscription_ended", "copilot_disabled"})
_MAX_DETAIL = 300
_MAX_BODY = 256 * 1024  # GitHub's answers here are a few KB


@attrs.frozen
class CopilotToken:
    """What the exchange answered.

    Attributes:
        token: The Copilot token (``tid=...;exp=...:mac``), sent as ``Bearer``.
        expires_at: Unix time it expires.
        api_url: Where Copilot requests go (``endpoints.api``).
        sku: The account's plan as GitHub names it, when given.
    """

    token: str = attrs.field(repr=False)
    expires_at: float
    api_url: str = DEFAULT_API_URL
    sku: str | None = None


def _detail(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return " ".join(text.split())[:_MAX_DETAIL]


def refusal(status: int, body: bytes, *, what: str, github_token: str | None = None) -> GatewayError:
    """The error for GitHub refusing ``what`` (``the Copilot token exchange``): what went
    wrong and what to do about it, never the token."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    data = data if isinstance(data, Mapping) else {}
    details = found if isinstance(found := data.get("error_details"), Mapping) else {}
    notice = details.get("notification_id") if isinstance(details.get("notification_id"), str) else None
    message = next(
        (m for m in (details.get("message"), data.get("message")) if isinstance(m, str) and m.strip()),
        None,
    )
    said = _detail(f"{notice}: {message}" if notice and message else notice or message or "", github_token)
    said = f" ({said})" if said else ""
    if status == 429 or status >= 500:
        return GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{what} answered {status}{said}; GitHub is having trouble, try again shortly",
            provider=PROVIDER,
        )
    if status == 401:
        return GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"GitHub refused the token{said}: it was revoked or has expired; {LOGIN_AGAIN}",
            provider=PROVIDER,
            code="github_token_invalid",
        )
    if notice in _NO_SUBSCRIPTION or (status == 403 and data.get("can_signup_for_limited") is True):
        return GatewayError(
            status=403,
            kind=ErrorKind.PERMISSION,
            message=f"this GitHub account has no Copilot subscription{said}; {SUBSCRIBE}",
            provider=PROVIDER,
            code="no_copilot_access",
        )
    if status in (403, 404):
        return GatewayError(
            status=403,
            kind=ErrorKind.PERMISSION,
            message=f"{what} answered {status}{said}: this GitHub token cannot use Copilot (the account has no "
            "Copilot access, or the token was not issued to a Copilot app); " + SUBSCRIBE,
            provider=PROVIDER,
            code="no_copilot_access",
        )
    return GatewayError(
        status=401,
        kind=ErrorKind.AUTHENTICATION,
        message=f"{what} answered {status}{said}; {LOGIN_AGAIN}",
        provider=PROVIDER,
    )


async def _get(
    http: aiohttp.ClientSession, url: str, headers: Mapping[str, str], proxy: str | None
) -> tuple[int, bytes]:
    async with http.get(url, headers=dict(headers), proxy=proxy or None) as response:
        body = await response.content.read(_MAX_BODY)
        return response.status, body


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


async def exchange_token(
    http: aiohttp.ClientSession,
    *,
    github_api_url: str,
    github_token: str,
    client: Client,
    proxy: str | None = None,
    now: float | None = None,
) -> CopilotToken:
    """Trade ``github_token`` for a Copilot token. Raises :class:`~cliproxy.GatewayError`
    for a refusal (see :func:`refusal`) or an answer without a token; network errors
    propagate (the token manager treats them as transient)."""
    what = "GitHub's Copilot token exchange"
    status, body = await _get(http, github_api_url + TOKEN_PATH, client.github_headers(github_token), proxy)
    if status >= 400:
        raise refusal(status, body, what=what, github_token=github_token)
    data = _json_object(body)
    token = data.get("token") if data is not None else None
    if not isinstance(token, str) or not token:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{what} answered {status} without a token; try again shortly",
            provider=PROVIDER,
        )
    assert data is not None
    now = time.time() if now is None else now
    expires_at = data.get("expires_at")
    refresh_in = data.get("refresh_in")
    if isinstance(expires_at, int | float) and not isinstance(expires_at, bool) and expires_at > 0:
        expiry = float(expires_at)
    elif isinstance(refresh_in, int | float) and not isinstance(refresh_in, bool) and refresh_in > 0:
        expiry = now + float(refresh_in) + 60.0
    else:
        expiry = now + 25 * 60.0  # what the tokens have lived so far
    endpoints = found if isinstance(found := data.get("endpoints"), Mapping) else {}
    api = endpoints.get("api")
    api_url = api.rstrip("/") if isinstance(api, str) and api.startswith(("https://", "http://")) else DEFAULT_API_URL
    sku = data.get("sku") if isinstance(data.get("sku"), str) else None
    return CopilotToken(token=token, expires_at=expiry, api_url=api_url, sku=sku)


async def fetch_user(
    http: aiohttp.ClientSession, *, github_api_url: str, github_token: str, client: Client, proxy: str | None = None
) -> str | None:
    """The login of the account ``github_token`` belongs to (None when GitHub will not
    say: a token without the ``read:user`` scope)."""
    try:
        status, body = await _get(http, github_api_url + "/user", client.github_headers(github_token), proxy)
    except (aiohttp.ClientError, TimeoutError):
        return None
    data = _json_object(body) if status < 400 else None
    login = data.get("login") if data is not None else None
    return login if isinstance(login, str) and login else None


async def fetch_usage(
    http: aiohttp.ClientSession, *, github_api_url: str, github_token: str, client: Client, proxy: str | None = None
) -> dict[str, Any]:
    """The account's Copilot plan and quotas (``copilot_internal/user``)."""
    status, body = await _get(http, github_api_url + USAGE_PATH, client.github_headers(github_token), proxy)
    if status >= 400:
        raise refusal(status, body, what="GitHub's Copilot usage endpoint", github_token=github_token)
    data = _json_object(body)
    if data is None:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"GitHub's Copilot usage endpoint answered {status} with something other than a JSON object",
            provider=PROVIDER,
        )
    return data
