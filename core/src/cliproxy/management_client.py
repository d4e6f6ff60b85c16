"""The CLI's side of ``/v0/management``: JSON requests with the management key."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliproxy.keyhash import is_key_hash
from cliproxy.status_client import server_url

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["KEY_ENV", "ManagementClient", "ManagementError", "connect"]

KEY_ENV = "CLIPROXY_MANAGEMENT_KEY"


class ManagementError(Exception):
    """The gateway could not be asked, or refused; the message says what to do.

    ``status`` is the HTTP status (None when the gateway was not reached), ``error`` the
    error object the gateway answered with.
    """

    def __init__(self, message: str, status: int | None = None, error: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or {}


class ManagementClient:
    """Requests to one gateway's management API."""

    def __init__(self, base_url: str, key: str | None, *, timeout: float = 90.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = f"{self.base_url}/v0/management{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> Any:
        """Send one request; the JSON answer, or :class:`ManagementError`."""
        url = self.url(path, query)
        headers = {"accept": "application/json"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read())["error"]
                message = detail["message"]
            except (ValueError, KeyError, TypeError):
                detail, message = {}, str(error.reason)
            raise ManagementError(f"{method} {url} answered {error.code}: {message}", error.code, detail) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ManagementError(
                f"could not reach {self.base_url} ({reason}); is 'cliproxy serve' running? pass --url to name it"
            ) from None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None)

    def post(self, path: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
        return self.request("POST", path, {} if body is None else body, query or None)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str, **query: Any) -> Any:
        return self.request("DELETE", path, query=query or None)


def quoted(ref: str) -> str:
    """A credential id, label or key name as one path segment (``/`` included)."""
    return urllib.parse.quote(ref, safe="")


def connect(url: str | None, key: str | None, config_path: str | None, default_path: str) -> ManagementClient:
    """A client for the gateway at ``url`` (else the config's host and port), with ``key``
    (else ``$CLIPROXY_MANAGEMENT_KEY``, else the config's key when it holds the key
    itself rather than its hash)."""
    from cliproxy.config import load_config

    config: Config | None = None
    key = key or os.environ.get(KEY_ENV) or None
    path = config_path or default_path
    if (url is None or key is None) and (config_path or Path(path).exists()):
        config = load_config(path)
    if key is None and config is not None:
        secret = config.remote_management.secret_key
        if secret and is_key_hash(secret):
            raise ManagementError(
                f"{config.file} holds a hash of the management key, not the key: set ${KEY_ENV} "
                "(or pass --management-key)"
            )
        key = secret
    return ManagementClient(url or server_url(config), key)
