"""What a Claude credential needs to make a call."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_BASE_URL", "PROVIDER", "ClaudeSettings"]

PROVIDER = "claude"
DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


@attrs.frozen
class ClaudeSettings:
    """One credential's connection details.

    Attributes:
        base_url: The API root; requests go to ``{base_url}/v1/messages``.
        api_key: The key (None for OAuth credentials, whose token lives in the token manager).
        oauth: The credential is a Claude subscription signed in with OAuth.
        headers: Extra request headers from config.
        proxy_url: Outbound proxy for this credential (``direct`` for none).
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = attrs.field(default=None, repr=False)
    oauth: bool = False
    headers: Mapping[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None

    @property
    def is_anthropic(self) -> bool:
        """True for Anthropic's own API (which wants ``x-api-key``, not a bearer token)."""
        return _is_anthropic(self.base_url)


@functools.lru_cache(maxsize=64)
def _is_anthropic(base_url: str) -> bool:
    return urlsplit(base_url).hostname == "api.anthropic.com"
