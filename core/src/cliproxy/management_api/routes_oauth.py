"""Routes: remote sign-in (see :mod:`cliproxy.management_api.login_sessions`)."""

from __future__ import annotations

from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute, Reply
from cliproxy.management_api.login_options import describe_options

__all__ = ["MAX_WAIT", "routes"]

MAX_WAIT = 60.0
START_WAIT = 15.0


def _wait(request: ManagementRequest, default: float) -> float:
    raw = request.query.get("wait")
    if raw is None:
        body = request.body() if request.method != "GET" else {}
        value = body.get("wait", default)
    else:
        try:
            value = float(raw)
        except ValueError:
            raise GatewayError.invalid("'wait' must be a number of seconds", param="wait") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_WAIT:
        raise GatewayError.invalid(f"'wait' must be a number of seconds from 0 to {MAX_WAIT:.0f}", param="wait")
    return float(value)


def routes(api: ManagementApi) -> list[ManagementRoute]:
    sessions = api.sessions

    async def providers(request: ManagementRequest) -> Any:
        return {
            "providers": [
                {"provider": name, "help": flow.help, "options": describe_options(flow)}
                for name, flow in sorted(sessions.flows().items())
            ]
        }

    async def start(request: ManagementRequest) -> Any:
        request.only("options", "wait")
        options = request.field("options", dict, default={})
        session = await sessions.start(request.param("provider"), options, _wait(request, START_WAIT))
        return Reply({"session": session.as_dict()}, 201)

    async def list_sessions(request: ManagementRequest) -> Any:
        return {"sessions": [s.as_dict() for s in sessions.all()]}

    async def one(request: ManagementRequest) -> Any:
        session = sessions.get(request.param("id"))
        await sessions.wait(session, _wait(request, 0.0))
        return {"session": session.as_dict()}

    async def callback(request: ManagementRequest) -> Any:
        request.only("redirect_url", "code", "wait")
        session = sessions.get(request.param("id"))
        url = request.field("redirect_url", str)
        code = request.field("code", str)
        if (url is None) == (code is None):
            raise GatewayError.invalid(
                "send either 'redirect_url' (the whole address the browser ended on) or 'code' (what the page showed)"
            )
        sessions.supply(session, url if url is not None else code)
        await sessions.wait(session, _wait(request, 10.0), until=lambda s: s.outcome is not None)
        return {"session": session.as_dict()}

    async def cancel(request: ManagementRequest) -> Any:
        session = sessions.get(request.param("id"))
        sessions.cancel(session)
        return {"session": session.as_dict()}

    return [
        ManagementRoute("GET", "/oauth/providers", providers, "providers with a sign-in, and their options"),
        ManagementRoute("GET", "/oauth/sessions", list_sessions, "sign-in sessions"),
        ManagementRoute("GET", "/oauth/sessions/{id}", one, "one sign-in session (?wait=N waits for a change)"),
        ManagementRoute("POST", "/oauth/sessions/{id}/callback", callback, "hand in the redirect address or code"),
        ManagementRoute("DELETE", "/oauth/sessions/{id}", cancel, "cancel a sign-in"),
        ManagementRoute("POST", "/oauth/{provider}", start, "start a sign-in: the session and its first challenge"),
    ]
