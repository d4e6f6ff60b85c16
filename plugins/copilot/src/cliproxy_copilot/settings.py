"""What a Copilot credential needs to make a call: where GitHub is, and how to introduce
itself to Copilot (the editor headers Copilot requires, versions configurable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from cliproxy import ConfigNode

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_GITHUB_API_URL",
    "DEFAULT_GITHUB_URL",
    "PROVIDER",
    "VSCODE_COPILOT_CLIENT_ID",
    "Client",
    "CopilotSettings",
    "read_client",
]

PROVIDER = "copilot"
VSCODE_COPILOT_CLIENT_ID = "Iv1.b507a08c87ecfe98"
"""The public OAuth client (a GitHub App) of GitHub's own Copilot editor plugins (VS Code,
JetBrains, copilot.vim write their sign-ins under ``github.com:Iv1.b507a08c87ecfe98``).
The default, so ``cliproxy login copilot`` works unconfigured; the account's terms apply.
``copilot-oauth.client-id`` or ``--client-id`` use another."""
DEFAULT_GITHUB_URL = "https://github.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_API_URL = "https://api.githubcopilot.com"
"""Where Copilot requests go when the token exchange names no ``endpoints.api``."""


@attrs.frozen
class Client:
    """How requests introduce themselves: Copilot refuses clients that send no editor
    identity. Each value is configurable (``editor-version``, ``editor-plugin-version``,
    ``user-agent``, ``api-version``, ``messages-api-version``, ``integration-id``)."""

    editor_version: str = "vscode/1.107.0"
    plugin_version: str = "copilot-chat/0.35.0"
    user_agent: str = "GitHubCopilotChat/0.35.0"
    api_version: str = "2025-04-01"
    messages_api_version: str = "2026-06-01"
    integration_id: str = "vscode-chat"

    def github_headers(self, github_token: str) -> dict[str, str]:
        """Headers for GitHub's own API (the token exchange, the quota)."""
        return {
            "authorization": f"token {github_token}",
            "accept": "application/json",
            "editor-version": self.editor_version,
            "editor-plugin-version": self.plugin_version,
            "user-agent": self.user_agent,
            "x-github-api-version": self.api_version,
        }

    def to_dict(self) -> dict[str, str]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Client:
        if not isinstance(data, Mapping):
            return cls()
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: str(v) for k, v in data.items() if k in names and isinstance(v, str) and v})


_CLIENT_KEYS = {
    "editor-version": "editor_version",
    "editor-plugin-version": "plugin_version",
    "user-agent": "user_agent",
    "api-version": "api_version",
    "messages-api-version": "messages_api_version",
    "integration-id": "integration_id",
}


def read_client(node: ConfigNode) -> Client:
    """The client identity keys of a ``copilot`` entry or the ``copilot-oauth`` block."""
    values = {attr: node.str(key) for key, attr in _CLIENT_KEYS.items()}
    return Client(**{attr: value for attr, value in values.items() if value})


@attrs.frozen
class CopilotSettings:
    """One credential's connection details (the Copilot token lives in the token manager).

    Attributes:
        github_api_url: GitHub's API root, for the token exchange and the quota.
        client: The editor identity sent with every request.
        headers: Extra request headers from config.
        proxy_url: Outbound proxy for this credential (``direct`` for none).
    """

    github_api_url: str = DEFAULT_GITHUB_API_URL
    client: Client = Client()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None
