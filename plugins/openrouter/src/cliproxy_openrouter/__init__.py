"""cliproxy provider plugin for OpenRouter.

Config block ``openrouter:`` -- a list of entries, one per API key::

    openrouter:
      - api-key: "${OPENROUTER_API_KEY}"
        prefix: "batch"                   # clients ask for batch/<model>
        http-referer: "https://my.app"    # OpenRouter app attribution
        x-title: "My App"
        provider: {sort: throughput}      # default provider-routing preferences

Built on :class:`cliproxy_openai.OpenAIChatProvider`: OpenAI clients pass through untouched
(``provider``, ``models``, ``transforms``, ``reasoning`` included); other clients'
reasoning settings become OpenRouter's ``reasoning`` object. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import hookimpl

from cliproxy_openrouter.provider import DEFAULT_BASE_URL, OpenRouterProvider, OpenRouterSettings

__all__ = ["DEFAULT_BASE_URL", "OpenRouterProvider", "OpenRouterSettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(OpenRouterProvider())
