"""cliproxy provider plugin for GitHub Copilot.

Config blocks:

* ``copilot`` -- GitHub tokens given directly, one entry per account: ``github-token``
  (``${ENV}`` works), ``github-api-url``, the editor identity (``editor-version``,
  ``editor-plugin-version``, ``user-agent``, ``api-version``, ``messages-api-version``,
  ``integration-id``) and ``prefix``, ``models``, ``excluded-models``, ``priority``,
  ``weight``, ``headers``, ``proxy-url``.
* ``copilot-oauth`` -- where ``cliproxy login copilot`` signs in (``client-id``, default
  the public client of GitHub's Copilot editor plugins; ``github-url``,
  ``github-api-url``, ``scopes``), the editor identity, and defaults for the accounts
  signed in.

``cliproxy login copilot`` (GitHub's device flow, or ``--import`` of an editor plugin's
sign-in) writes ``"type": "copilot"`` token files into ``auth-dir``.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import InitChoice, hookimpl

from cliproxy_copilot.auth import CopilotAuth
from cliproxy_copilot.login import FLOW
from cliproxy_copilot.provider import CopilotProvider

__all__ = ["CopilotAuth", "CopilotProvider"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(CopilotProvider())


@hookimpl
def register_auth_types(register: Callable[[object], None]) -> None:
    register(CopilotAuth())
    register(CopilotAuth(type="github-copilot", github_key="access_token", user_key="username"))


@hookimpl
def register_login_flows(register: Callable[[object], None]) -> None:
    register(FLOW)


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "copilot-login",
            "GitHub Copilot (cliproxy login copilot)",
            "# GitHub Copilot: `cliproxy login copilot` wrote its token file into auth-dir (cliproxy-copilot).\n",
            "claude-sonnet-4.5",
            login="copilot",
        )
    )
