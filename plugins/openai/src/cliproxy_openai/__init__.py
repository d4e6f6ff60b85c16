"""cliproxy provider plugin for OpenAI and OpenAI-compatible APIs.

Config blocks:

* ``openai-compatibility`` -- any OpenAI-compatible server: ``name``, ``prefix``,
  ``base-url``, ``api-key-entries`` (``api-key``, ``proxy-url``), ``models``, ``headers``.
* ``openai-api-key`` -- OpenAI itself.
* ``mistral``, ``groq``, ``deepseek``, ``together``, ``fireworks``, ``novita``,
  ``siliconflow`` -- presets with their default base URLs.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_openai.provider import (
    PRESETS,
    OpenAIChatProvider,
    OpenAICompatibility,
    OpenAIPreset,
    OpenAISettings,
)

__all__ = ["OpenAIChatProvider", "OpenAICompatibility", "OpenAIPreset", "OpenAISettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(OpenAICompatibility())
    for preset in PRESETS:
        register(preset)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "openai-key",
            "OpenAI with an API key",
            '# OpenAI API (cliproxy-openai).\nopenai-api-key:\n  - api-key: "${{{env}}}"\n',
            "gpt-4.1",
            "gpt-4.1-mini",
            env="OPENAI_API_KEY",
        )
    )
