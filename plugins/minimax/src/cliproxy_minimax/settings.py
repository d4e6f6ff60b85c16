"""Regions, endpoints and what a MiniMax credential holds."""

from __future__ import annotations

import attrs

__all__ = [
    "ANTHROPIC",
    "OPENAI",
    "REGIONS",
    "WIRES",
    "MiniMaxSettings",
    "api_root",
]

REGIONS = {"global": "https://api.minimax.io", "cn": "https://api.minimaxi.com"}
"""The API host of each platform: international (platform.minimax.io) and China
(platform.minimaxi.com)."""
ANTHROPIC = "anthropic"
OPENAI = "openai-chat"
WIRES = {"anthropic": ANTHROPIC, "openai": OPENAI}
_SUFFIXES = ("/anthropic/v1", "/anthropic", "/v1")


def api_root(url: str) -> str:
    """The host root of a MiniMax URL given as the root, the Anthropic-compatible base
    (``.../anthropic``) or the OpenAI-compatible one (``.../v1``)."""
    root = url.rstrip("/")
    for suffix in _SUFFIXES:
        if root.endswith(suffix):
            return root[: -len(suffix)]
    return root


@attrs.frozen
class MiniMaxSettings:
    """What a credential needs to call MiniMax.

    Attributes:
        root: The API host (``https://api.minimax.io``); every endpoint hangs below it.
        region: ``global`` or ``cn`` (where a sign-in refreshes when its file says so).
        api_key: An API key from config (None: a signed-in token file's access token).
        wire: ``anthropic`` (default) or ``openai-chat``.
        reasoning_split: On the OpenAI wire, ask for reasoning in ``reasoning_details``.
        remaining_count: Read the Coding Plan's ``current_interval_usage_count`` as what
            is left (True) or as what was used (False).
        headers: Extra request headers.
        proxy_url: This credential's proxy.
        timeout: Seconds per upstream read (None: the gateway's).
    """

    root: str
    region: str = "global"
    api_key: str | None = attrs.field(default=None, repr=False)
    wire: str = ANTHROPIC
    reasoning_split: bool = True
    remaining_count: bool = True
    headers: dict[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None
    timeout: float | None = None

    @property
    def messages_url(self) -> str:
        return f"{self.root}/anthropic/v1/messages"

    @property
    def chat_url(self) -> str:
        return f"{self.root}/v1/chat/completions"

    @property
    def quota_urls(self) -> tuple[str, ...]:
        """The Coding Plan's remaining-quota endpoint, then the shorter path some clients use."""
        return (f"{self.root}/v1/api/openplatform/coding_plan/remains", f"{self.root}/v1/coding_plan/remains")
