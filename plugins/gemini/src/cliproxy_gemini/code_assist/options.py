"""``gemini-cli:`` -- settings for Gemini CLI / Code Assist OAuth credentials.

The block is optional; every key has a default::

    gemini-cli:
      client-id: "..."                           # default: Gemini CLI's public client
      client-secret: "..."                       # needed with a client id of your own
      base-url: https://cloudcode-pa.googleapis.com
      callback-port: 8085                        # default: 8085, else any free port
      preview-models:                            # quota-exceeded.switch-preview-model
        gemini-2.5-pro: gemini-2.5-pro-preview-06-05
      cli-version: "0.56.0"                       # in the User-Agent Code Assist expects
      proxy-url: socks5://...
      headers: {X-Extra: value}

The OAuth client defaults to Gemini CLI's own installed-app client
(:data:`GEMINI_CLI_CLIENT_ID`). Another comes from this block, from
``CLIPROXY_GEMINI_CLIENT_ID`` / ``CLIPROXY_GEMINI_CLIENT_SECRET``, or from ``cliproxy
login gemini --client-id ... --client-secret ...``; the token file keeps the client its
tokens were issued to, so refreshes use it whatever the config says later.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from typing import TypedDict

import attrs
from cliproxy import ConfigNode

__all__ = [
    "DEFAULT_AUTH_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_CALLBACK_PORTS",
    "DEFAULT_TOKEN_URL",
    "DEFAULT_USERINFO_URL",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "GEMINI_CLI_CLIENT_ID",
    "GEMINI_CLI_CLIENT_SECRET",
    "SCOPES",
    "CodeAssistOptions",
    "read_options",
]

DEFAULT_BASE_URL = "https://cloudcode-pa.googleapis.com"
DEFAULT_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_USERINFO_URL = "https://www.googleapis.com/oauth2/v2/userinfo"
DEFAULT_CLI_VERSION = "0.56.0"
SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
ENV_CLIENT_ID = "CLIPROXY_GEMINI_CLIENT_ID"
ENV_CLIENT_SECRET = "CLIPROXY_GEMINI_CLIENT_SECRET"
DEFAULT_CALLBACK_PORTS = (8085, 0)
"""8085 as CLIProxyAPI uses; when it is taken, any free port (Google accepts any loopback
port for installed-app clients, and Gemini CLI picks one at random)."""

# Gemini CLI's OAuth client, published in its Apache-2.0 source
# (google-gemini/gemini-cli, packages/core/src/code_assist/oauth2.ts, OAUTH_CLIENT_ID and
# OAUTH_CLIENT_SECRET). The source notes that an installed application's secret is not
# treated as a secret and is meant to be embedded
# (https://developers.google.com/identity/protocols/oauth2#installed). The account's terms
# apply; see the README for using a client of your own.
GEMINI_CLI_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
GEMINI_CLI_CLIENT_SECRET = "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"

_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


@attrs.frozen
class CodeAssistOptions:
    """The ``gemini-cli`` block, read."""

    base_url: str = DEFAULT_BASE_URL
    auth_url: str = DEFAULT_AUTH_URL
    token_url: str = DEFAULT_TOKEN_URL
    userinfo_url: str = DEFAULT_USERINFO_URL
    client_id: str = GEMINI_CLI_CLIENT_ID
    client_secret: str | None = attrs.field(default=GEMINI_CLI_CLIENT_SECRET, repr=False)
    callback_ports: tuple[int, ...] = DEFAULT_CALLBACK_PORTS
    cli_version: str = DEFAULT_CLI_VERSION
    preview_models: Mapping[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)

    def preview_for(self, model: str) -> str | None:
        """The model to try when ``model``'s quota is spent (``switch-preview-model``):
        the configured one, else ``<model>-preview`` for a model that is not a preview."""
        configured = self.preview_models.get(model)
        if configured:
            return configured
        return None if "preview" in model else f"{model}-preview"

    def user_agent(self, model: str) -> str:
        """The User-Agent Gemini CLI sends: ``GeminiCLI/<version>/<model> (<os>; <arch>; terminal)``."""
        arch = _ARCH.get(platform.machine().lower(), platform.machine().lower() or "x64")
        return f"GeminiCLI/{self.cli_version}/{model} ({sys.platform}; {arch}; terminal)"


def _url(node: ConfigNode, key: str, default: str) -> str:
    value = (node.str(key) or default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise node.error(key, f"'{node.qualified(key)}' must start with http:// or https://")
    return value


class _Client(TypedDict):
    client_id: str
    client_secret: str | None


def _client(client_id: str | None, secret: str | None) -> _Client:
    """The client to sign in with: the one configured (whose secret must be configured
    too), else Gemini CLI's."""
    if client_id is None or client_id == GEMINI_CLI_CLIENT_ID:
        return _Client(client_id=GEMINI_CLI_CLIENT_ID, client_secret=secret or GEMINI_CLI_CLIENT_SECRET)
    return _Client(client_id=client_id, client_secret=secret)


def read_options(root: ConfigNode, *, strict: bool = False) -> CodeAssistOptions:
    """The ``gemini-cli`` block of the config (defaults when absent). ``strict`` rejects
    unknown keys; the provider reads strictly once, everyone else leniently."""
    node = root.node("gemini-cli")
    env_id = os.environ.get(ENV_CLIENT_ID) or None
    env_secret = os.environ.get(ENV_CLIENT_SECRET) or None
    if node is None:
        return CodeAssistOptions(**_client(env_id, env_secret))
    previews = node.node("preview-models")
    port = node.int("callback-port", None, minimum=0)
    options = CodeAssistOptions(
        base_url=_url(node, "base-url", DEFAULT_BASE_URL),
        auth_url=_url(node, "auth-url", DEFAULT_AUTH_URL),
        token_url=_url(node, "token-url", DEFAULT_TOKEN_URL),
        userinfo_url=_url(node, "userinfo-url", DEFAULT_USERINFO_URL),
        **_client(node.str("client-id") or env_id, node.str("client-secret") or env_secret),
        callback_ports=DEFAULT_CALLBACK_PORTS if port is None else (port,),
        cli_version=node.str("cli-version") or DEFAULT_CLI_VERSION,
        preview_models={} if previews is None else {name: previews.str(name) for name in previews.keys()},
        proxy_url=node.str("proxy-url") or None,
        headers=node.str_map("headers"),
    )
    if strict:
        node.done()
    return options
