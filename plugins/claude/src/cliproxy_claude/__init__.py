"""cliproxy provider plugin for Anthropic's Claude.

Config blocks:

* ``claude-api-key`` -- API keys: ``api-key``, ``base-url`` (default
  ``https://api.anthropic.com``), ``prefix``, ``proxy-url``, ``headers``, ``models``
  (``name``/``alias``), ``excluded-models``, ``priority``, ``weight``.
* ``claude-oauth`` -- Claude subscriptions signed in with ``cliproxy login claude`` (or
  imported from Claude Code with ``--import``): ``client-id`` (default: Claude Code's
  public client), ``authorize-url``, ``token-url``, ``callback-port``, ``scopes``, and
  defaults for the signed-in accounts (``base-url``, ``prefix``, ``models``...).

Public API: :class:`ClaudeProvider` (a base for providers that speak to Anthropic-style
upstreams) and :func:`caps_for` (what a Claude model accepts).
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_claude.login import FLOW
from cliproxy_claude.models import ModelCaps, caps_for
from cliproxy_claude.oauth import ClaudeAuth
from cliproxy_claude.provider import ClaudeProvider
from cliproxy_claude.settings import ClaudeSettings

__all__ = ["ClaudeAuth", "ClaudeProvider", "ClaudeSettings", "ModelCaps", "caps_for"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(ClaudeProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(ClaudeAuth())


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "claude-key",
            "Claude with an Anthropic API key",
            "# Anthropic API (cliproxy-claude): more keys or a prefix in plugins/claude/README.md.\n"
            'claude-api-key:\n  - api-key: "${{{env}}}"\n',
            "claude-sonnet-4-6",
            "claude-haiku-5-5",
            env="ANTHROPIC_API_KEY",
        )
    )
    register(
        InitChoice(
            "claude-login",
            "Claude with a Claude subscription (cliproxy login claude)",
            "# Claude subscription: `cliproxy login claude` wrote its token file into auth-dir;\n"
            "# every signed-in account there serves (cliproxy-claude).\n",
            "claude-sonnet-4-6",
            "claude-haiku-5-5",
            login="claude",
        )
    )
