"""The management API under ``/v0/management``: everything an operator does without a shell.

JSON in, JSON out, documented route by route in ``docs/management.md``. Off until
``remote-management.secret-key`` is set; then every call needs the key, and only this
machine may call unless ``remote-management.allow-remote`` (:mod:`.access`).

Route groups, one module each, each offering ``routes(api) -> list[ManagementRoute]``:

* :mod:`.routes_index` -- ``GET /v0/management``: the routes;
* :mod:`.routes_config` -- the config file: read, check, replace, settings, reload;
* :mod:`.routes_keys` -- client keys;
* :mod:`.routes_providers` -- provider blocks, entries and their keys;
* :mod:`.routes_credentials` -- credentials: enable/disable, test, reset, quota, token files;
* :mod:`.routes_oauth` -- remote sign-in;
* :mod:`.routes_usage` -- lasting usage: query, export, import;
* :mod:`.routes_logs` -- kept requests and the gateway's log file;
* :mod:`.routes_activity` -- recent requests, per-minute counts, who serves each model (the panel).

A new group is a module with a ``routes`` function added to :data:`ROUTE_GROUPS`; it gets
the guard, body handling, error shapes, index entry and answer redaction of :mod:`.api`
for free.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from cliproxy.gateway import Gateway
from cliproxy.management_api import (
    routes_activity,
    routes_config,
    routes_credentials,
    routes_index,
    routes_keys,
    routes_logs,
    routes_oauth,
    routes_providers,
    routes_usage,
)
from cliproxy.management_api.api import PREFIX, ManagementApi, ManagementRequest, ManagementRoute, Reply

__all__ = [
    "PREFIX",
    "ROUTE_GROUPS",
    "ManagementApi",
    "ManagementRequest",
    "ManagementRoute",
    "Reply",
    "management_routes",
]

ROUTE_GROUPS: tuple[Callable[[ManagementApi], list[ManagementRoute]], ...] = (
    routes_index.routes,
    routes_config.routes,
    routes_keys.routes,
    routes_providers.routes,
    routes_credentials.routes,
    routes_oauth.routes,
    routes_usage.routes,
    routes_logs.routes,
    routes_activity.routes,
)
"""Every route group, in the order their routes are matched."""


def management_routes(gateway: Gateway) -> list[BaseRoute]:
    """The Starlette routes of ``gateway``'s management API."""
    return ManagementApi(gateway, ROUTE_GROUPS).starlette_routes()
