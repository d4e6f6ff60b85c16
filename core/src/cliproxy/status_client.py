"""``cliproxy status``'s side of ``/v0/status``: fetch the document, request resets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["StatusError", "fetch_status", "post_reset", "server_url"]

_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}


class StatusError(Exception):
    """The gateway could not be asked, or refused (the message says what to do)."""


def server_url(config: Config | None) -> str:
    """Where the config's gateway listens (a wildcard bind is reached on loopback)."""
    if config is None:
        return "http://127.0.0.1:8317"
    host = "127.0.0.1" if config.host in _ANY_HOST else config.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.port}"


def _request(url: str, key: str | None, body: dict[str, Any] | None = None) -> Any:
    headers = {"accept": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        raise StatusError(f"{url} answered {error.code}: {message}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise StatusError(
            f"could not reach {url} ({reason}); is 'cliproxy serve' running? pass --url to name the gateway"
        ) from None


def fetch_status(base_url: str, key: str | None = None) -> dict[str, Any]:
    """``GET /v0/status`` of the gateway at ``base_url``."""
    return _request(base_url.rstrip("/") + "/v0/status", key)  # type: ignore[no-any-return]


def post_reset(base_url: str, key: str | None, credential: str, model: str | None = None) -> dict[str, Any]:
    """``POST /v0/status/reset``: end a credential's (or ``all``) cooldowns."""
    body: dict[str, Any] = {"credential": credential}
    if model:
        body["model"] = model
    return _request(base_url.rstrip("/") + "/v0/status/reset", key, body)  # type: ignore[no-any-return]
