"""Routes: what the gateway served lately, and who serves each model -- for the web panel.

* ``GET /v0/management/activity?minutes=60`` -- requests, errors, tokens and estimated
  cost per minute (per door and provider), requests in flight, this process only
  (:mod:`cliproxy.activity`); the state store's health; when the config was loaded and
  the last reload error.
* ``GET /v0/management/requests?limit=100&status=&model=&client=`` -- the last requests,
  newest first, filtered.
* ``GET /v0/management/models`` -- every model id clients may request, with the
  credentials that serve it (highest priority first), and the prefixes that take any
  model name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.activity import MINUTES, RECENT
from cliproxy.errors import GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute

__all__ = ["routes"]


def _number(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) == 0:
        raise GatewayError.invalid(f"'{name}' must be a whole number from 1 to {most}, not '{value[:40]}'", param=name)
    return min(int(value), most)


def _status_filter(text: str) -> Any:
    """``ok`` (below 400), ``error`` (400 and up), ``4xx``/``5xx``, or one status."""
    text = text.strip().lower()
    if text == "ok":
        return lambda status: status < 400
    if text == "error":
        return lambda status: status >= 400
    if len(text) == 3 and text[0].isdigit() and text[1:] == "xx":
        return lambda status: status // 100 == int(text[0])
    if text.isdigit():
        return lambda status: status == int(text)
    raise GatewayError.invalid(
        f"'status' must be ok, error, 4xx, 5xx or a status code, not '{text[:40]}'", param="status"
    )


def routes(api: ManagementApi) -> list[ManagementRoute]:
    gateway = api.gateway

    async def activity(request: ManagementRequest) -> Any:
        count = _number(request.query, "minutes", 60, MINUTES)
        return {
            "minutes": gateway.activity.minutes(count, gateway.clock()),
            "in_flight": len(gateway.drain),
            "state_store": dict(gateway.state.describe()),
            "config": gateway.reload_status.as_dict(watching=gateway.config.watch_config),
        }

    async def recent(request: ManagementRequest) -> Any:
        limit = _number(request.query, "limit", 100, RECENT)
        status = request.query.get("status") or ""
        wanted = _status_filter(status) if status.strip() else None
        model = (request.query.get("model") or "").strip().lower()
        client = (request.query.get("client") or "").strip()
        found = []
        for entry in gateway.activity.recent():
            if wanted is not None and not wanted(entry["status"]):
                continue
            if model and model not in entry["model"].lower() and model not in entry["upstream_model"].lower():
                continue
            if client and entry["client"] != client:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return {"requests": found}

    async def models(request: ManagementRequest) -> Any:
        router = gateway.router
        disabled = {c.id for c in gateway.snapshot.disabled}
        listed = []
        for info in router.models():
            route = router.resolve(info.id)
            listed.append(
                {
                    "id": info.id,
                    "owned_by": info.owned_by,
                    "rotates": route.rotates,
                    "credentials": [
                        {
                            "id": cand.credential.id,
                            "label": cand.credential.label,
                            "provider": cand.credential.provider,
                            "prefix": cand.credential.prefix,
                            "priority": cand.credential.priority,
                            "weight": cand.credential.weight,
                            "upstream_model": cand.upstream_model,
                            "alias": cand.upstream_model != info.id.removeprefix(f"{cand.credential.prefix}/"),
                            "enabled": cand.credential.id not in disabled,
                        }
                        for cand in route
                    ],
                }
            )
        any_model = [
            {"prefix": cred.prefix, "id": cred.id, "label": cred.label, "provider": cred.provider}
            for cred in gateway.credentials
            if cred.any_model and cred.prefix
        ]
        return {
            "models": listed,
            "any_model_prefixes": any_model,
            "thinking_suffixes": list(gateway.config.thinking_suffixes or ()),
            "force_model_prefix": gateway.config.force_model_prefix,
            "strategy": gateway.config.routing.strategy,
        }

    return [
        ManagementRoute("GET", "/activity", activity, "requests, errors, tokens and cost per minute (?minutes=60)"),
        ManagementRoute(
            "GET", "/requests", recent, "the last requests, newest first (?limit=100&status=error&model=&client=)"
        ),
        ManagementRoute("GET", "/models", models, "the model ids clients may request and the credentials serving each"),
    ]
