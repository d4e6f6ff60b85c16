"""``cliproxy login claude``: sign in to a Claude subscription and save the token file.

PKCE authorization-code flow. By default a browser opens the authorization page and a
one-shot server on ``localhost:<callback-port>`` catches the redirect. With
``--no-browser`` (remote and headless hosts) the URL is printed; open it anywhere, sign
in, and paste back the address the browser was sent to (it fails to load -- that is
expected) or the ``code#state`` the page shows.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from cliproxy import ConfigError, ErrorKind, GatewayError, LoginContext, LoginFlow, write_token_file

from cliproxy_claude.oauth import (
    Pkce,
    authorize_url,
    exchange_code,
    read_oauth_settings,
    token_file,
)
from cliproxy_claude.settings import PROVIDER

__all__ = ["FLOW", "CallbackServer", "login", "parse_pasted"]

CALLBACK_TIMEOUT = 300.0
open_browser = webbrowser.open  # replaced in tests


def _invalid(message: str) -> GatewayError:
    return GatewayError(status=400, kind=ErrorKind.INVALID_REQUEST, message=message, provider=PROVIDER)


def parse_pasted(text: str) -> tuple[str, str | None]:
    """``(code, state)`` from a pasted redirect URL, a ``code#state`` pair or a bare code."""
    text = text.strip()
    if not text:
        raise _invalid("nothing was pasted; paste the address your browser was sent to after signing in")
    if "://" in text or text.startswith("?") or "code=" in text:
        query = parse_qs(urlsplit(text).query if "://" in text else text.lstrip("?"))
        if query.get("error"):
            raise _invalid(f"the sign-in was refused: {query['error'][0]}")
        codes = query.get("code")
        if not codes:
            raise _invalid("the pasted address has no 'code' parameter; copy the whole address after signing in")
        code = codes[0]
        state = query.get("state", [None])[0]
    else:
        code, _, state_part = text.partition("#")
        state = state_part or None
    code, _, fragment_state = code.partition("#")  # some pages show code#state inside the URL too
    return code, state or fragment_state or None


class CallbackServer:
    """A one-shot server on ``localhost:<port>`` that catches the sign-in redirect."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._arrived: asyncio.Future[tuple[str, str | None]] | None = None

    async def start(self, port: int) -> None:
        self._arrived = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get("/callback", self._callback)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "localhost", port).start()
        except OSError as exc:
            await self.close()
            raise _invalid(
                f"cannot listen on localhost:{port} ({exc.strerror}); pass --callback-port or use --no-browser"
            ) from None

    async def _callback(self, request: web.Request) -> web.Response:
        arrived = self._arrived
        if arrived is not None and not arrived.done():
            try:
                arrived.set_result(parse_pasted(str(request.url)))
            except GatewayError as error:
                arrived.set_exception(error)
                return web.Response(text=f"Sign-in failed: {error.message}", status=400)
        return web.Response(text="Signed in to Claude. You can close this window.")

    async def wait(self, timeout: float) -> tuple[str, str | None]:
        assert self._arrived is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._arrived), timeout)
        except TimeoutError:
            raise _invalid(f"no sign-in arrived within {timeout:.0f}s; try again, or use --no-browser") from None

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


def _file_name(email: str | None) -> str:
    label = re.sub(r"[^A-Za-z0-9@._-]", "_", email) if email else secrets.token_hex(4)
    return f"claude-{label}.json"


async def login(args: argparse.Namespace, ctx: LoginContext) -> str:
    settings = read_oauth_settings(ctx.config.root)
    client_id = getattr(args, "client_id", None) or settings.client_id
    if not client_id:
        raise ConfigError(
            message="no OAuth client id for Claude: 'claude-oauth.client-id' is not set",
            file=ctx.config.file,
            key="claude-oauth.client-id",
            hint="add 'claude-oauth: {client-id: <id>}' to config.yaml or pass --client-id (see the cliproxy-claude README)",
        )
    port = getattr(args, "callback_port", None) or settings.callback_port
    redirect_uri = f"http://localhost:{port}/callback"
    pkce = Pkce.new()
    state = secrets.token_urlsafe(24)
    url = authorize_url(settings, client_id, redirect_uri, pkce, state)
    if ctx.no_browser:
        ctx.echo("Open this address in any browser and sign in to Claude:\n\n  " + url + "\n")
        ctx.echo("Your browser is then sent to a localhost address that does not load. Copy that address.")
        pasted = await asyncio.to_thread(ctx.prompt, "Paste the address (or the code shown): ")
        code, returned_state = parse_pasted(pasted)
    else:
        server = CallbackServer()
        await server.start(port)
        try:
            ctx.echo("Opening your browser to sign in to Claude. If it does not open, visit:\n\n  " + url + "\n")
            open_browser(url)
            code, returned_state = await server.wait(getattr(args, "timeout", None) or CALLBACK_TIMEOUT)
        finally:
            await server.close()
    if returned_state is not None and returned_state != state:
        raise _invalid("the sign-in answer belongs to another login attempt (state mismatch); start again")
    proxy = None if settings.proxy_url in ("direct", "none") else settings.proxy_url or ctx.config.proxy_url
    connector = None
    if proxy and proxy.startswith("socks"):
        try:
            from aiohttp_socks import ProxyConnector
        except ImportError:
            raise _invalid(
                "a SOCKS proxy-url needs the aiohttp-socks package (pip install 'cliproxy[socks]')"
            ) from None
        connector, proxy = ProxyConnector.from_url(proxy), None
    async with aiohttp.ClientSession(connector=connector) as http:
        tokens = await exchange_code(
            http,
            settings,
            client_id=client_id,
            code=code,
            state=state,
            redirect_uri=redirect_uri,
            pkce=pkce,
            proxy=proxy,
        )
    path = Path(ctx.auth_dir) / _file_name(tokens.extra.get("email"))
    write_token_file(path, token_file(tokens))
    ctx.echo(f"Signed in as {tokens.extra.get('email') or 'an unnamed account'}.")
    return str(path)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client-id", help="OAuth client id (default: claude-oauth.client-id from the config)")
    parser.add_argument("--callback-port", type=int, help="local port for the sign-in redirect (default 54545)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for the browser (default 300)")


FLOW = LoginFlow(
    provider=PROVIDER,
    help="sign in to a Claude subscription (Pro/Max) with OAuth and save the token in auth-dir",
    run=login,
    add_arguments=_arguments,
)
