"""cliproxy-kilo: the Kilo AI gateway as a cliproxy provider.

Config block ``kilo:`` (one entry per token)::

    kilo:
      - api-key: ${KILO_API_KEY}          # optional: KILO_API_KEY is read when it is missing
        organization-id: org_123          # bill an organization (KILO_ORG_ID when missing)
        prefix: kilo

``cliproxy login kilo`` writes ``"type": "kilo"`` token files into ``auth-dir`` (Kilo's
device flow, ``--org`` for an organization, ``--import`` for the Kilo CLI's sign-in).
See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_kilo.auth import KiloAuthType
from cliproxy_kilo.login import LOGIN_FLOW
from cliproxy_kilo.provider import KiloProvider
from cliproxy_kilo.settings import KiloSettings

__all__ = ["KiloAuthType", "KiloProvider", "KiloSettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(KiloProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(KiloAuthType())


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(LOGIN_FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "kilo-key",
            "Kilo AI with an API key",
            '# Kilo AI (cliproxy-kilo): every model it lists is served.\nkilo:\n  - api-key: "${{{env}}}"\n',
            "anthropic/claude-sonnet-4.5",
            "anthropic/claude-haiku-4.5",
            env="KILO_API_KEY",
        )
    )
    register(
        InitChoice(
            "kilo-login",
            "Kilo AI with a Kilo account (cliproxy login kilo)",
            "# Kilo AI: `cliproxy login kilo` wrote its token file into auth-dir (cliproxy-kilo).\n",
            "anthropic/claude-sonnet-4.5",
            "anthropic/claude-haiku-4.5",
            login="kilo",
        )
    )
