"""``/v0/management/logs``: kept requests, and the end of the gateway's own log.

* ``GET /v0/management/logs?limit=100`` -- the kept requests, newest first (id, kind --
  ``request`` or ``error`` --, time, bytes), the limits and the writer's counters.
* ``GET /v0/management/logs/{id}`` -- one kept request (the newest with that
  ``x-request-id``), as written: client request, upstream attempts, response.
* ``DELETE /v0/management/logs/{id}``, ``DELETE /v0/management/logs`` -- delete one
  request's files, or all.
* ``GET /v0/management/app-log?lines=200`` (or ``?after=<offset>`` to follow) -- the end
  of ``logging.file``.

See :mod:`cliproxy.request_log_files` and :mod:`cliproxy.app_log`. Access is checked by
the ``guard`` the routes are built with (see :mod:`cliproxy.management_endpoint`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.routing import Route

from cliproxy.app_log import tail
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_endpoint import Guard, ManagementEndpoint, ManagementRequest, RawJson, operator_guard

__all__ = ["APP_LOG", "PREFIX", "log_routes"]

PREFIX = "/v0/management/logs"
APP_LOG = "/v0/management/app-log"
_MAX_LIST = 10_000


def log_routes(gateway: Gateway, guard: Guard = operator_guard) -> list[Route]:
    """The request-log and app-log routes, guarded by ``guard``."""
    return [
        Route(
            PREFIX,
            ManagementEndpoint(gateway, {"GET": list_logs, "DELETE": delete_logs}, guard=guard),
        ),
        Route(
            PREFIX + "/{id:path}",  # (a client's own x-request-id may hold a slash)
            ManagementEndpoint(gateway, {"GET": read_log, "DELETE": delete_log}, guard=guard),
        ),
        Route(APP_LOG, ManagementEndpoint(gateway, {"GET": app_log}, guard=guard)),
    ]


def _number(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise GatewayError.invalid(f"'{name}' must be a whole number, not '{value[:40]}'", param=name)
    return min(int(value), most)


def _directory(gateway: Gateway) -> str:
    directory = gateway.config.request_logs.dir
    if directory is None:
        raise GatewayError(
            status=404,
            kind=ErrorKind.NOT_FOUND,
            message="no requests are kept: this gateway's config is not a file, so it has no logs directory "
            "beside it; set 'logs-dir' in the config",
        )
    return directory


async def list_logs(gateway: Gateway, request: ManagementRequest) -> Any:
    """``GET /v0/management/logs``."""
    settings = gateway.config.request_logs
    limit = _number(request.query, "limit", 100, _MAX_LIST)
    found = [] if settings.dir is None else await asyncio.to_thread(gateway.request_log.list_files, settings.dir)
    return {
        "dir": settings.dir,
        "request_log": settings.enabled,
        "max_total_mb": settings.max_total_mb,
        "error_logs_max_files": settings.error_max_files,
        "count": len(found),
        "total_bytes": sum(entry["bytes"] for entry in found),
        "writer": gateway.request_log.stats(),
        "logs": found[:limit],
    }


async def read_log(gateway: Gateway, request: ManagementRequest) -> Any:
    """``GET /v0/management/logs/{id}``."""
    request_id = request.path["id"]
    data = await asyncio.to_thread(gateway.request_log.read_file, _directory(gateway), request_id)
    if data is None:
        raise GatewayError(
            status=404,
            kind=ErrorKind.NOT_FOUND,
            message=f"no kept request '{request_id[:128]}': requests are kept with request-log: true, failed ones "
            "also without it; the oldest go once the logs reach logs-max-total-size-mb "
            "(GET /v0/management/logs lists those kept)",
        )
    return RawJson(data)


async def delete_log(gateway: Gateway, request: ManagementRequest) -> Any:
    """``DELETE /v0/management/logs/{id}``."""
    request_id = request.path["id"]
    deleted = await asyncio.to_thread(gateway.request_log.delete_files, _directory(gateway), request_id)
    if not deleted:
        raise GatewayError(
            status=404, kind=ErrorKind.NOT_FOUND, message=f"no kept request '{request_id[:128]}' to delete"
        )
    return {"deleted": deleted}


async def delete_logs(gateway: Gateway, request: ManagementRequest) -> Any:
    """``DELETE /v0/management/logs``: every kept request."""
    return {"deleted": await asyncio.to_thread(gateway.request_log.delete_files, _directory(gateway), None)}


async def app_log(gateway: Gateway, request: ManagementRequest) -> Any:
    """``GET /v0/management/app-log``."""
    file = gateway.config.logging.file
    if file is None:
        raise GatewayError(
            status=404,
            kind=ErrorKind.NOT_FOUND,
            code="no_log_file",
            message="this gateway logs to stderr only: set 'logging: {file: cliproxy.log}' in the config (and restart) "
            "to keep its log in a file that can be read here; until then read the output of 'cliproxy serve' "
            "(journalctl -u <unit>, docker logs <container>)",
        )
    lines = _number(request.query, "lines", 200, 10_000)
    after = request.query.get("after")
    offset = None if after is None else _number(request.query, "after", 0, 2**62)
    try:
        return await asyncio.to_thread(tail, file, lines=lines, after=offset)
    except FileNotFoundError:
        return {"file": file, "size": 0, "offset": 0, "lines": [], "rotated": False}
