"""What a Roo Code Cloud credential holds, and the proxy's address."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs
from cliproxy_openai import OpenAISettings

__all__ = ["APP_VERSION", "DEFAULT_PROXY_URL", "RooSettings", "proxy_base"]

DEFAULT_PROXY_URL = "https://api.roocode.com/proxy"
APP_VERSION = "3.31.1"
"""The Roo Code version the requests name (``X-Roo-App-Version``, ``User-Agent``), as the
extension sends its own; ``app-version`` changes it."""


def proxy_base(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The OpenAI-compatible base of the Roo Code Cloud proxy: ``url``, else
    ``ROO_CODE_PROVIDER_URL`` (what Roo Code reads), else ``https://api.roocode.com/proxy``
    -- with ``/v1`` appended unless it ends so already, as Roo Code does."""
    environ = os.environ if environ is None else environ
    base = (url or environ.get("ROO_CODE_PROVIDER_URL") or DEFAULT_PROXY_URL).rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


@attrs.frozen
class RooSettings(OpenAISettings):
    """:class:`cliproxy_openai.OpenAISettings` (``base_url`` is the proxy's ``.../v1``;
    ``api_key`` stays None: the token lives with the gateway's token manager) plus Roo's.

    Attributes:
        app_version: Sent as ``X-Roo-App-Version`` and in ``User-Agent``.
        source: Where the token came from, for messages (``config``, ``ROO_CODE_CLOUD_TOKEN``,
            a file).
    """

    app_version: str = APP_VERSION
    source: str = "config"
