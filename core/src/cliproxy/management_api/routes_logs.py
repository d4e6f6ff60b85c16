"""Routes: the requests the gateway kept (:mod:`cliproxy.request_log_files`), and the end
of its own log file (:mod:`cliproxy.app_log`).

* ``GET /v0/management/logs?limit=100`` -- the kept requests, newest first (id, kind --
  ``request`` or ``error`` --, time, bytes), the limits and the writer's counters.
* ``GET /v0/management/logs/{id}`` -- one kept request (the newest with that
  ``x-request-id``), as written: client request, upstream attempts, response.
* ``DELETE /v0/management/logs/{id}``, ``DELETE /v0/management/logs`` -- delete one
  request's files, or all.
* ``GET /v0/management/app-log?lines=200`` (or ``?after=<offset>`` to follow) -- the end
  of ``logging.file``.

Files are read and deleted off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.app_log import tail
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute

__all__ = ["routes"]

_MAX_LIST = 10_000
_MAX_LINES = 10_000


def _number(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise GatewayError.invalid(f"'{name}' must be a whole number, not '{value[:40]}'", param=name)
    return min(int(value), most)


def _not_found(code: str, message: str) -> GatewayError:
    return GatewayError(status=404, kind=ErrorKind.NOT_FOUND, code=code, message=message)


def routes(api: ManagementApi) -> list[ManagementRoute]:
    gateway = api.gateway

    def directory() -> str:
        found = gateway.config.request_logs.dir
        if found is None:
            raise _not_found(
                "no_logs_dir",
                "no requests are kept: this gateway's config is not a file, so it has no logs directory beside it; "
                "set 'logs-dir' in the config",
            )
        return found

    async def list_logs(request: ManagementRequest) -> Any:
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

    def read(directory: str, request_id: str) -> Any:
        data = gateway.request_log.read_file(directory, request_id)
        return None if data is None else orjson.loads(data)

    async def read_log(request: ManagementRequest) -> Any:
        request_id = request.param("id")
        record = await asyncio.to_thread(read, directory(), request_id)
        if record is None:
            raise _not_found(
                "no_such_log",
                f"no kept request '{request_id[:128]}': requests are kept with request-log: true, failed ones also "
                "without it; the oldest go once the logs reach logs-max-total-size-mb (GET /v0/management/logs "
                "lists those kept)",
            )
        return record

    async def delete_log(request: ManagementRequest) -> Any:
        request_id = request.param("id")
        deleted = await asyncio.to_thread(gateway.request_log.delete_files, directory(), request_id)
        if not deleted:
            raise _not_found("no_such_log", f"no kept request '{request_id[:128]}' to delete")
        return {"deleted": deleted}

    async def delete_logs(request: ManagementRequest) -> Any:
        return {"deleted": await asyncio.to_thread(gateway.request_log.delete_files, directory(), None)}

    async def app_log(request: ManagementRequest) -> Any:
        file = gateway.config.logging.file
        if file is None:
            raise _not_found(
                "no_log_file",
                "this gateway logs to stderr only: set 'logging: {file: cliproxy.log}' in the config (and restart) "
                "to keep its log in a file that can be read here; until then read the output of 'cliproxy serve' "
                "(journalctl -u <unit>, docker logs <container>)",
            )
        lines = _number(request.query, "lines", 200, _MAX_LINES)
        after = None if "after" not in request.query else _number(request.query, "after", 0, 2**62)
        try:
            return await asyncio.to_thread(tail, file, lines=lines, after=after)
        except FileNotFoundError:
            return {"file": file, "size": 0, "offset": 0, "lines": [], "rotated": False}

    return [
        ManagementRoute("GET", "/logs", list_logs, "the kept requests, newest first (?limit=100), and the limits"),
        ManagementRoute("DELETE", "/logs", delete_logs, "delete every kept request"),
        # (a client's own x-request-id may hold a slash)
        ManagementRoute("GET", "/logs/{id:path}", read_log, "one kept request by its x-request-id, as written"),
        ManagementRoute("DELETE", "/logs/{id:path}", delete_log, "delete the files of one kept request"),
        ManagementRoute("GET", "/app-log", app_log, "the end of the gateway's log file (?lines=200, ?after=offset)"),
    ]
