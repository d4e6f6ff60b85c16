"""A one-shot loopback server that catches the browser's redirect after sign-in.

Built on aiohttp's public API (``AppRunner``/``TCPSite``; the bound port is read from
``runner.addresses``). It listens on the first free port of a list (``0`` = any free
port), answers only its ``path``, refuses a redirect whose ``state`` is not this
attempt's (and keeps waiting for the right one), shows a small page, and shuts down
cleanly however the wait ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Sequence
from types import TracebackType

from aiohttp import web

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.oauth.redirect import Authorization, authorization_from_query

__all__ = ["CallbackServer", "PortsTaken"]

log = logging.getLogger("cliproxy.oauth")

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;color:#222}}</style></head>
<body><h2>{title}</h2><p>{text}</p></body></html>
"""


class PortsTaken(GatewayError):
    """None of the callback ports could be bound."""


def _page(title: str, text: str, status: int = 200) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(text=body, status=status, content_type="text/html")


class CallbackServer:
    """Listens on loopback for ``GET <path>?code=...&state=...`` (``code_param`` renames
    ``code``).

    Use as ``async with CallbackServer(path="/callback", state=state) as server:``
    after ``await server.start(ports)``; :meth:`wait` returns the
    :class:`~cliproxy.oauth.Authorization`.
    """

    def __init__(
        self, *, path: str, state: str, host: str = "127.0.0.1", name: str = "cliproxy", code_param: str = "code"
    ) -> None:
        self.path = path if path.startswith("/") else "/" + path
        self.code_param = code_param
        """The query parameter the code arrives in (``token`` for Roo Code's sign-in page)."""
        self.host = host
        self.port: int | None = None
        self.refused = 0
        """Redirects turned away (wrong state, no code) while waiting."""
        self._state = state
        self._name = name
        self._runner: web.AppRunner | None = None
        self._arrived: asyncio.Future[Authorization] | None = None

    async def start(self, ports: Sequence[int]) -> int:
        """Listen on the first port of ``ports`` that is free; the port bound.

        Raises :class:`PortsTaken` when none is.
        """
        self._arrived = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        failures: list[str] = []
        for port in ports:
            try:
                await web.TCPSite(runner, self.host, port).start()
            except OSError as exc:
                failures.append(f"{port} ({exc.strerror or exc})")
                continue
            self.port = int(runner.addresses[-1][1])
            if self.host == "127.0.0.1":  # browsers may resolve "localhost" to ::1 first
                with contextlib.suppress(OSError):
                    await web.TCPSite(runner, "::1", self.port).start()
            return self.port
        await self.close()
        raise PortsTaken(
            status=503,
            kind=ErrorKind.UNAVAILABLE,
            message=f"cannot listen on {self.host} for the sign-in redirect: port {', '.join(failures)} in use; "
            "free the port, choose another one, or sign in with --no-browser and paste the address",
        )

    def redirect_uri(self, host: str = "localhost") -> str:
        """``http://<host>:<port><path>``, the ``redirect_uri`` to send."""
        if self.port is None:
            raise RuntimeError("the callback server is not listening")
        return f"http://{host}:{self.port}{self.path}"

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = self._arrived
        if arrived is None or arrived.done():
            return _page("Already done", "This sign-in has already finished; you can close this window.")
        query = {key: value for key, value in request.query.items()}
        try:
            answer = authorization_from_query(query, self.code_param)
        except GatewayError as error:
            if error.kind is ErrorKind.AUTHENTICATION:  # the user or the server said no: that ends it
                arrived.set_exception(error)
                return _page("Sign-in failed", error.message, status=400)
            self.refused += 1
            return _page("Not signed in", error.message, status=400)
        if answer.state != self._state:
            self.refused += 1
            log.warning("sign-in callback refused: its state belongs to another login attempt")
            return _page(
                "Not signed in",
                "This address belongs to another sign-in attempt. Start the sign-in again from the link "
                f"{self._name} printed.",
                status=400,
            )
        arrived.set_result(answer)
        return _page("Signed in", f"Signed in. You can close this window and return to {self._name}.")

    async def wait(self, timeout: float | None = None) -> Authorization:
        """The authorization, once a redirect with the right state arrives.

        Raises the refusal the redirect reported (``error=access_denied``), or
        :class:`TimeoutError` after ``timeout`` seconds.
        """
        if self._arrived is None:
            raise RuntimeError("the callback server is not listening")
        return await asyncio.wait_for(asyncio.shield(self._arrived), timeout)

    async def close(self) -> None:
        """Stop listening (safe to call twice)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        arrived = self._arrived
        if arrived is not None:
            if not arrived.done():
                arrived.cancel()
            elif not arrived.cancelled():
                arrived.exception()  # retrieved: a refusal nobody waited for is not an asyncio warning

    async def __aenter__(self) -> CallbackServer:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()
