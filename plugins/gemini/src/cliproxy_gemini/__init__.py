"""cliproxy provider plugin for Google Gemini.

* ``gemini-api-key`` -- the Gemini API with API keys (:class:`GeminiProvider`).
* Gemini CLI / Code Assist with a Google account -- ``cliproxy login gemini`` writes a
  ``gemini-cli`` token file; the optional ``gemini-cli:`` block tunes it
  (:class:`GeminiCLIProvider`, wire ``gemini-code-assist``).

Translation is the core's ``gemini`` wire translator; this plugin adds the Code Assist
wrapper around it.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_gemini.api_key import GeminiProvider, GeminiSettings
from cliproxy_gemini.code_assist import (
    CodeAssist,
    GeminiCLIAuth,
    GeminiCLIProvider,
    GeminiLogin,
    login_flow,
)

__all__ = [
    "CodeAssist",
    "GeminiCLIAuth",
    "GeminiCLIProvider",
    "GeminiLogin",
    "GeminiProvider",
    "GeminiSettings",
]


@hookimpl
def register_translators(register: Callable[[object], None]) -> None:
    register(CodeAssist())


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(GeminiProvider())
    register(GeminiCLIProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(GeminiCLIAuth())


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(login_flow())


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "gemini-key",
            "Gemini with a Google AI Studio API key",
            '# Gemini API (cliproxy-gemini).\ngemini-api-key:\n  - api-key: "${{{env}}}"\n',
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            env="GEMINI_API_KEY",
        )
    )
    register(
        InitChoice(
            "gemini-login",
            "Gemini with a Google account, as Gemini CLI (cliproxy login gemini)",
            "# Gemini CLI account: `cliproxy login gemini` wrote its token file into auth-dir (cliproxy-gemini).\n",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            login="gemini",
        )
    )
