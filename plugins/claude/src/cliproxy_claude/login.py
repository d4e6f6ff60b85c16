"""``cliproxy login claude``: sign in to a Claude subscription and save the token file.

PKCE authorization-code flow with Claude Code's public OAuth client unless another is
configured. A browser opens the authorization page and a one-shot server on
``localhost:54545`` (the next free port when taken) catches the redirect. The address
the browser ends on (or the ``code#state`` the page shows) may also be pasted -- the
only way with ``--no-browser`` on a remote or headless host, where the redirect does not
load.

``--import [PATH]`` copies Claude Code's own stored sign-in instead (see
:mod:`cliproxy_claude.claude_code`).
"""

from __future__ import annotations

import argparse

from cliproxy import LoginContext, LoginFlow
from cliproxy.oauth import (
    DEFAULT_TIMEOUT,
    Pkce,
    add_import_argument,
    authorize_in_browser,
    login_session,
    new_state,
    save_token_file,
    token_file_name,
)

from cliproxy_claude.claude_code import claude_code_file, tokens_from_claude_code
from cliproxy_claude.oauth import (
    authorize_url,
    exchange_code,
    read_oauth_settings,
    token_endpoint,
    token_file,
)
from cliproxy_claude.settings import PROVIDER

__all__ = ["FLOW", "login"]


async def login(args: argparse.Namespace, ctx: LoginContext) -> str:
    """Sign in (or import Claude Code's sign-in) and write ``claude-<email>.json``."""
    if getattr(args, "import_path", None) is not None:
        return import_claude_code(args.import_path, ctx)
    settings = read_oauth_settings(ctx.config.root)
    client_id = getattr(args, "client_id", None) or settings.client_id
    port = getattr(args, "callback_port", None)
    pkce, state = Pkce.new(), new_state()
    answer = await authorize_in_browser(
        ctx,
        lambda redirect_uri: authorize_url(settings, client_id, redirect_uri, pkce, state),
        ports=(port,) if port else settings.callback_ports,
        path="/callback",
        state=state,
        hint="Sign in to Claude in your browser",
        timeout=getattr(args, "timeout", None) or DEFAULT_TIMEOUT,
    )
    async with login_session(settings.proxy_url, ctx.config.proxy_url) as (http, proxy):
        with token_endpoint(settings.token_url).network_errors():
            tokens = await exchange_code(
                http,
                settings,
                client_id=client_id,
                code=answer.code,
                state=state,
                redirect_uri=answer.redirect_uri,
                pkce=pkce,
                proxy=proxy,
            )
    path = save_token_file(ctx.auth_dir, token_file_name("claude", tokens.extra.get("email")), token_file(tokens))
    ctx.echo(f"Signed in as {tokens.extra.get('email') or 'an unnamed account'}.")
    return str(path)


def import_claude_code(where: str, ctx: LoginContext) -> str:
    """Copy Claude Code's stored sign-in (``where``, or its default location)."""
    vendor = claude_code_file()
    path, data = vendor.read(where or None)
    tokens = tokens_from_claude_code(path, data, vendor)
    content = {**token_file(tokens), "imported_from": "claude-code"}
    written = save_token_file(ctx.auth_dir, token_file_name("claude", tokens.extra.get("email")), content)
    ctx.echo(
        f"Imported Claude Code's sign-in ({tokens.extra.get('email') or 'account unnamed'}) from {path}. "
        "Anthropic rotates refresh tokens: after either side refreshes, the other's copy stops refreshing -- "
        "sign in to Claude Code again then, or give cliproxy a sign-in of its own with `cliproxy login claude`."
    )
    return str(written)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-id", help="OAuth client id (default: claude-oauth.client-id, else Claude Code's public client)"
    )
    parser.add_argument(
        "--callback-port", type=int, help="local port for the sign-in redirect (default 54545, else any free port)"
    )
    parser.add_argument("--timeout", type=float, help="seconds to wait for the sign-in (default 300)")
    add_import_argument(parser, claude_code_file())


FLOW = LoginFlow(
    provider=PROVIDER,
    help="sign in to a Claude subscription (Pro/Max) with OAuth, or --import Claude Code's sign-in",
    run=login,
    add_arguments=_arguments,
)
