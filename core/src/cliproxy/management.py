"""The operations endpoints under ``/v0``: status, cooldown resets, model and config reloads.

Open to requests from this machine (loopback, not forwarded by a proxy); from anywhere
else only with ``remote-management.secret-key`` set and presented as ``Authorization:
Bearer <key>`` or ``X-Management-Key: <key>`` (compared in constant time). Without the key
configured, remote access is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, read_body, send_bytes
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.status import reset_cooldowns, status_snapshot
from cliproxy.wire.openai_chat import encode_error

if TYPE_CHECKING:
    from cliproxy.gateway import Gateway

__all__ = [
    "ConfigReloadEndpoint",
    "ModelsRefreshEndpoint",
    "ResetEndpoint",
    "StatusEndpoint",
    "check_management_access",
]

_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _presented(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        return (value if scheme.lower() == "bearer" else auth).strip() or None
    return headers.get("x-management-key") or None


def check_management_access(scope: Scope, headers: Mapping[str, str], secret: str | None) -> None:
    """Raise 401/403 unless the caller may use the management endpoints (see module doc)."""
    client = scope.get("client")
    local = _is_loopback(client[0] if client else None) and not any(h in headers for h in _FORWARDED)
    if local:
        return
    if not secret:
        raise GatewayError(
            status=403,
            kind=ErrorKind.PERMISSION,
            message="remote management is disabled: call from this machine, or set remote-management.secret-key "
            "in config.yaml and send it as 'Authorization: Bearer <key>'",
        )
    key = _presented(headers)
    if key is None:
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message="missing management key: send remote-management.secret-key as 'Authorization: Bearer <key>' "
            "or 'X-Management-Key: <key>'",
        )
    if not hmac.compare_digest(hashlib.sha256(key.encode()).digest(), hashlib.sha256(secret.encode()).digest()):
        raise GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message="invalid management key")


async def _send_json(send: Send, data: Any, status: int = 200) -> None:
    await send_bytes(send, status, orjson.dumps(data, option=orjson.OPT_INDENT_2))


async def _send_error(send: Send, error: GatewayError) -> None:
    await send_bytes(send, error.status, encode_error(error))


class StatusEndpoint:
    """``GET /v0/status``: see :func:`cliproxy.status.status_snapshot`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            check_management_access(scope, header_map(scope), self.gateway.config.remote_management.secret_key)
        except GatewayError as error:
            await _send_error(send, error)
            return
        await _send_json(send, await status_snapshot(self.gateway))


class ResetEndpoint:
    """``POST /v0/status/reset`` with ``{"credential": "<id, label or all>", "model":
    "<optional>"}``: end stale cooldowns on every instance sharing the state store."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        try:
            check_management_access(scope, headers, self.gateway.config.remote_management.secret_key)
            raw = await read_body(receive, headers, 64 * 1024, self.gateway.config.body_read_timeout)
            body = _parse(raw)
            result = await reset_cooldowns(self.gateway, body["credential"], body.get("model"))
        except GatewayError as error:
            await _send_error(send, error)
            return
        await _send_json(send, result)


class ModelsRefreshEndpoint:
    """``POST /v0/models/refresh``: ask every credential that lists no models which models
    its upstream serves now (as at start-up), and rebuild the routes; answers the model
    ids clients may request afterwards."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            check_management_access(scope, header_map(scope), self.gateway.config.remote_management.secret_key)
        except GatewayError as error:
            await _send_error(send, error)
            return
        await self.gateway.discover_models()
        await _send_json(send, {"models": [m.id for m in self.gateway.router.models()]})


class ConfigReloadEndpoint:
    """``POST /v0/config/reload``: apply the config file again (see :mod:`cliproxy.reload`);
    answers what changed, or 422 with the config error (the old config keeps serving)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from cliproxy.config import ConfigError

        secret = self.gateway.config.remote_management.secret_key
        try:
            check_management_access(scope, header_map(scope), secret)
            try:
                result = await self.gateway.reload()
            except ConfigError as error:
                message = f"config not reloaded, still serving the previous one: {error}"
                error422 = GatewayError(status=422, kind=ErrorKind.INVALID_REQUEST, message=message)
                raise error422 from None
        except GatewayError as error:
            await _send_error(send, error)
            return
        await _send_json(send, result.as_dict())


def _parse(raw: bytes) -> dict[str, Any]:
    usage = 'send {"credential": "<id, label or all>", "model": "<optional model>"}'
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise GatewayError.invalid(f"the body is not valid JSON; {usage}") from None
    if not isinstance(body, dict) or not isinstance(body.get("credential"), str) or not body["credential"]:
        raise GatewayError.invalid(f"'credential' is required; {usage}", param="credential")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise GatewayError.invalid(f"'model' must be a string; {usage}", param="model")
    return body
