"""Routes: lasting usage -- queried, exported and imported (:mod:`cliproxy.usage_ledger`).

* ``GET /v0/management/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&by=client,credential,model,day``
  -- requests, failures, tokens by kind and estimated cost, one row per group of ``by``
  (default: all four), and the total; ``from``/``to`` default to the last 30 days.
* ``GET /v0/management/usage/export?from=&to=`` -- the rows as a usage document (default:
  every day kept).
* ``POST /v0/management/usage/import`` with a usage document -- adds its rows to the
  counts; a document imported before is refused (409) unless ``?again=true``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cliproxy.config import Config
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute
from cliproxy.state.daily import day_of, first_kept_day
from cliproxy.usage_document import UsageDocumentError
from cliproxy.usage_ledger import GROUPS, AlreadyImported

__all__ = ["routes"]


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


def _document_limit(config: Config) -> int:
    return config.max_body_bytes  # a usage document holds up to retention-days x max-rows-per-day rows


def routes(api: ManagementApi) -> list[ManagementRoute]:
    gateway = api.gateway

    async def query(request: ManagementRequest) -> Any:
        groups = _groups(request.query)
        first, last = _day(request.query, "from"), _day(request.query, "to")
        if first is not None and last is not None and first > last:
            raise GatewayError.invalid(f"'from' ({first}) is after 'to' ({last})", param="from")
        first, last = gateway.ledger.window(first, last)
        credentials = {cred.id: (cred.label, cred.provider) for cred in gateway.credentials}
        report = await gateway.ledger.report(first, last, groups, credentials)
        report["state_store"] = gateway.state.describe().get("backend")
        return report

    async def export(request: ManagementRequest) -> Any:
        first, last = _day(request.query, "from"), _day(request.query, "to")
        today = day_of(gateway.clock())
        oldest = first_kept_day(today, gateway.config.usage.retention_days)
        return await gateway.ledger.export(max(first or oldest, oldest), last or today)

    async def import_(request: ManagementRequest) -> Any:
        again = request.flag("again")
        try:
            return await gateway.ledger.import_document(request.body(), again=again)
        except UsageDocumentError as error:
            raise GatewayError.invalid(f"not imported: {error}") from None
        except AlreadyImported as done:
            raise GatewayError(
                status=409,
                kind=ErrorKind.INVALID_REQUEST,
                code="already_imported",
                message=f"usage document {done.args[0]} was imported before; importing it again would count its "
                "rows twice -- add ?again=true if that is what you want",
            ) from None

    return [
        ManagementRoute(
            "GET", "/usage", query, "usage per client key, credential, model and day, with cost (?from=&to=&by=)"
        ),
        ManagementRoute("GET", "/usage/export", export, "the usage of the days asked (default: all) as a document"),
        ManagementRoute(
            "POST", "/usage/import", import_, "add the usage a document holds (?again=true: once more)", _document_limit
        ),
    ]
