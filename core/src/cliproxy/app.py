"""``create_app``: the gateway as a Starlette (ASGI) application.

The app's lifespan owns the gateway's runtime resources (the one aiohttp session, the
state store, provider start-up). Mounted inside another app, enter its lifespan from the
host's (see ``examples/embed_starlette.py``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, compile_path
from starlette.types import Receive, Scope, Send

from cliproxy.asgi import header_map, query_map
from cliproxy.config import Config, load_config
from cliproxy.doors import DoorEndpoint, error_response, inbound, send_error
from cliproxy.embeddings_door import embedding_routes
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management import (
    ConfigReloadEndpoint,
    MetricsEndpoint,
    ModelsRefreshEndpoint,
    ResetEndpoint,
    StatusEndpoint,
)
from cliproxy.management_api import management_routes
from cliproxy.panel import panel_routes
from cliproxy.plugins import Plugins
from cliproxy.reload import ReloadResult, handle_reload_signal, reload_gateway, watch_files
from cliproxy.responses_door import compact_routes, door_endpoint, stored_response_routes
from cliproxy.routing import ModelInfo
from cliproxy.state import StateStore
from cliproxy.translate import ClientTranslator
from cliproxy.version import __version__

__all__ = ["create_app", "gateway_of", "reload_app"]

VERSION = __version__

log = logging.getLogger("cliproxy.app")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


class ModelsEndpoint:
    """``GET /v1/models``: the ids a client may request (OpenAI shape, Anthropic's when the
    client sends ``anthropic-version``, or the shape of a wire whose translator recognises
    its clients with ``answers_models``)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self.gateway
        headers = header_map(scope)
        query = query_map(scope)
        translator = gateway.translators.client("openai-chat")
        for candidate in gateway.translators.clients():
            if candidate.answers_models(headers, query):
                translator = candidate
                break
        try:
            identity = await gateway.authenticate(inbound(scope, headers, query))
        except GatewayError as error:
            await send_error(send, translator, error)
            return
        models = gateway.listed_models(identity)
        if translator.name != "openai-chat":
            body = translator.encode_models(models)
            await Response(body, media_type="application/json")(scope, receive, send)
            return
        if "anthropic-version" in headers:
            data: dict[str, Any] = {
                "data": [
                    {"type": "model", "id": m.id, "display_name": m.id, "created_at": "1970-01-01T00:00:00Z"}
                    for m in models
                ],
                "has_more": False,
                "first_id": models[0].id if models else None,
                "last_id": models[-1].id if models else None,
            }
        else:
            data = {
                "object": "list",
                "data": [_openai_model(m) for m in models],
            }
        await _json(data)(scope, receive, send)


def _openai_model(model: ModelInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": model.id, "object": "model", "created": 0, "owned_by": model.owned_by}
    if model.embeds:
        entry["capabilities"] = ["embeddings"]  # served at POST /v1/embeddings
    return entry


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


def _index(gateway: Gateway) -> Any:
    paths = sorted({door.path for translator in gateway.translators.clients() for door in translator.doors})

    async def index(request: Request) -> Response:
        endpoints = [*paths, "/v1/models", "/healthz", "/v0/status", "/v0/status/reset", "/v0/management"]
        return _json({"name": "cliproxy", "version": VERSION, "endpoints": endpoints})

    return index


def error_translator(gateway: Gateway, scope: Scope) -> ClientTranslator:
    """The translator whose error shape a request outside the doors should get: the wire
    whose door the path is (a wrong method), else the wire its client looks like (Google
    SDKs' headers, Anthropic's ``anthropic-version``) or its path belongs to (``/v1beta``,
    ``/v1/messages``), else OpenAI's."""
    path = scope["path"]
    translators = gateway.translators
    for translator in translators.clients():
        for door in translator.doors:
            if _door_pattern(door.path).fullmatch(path):
                return translator
    headers = header_map(scope)
    query = query_map(scope)
    for translator in translators.clients():
        if translator.answers_models(headers, query):
            return translator
    for name, hinted in (
        ("anthropic", "anthropic-version" in headers or path.startswith("/v1/messages")),
        ("gemini", path.startswith("/v1beta/")),
    ):
        if hinted and translators.has_client(name):
            return translators.client(name)
    return translators.client("openai-chat")


@functools.lru_cache(maxsize=64)
def _door_pattern(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def _not_found(gateway: Gateway) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        path = request.url.path
        if status == 405:
            error = GatewayError(
                status=405, kind=ErrorKind.INVALID_REQUEST, message=f"{request.method} is not allowed on {path}"
            )
        else:
            error = GatewayError(
                status=404, kind=ErrorKind.NOT_FOUND, message=f"no endpoint at {path}; GET / lists the endpoints"
            )
        status, headers, body = error_response(error_translator(gateway, request.scope), error)
        return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})

    return handler


def routes_for(gateway: Gateway) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", _index(gateway), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/v1/models", ModelsEndpoint(gateway), methods=["GET"]),
        Route("/v0/status", StatusEndpoint(gateway), methods=["GET"]),
        Route("/v0/status/reset", ResetEndpoint(gateway), methods=["POST"]),
        Route("/v0/models/refresh", ModelsRefreshEndpoint(gateway), methods=["POST"]),
        Route("/v0/config/reload", ConfigReloadEndpoint(gateway), methods=["POST"]),
        *management_routes(gateway),
        *panel_routes(gateway),
    ]
    taken: dict[tuple[str, str], str] = {("GET", "/v1/models"): "core"}
    for translator in gateway.translators.clients():
        for door in translator.doors:
            key = (door.method, door.path)
            if key in taken:
                log.warning("%s %s is served by %s already; %s's door is ignored", *key, taken[key], translator.name)
                continue
            taken[key] = translator.name
            routes.append(Route(door.path, door_endpoint(gateway, translator, door), methods=[door.method]))
    routes += embedding_routes(gateway)
    routes += compact_routes(gateway)  # before the kept responses: /v1/responses/{response_id} would match
    routes += stored_response_routes(gateway)  # after the doors: /v1/responses/input_tokens is one
    if gateway.metrics is not None:
        routes.append(Route(gateway.metrics.path, MetricsEndpoint(gateway, gateway.metrics), methods=["GET"]))
    return routes


class GatewayApp(Starlette):
    """The gateway's Starlette app, answering its doors ahead of Starlette's stack.

    A request for a door with a fixed path (``POST /v1/chat/completions``) goes straight
    to the door: one dict lookup instead of two middleware layers, a route scan and a send
    wrapper per message, all of which the doors do not need (they answer every error
    themselves). Everything else -- other paths and methods, requests under a mount
    (``root_path``), and every request once user middleware is added -- takes Starlette's
    normal path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._doors: dict[tuple[str, str], DoorEndpoint] = {
            (method, route.path): route.endpoint
            for route in self.router.routes
            if isinstance(route, Route) and isinstance(route.endpoint, DoorEndpoint) and "{" not in route.path
            for method in route.methods or ()
            if method != "HEAD"
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and not self.user_middleware:
            door = self._doors.get((scope["method"], scope["path"]))
            if door is not None:
                scope["app"] = self
                await door(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    config: Config | str | Path | Mapping[str, Any] = "config.yaml",
    *,
    plugins: Iterable[object] = (),
    load_entrypoints: bool = True,
    strict_plugins: bool = False,
    state: StateStore | None = None,
    reload_on_sighup: bool = False,
) -> Starlette:
    """Build the gateway application.

    Args:
        config: A :class:`Config`, a path to ``config.yaml``, or the config as a mapping.
        plugins: Extra plugin objects or modules to register (tests, embedding apps).
        load_entrypoints: Load installed plugins from the ``cliproxy`` entry-point group.
        strict_plugins: Fail instead of skipping a plugin that does not load.
        state: A state store to use instead of the one the config names.
        reload_on_sighup: While serving, reload the config on ``SIGHUP`` (what ``cliproxy
            serve`` does; leave it off when the host app owns its signals). Reload from
            code with ``await reload_app(app)``.

    Raises:
        ConfigError: The config is invalid (the message names file, line and key).
        PluginError: A plugin failed to load and ``strict_plugins`` is set.
    """
    loaded = load_config(config)
    plugin_manager = Plugins.load(entry_points=load_entrypoints, extra=plugins, strict=strict_plugins)
    gateway = Gateway.build(loaded, plugin_manager, state=state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        gateway.run_in_background(watch_files(gateway), "cliproxy-watch")
        try:
            with handle_reload_signal(gateway) if reload_on_sighup else contextlib.nullcontext():
                yield
        finally:
            await gateway.stop()

    app = GatewayApp(
        routes=routes_for(gateway),
        lifespan=lifespan,
        exception_handlers={404: _not_found(gateway), 405: _not_found(gateway)},
    )
    app.state.gateway = gateway
    return app


async def reload_app(
    app: Starlette, config: Config | str | Path | Mapping[str, Any] | None = None, *, force: bool = False
) -> ReloadResult:
    """Apply the config file again (or ``config``: a path, a mapping or a :class:`Config`)
    to a running app made by :func:`create_app`, without a restart; returns what changed.

    Raises:
        ConfigError: The new config is invalid, or would remove every credential or empty
            ``api-keys`` (unless ``force``); the running config keeps serving.
    """
    return await reload_gateway(gateway_of(app), config, force=force)


def gateway_of(app: Starlette) -> Gateway:
    """The :class:`Gateway` behind an app made by :func:`create_app`."""
    return app.state.gateway
