"""``cliproxy login roo``: a Roo Code Cloud token into ``auth-dir``.

* the default is the Roo CLI's own sign-in: the browser opens
  ``https://app.roocode.com/cli/sign-in?state=<state>&callback=http://127.0.0.1:<port>/callback``
  and, once signed in, is sent back to that loopback callback with
  ``?token=<JWT>&state=<state>`` (or ``?error=``). The address the browser ends on -- or
  the token itself -- may be pasted instead, which is the way with ``--no-browser`` or on
  another machine;
* ``--import [PATH]`` copies the Roo CLI's ``~/.roo/cli-credentials.json``.

Roo's sign-in page takes no client id: nothing to configure; the terms of the Roo Code
Cloud account apply.
"""

from __future__ import annotations

import argparse
import time
from urllib.parse import urlencode

from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow
from cliproxy.oauth import (
    VendorFile,
    VendorPath,
    add_import_argument,
    authorize_in_browser,
    format_expiry,
    new_state,
    save_token_file,
    token_file_name,
)

from cliproxy_roo.auth import token_file
from cliproxy_roo.token import claims_of, token_from_cli_file

__all__ = ["DEFAULT_AUTH_URL", "LOGIN_FLOW", "ROO_CLI_FILE"]

DEFAULT_AUTH_URL = "https://app.roocode.com"
ROO_CLI_FILE = VendorFile(
    vendor="Roo Code CLI",
    create="sign in with the Roo Code CLI first (`roo auth login`)",
    paths=(VendorPath(".roo/cli-credentials.json"), VendorPath(".jabberwock/cli-credentials.json")),
    provider="roo",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_import_argument(parser, ROO_CLI_FILE)
    parser.add_argument("--auth-url", help=f"Roo Code Cloud sign-in site (default {DEFAULT_AUTH_URL})")
    parser.add_argument("--base-url", help="the Roo Code Cloud proxy to use with this token (kept in the token file)")
    parser.add_argument(
        "--callback-port", type=int, default=0, help="local port for the sign-in redirect (default: any free port)"
    )
    parser.add_argument("--label", help="a name for this account in the token file's name (default: its user id)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the sign-in (default 300)")


def _checked(token: str, where: str) -> None:
    """Refuse what is not a usable token: empty, or already expired."""
    expires = claims_of(token).expires_at
    if expires is not None and expires <= time.time():
        raise GatewayError(
            status=401,
            kind=ErrorKind.AUTHENTICATION,
            message=f"the Roo Code Cloud token from {where} expired at {format_expiry(expires)}; sign in again",
            provider="roo",
        )


def _save(ctx: LoginContext, token: str, args: argparse.Namespace, fallback: str) -> str:
    claims = claims_of(token)
    label = args.label or claims.user_id or fallback
    content = token_file(token, base_url=args.base_url)
    written = str(save_token_file(ctx.auth_dir, token_file_name("roo", label), content))
    if claims.expires_at is not None:
        ctx.echo(f"the token is valid until {format_expiry(claims.expires_at)}; Roo tokens cannot be renewed")
    return written


async def browser_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    site = (args.auth_url or DEFAULT_AUTH_URL).rstrip("/")
    state = new_state()

    def sign_in_page(callback: str) -> str:
        return f"{site}/cli/sign-in?{urlencode({'state': state, 'callback': callback})}"

    answer = await authorize_in_browser(
        ctx,
        sign_in_page,
        ports=(args.callback_port,),
        path="/callback",
        state=state,
        hint="Sign in to Roo Code Cloud",
        timeout=args.timeout,
        redirect_host="127.0.0.1",
        name="cliproxy",
        code_param="token",
    )
    _checked(answer.code, "the sign-in")
    ctx.echo("Signed in to Roo Code Cloud")
    return _save(ctx, answer.code, args, "account")


def import_cli_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    path, data = ROO_CLI_FILE.read(args.import_path or None)
    token = token_from_cli_file(data)
    if token is None:
        raise ROO_CLI_FILE.malformed(path, "it holds no token")
    expires = claims_of(token).expires_at
    if expires is not None and expires <= time.time():
        raise ROO_CLI_FILE.expired(path)
    written = _save(ctx, token, args, "cli")
    ctx.echo(
        f"imported the Roo CLI's sign-in from {path}; to follow its later sign-ins instead, "
        f"use a 'roo: - token-file: {path}' entry"
    )
    return written


async def run(args: argparse.Namespace, ctx: LoginContext) -> str:
    if getattr(args, "import_path", None) is not None:
        return import_cli_login(args, ctx)
    return await browser_login(args, ctx)


LOGIN_FLOW = LoginFlow(
    provider="roo",
    help="sign in to Roo Code Cloud (the Roo CLI's browser sign-in; --import for the Roo CLI's token)",
    run=run,
    add_arguments=add_arguments,
)
