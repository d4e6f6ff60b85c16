"""The management API's plumbing: a route table of small handlers behind one guard.

Each route group (a module of this package) offers ``routes(api) -> list[ManagementRoute]``;
:meth:`ManagementApi.starlette_routes` turns them into Starlette routes under
``/v0/management``. Every route then runs the same way:

1. the guard (:func:`cliproxy.management_api.access.check_access`): ``Host``/``Origin``
   rules, the key, loopback unless ``allow-remote``, the wrong-key lockout;
2. a state-changing method reads its body (JSON only, at most the route's ``body_limit``);
3. the handler gets a :class:`ManagementRequest` and returns JSON-ready data (or a
   :class:`Reply` with another status);
4. the answer goes out as JSON, with every secret the gateway holds redacted on the way
   (a last line of defence: handlers never put one in), and ``Cache-Control: no-store``.

Errors are :class:`~cliproxy.GatewayError` (or :class:`~cliproxy.config.ConfigError`,
answered 422 with its location), rendered as ``{"error": {"message", "type", "code",
"param"}}`` plus details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import orjson
from starlette.routing import BaseRoute, Route, compile_path
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, query_map, read_body, send_bytes
from cliproxy.config import Config, ConfigError
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_api.access import check_access
from cliproxy.management_api.config_edit import ConfigEditor
from cliproxy.management_api.login_sessions import LoginSessions
from cliproxy.redaction import Redactor
from cliproxy.reload import ReloadRefused
from cliproxy.site_guard import check_json_body
from cliproxy.wire.common import kind_of

__all__ = [
    "PREFIX",
    "Handler",
    "ManagementApi",
    "ManagementRequest",
    "ManagementRoute",
    "Reply",
    "config_error_body",
    "error_body",
]

log = logging.getLogger("cliproxy.management")

PREFIX = "/v0/management"
DEFAULT_BODY_LIMIT = 64 * 1024
_READING = frozenset({"GET", "HEAD"})


@attrs.frozen
class Reply:
    """A handler's answer with a status other than 200 (``201`` for something created)."""

    data: Any
    status: int = 200


Handler = Callable[["ManagementRequest"], Awaitable[Any]]


@attrs.frozen
class ManagementRoute:
    """One route: ``method`` and ``path`` under ``/v0/management`` (``""`` for the root;
    Starlette path syntax, ``{name}`` / ``{name:path}``), its handler, a one-line summary
    (listed by ``GET /v0/management``), and the largest body it reads: bytes, or a
    function of the running config (``max-body-size-mb`` for a document that grows with
    the gateway's data)."""

    method: str
    path: str
    handler: Handler
    summary: str
    body_limit: int | Callable[[Config], int] = DEFAULT_BODY_LIMIT

    def body_limit_for(self, config: Config) -> int:
        """The largest body this route reads under ``config``."""
        return self.body_limit if isinstance(self.body_limit, int) else self.body_limit(config)


class ManagementRequest:
    """What a handler is given: path parameters, query, headers and the JSON body."""

    def __init__(
        self,
        api: ManagementApi,
        scope: Scope,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> None:
        self.api = api
        self.scope = scope
        self.method: str = scope["method"]
        self.path_params: Mapping[str, str] = scope.get("path_params") or {}
        self.query = query_map(scope)
        self.headers = headers
        self.raw = raw
        self._body: dict[str, Any] | None = None

    @property
    def gateway(self) -> Gateway:
        return self.api.gateway

    def param(self, name: str) -> str:
        return str(self.path_params[name])

    def body(self) -> dict[str, Any]:
        """The body as a JSON object (an empty body reads as ``{}``); 400 otherwise."""
        if self._body is None:
            try:
                body = orjson.loads(self.raw) if self.raw.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise GatewayError.invalid(f"the body is not valid JSON ({exc}); send a JSON object") from None
            if not isinstance(body, dict):
                raise GatewayError.invalid(f"the body must be a JSON object, not {kind_of(body)}")
            self._body = body
        return self._body

    def only(self, *known: str) -> dict[str, Any]:
        """The body, refusing fields other than ``known`` (a typo is not ignored)."""
        body = self.body()
        unknown = sorted(set(body) - set(known))
        if unknown:
            allowed = ", ".join(f"'{k}'" for k in known) or "none"
            raise GatewayError.invalid(f"unknown field '{unknown[0]}' (this route takes {allowed})", param=unknown[0])
        return body

    def field(self, name: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None) -> Any:
        """Body field ``name`` checked against ``kind``; 400 naming the field otherwise."""
        body = self.body()
        if name not in body or body[name] is None:
            if required:
                raise GatewayError.invalid(f"'{name}' is required", param=name)
            return default
        value = body[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise GatewayError.invalid(f"'{name}' must not be a boolean", param=name)
        if not isinstance(value, kinds):
            wanted = " or ".join(kind_of(k()) for k in kinds)
            raise GatewayError.invalid(f"'{name}' must be {wanted}, not {kind_of(value)}", param=name)
        return value

    def flag(self, name: str) -> bool:
        """A true/false option, from the body or the query string (``?force=true``)."""
        if name in self.query:
            text = self.query[name].strip().lower()
            if text in ("", "1", "true", "yes"):
                return True
            if text in ("0", "false", "no"):
                return False
            raise GatewayError.invalid(f"'{name}' must be true or false", param=name)
        if self.method in _READING or not self.raw.strip():
            return False
        return bool(self.field(name, bool, default=False))


def error_body(error: GatewayError, **details: Any) -> dict[str, Any]:
    """The JSON of an error answer."""
    body: dict[str, Any] = {"message": error.message, "type": str(error.kind), "code": error.code}
    if error.param:
        body["param"] = error.param
    body.update(details)
    return {"error": body}


def config_error_body(error: ConfigError, code: str = "config_invalid") -> dict[str, Any]:
    """The JSON of a config error: its text, and where (file, line, column, key) and how to fix it."""
    message = error.message
    return {
        "error": {
            "message": str(error),
            "type": str(ErrorKind.UNPROCESSABLE),
            "code": code,
            "problem": message,
            "location": {"file": error.file, "line": error.line, "column": error.column, "key": error.key},
            "hint": error.hint,
        }
    }


def _redacted(data: Any, redactor: Redactor) -> Any:
    """``data`` with every secret ``redactor`` knows taken out of its strings (keys
    too); numbers and literals are left alone, so the answer stays valid JSON."""
    if isinstance(data, str):
        return redactor.text(data)
    if isinstance(data, Mapping):
        return {redactor.text(str(k)): _redacted(v, redactor) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_redacted(v, redactor) for v in data]
    return data


class _Endpoint:
    """The ASGI endpoint of one route (see the module doc)."""

    def __init__(self, api: ManagementApi, route: ManagementRoute | None) -> None:
        self.api = api
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = self.api
        gateway = api.gateway
        headers = header_map(scope)
        changes_state = scope["method"] not in _READING
        extra: list[tuple[bytes, bytes]] = []
        try:
            await check_access(gateway, scope, headers, changes_state=changes_state)
            if self.route is None:
                raise api.no_route(scope["method"], scope["path"])
            raw = b""
            if changes_state:
                config = gateway.config
                raw = await read_body(receive, headers, self.route.body_limit_for(config), config.body_read_timeout)
                check_json_body(headers, raw)
            result = await self.route.handler(ManagementRequest(api, scope, headers, raw))
            status, data = (result.status, result.data) if isinstance(result, Reply) else (200, result)
        except GatewayError as error:
            status, data = error.status, error_body(error)
            if error.retry_after:
                extra.append((b"retry-after", str(max(1, round(error.retry_after))).encode()))
        except ReloadRefused as error:
            error.hint = 'if that is what you want, send the request again with "force": true (or ?force=true)'
            status, data = 422, config_error_body(error, "config_refused")
        except ConfigError as error:
            status, data = 422, config_error_body(error)
        except Exception:
            log.exception("management route %s %s failed", scope["method"], scope["path"])
            status = 500
            data = error_body(
                GatewayError(
                    status=500,
                    kind=ErrorKind.INTERNAL,
                    code="internal_error",
                    message="the management route failed unexpectedly; the gateway log has the details",
                )
            )
        data = _redacted(data, gateway.redactor())
        body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        out = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *extra]
        await send_bytes(send, status, body, out)


class ManagementApi:
    """The management API of one gateway: its route groups and the state they share
    (the config editor, remote sign-in sessions)."""

    def __init__(self, gateway: Gateway, groups: tuple[Callable[[ManagementApi], list[ManagementRoute]], ...]) -> None:
        self.gateway = gateway
        self.editor = ConfigEditor(gateway)
        self.sessions = LoginSessions(gateway)
        self.routes: list[ManagementRoute] = []
        for group in groups:
            self.routes.extend(group(self))

    def no_route(self, method: str, path: str) -> GatewayError:
        """405 naming the methods ``path`` takes, or 404 when no route has it."""
        allowed = sorted(
            {route.method for route in self.routes if compile_path(PREFIX + route.path)[0].fullmatch(path)}
        )
        if allowed:
            return GatewayError(
                status=405,
                kind=ErrorKind.INVALID_REQUEST,
                code="method_not_allowed",
                message=f"{method} is not allowed on {path}; it takes {', '.join(allowed)}",
            )
        return GatewayError(
            status=404,
            kind=ErrorKind.NOT_FOUND,
            code="no_such_route",
            message=f"no management route {method} {path}; GET {PREFIX} lists them",
        )

    def starlette_routes(self) -> list[BaseRoute]:
        """The routes, then a catch-all that answers unknown paths (after the guard)."""
        found: list[BaseRoute] = []
        for route in self.routes:
            found.append(Route(PREFIX + route.path, _Endpoint(self, route), methods=[route.method]))
            if not route.path:  # the root answers with a trailing slash too
                found.append(Route(PREFIX + "/", _Endpoint(self, route), methods=[route.method]))
        catch_all = _Endpoint(self, None)
        found.append(Route(PREFIX, catch_all, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        found.append(Route(PREFIX + "/{rest:path}", catch_all, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        return found
