"""Sign-ins run by the gateway for an operator who is elsewhere.

Any plugin's :class:`~cliproxy.LoginFlow` runs as a task with a
:class:`~cliproxy.oauth.RemoteLoginContext`: what the flow shows the user (the
authorization URL, the device code) is recorded as a challenge, and the address the
operator's browser ended on is handed in later (:meth:`LoginSessions.supply`). The token
file lands in ``auth-dir`` and is served at once (``auth-dir`` is read again); the
session then names the new credentials.

A session is ``pending`` (working, nothing to show yet), ``challenge`` (the operator must
act), then ``succeeded`` or ``failed`` (cancelled and expired ones too, with their
reason). Sessions end after :data:`SESSION_TTL` seconds; at most :data:`MAX_ACTIVE` run
at once, and finished ones are kept :data:`KEEP_FINISHED` seconds (at most
:data:`MAX_KEPT` sessions in all) for their outcome to be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cliproxy.commands import LoginFlow
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_api.login_options import flow_namespace
from cliproxy.oauth import RemoteLoginContext, parse_redirect
from cliproxy.reload import reload_gateway

__all__ = ["KEEP_FINISHED", "MAX_ACTIVE", "MAX_KEPT", "SESSION_TTL", "LoginSession", "LoginSessions"]

log = logging.getLogger("cliproxy.management")

SESSION_TTL = 900.0
MAX_ACTIVE = 8
MAX_KEPT = 32
KEEP_FINISHED = 600.0
_SWEEP_INTERVAL = 5.0
_POLL_STEP = 0.05


@attrs.define(eq=False)
class LoginSession:
    """One remote sign-in (see the module doc)."""

    id: str
    provider: str
    created_at: float
    expires_at: float
    context: RemoteLoginContext
    task: asyncio.Task[None] | None = None
    finished_at: float | None = None
    outcome: str | None = None  # succeeded | failed
    file: str | None = None
    credentials: list[dict[str, Any]] = attrs.Factory(list)
    error: dict[str, Any] | None = None
    warning: str | None = None

    @property
    def state(self) -> str:
        if self.outcome is not None:
            return self.outcome
        return "challenge" if self.context.challenges else "pending"

    def mark(self) -> tuple[object, ...]:
        """What a poller compares to see that something happened."""
        ctx = self.context
        return (self.state, len(ctx.challenges), ctx.awaiting_redirect is not None, len(ctx.messages))

    def as_dict(self) -> dict[str, Any]:
        ctx = self.context
        challenge = ctx.challenges[-1] if ctx.challenges else None
        data: dict[str, Any] = {
            "id": self.id,
            "provider": self.provider,
            "state": self.state,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "challenge": None if challenge is None else {k: v for k, v in attrs.asdict(challenge).items()},
            "awaiting_redirect": ctx.awaiting_redirect is not None,
            "prompt": ctx.awaiting_redirect,
            "messages": list(ctx.messages),
        }
        if self.outcome is not None:
            data["finished_at"] = _iso(self.finished_at or self.created_at)
        if self.outcome == "succeeded":
            data.update(file=self.file, credentials=self.credentials)
            if self.warning:
                data["warning"] = self.warning
        if self.error is not None:
            data["error"] = self.error
        return data


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


class LoginSessions:
    """The remote sign-ins of one gateway (see the module doc)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._sessions: dict[str, LoginSession] = {}
        self._supervising = False

    # -- flows -------------------------------------------------------------------------------

    def flows(self) -> dict[str, LoginFlow]:
        """The login flows of the installed plugins, by provider (first one wins)."""
        found: dict[str, LoginFlow] = {}
        for _, flow in self.gateway.plugins.login_flows():
            found.setdefault(flow.provider, flow)
        return found

    def flow(self, provider: str) -> LoginFlow:
        flow = self.flows().get(provider)
        if flow is None:
            known = ", ".join(sorted(self.flows())) or "none: no installed plugin has one"
            raise GatewayError(
                status=404,
                kind=ErrorKind.NOT_FOUND,
                code="no_login_flow",
                message=f"no sign-in for '{provider}' (providers with one: {known})",
            )
        return flow

    # -- sessions ----------------------------------------------------------------------------

    def get(self, session_id: str) -> LoginSession:
        self._sweep()
        session = self._sessions.get(session_id)
        if session is None:
            raise GatewayError(
                status=404,
                kind=ErrorKind.NOT_FOUND,
                code="no_such_session",
                message=f"no sign-in session '{session_id[:40]}' (sessions end {SESSION_TTL / 60:.0f} min after "
                f"they start, and are forgotten {KEEP_FINISHED / 60:.0f} min after they finish)",
            )
        return session

    def all(self) -> list[LoginSession]:
        self._sweep()
        return sorted(self._sessions.values(), key=lambda s: s.created_at)

    async def start(self, provider: str, options: Mapping[str, Any], wait: float) -> LoginSession:
        """Start ``provider``'s flow; return once it shows its first challenge, finishes,
        or ``wait`` seconds passed."""
        flow = self.flow(provider)
        args = flow_namespace(flow, options)
        self._sweep()
        active = [s for s in self._sessions.values() if s.outcome is None]
        if len(active) >= MAX_ACTIVE:
            raise GatewayError(
                status=429,
                kind=ErrorKind.RATE_LIMITED,
                code="too_many_sign_ins",
                message=f"{len(active)} sign-ins are running already; finish or cancel one "
                "(DELETE /v0/management/oauth/sessions/<id>)",
            )
        self._make_room()
        now = self.gateway.clock()
        config = self.gateway.config
        context = RemoteLoginContext(config=config, auth_dir=str(self.gateway.host.auth_dir))
        session = LoginSession(
            id=secrets.token_urlsafe(16),
            provider=provider,
            created_at=now,
            expires_at=now + SESSION_TTL,
            context=context,
        )
        self._sessions[session.id] = session
        self._supervise()
        session.task = asyncio.get_running_loop().create_task(self._drive(session, flow, args))
        session.task.set_name(f"cliproxy-login-{provider}")
        log.info("remote sign-in %s for %s started", session.id[:8], provider)
        await self.wait(session, wait, until=lambda s: s.state != "pending")
        return session

    def supply(self, session: LoginSession, text: str) -> None:
        """Hand the flow the address the browser ended on (or the code the page showed)."""
        if session.outcome is not None:
            raise GatewayError(
                status=409,
                kind=ErrorKind.INVALID_REQUEST,
                code="session_finished",
                message=f"this sign-in has {session.outcome} already; start a new one",
            )
        parse_redirect(text)  # a paste with no code in it is a 400 here, and the flow waits on
        session.context.supply_redirect(text)

    def cancel(self, session: LoginSession) -> None:
        if session.outcome is None and session.task is not None:
            self._fail(session, "cancelled", "the sign-in was cancelled")
            session.task.cancel()

    async def wait(self, session: LoginSession, seconds: float, *, until: Any = None) -> None:
        """Wait up to ``seconds`` for the session to change (or for ``until(session)``)."""
        deadline = time.monotonic() + max(0.0, seconds)
        seen = session.mark()
        while time.monotonic() < deadline:
            if until is not None and until(session):
                return
            if until is None and session.mark() != seen:
                return
            if session.outcome is not None:
                return
            await asyncio.sleep(_POLL_STEP)

    # -- running a flow ---------------------------------------------------------------------

    async def _drive(self, session: LoginSession, flow: LoginFlow, args: Any) -> None:
        try:
            written = await flow.run(args, session.context)
        except asyncio.CancelledError:
            if session.outcome is None:
                self._fail(session, "cancelled", "the sign-in was cancelled")
            raise
        except GatewayError as error:
            self._fail(session, error.code or str(error.kind), error.message)
            return
        except (Exception, SystemExit) as exc:  # a flow that exits (SystemExit) must not end the server
            message = str(exc) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
            self._fail(session, "login_failed", message)
            return
        await self._serve(session, Path(written))

    async def _serve(self, session: LoginSession, path: Path) -> None:
        """The flow wrote ``path``: read ``auth-dir`` again and name what it serves now."""
        gateway = self.gateway
        session.file = path.name
        try:
            await reload_gateway(gateway, gateway.config)
        except Exception as exc:
            session.warning = gateway.redact(
                f"signed in and saved {path.name}, but auth-dir could not be read again ({exc}); it is served "
                "after the next reload"
            )
        pool = [*gateway.credentials, *gateway.snapshot.disabled]
        disabled = {c.id for c in gateway.snapshot.disabled}
        session.credentials = [
            {"id": c.id, "label": c.label, "provider": c.provider, "enabled": c.id not in disabled}
            for c in pool
            if c.source and Path(c.source) == path
        ]
        session.outcome = "succeeded"
        session.finished_at = gateway.clock()
        log.info("remote sign-in %s for %s succeeded: %s", session.id[:8], session.provider, path.name)

    def _fail(self, session: LoginSession, code: str, message: str) -> None:
        session.outcome = "failed"
        session.finished_at = self.gateway.clock()
        session.error = {"code": code, "message": self.gateway.redact(message)}
        log.info("remote sign-in %s for %s failed: %s", session.id[:8], session.provider, session.error["message"])

    # -- keeping it bounded -----------------------------------------------------------------

    def _sweep(self) -> None:
        now = self.gateway.clock()
        for session in list(self._sessions.values()):
            if session.outcome is None and now >= session.expires_at:
                self._fail(session, "expired", f"the sign-in was not finished within {SESSION_TTL / 60:.0f} min")
                if session.task is not None:
                    session.task.cancel()
            elif session.outcome is not None and now - (session.finished_at or now) > KEEP_FINISHED:
                del self._sessions[session.id]

    def _make_room(self) -> None:
        finished = sorted((s for s in self._sessions.values() if s.outcome is not None), key=lambda s: s.created_at)
        while len(self._sessions) >= MAX_KEPT and finished:
            del self._sessions[finished.pop(0).id]

    def _supervise(self) -> None:
        """Once: a background task that expires sessions, and cancels them all when the
        gateway stops."""
        if self._supervising:
            return
        self._supervising = True
        self.gateway.run_in_background(self._watch(), "cliproxy-login-sessions")

    async def _watch(self) -> None:
        try:
            while True:
                await asyncio.sleep(_SWEEP_INTERVAL)
                self._sweep()
        finally:
            for session in self._sessions.values():
                if session.task is not None and not session.task.done():
                    session.task.cancel()
            tasks = [s.task for s in self._sessions.values() if s.task is not None]
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)
