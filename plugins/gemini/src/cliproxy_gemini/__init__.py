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

from cliproxy import hookimpl

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
