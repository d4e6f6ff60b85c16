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

from cliproxy import InitChoice, hookimpl

from cliproxy_openrouter.provider import DEFAULT_BASE_URL, OpenRouterProvider, OpenRouterSettings

__all__ = ["DEFAULT_BASE_URL", "OpenRouterProvider", "OpenRouterSettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(OpenRouterProvider())


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "openrouter-key",
            "OpenRouter with an API key",
            "# OpenRouter (cliproxy-openrouter): every model it lists is served.\n"
            'openrouter:\n  - api-key: "${{{env}}}"\n',
            "anthropic/claude-sonnet-4.5",
            "anthropic/claude-haiku-4.5",
            env="OPENROUTER_API_KEY",
        )
    )
