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

from cliproxy import hookimpl

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
