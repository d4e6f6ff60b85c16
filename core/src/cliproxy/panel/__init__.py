"""The web control panel at ``/v0/panel``: static files, served by the gateway itself.

A small app of plain ES modules (no build step, nothing fetched from elsewhere) in
``static/``, shipped inside the ``cliproxy`` wheel. It signs in with the management key
(kept in the browser tab's ``sessionStorage`` only) and does everything through the
management API (``/v0/management``), which checks the key on every call. Pages:
overview, credentials, models, client keys, config, logs (``docs/panel.md``).

The panel's files hold no data and no secret; they are served under the management
API's other rules: on only while ``remote-management.secret-key`` is set (404
otherwise), to this machine only unless ``allow-remote``, and never to another site's
page (the ``Host``/``Origin`` rules of :mod:`cliproxy.site_guard`). The answers forbid
framing and any script, style or connection but the gateway's own (a strict CSP).
"""

from __future__ import annotations

import functools
from importlib import resources

import orjson
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, send_bytes
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_api.access import check_reachable
from cliproxy.management_api.api import error_body

__all__ = ["PATH", "check_panel_access", "panel_files", "panel_routes"]

PATH = "/v0/panel"

_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".txt": b"text/plain; charset=utf-8",
}

_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"content-security-policy", _CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


@functools.cache
def panel_files() -> dict[str, bytes]:
    """Every file of the panel by its path under ``static/`` (read once)."""
    found: dict[str, bytes] = {}

    def walk(folder: resources.abc.Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            elif any(item.name.endswith(suffix) for suffix in _TYPES):
                found[prefix + item.name] = item.read_bytes()

    walk(resources.files(__package__) / "static", "")
    return found


def check_panel_access(gateway: Gateway, scope: Scope) -> None:
    """Raise a :class:`GatewayError` unless this request may load the panel: the
    management API's rules but the key (a page load carries none; every call the panel
    then makes needs it)."""
    check_reachable(
        gateway,
        scope,
        header_map(scope),
        changes_state=False,
        what="the web panel",
        off="the web panel is off, as the management API is: set 'remote-management: {secret-key: <key>}' "
        "in config.yaml (the key itself, or the hash 'cliproxy hash-key' prints), then sign in with that key",
    )


class PanelEndpoint:
    """``GET /v0/panel/<file>``: one file of the panel (``/v0/panel/``: the page)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            check_panel_access(self.gateway, scope)
        except GatewayError as error:
            body = orjson.dumps(error_body(error))
            await send_bytes(send, error.status, body, [(b"content-type", b"application/json"), *_HEADERS])
            return
        name = (scope.get("path_params") or {}).get("file", "")
        if scope["path"] == PATH:  # relative links need the trailing slash
            root = scope.get("root_path", "")
            await send_bytes(send, 308, b"", [(b"location", f"{root}{PATH}/".encode()), *_HEADERS])
            return
        name = name or "index.html"
        data = panel_files().get(name)
        if data is None:
            missing = GatewayError(
                status=404, kind=ErrorKind.NOT_FOUND, message=f"the panel has no file '{name[:100]}'"
            )
            body = orjson.dumps(error_body(missing))
            await send_bytes(send, 404, body, [(b"content-type", b"application/json"), *_HEADERS])
            return
        kind = _TYPES[name[name.rfind(".") :]]
        await send_bytes(send, 200, data, [(b"content-type", kind), *_HEADERS])


def panel_routes(gateway: Gateway) -> list[BaseRoute]:
    """The panel's routes: ``/v0/panel`` (redirects to ``/v0/panel/``) and its files."""
    endpoint = PanelEndpoint(gateway)
    return [
        Route(PATH, endpoint, methods=["GET"]),
        Route(PATH + "/{file:path}", endpoint, methods=["GET"]),
    ]
