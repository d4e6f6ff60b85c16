"""cliproxy-kiro: Kiro (AWS CodeWhisperer / Amazon Q Developer) as a cliproxy provider.

Config block ``kiro:`` (one entry per account)::

    kiro:
      - token-file: ~/.aws/sso/cache/kiro-auth-token.json   # the Kiro IDE's login
        prefix: kiro
      - refresh-token: ${KIRO_REFRESH_TOKEN}                 # or access-token
        profile-arn: arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC
        region: us-east-1

``cliproxy login kiro`` writes ``"type": "kiro"`` token files into ``auth-dir`` (social
login, ``--builder-id``, or ``--import`` of the IDE's login).

The plugin registers the ``kiro`` upstream translator (IR <-> Kiro's conversationState
request and binary event-stream answer), the ``kiro`` provider, the ``kiro`` token file
type (refresh through the Kiro auth service or AWS SSO-OIDC) and the login flow.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_kiro.auth import KiroAuthType
from cliproxy_kiro.login import LOGIN_FLOW
from cliproxy_kiro.provider import KiroProvider
from cliproxy_kiro.translator import KiroTranslator

__all__ = ["KiroAuthType", "KiroProvider", "KiroTranslator"]

_AUTH = KiroAuthType()


@hookimpl
def register_translators(register: Callable[[object], None]) -> None:
    register(KiroTranslator())


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(KiroProvider(_AUTH))


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
            "kiro-login",
            "Kiro (Amazon Q Developer) with a Kiro sign-in (cliproxy login kiro)",
            "# Kiro: `cliproxy login kiro` (or `--import` of the Kiro IDE's sign-in) wrote its token\n"
            "# file into auth-dir (cliproxy-kiro).\n",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            login="kiro",
        )
    )
