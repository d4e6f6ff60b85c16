"""``/v0/management/usage``: lasting usage, queried, exported and imported.

* ``GET /v0/management/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&by=client,credential,model,day``
  -- requests, failures, tokens by kind and estimated cost, one row per group of ``by``
  (default: all four), and the total; ``from``/``to`` default to the last 30 days.
* ``GET /v0/management/usage/export?from=&to=`` -- the rows as a usage document (default:
  every day kept).
* ``POST /v0/management/usage/import`` with a usage document -- adds its rows to the
  counts; a document imported before is refused (409) unless ``?again=true``.

See :mod:`cliproxy.usage_ledger`. Access is checked by the ``guard`` the routes are built
with (see :mod:`cliproxy.management_endpoint`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from starlette.routing import Route

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_endpoint import Guard, ManagementEndpoint, ManagementRequest, operator_guard
from cliproxy.state.daily import day_of, first_kept_day
from cliproxy.usage_document import UsageDocumentError
from cliproxy.usage_ledger import GROUPS, AlreadyImported

__all__ = ["PREFIX", "usage_routes"]

PREFIX = "/v0/management/usage"


def usage_routes(gateway: Gateway, guard: Guard = operator_guard) -> list[Route]:
    """The usage routes, guarded by ``guard``."""
    return [
        Route(PREFIX, ManagementEndpoint(gateway, {"GET": query_usage}, guard=guard)),
        Route(f"{PREFIX}/export", ManagementEndpoint(gateway, {"GET": export_usage}, guard=guard)),
        Route(f"{PREFIX}/import", ManagementEndpoint(gateway, {"POST": import_usage}, guard=guard)),
    ]


def _day(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise GatewayError.invalid(
            f"'{name}' must be a date written YYYY-MM-DD (UTC), not '{value[:40]}'", param=name
        ) from None


def _window(gateway: Gateway, query: Mapping[str, str]) -> tuple[str, str]:
    first, last = _day(query, "from"), _day(query, "to")
    if first is not None and last is not None and first > last:
        raise GatewayError.invalid(f"'from' ({first}) is after 'to' ({last})", param="from")
    return gateway.ledger.window(first, last)


def _groups(query: Mapping[str, str]) -> tuple[str, ...]:
    if "by" not in query:
        return GROUPS
    names = tuple(name.strip() for name in query["by"].split(",") if name.strip())
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        raise GatewayError.invalid(
            f"'by' names '{unknown[0][:40]}', which usage cannot be grouped by; use some of: {', '.join(GROUPS)} "
            "(comma-separated; empty for the total only)",
            param="by",
        )
    return names


async def query_usage(gateway: Gateway, request: ManagementRequest) -> Any:
    """``GET /v0/management/usage``."""
    groups = _groups(request.query)
    first, last = _window(gateway, request.query)
    credentials = {cred.id: (cred.label, cred.provider) for cred in gateway.credentials}
    report = await gateway.ledger.report(first, last, groups, credentials)
    report["state_store"] = gateway.state.describe().get("backend")
    return report


async def export_usage(gateway: Gateway, request: ManagementRequest) -> Any:
    """``GET /v0/management/usage/export``: every kept day unless ``from``/``to`` say."""
    first, last = _day(request.query, "from"), _day(request.query, "to")
    today = day_of(gateway.clock())
    oldest = first_kept_day(today, gateway.config.usage.retention_days)
    return await gateway.ledger.export(max(first or oldest, oldest), last or today)


async def import_usage(gateway: Gateway, request: ManagementRequest) -> Any:
    """``POST /v0/management/usage/import``."""
    document = request.json("send a usage document (what GET /v0/management/usage/export answers)")
    again = request.query.get("again", "").lower() in ("1", "true", "yes")
    try:
        return await gateway.ledger.import_document(document, again=again)
    except UsageDocumentError as error:
        raise GatewayError.invalid(f"not imported: {error}") from None
    except AlreadyImported as done:
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="already_imported",
            message=f"usage document {done.args[0]} was imported before; importing it again would count its rows "
            "twice -- add ?again=true if that is what you want",
        ) from None
