"""cliproxy-roo: Roo Code Cloud (the Roo Code Router proxy) as a cliproxy provider.

Config block ``roo:`` (one entry per token)::

    roo:
      - token-file: ~/.roo/cli-credentials.json   # the Roo CLI's sign-in, followed as it changes
      - token: ${ROO_CODE_CLOUD_TOKEN}            # or a token (ROO_CODE_CLOUD_TOKEN when missing)

``cliproxy login roo`` writes ``"type": "roo"`` token files into ``auth-dir`` (the Roo
CLI's browser sign-in, ``--import`` for the Roo CLI's token). See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_roo.auth import RooAuthType
from cliproxy_roo.login import LOGIN_FLOW
from cliproxy_roo.provider import RooProvider
from cliproxy_roo.settings import RooSettings

__all__ = ["RooAuthType", "RooProvider", "RooSettings"]

_AUTH = RooAuthType()


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(RooProvider(_AUTH))


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(_AUTH)


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(LOGIN_FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "roo-login",
            "Roo Code Cloud with a Roo account (cliproxy login roo)",
            "# Roo Code Cloud: `cliproxy login roo` wrote its token file into auth-dir (cliproxy-roo).\n",
            "anthropic/claude-sonnet-4.5",
            login="roo",
        )
    )
