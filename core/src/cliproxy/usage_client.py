"""The CLI's side of the management API: finding the gateway and its key, and calling it.

Commands that drive a running gateway (``cliproxy usage``, ``cliproxy logs``) take the
same options as ``cliproxy status``: ``--url`` (default: host and port from the config),
``--management-key`` (default: ``$CLIPROXY_MANAGEMENT_KEY``, else the config's
``remote-management.secret-key``), ``--config``.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cliproxy.config import load_config
from cliproxy.status_client import StatusError, server_url

__all__ = ["ManagementClient", "StatusError", "add_gateway_options", "client_for"]

_TIMEOUT = 30.0


def add_gateway_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--url``, ``--management-key`` and ``--json``, as ``cliproxy status`` has them."""
    parser.add_argument("--config", "-c", help="config.yaml to find the gateway and key in (default: as for serve)")
    parser.add_argument("--url", help="the gateway's base URL (default: host and port from the config)")
    parser.add_argument(
        "--management-key",
        help="remote-management.secret-key, needed from other hosts "
        "(default: $CLIPROXY_MANAGEMENT_KEY, else the config's)",
    )
    parser.add_argument("--json", action="store_true", help="print the gateway's answer as JSON")


def client_for(args: argparse.Namespace) -> ManagementClient:
    """The client the command line names (see the module doc)."""
    config = None
    path = args.config or os.environ.get("CLIPROXY_CONFIG") or "config.yaml"
    if args.url is None or args.management_key is None:
        config = load_config(path) if Path(path).exists() or args.config else None
    key = args.management_key or os.environ.get("CLIPROXY_MANAGEMENT_KEY")
    if key is None and config is not None:
        key = config.remote_management.secret_key
    return ManagementClient(args.url or server_url(config), key)


class ManagementClient:
    """Calls a gateway's management API; errors are :class:`StatusError` saying what to do."""

    def __init__(self, base_url: str, key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        return json.loads(self.call("GET", path, query))

    def post(self, path: str, body: Any, query: Mapping[str, Any] | None = None) -> Any:
        return json.loads(self.call("POST", path, query, json.dumps(body).encode()))

    def delete(self, path: str) -> Any:
        return json.loads(self.call("DELETE", path))

    def call(self, method: str, path: str, query: Mapping[str, Any] | None = None, body: bytes | None = None) -> bytes:
        """The answer's body; raises :class:`StatusError` for an error answer or no answer."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"accept": "application/json"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        if body is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return response.read()  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = error.reason
            raise StatusError(f"{method} {path} answered {error.code}: {message}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise StatusError(
                f"could not reach {self.base_url} ({reason}); is 'cliproxy serve' running? pass --url to name "
                "the gateway"
            ) from None
