"""An endpoint of the management API, separate from how access to it is checked.

A :class:`ManagementEndpoint` serves one path: it runs its ``guard`` (who may call it),
reads a JSON body for the methods that send one, and calls the handler for the request's
method with a :class:`ManagementRequest`; the handler's answer goes out as JSON (or as
:class:`RawJson`, bytes already encoded), a :class:`~cliproxy.GatewayError` in OpenAI's
error shape. The default guard is the rule ``/v0`` follows today
(:func:`cliproxy.management.check_operator_request`); the management API's own access
layer replaces it by passing another ``guard``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import orjson
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, query_map, read_body, send_bytes
from cliproxy.config import Config
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management import check_operator_request
from cliproxy.site_guard import check_json_body
from cliproxy.wire.openai_chat import encode_error

__all__ = ["Guard", "Handler", "ManagementEndpoint", "ManagementRequest", "RawJson", "operator_guard"]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


@attrs.frozen
class ManagementRequest:
    """What a handler gets: the method, query parameters, path parameters and the body
    (empty for methods without one)."""

    method: str
    query: Mapping[str, str]
    path: Mapping[str, str]
    body: bytes = b""

    def json(self, usage: str) -> Any:
        """The body as JSON; a 400 saying ``usage`` when it is not."""
        try:
            return orjson.loads(self.body) if self.body.strip() else None
        except orjson.JSONDecodeError:
            raise GatewayError.invalid(f"the body is not valid JSON; {usage}") from None


@attrs.frozen
class RawJson:
    """An answer already encoded as JSON."""

    data: bytes


Guard = Callable[[Gateway, Scope, Mapping[str, str], bool], Awaitable[None]]
"""Decides whether a request may use the management API: raises :class:`GatewayError`
(401, 403...) when not. Arguments: the ASGI scope, the request headers (lower-case
names), and whether the request changes state."""

Handler = Callable[[Gateway, ManagementRequest], Awaitable[Any]]


async def operator_guard(gateway: Gateway, scope: Scope, headers: Mapping[str, str], changes_state: bool) -> None:
    """The ``/v0`` rule (see :func:`cliproxy.management.check_operator_request`)."""
    await check_operator_request(scope, headers, gateway, changes_state=changes_state)


class ManagementEndpoint:
    """The ASGI app of one management path (see the module doc).

    Args:
        gateway: The gateway it manages.
        handlers: Per HTTP method, its handler.
        guard: Who may call it.
        body_limit: Returns the largest body accepted (default: ``max-body-size-mb``).
    """

    def __init__(
        self,
        gateway: Gateway,
        handlers: Mapping[str, Handler],
        *,
        guard: Guard = operator_guard,
        body_limit: Callable[[Config], int] | None = None,
    ) -> None:
        self.gateway = gateway
        self.handlers = dict(handlers)
        self.guard = guard
        self.body_limit = body_limit or (lambda config: config.max_body_bytes)

    @property
    def methods(self) -> list[str]:
        return sorted(self.handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        headers = header_map(scope)
        config = self.gateway.config
        try:
            handler = self.handlers.get(method)
            if handler is None:
                raise GatewayError(
                    status=405,
                    kind=ErrorKind.INVALID_REQUEST,
                    message=f"{method} is not allowed on {scope.get('path')}; use {', '.join(self.methods)}",
                )
            await self.guard(self.gateway, scope, headers, method != "GET")
            body = b""
            if method in _WITH_BODY:
                body = await read_body(receive, headers, self.body_limit(config), config.body_read_timeout)
                check_json_body(headers, body)
            request = ManagementRequest(method, query_map(scope), dict(scope.get("path_params", {})), body)
            answer = await handler(self.gateway, request)
        except GatewayError as error:
            await send_bytes(send, error.status, encode_error(error))
            return
        data = answer.data if isinstance(answer, RawJson) else orjson.dumps(answer, option=orjson.OPT_INDENT_2)
        await send_bytes(send, 200, data)
