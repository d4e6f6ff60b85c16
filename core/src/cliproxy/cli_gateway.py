"""What every command that drives a running gateway shares: its options, finding the
gateway and the management key, and reporting a refusal.

``--url`` (default: the config's host and port), ``--management-key`` (default:
``$CLIPROXY_MANAGEMENT_KEY``, else the config's ``remote-management.secret-key`` when it is
the key itself -- a hash is not), ``--config`` (default: as for ``serve``) and ``--json``
(the gateway's answer as it is, instead of a table). Errors print the gateway's message
(and its hint), exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cliproxy.config import Config, load_config
from cliproxy.keyhash import is_key_hash
from cliproxy.management_client import KEY_ENV, ManagementClient, ManagementError, server_url

__all__ = ["GatewayCommand", "add_gateway_options", "client_for", "gateway_command", "report"]

GatewayCommand = Callable[[ManagementClient, argparse.Namespace], Any]
"""A command's body: returns its exit status (None: 0)."""


def add_gateway_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--url``, ``--management-key`` and ``--json`` (see the module doc)."""
    parser.add_argument("--config", "-c", help="config.yaml to find the gateway and key in (default: as for serve)")
    parser.add_argument("--url", help="the gateway's base URL (default: host and port from the config)")
    parser.add_argument(
        "--management-key",
        help=f"the management key (default: ${KEY_ENV}, else the config's secret-key unless it is a hash)",
    )
    parser.add_argument("--json", action="store_true", help="print the gateway's answer as JSON")


def client_for(args: argparse.Namespace) -> ManagementClient:
    """The client the command line names (see the module doc)."""
    path = args.config or os.environ.get("CLIPROXY_CONFIG") or "config.yaml"
    key = args.management_key or os.environ.get(KEY_ENV) or None
    config: Config | None = None
    if (args.url is None or key is None) and (args.config or Path(path).exists()):
        config = load_config(path)
    hint = None
    if key is None and config is not None:
        secret = config.remote_management.secret_key
        if secret and is_key_hash(secret):
            hint = (
                f"{config.file} holds a hash of the management key, not the key: set ${KEY_ENV} "
                "(or pass --management-key)"
            )
        else:
            key = secret
    return ManagementClient(args.url or server_url(config), key, key_hint=hint)


def report(error: ManagementError) -> int:
    """Print a refusal (the gateway's message, and its hint) for the user; exit status 1."""
    print(f"error: {error}", file=sys.stderr)
    hint = error.error.get("hint")
    if hint:
        print(f"  {hint}", file=sys.stderr)
    return 1


def gateway_command(command: GatewayCommand) -> Callable[[argparse.Namespace], int]:
    """The argparse handler that runs ``command`` with the client its options name."""

    def handler(args: argparse.Namespace) -> int:
        try:
            result = command(client_for(args), args)
        except ManagementError as error:
            return report(error)
        return result if isinstance(result, int) else 0

    return handler
