"""Route: ``GET /v0/management`` -- what the API offers, for clients that look first."""

from __future__ import annotations

from typing import Any

from cliproxy.management_api.api import PREFIX, ManagementApi, ManagementRequest, ManagementRoute

__all__ = ["routes"]


def routes(api: ManagementApi) -> list[ManagementRoute]:
    async def index(request: ManagementRequest) -> Any:
        gateway = api.gateway
        return {
            "config": {"file": gateway.config.file, "writable": not gateway.config.file.startswith("<")},
            "credentials": len(gateway.credentials),
            "disabled_credentials": len(gateway.snapshot.disabled),
            "login_providers": sorted(api.sessions.flows()),
            "routes": [
                {"method": route.method, "path": PREFIX + route.path, "summary": route.summary} for route in api.routes
            ],
        }

    return [ManagementRoute("GET", "", index, "this list of routes, and what the gateway holds")]
