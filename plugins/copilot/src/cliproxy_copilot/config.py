"""The config blocks: ``copilot`` (GitHub tokens given directly) and ``copilot-oauth``
(where ``cliproxy login copilot`` signs in, and defaults for the accounts it signed in).

::

    copilot:
      - github-token: ${GITHUB_COPILOT_TOKEN}
        prefix: copilot
    copilot-oauth:
      client-id: Iv1.b507a08c87ecfe98     # the default: GitHub's Copilot editor app
      prefix: copilot
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from cliproxy import ConfigNode, ModelEntry, read_common_fields

from cliproxy_copilot.settings import (
    DEFAULT_GITHUB_API_URL,
    DEFAULT_GITHUB_URL,
    VSCODE_COPILOT_CLIENT_ID,
    Client,
    read_client,
)

__all__ = ["DEFAULT_SCOPES", "OAUTH_BLOCK", "OAuthSettings", "read_oauth_settings", "read_url"]

OAUTH_BLOCK = "copilot-oauth"
DEFAULT_SCOPES = "read:user"


def read_url(node: ConfigNode, key: str, default: str) -> str:
    """An ``http(s)://`` URL setting, without its trailing slash."""
    url = (node.str(key) or default).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise node.error(key, f"{key} '{url}' must start with https:// (or http://)", hint=f"the default is {default}")
    return url


@attrs.frozen
class OAuthSettings:
    """The ``copilot-oauth:`` block: where to sign in, and defaults for signed-in accounts."""

    client_id: str = VSCODE_COPILOT_CLIENT_ID
    github_url: str = DEFAULT_GITHUB_URL
    github_api_url: str = DEFAULT_GITHUB_API_URL
    scopes: str = DEFAULT_SCOPES
    client: Client = Client()
    prefix: str | None = None
    proxy_url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    models: tuple[ModelEntry, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1


def read_oauth_settings(root: ConfigNode, *, check: bool = False) -> OAuthSettings:
    """Read ``copilot-oauth`` from the top-level config (defaults when absent); ``check``
    reports unknown keys."""
    node = root.node(OAUTH_BLOCK)
    if node is None:
        return OAuthSettings()
    fields = read_common_fields(node, api_key=None, base_url=None)
    settings = OAuthSettings(
        client_id=node.str("client-id") or VSCODE_COPILOT_CLIENT_ID,
        github_url=read_url(node, "github-url", DEFAULT_GITHUB_URL),
        github_api_url=read_url(node, "github-api-url", DEFAULT_GITHUB_API_URL),
        scopes=node.str("scopes") or DEFAULT_SCOPES,
        client=read_client(node),
        prefix=fields.prefix,
        proxy_url=fields.proxy_url,
        headers=fields.headers,
        models=fields.models,
        excluded_models=fields.excluded_models,
        priority=fields.priority,
        weight=fields.weight,
    )
    if check:
        node.done()
    return settings
