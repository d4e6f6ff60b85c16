"""The CLI's side of a running gateway: its management API (``/v0/management``) and
``/v0/status``, over HTTP with the management key.

Every command that drives a running gateway -- ``status``, ``keys``, ``credentials``,
``config``, ``login --remote``, ``usage``, ``logs`` -- uses one :class:`ManagementClient`,
made by :func:`cliproxy.cli_gateway.client_for` from the command's options.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["KEY_ENV", "ManagementClient", "ManagementError", "quoted", "server_url"]

KEY_ENV = "CLIPROXY_MANAGEMENT_KEY"
"""The environment variable the CLI reads the management key from."""

_MANAGEMENT = "/v0/management"
_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}


class ManagementError(Exception):
    """The gateway could not be asked, or refused; the message says what to do.

    ``status`` is the HTTP status (None when the gateway was not reached), ``error`` the
    error object the gateway answered with.
    """

    def __init__(self, message: str, status: int | None = None, error: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or {}


def server_url(config: Config | None) -> str:
    """Where the config's gateway listens (a wildcard bind is reached on loopback)."""
    if config is None:
        return "http://127.0.0.1:8317"
    host = "127.0.0.1" if config.host in _ANY_HOST else config.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.port}"


def quoted(ref: str) -> str:
    """A credential id, label, key name or request id as one path segment (``/`` included)."""
    return urllib.parse.quote(ref, safe="")


class ManagementClient:
    """Requests to one gateway: ``get``/``post``/``put``/``patch``/``delete`` take paths
    under ``/v0/management`` (``"/keys"``); :meth:`status` and :meth:`reset_cooldowns` are
    ``/v0/status``'s.

    ``key_hint`` says why no key is sent (the config holds only its hash): it is added to
    the error when the gateway asks for the key.
    """

    def __init__(self, base_url: str, key: str | None, *, timeout: float = 90.0, key_hint: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout  # above the longest wait a route takes (60 s)
        self.key_hint = key_hint

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> Any:
        """One management API request; the JSON answer, or :class:`ManagementError`."""
        return self._send(method, _MANAGEMENT + path, body, query)

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

    def status(self) -> dict[str, Any]:
        """``GET /v0/status``: every credential's health, cooldowns and counts."""
        return self._send("GET", "/v0/status")

    def reset_cooldowns(self, credential: str, model: str | None = None) -> dict[str, Any]:
        """``POST /v0/status/reset``: end a credential's (or ``all``) cooldowns."""
        body: dict[str, Any] = {"credential": credential}
        if model:
            body["model"] = model
        return self._send("POST", "/v0/status/reset", body)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> Any:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
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
            if error.code == 401 and not self.key and self.key_hint:
                message = f"{message} -- {self.key_hint}"
            raise ManagementError(f"{method} {url} answered {error.code}: {message}", error.code, detail) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ManagementError(
                f"could not reach {self.base_url} ({reason}); is 'cliproxy serve' running? pass --url to name it"
            ) from None
