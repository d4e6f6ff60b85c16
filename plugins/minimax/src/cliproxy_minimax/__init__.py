"""cliproxy-minimax: MiniMax as a cliproxy provider.

Config block ``minimax:`` (one entry per API key)::

    minimax:
      - api-key: ${MINIMAX_API_KEY}
        region: global            # global (api.minimax.io) | cn (api.minimaxi.com)
        wire: anthropic           # anthropic (default) | openai

``cliproxy login minimax`` writes ``"type": "minimax"`` token files into ``auth-dir`` (the
Coding/Token Plan sign-in, ``--region global|cn``); they refresh themselves. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_minimax.auth import MiniMaxAuthType
from cliproxy_minimax.login import LOGIN_FLOW
from cliproxy_minimax.provider import MiniMaxProvider
from cliproxy_minimax.settings import MiniMaxSettings

__all__ = ["MiniMaxAuthType", "MiniMaxProvider", "MiniMaxSettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(MiniMaxProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(MiniMaxAuthType())


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(LOGIN_FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "minimax-key",
            "MiniMax with an API key",
            '# MiniMax (cliproxy-minimax).\nminimax:\n  - api-key: "${{{env}}}"\n',
            "MiniMax-M2.7",
            env="MINIMAX_API_KEY",
        )
    )
