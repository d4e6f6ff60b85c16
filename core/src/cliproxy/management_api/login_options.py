"""A login flow's options, given as JSON instead of command-line flags.

Login flows read an :class:`argparse.Namespace` -- what ``cliproxy login <provider>``
parses with the flow's own ``add_arguments``. The API takes a JSON object instead and
turns it into exactly that: each member names an option by its flag without the dashes
(``"callback-port"`` or ``"callback_port"`` for ``--callback-port``), and its value is
handed to the same parser (``true``/``false`` for switches), so types, choices and the
flow's defaults are checked and filled in as on the command line. Options that read
files on the gateway's machine (``--import``, ``--token-path``) are refused: run those
logins on that machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, NoReturn

from cliproxy.commands import LoginFlow
from cliproxy.errors import GatewayError

__all__ = ["describe_options", "flow_namespace"]

LOCAL_ONLY = {
    "import_path": "an import reads the vendor's files on the gateway's machine: run 'cliproxy login <provider> "
    "--import' there, or upload the token file (POST /v0/management/credentials)",
    "token_path": "it reads a file on the gateway's machine: run the login there",
}


class _Parser(argparse.ArgumentParser):
    """A parser whose mistakes are :class:`GatewayError` 400s, not an exit."""

    def error(self, message: str) -> NoReturn:
        raise GatewayError.invalid(f"login options: {message}", param="options")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise GatewayError.invalid(f"login options: {message or 'not accepted'}", param="options")


def _parser(flow: LoginFlow) -> _Parser:
    parser = _Parser(prog=f"cliproxy login {flow.provider}", add_help=False)
    if flow.add_arguments is not None:
        flow.add_arguments(parser)
    return parser


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.dest: action for action in parser._actions if action.option_strings}


def _name(action: argparse.Action) -> str:
    """An option's name in the API: its long flag without the dashes (``callback-port``)."""
    return max(action.option_strings, key=len).lstrip("-")


def _by_name(actions: dict[str, argparse.Action]) -> dict[str, argparse.Action]:
    """Options by every name they answer to: each flag and the destination, with ``-`` and
    ``_`` alike."""
    found: dict[str, argparse.Action] = {}
    for dest, action in actions.items():
        for name in (dest, *(flag.lstrip("-") for flag in action.option_strings)):
            found.setdefault(name.replace("-", "_"), action)
    return found


def _kind(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "boolean"
    if action.type is int:
        return "integer"
    if action.type is float:
        return "number"
    return "string"


def describe_options(flow: LoginFlow) -> list[dict[str, Any]]:
    """The options a flow takes, for clients that build a form."""
    described = []
    for dest, action in _options(_parser(flow)).items():
        described.append(
            {
                "name": _name(action),
                "flag": max(action.option_strings, key=len),
                "type": _kind(action),
                "default": action.default if isinstance(action.default, str | int | float | bool) else None,
                "choices": list(action.choices) if action.choices else None,
                "help": action.help or "",
                "remote": dest not in LOCAL_ONLY,
            }
        )
    return described


def flow_namespace(flow: LoginFlow, options: Mapping[str, Any]) -> argparse.Namespace:
    """The namespace the flow would get from ``cliproxy login <provider>`` with ``options``
    as flags, and ``--no-browser`` (see the module doc); a 400 for an unknown option, a
    wrong value, or a local-only one."""
    parser = _parser(flow)
    actions = _options(parser)
    by_name = _by_name(actions)
    argv: list[str] = []
    for name, value in options.items():
        action = by_name.get(str(name).lstrip("-").replace("-", "_"))
        if action is None:
            known = ", ".join(sorted(_name(a) for d, a in actions.items() if d not in LOCAL_ONLY)) or "none"
            raise GatewayError.invalid(f"'{flow.provider}' has no login option '{name}' (it takes: {known})")
        if action.dest in LOCAL_ONLY:
            raise GatewayError.invalid(f"login option '{name}' is not available remotely: {LOCAL_ONLY[action.dest]}")
        flag = max(action.option_strings, key=len)
        if value is None:
            continue
        if action.nargs == 0:
            if not isinstance(value, bool):
                raise GatewayError.invalid(f"login option '{name}' is a switch: true or false")
            if value != bool(action.default):
                argv.append(flag)
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise GatewayError.invalid(f"login option '{name}' takes text or a number")
        if isinstance(value, list):
            argv += [flag, *(str(v) for v in values)]
        else:
            argv.append(f"{flag}={value}")
    namespace = parser.parse_args(argv)
    namespace.no_browser = True
    namespace.config = None
    namespace.strict_plugins = False
    return namespace
