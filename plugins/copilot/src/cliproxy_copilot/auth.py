"""Copilot credentials as the token manager sees them, and their token files.

A Copilot credential holds two tokens: the long-lived GitHub token (the *refresh* token
here) and the short-lived Copilot token the exchange trades it for (the *access* token,
about 30 minutes). So the core's token manager does the Copilot bookkeeping: it exchanges
``refresh_lead`` seconds before the Copilot token expires and after a 401, one exchange
at a time per credential even across instances sharing a state store, and publishes the
new token so the other instances use it instead of exchanging again.

A token file in ``auth-dir`` (written by ``cliproxy login copilot``)::

    {"type": "copilot", "github_token": "ghu_...", "user": "octocat",
     "client_id": "Iv1.b507a08c87ecfe98", "copilot_token": "tid=...",
     "copilot_expires_at": 1767225600, "api_url": "https://api.individual.githubcopilot.com"}

CLIProxyAPIPlus's ``"type": "github-copilot"`` files (the GitHub token in
``access_token``) load too, and keep their layout when written back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import Credential, ErrorKind, GatewayError, Host, TokenSet, credential_id
from cliproxy.oauth import parse_expiry

from cliproxy_copilot.config import read_oauth_settings
from cliproxy_copilot.github import LOGIN_AGAIN, CopilotToken, exchange_token
from cliproxy_copilot.settings import DEFAULT_API_URL, DEFAULT_GITHUB_API_URL, PROVIDER, Client, CopilotSettings

__all__ = ["REFRESH_LEAD", "CopilotAuth", "api_url_of", "copilot_tokens", "initial_tokens", "token_file"]

REFRESH_LEAD = 300.0
"""Exchange again five minutes before the Copilot token expires (it lives about 30
minutes and says to refresh after 25)."""
REFUSAL_PAUSE = 300.0
"""After GitHub refused a token (revoked, no subscription), ask again only after this long:
the token manager's background loop would otherwise ask every 30 seconds."""
MAX_REFUSALS = 256


def initial_tokens(github_token: str, *, github_api_url: str, client: Client, **extra: Any) -> TokenSet:
    """The tokens of a credential that has not exchanged yet: the first use exchanges."""
    return TokenSet(
        access_token="",
        refresh_token=github_token,
        expires_at=0.0,
        extra={"github_api_url": github_api_url, "client": client.to_dict(), **extra},
    )


def copilot_tokens(previous: TokenSet, exchanged: CopilotToken) -> TokenSet:
    """``previous`` with the Copilot token an exchange answered."""
    extra = {**previous.extra, "api_url": exchanged.api_url}
    if exchanged.sku:
        extra["sku"] = exchanged.sku
    return TokenSet(
        access_token=exchanged.token,
        refresh_token=previous.refresh_token,
        expires_at=exchanged.expires_at,
        extra=extra,
    )


def api_url_of(tokens: TokenSet) -> str:
    """Where this account's Copilot requests go (the exchange's ``endpoints.api``)."""
    url = tokens.extra.get("api_url")
    return url if isinstance(url, str) and url else DEFAULT_API_URL


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


class CopilotAuth:
    """A Copilot token-file type (see :class:`cliproxy.AuthType`): ``copilot`` files, or
    CLIProxyAPIPlus's ``github-copilot`` ones (``github_key="access_token"``)."""

    provider = PROVIDER
    refresh_lead = REFRESH_LEAD

    def __init__(
        self,
        type: str = "copilot",
        github_key: str = "github_token",
        user_key: str = "user",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.type = type
        self._github_key = github_key
        self._user_key = user_key
        self._clock = clock
        self._refused: dict[str, tuple[float, GatewayError]] = {}

    # -- files ---------------------------------------------------------------------------

    def load(self, path: Path, data: Mapping[str, Any], host: Host) -> Sequence[tuple[Credential, TokenSet]]:
        if data.get("disabled") is True:
            return []
        github_token = _text(data, self._github_key)
        if github_token is None:
            raise ValueError(f"it has no {self._github_key} (the GitHub token)")
        settings = read_oauth_settings(host.config.root)
        user = _text(data, self._user_key)
        github_api_url = (_text(data, "github_api_url") or settings.github_api_url).rstrip("/")
        tokens = initial_tokens(
            github_token,
            github_api_url=github_api_url,
            client=settings.client,
            user=user,
            client_id=_text(data, "client_id") or settings.client_id,
        )
        copilot = _text(data, "copilot_token")
        expires = parse_expiry(data.get("copilot_expires_at"))
        if copilot is not None and expires is not None:
            tokens.access_token, tokens.expires_at = copilot, expires
            tokens.extra["api_url"] = _text(data, "api_url") or DEFAULT_API_URL
            if _text(data, "sku"):
                tokens.extra["sku"] = data["sku"]
        proxy = _text(data, "proxy_url") or settings.proxy_url
        priority = data.get("priority")
        credential = Credential(
            id=credential_id("copilot", f"user:{user}" if user else github_token),
            provider=PROVIDER,
            label=user or path.name,
            prefix=_text(data, "prefix") or settings.prefix,
            models=settings.models,
            excluded_models=settings.excluded_models,
            priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else settings.priority,
            weight=settings.weight,
            proxy_url=proxy,
            settings=CopilotSettings(
                github_api_url=github_api_url, client=settings.client, headers=settings.headers, proxy_url=proxy
            ),
            source=str(path),
        )
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return token_file(tokens, previous, type=self.type, github_key=self._github_key)

    # -- the exchange ----------------------------------------------------------------------

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        github_token = tokens.refresh_token
        if not github_token:
            raise GatewayError(
                status=401,
                kind=ErrorKind.AUTHENTICATION,
                message=f"the credential has no GitHub token; {LOGIN_AGAIN}",
                provider=PROVIDER,
            )
        key = _fingerprint(github_token)
        now = self._clock()
        refused = self._refused.get(key)
        if refused is not None and refused[0] > now:
            raise refused[1]
        try:
            exchanged = await exchange_token(
                http,
                github_api_url=str(tokens.extra.get("github_api_url") or DEFAULT_GITHUB_API_URL),
                github_token=github_token,
                client=Client.from_dict(tokens.extra.get("client")),
                proxy=proxy,
            )
        except GatewayError as error:
            if error.status in (401, 403):
                self._remember(key, now + REFUSAL_PAUSE, error)
            raise
        self._refused.pop(key, None)
        return copilot_tokens(tokens, exchanged)

    def _remember(self, key: str, until: float, error: GatewayError) -> None:
        if len(self._refused) >= MAX_REFUSALS:
            now = self._clock()
            self._refused = {k: v for k, v in self._refused.items() if v[0] > now}
            while len(self._refused) >= MAX_REFUSALS:
                self._refused.pop(next(iter(self._refused)))
        self._refused[key] = (until, error)


def token_file(
    tokens: TokenSet,
    previous: Mapping[str, Any] | None = None,
    *,
    type: str = "copilot",
    github_key: str = "github_token",
) -> dict[str, Any]:
    """The JSON content of a token file for ``tokens`` (keeping other keys of ``previous``)."""
    out = dict(previous or {})
    out["type"] = type
    out[github_key] = tokens.refresh_token
    for key in ("user", "client_id", "sku", "api_url"):
        value = tokens.extra.get(key)
        if isinstance(value, str) and value and (key != "user" or github_key == "github_token"):
            out[key] = value
    github_api_url = tokens.extra.get("github_api_url")
    if isinstance(github_api_url, str) and github_api_url != DEFAULT_GITHUB_API_URL:
        out["github_api_url"] = github_api_url
    if tokens.access_token and tokens.expires_at:
        out["copilot_token"] = tokens.access_token
        out["copilot_expires_at"] = int(tokens.expires_at)
    return out
