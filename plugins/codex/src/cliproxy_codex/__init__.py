"""cliproxy provider plugin for OpenAI's Codex models on a ChatGPT plan.

Sign in with ``cliproxy login codex`` (browser, ``--device``, or ``--import`` of Codex
CLI's own sign-in); every client door then reaches the Codex backend's models with the
plan's limits. Config block ``codex`` (optional): ``client-id`` (default: Codex CLI's
public client), ``issuer``, ``base-url``, ``usage-url``, ``callback-port``,
``originator``, ``client-version``, ``user-agent``, ``models-refresh``,
``usage-interval``, and defaults for the signed-in accounts (``prefix``, ``proxy-url``,
``headers``, ``models``, ``excluded-models``, ``priority``, ``weight``).

Public API: :class:`CodexProvider`, :class:`CodexAuth`, :data:`CODEX_CLIENT_ID`.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_codex.auth import CodexAuth
from cliproxy_codex.login import FLOW
from cliproxy_codex.provider import CodexProvider
from cliproxy_codex.settings import CODEX_CLIENT_ID

__all__ = ["CODEX_CLIENT_ID", "CodexAuth", "CodexProvider"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(CodexProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(CodexAuth())


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "codex-login",
            "Codex models on a ChatGPT plan (cliproxy login codex)",
            "# ChatGPT plan: `cliproxy login codex` wrote its token file into auth-dir (cliproxy-codex).\n",
            "gpt-5-codex",
            login="codex",
        )
    )
