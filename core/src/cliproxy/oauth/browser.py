"""The browser half of an authorization-code login: send the user to the sign-in page,
then take the code from whichever comes first -- the loopback redirect, or the address
the user pastes (always accepted, so a remote operator or a headless machine can finish
a flow whose redirect goes to ``localhost``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import attrs

from cliproxy.commands import LoginContext, PasteUnavailable
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.oauth.callback import CallbackServer, PortsTaken
from cliproxy.oauth.redirect import Authorization, check_state, parse_redirect

__all__ = ["DEFAULT_TIMEOUT", "AuthorizationCode", "authorize_in_browser"]

DEFAULT_TIMEOUT = 300.0
PASTE_PROMPT = "Paste the address your browser was sent to after signing in (or the code the page shows): "
PASTE_TOO_PROMPT = "If the browser cannot reach this machine, paste the address it was sent to here:\n"


@attrs.frozen
class AuthorizationCode:
    """What the code exchange needs: the code and the ``redirect_uri`` it was issued for."""

    code: str = attrs.field(repr=False)
    redirect_uri: str
    state: str | None = None


async def authorize_in_browser(
    ctx: LoginContext,
    build_url: Callable[[str], str],
    *,
    ports: Sequence[int],
    path: str,
    state: str,
    hint: str = "Sign in in your browser",
    timeout: float = DEFAULT_TIMEOUT,
    redirect_host: str = "localhost",
    bind_host: str = "127.0.0.1",
    name: str = "cliproxy",
    code_param: str = "code",
) -> AuthorizationCode:
    """Run the browser step of a PKCE login and return the authorization code.

    Args:
        ctx: Where the URL is shown and the paste is read.
        build_url: The authorization URL for a ``redirect_uri``.
        ports: Callback ports to try in order (``0``: any free port). With
            ``ctx.no_browser`` only the first is tried, and when it is taken the flow
            continues with the paste alone (the redirect must stay predictable).
        path: The callback path (``/callback``).
        state: This attempt's ``state``; redirects and pastes carrying another are refused.
        hint: What the user reads above the URL.
        timeout: Seconds to wait for either answer.
        redirect_host: Host of the ``redirect_uri`` (``localhost`` or ``127.0.0.1``).
        bind_host: Loopback address the callback server listens on.
        name: How the success page names the program to return to.
        code_param: The redirect's parameter that holds the code (``token`` for a sign-in
            page that hands over the token itself, as Roo Code's does).
    """
    listening = CallbackServer(path=path, state=state, host=bind_host, name=name, code_param=code_param)
    server: CallbackServer | None = listening
    candidates = list(ports[:1]) if ctx.no_browser else list(ports)
    try:
        port = await listening.start(candidates)
    except PortsTaken as taken:
        if not ctx.no_browser or not candidates or candidates[0] == 0:
            raise
        ctx.echo(f"note: {taken.message}; waiting for the pasted address only")
        port, server = candidates[0], None
    path = path if path.startswith("/") else "/" + path
    redirect_uri = f"http://{redirect_host}:{port}{path}"
    try:
        await ctx.show_url(build_url(redirect_uri), hint)
        answer = await _first_answer(ctx, server, state, timeout, code_param)
    finally:
        if server is not None:
            await server.close()
    return AuthorizationCode(answer.code, redirect_uri, answer.state)


async def _first_answer(
    ctx: LoginContext, server: CallbackServer | None, state: str, timeout: float, code_param: str
) -> Authorization:
    callback = asyncio.ensure_future(server.wait()) if server is not None else None
    prompt = PASTE_PROMPT if ctx.no_browser else PASTE_TOO_PROMPT
    paste = asyncio.ensure_future(_pasted(ctx, state, prompt, code_param))
    waiting = {task for task in (callback, paste) if task is not None}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while waiting:
            done, waiting = await asyncio.wait(
                waiting, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                break
            for task in done:
                error = task.exception()
                if isinstance(error, PasteUnavailable):
                    if callback is None:
                        raise GatewayError(
                            status=400,
                            kind=ErrorKind.INVALID_REQUEST,
                            message="nothing can be read to paste the sign-in address into, and no callback "
                            "server is listening; run the login in a terminal",
                        )
                    continue  # no terminal: the loopback callback is the only way in
                return task.result()
        raise GatewayError(
            status=504,
            kind=ErrorKind.TIMEOUT,
            message=f"no sign-in arrived within {timeout:.0f}s; start the login again "
            "(with --no-browser, paste the address the browser ends on)",
        )
    finally:
        started = [job for job in (callback, paste) if job is not None]
        for job in started:
            job.cancel()
        await asyncio.gather(*started, return_exceptions=True)  # settled, their errors retrieved


async def _pasted(ctx: LoginContext, state: str, prompt: str, code_param: str) -> Authorization:
    answer = parse_redirect(await ctx.ask_redirect(prompt), code_param)
    check_state(answer, state)
    return answer
