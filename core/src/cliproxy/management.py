"""The operations endpoints under ``/v0``: status, cooldown resets, model and config reloads.

Open to requests from this machine (loopback, not forwarded by a proxy); from anywhere
else only with ``remote-management.secret-key`` set and presented as ``Authorization:
Bearer <key>`` or ``X-Management-Key: <key>`` (compared in constant time). Without the key
configured, remote access is refused. Before that, :mod:`cliproxy.site_guard` turns away
requests a web page could have made (foreign ``Host`` or ``Origin``; state changes not
sent as JSON).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, read_body, send_bytes
from cliproxy.config import Config, ConfigError
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.metrics import Metrics
from cliproxy.reload import reload_gateway
from cliproxy.site_guard import check_json_body, check_site, trusted_hosts
from cliproxy.status import reset_cooldowns, status_snapshot
from cliproxy.wire.openai_chat import encode_error

__all__ = [
    "ConfigReloadEndpoint",
    "MetricsEndpoint",
    "ModelsRefreshEndpoint",
    "ResetEndpoint",
    "StatusEndpoint",
    "check_management_access",
    "check_operator_request",
]

_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")
_BODY_LIMIT = 64 * 1024


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


def check_operator_request(scope: Scope, headers: Mapping[str, str], config: Config, *, changes_state: bool) -> None:
    """Everything an operator endpoint checks before it reads a body: the ``Host`` and
    ``Origin`` rules of :mod:`cliproxy.site_guard`, then the access rule of
    :func:`check_management_access`. Raises :class:`GatewayError`."""
    check_site(headers, trusted_hosts(config), changes_state=changes_state)
    check_management_access(scope, headers, config.remote_management.secret_key)


class _OperatorEndpoint:
    """An endpoint under ``/v0``: guarded by :func:`check_operator_request`; one that
    changes state reads a JSON body (at most 64 KiB, :func:`check_json_body`). Subclasses
    answer with :meth:`answer`; errors go out in OpenAI's error shape."""

    changes_state = False

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        config = self.gateway.config
        try:
            check_operator_request(scope, headers, config, changes_state=self.changes_state)
            raw = b""
            if self.changes_state:
                raw = await read_body(receive, headers, _BODY_LIMIT, config.body_read_timeout, self.gateway.deadlines)
                check_json_body(headers, raw)
            result = await self.answer(raw)
        except GatewayError as error:
            await _send_error(send, error)
            return
        await _send_json(send, result)

    async def answer(self, raw: bytes) -> Any:
        raise NotImplementedError


class StatusEndpoint(_OperatorEndpoint):
    """``GET /v0/status``: see :func:`cliproxy.status.status_snapshot`."""

    async def answer(self, raw: bytes) -> Any:
        return await status_snapshot(self.gateway)


class ResetEndpoint(_OperatorEndpoint):
    """``POST /v0/status/reset`` with ``{"credential": "<id, label or all>", "model":
    "<optional>"}``: end stale cooldowns on every instance sharing the state store."""

    changes_state = True

    async def answer(self, raw: bytes) -> Any:
        body = _parse(raw)
        return await reset_cooldowns(self.gateway, body["credential"], body.get("model"))


class ModelsRefreshEndpoint(_OperatorEndpoint):
    """``POST /v0/models/refresh``: ask every credential that lists no models which models
    its upstream serves now (as at start-up), and rebuild the routes; answers the model
    ids clients may request afterwards. Takes no body (``{}`` is fine)."""

    changes_state = True

    async def answer(self, raw: bytes) -> Any:
        _options(raw, (), "send no body, or {}")
        await self.gateway.discover_models()
        return {"models": [m.id for m in self.gateway.router.models()]}


class ConfigReloadEndpoint(_OperatorEndpoint):
    """``POST /v0/config/reload``: apply the config file again (see :mod:`cliproxy.reload`);
    answers what changed, or 422 with the config error (the old config keeps serving).
    ``{"force": true}`` applies a config that would remove every credential or empty
    ``api-keys``, which a reload refuses otherwise."""

    changes_state = True

    async def answer(self, raw: bytes) -> Any:
        force = _options(raw, ("force",), 'send no body, or {"force": true}').get("force", False)
        if not isinstance(force, bool):
            raise GatewayError.invalid("'force' must be true or false", param="force")
        try:
            result = await reload_gateway(self.gateway, force=force)
        except ConfigError as error:
            message = f"config not reloaded, still serving the previous one: {error}"
            raise GatewayError(status=422, kind=ErrorKind.INVALID_REQUEST, message=message) from None
        return result.as_dict()


def _options(raw: bytes, known: tuple[str, ...], usage: str) -> dict[str, Any]:
    """A body that is empty or a JSON object of ``known`` keys, as a dict."""
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise GatewayError.invalid(f"the body is not valid JSON; {usage}") from None
    if not isinstance(body, dict):
        raise GatewayError.invalid(f"the body must be a JSON object; {usage}")
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise GatewayError.invalid(f"unknown field '{unknown[0]}'; {usage}", param=unknown[0])
    return body


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


class MetricsEndpoint:
    """``GET <metrics.path>``: the gateway's metrics in Prometheus text format.

    Open to the same callers as ``/v0`` (see :mod:`cliproxy.management`) unless
    ``metrics.public`` is set; the ``Host`` rule of :mod:`cliproxy.site_guard` holds
    either way.
    """

    def __init__(self, gateway: Gateway, metrics: Metrics) -> None:
        self.gateway = gateway
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self.gateway
        headers = header_map(scope)
        try:
            if self.metrics.public:  # open to anyone, but still not to a page through DNS rebinding
                check_site(headers, trusted_hosts(gateway.config), changes_state=False)
            else:
                check_operator_request(scope, headers, gateway.config, changes_state=False)
        except GatewayError as error:
            await send_bytes(send, error.status, encode_error(error))
            return
        await self.metrics.state.refresh(gateway.state, gateway.credentials, gateway.clock())
        content_type = [(b"content-type", self.metrics.content_type.encode())]
        await send_bytes(send, 200, self.metrics.render(), content_type)
