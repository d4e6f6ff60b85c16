"""What a Kilo credential holds, and where Kilo's endpoints live under its API root."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs
import orjson
from cliproxy_openai import OpenAISettings

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_API_URL",
    "KiloSettings",
    "api_root",
    "env_api_url",
    "env_organization",
    "jwt_expiry",
]

DEFAULT_API_URL = "https://api.kilo.ai"
DEFAULT_ALIAS = "kilo-default"
EDITOR_NAME = "cliproxy"
_SUFFIXES = ("/api/gateway", "/api/openrouter", "/api")


def api_root(url: str) -> str:
    """The API root (``https://api.kilo.ai``) of a URL given as the root, or as one of the
    gateway's bases (``.../api/gateway``, the legacy ``.../api/openrouter``)."""
    root = url.rstrip("/")
    for suffix in _SUFFIXES:
        if root.endswith(suffix):
            return root[: -len(suffix)]
    return root


def env_api_url(environ: Mapping[str, str] | None = None) -> str:
    """``KILO_API_URL`` (what Kilo's own clients read), else the public API."""
    environ = os.environ if environ is None else environ
    return api_root(environ.get("KILO_API_URL") or DEFAULT_API_URL)


def env_organization(environ: Mapping[str, str] | None = None) -> str | None:
    """``KILO_ORG_ID`` or ``KILOCODE_ORGANIZATION_ID``, as Kilo's clients read them."""
    environ = os.environ if environ is None else environ
    return environ.get("KILO_ORG_ID") or environ.get("KILOCODE_ORGANIZATION_ID") or None


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without checking the signature (for showing
    when it runs out, never for trusting it); None for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims: Any = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@attrs.frozen
class KiloSettings(OpenAISettings):
    """:class:`cliproxy_openai.OpenAISettings` (``base_url`` is the chat gateway,
    ``api_key`` the token of a config entry) plus Kilo's own.

    Attributes:
        api_root: ``https://api.kilo.ai``; every endpoint hangs below it.
        organization_id: The Kilo organization the requests are billed to (None: the
            personal account).
        editor_name: Sent as ``X-KILOCODE-EDITORNAME``.
        default_alias: The model name that stands for the account's default model (from
            Kilo's defaults endpoint); None: not offered.
    """

    api_root: str = DEFAULT_API_URL
    organization_id: str | None = None
    editor_name: str = EDITOR_NAME
    default_alias: str | None = DEFAULT_ALIAS

    # -- endpoints --------------------------------------------------------------------

    @property
    def chat_url(self) -> str:
        return f"{self.api_root}/api/gateway/chat/completions"

    @property
    def responses_url(self) -> str:
        """GPT-5 and o-series models: Kilo's OpenRouter-compatible Responses endpoint
        (what Kilo's own clients use for them)."""
        return f"{self.api_root}/api/openrouter/responses"

    @property
    def models_url(self) -> str:
        if self.organization_id:
            return f"{self.api_root}/api/organizations/{quote(self.organization_id, safe='')}/models"
        return f"{self.api_root}/api/gateway/models"

    @property
    def defaults_url(self) -> str:
        if self.organization_id:
            return f"{self.api_root}/api/organizations/{quote(self.organization_id, safe='')}/defaults"
        return f"{self.api_root}/api/defaults"

    @property
    def balance_url(self) -> str:
        return f"{self.api_root}/api/profile/balance"
