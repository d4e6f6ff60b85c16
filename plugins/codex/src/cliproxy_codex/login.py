"""``cliproxy login codex``: sign in to ChatGPT for Codex, and save the token file.

* default: the PKCE authorization-code flow of Codex's own sign-in, with Codex's public
  OAuth client unless another is configured. The redirect goes to
  ``http://localhost:1455/auth/callback`` (``1457`` when 1455 is taken: both are on the
  client's allow-list); the address the browser ends on may be pasted instead, the way to
  finish with ``--no-browser`` on a remote or headless machine;
* ``--device``: the device-code flow (open ``https://auth.openai.com/codex/device`` on any
  device and enter the code shown);
* ``--import [PATH]``: copy Codex CLI's own stored sign-in (``$CODEX_HOME/auth.json``, else
  ``~/.codex/auth.json``).

Every way writes ``codex-<email>-<account>.json`` into ``auth-dir`` (mode 0600): one file,
and one credential, per ChatGPT account.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow, TokenSet
from cliproxy.oauth import (
    DEFAULT_TIMEOUT,
    Pkce,
    add_import_argument,
    authorize_in_browser,
    by_status,
    login_session,
    new_state,
    poll_device_token,
    save_token_file,
)

from cliproxy_codex.auth import file_name, token_endpoint, token_file, tokens_from_answer
from cliproxy_codex.codex_home import codex_auth_file, tokens_from_codex
from cliproxy_codex.settings import PROVIDER, CodexConfig, read_codex_config

__all__ = ["FLOW", "authorize_url", "login"]

SCOPE = "openid profile email offline_access"
CALLBACK_PATH = "/auth/callback"
DEVICE_EXPIRES = 15 * 60.0  # Codex gives a device code 15 minutes
DEVICE_INTERVAL = 5.0


def authorize_url(config: CodexConfig, client_id: str, redirect_uri: str, pkce: Pkce, state: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "state": state,
            "originator": config.originator,
        }
    )
    return f"{config.issuer}/oauth/authorize?{query}"


async def _exchange(
    config: CodexConfig,
    ctx: LoginContext,
    *,
    client_id: str,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> TokenSet:
    endpoint = token_endpoint(config.token_url)
    payload = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    async with login_session(config.proxy_url, ctx.config.proxy_url) as (http, proxy):
        with endpoint.network_errors():
            answer = await endpoint.post(http, payload, proxy=proxy)
    tokens = tokens_from_answer(answer, None, time.time())
    tokens.extra["client_id"] = client_id
    return tokens


def _save(ctx: LoginContext, tokens: TokenSet, *, imported: bool = False) -> str:
    content = token_file(tokens)
    if imported:
        content["imported_from"] = "codex-cli"
    path = save_token_file(ctx.auth_dir, file_name(tokens), content)
    who = tokens.extra.get("email") or "an unnamed account"
    plan = tokens.extra.get("plan_type")
    ctx.echo(f"Signed in to ChatGPT as {who}" + (f" ({plan} plan)." if plan else "."))
    if not tokens.extra.get("account_id"):
        ctx.echo("warning: the sign-in names no ChatGPT account id; requests go without ChatGPT-Account-ID")
    return str(path)


# -- the browser flow --------------------------------------------------------------------------


async def browser_login(args: argparse.Namespace, ctx: LoginContext, config: CodexConfig, client_id: str) -> str:
    port = getattr(args, "callback_port", None)
    pkce, state = Pkce.new(), new_state()
    answer = await authorize_in_browser(
        ctx,
        lambda redirect_uri: authorize_url(config, client_id, redirect_uri, pkce, state),
        ports=(port,) if port else config.callback_ports,
        path=CALLBACK_PATH,
        state=state,
        hint="Sign in to ChatGPT in your browser",
        timeout=getattr(args, "timeout", None) or DEFAULT_TIMEOUT,
    )
    tokens = await _exchange(
        config, ctx, client_id=client_id, code=answer.code, redirect_uri=answer.redirect_uri, verifier=pkce.verifier
    )
    return _save(ctx, tokens)


# -- the device-code flow -----------------------------------------------------------------------


def _interval(value: Any) -> float:
    """Codex's ``interval`` comes as a string of seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEVICE_INTERVAL
    return seconds if seconds > 0 else DEVICE_INTERVAL


async def _post_json(
    http: aiohttp.ClientSession, url: str, body: Mapping[str, Any], proxy: str | None
) -> tuple[int, Any]:
    async with http.post(
        url, data=orjson.dumps(dict(body)), headers={"content-type": "application/json"}, proxy=proxy
    ) as response:
        raw = await response.read()
        try:
            return response.status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return response.status, None


async def device_login(args: argparse.Namespace, ctx: LoginContext, config: CodexConfig, client_id: str) -> str:
    accounts = config.issuer + "/api/accounts/deviceauth"
    timeout = min(getattr(args, "timeout", None) or DEVICE_EXPIRES, DEVICE_EXPIRES)
    async with login_session(config.proxy_url, ctx.config.proxy_url) as (http, proxy):
        try:
            status, started = await _post_json(http, accounts + "/usercode", {"client_id": client_id}, proxy)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unreachable(exc) from None
        if status == 404:
            raise _refused("device-code sign-in is not enabled for this sign-in service; sign in without --device")
        started = started if isinstance(started, dict) else {}
        user_code = started.get("user_code") or started.get("usercode")
        device_id = started.get("device_auth_id")
        if status >= 400 or not isinstance(user_code, str) or not isinstance(device_id, str):
            raise _refused(f"the sign-in service answered {status} without a device code; try again shortly")
        await ctx.show_device_code(user_code, config.issuer + "/codex/device", timeout)
        poll_body = {"device_auth_id": device_id, "user_code": user_code}
        answer = await poll_device_token(
            lambda: _post_json(http, accounts + "/token", poll_body, proxy),
            interval=_interval(started.get("interval")),
            expires_in=timeout,
            classify=by_status(pending={403, 404}),
            service="the ChatGPT sign-in service",
            provider=PROVIDER,
        )
    code, verifier = answer.get("authorization_code"), answer.get("code_verifier")
    if not isinstance(code, str) or not isinstance(verifier, str):
        raise _refused("the sign-in service confirmed the code without an authorization code; start again")
    tokens = await _exchange(
        config,
        ctx,
        client_id=client_id,
        code=code,
        redirect_uri=config.issuer + "/deviceauth/callback",
        verifier=verifier,
    )
    return _save(ctx, tokens)


def _refused(message: str) -> GatewayError:
    return GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message=message, provider=PROVIDER)


def _unreachable(exc: BaseException) -> GatewayError:
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"could not reach the ChatGPT sign-in service ({type(exc).__name__}); check the network or proxy-url",
        provider=PROVIDER,
    )


# -- import ------------------------------------------------------------------------------------


def import_codex(where: str, ctx: LoginContext) -> str:
    """Copy Codex CLI's stored sign-in (``where``, or its default location)."""
    vendor = codex_auth_file()
    path, data = vendor.read(where or None)
    tokens = tokens_from_codex(path, data, vendor)
    written = _save(ctx, tokens, imported=True)
    ctx.echo(
        f"Imported Codex CLI's sign-in from {path}. The refresh token rotates: once either Codex or the gateway "
        "refreshes, the other's copy is refused -- give the gateway a sign-in of its own with `cliproxy login "
        "codex` (or --device) if you keep using Codex directly too."
    )
    return written


# -- the command ----------------------------------------------------------------------------------


async def login(args: argparse.Namespace, ctx: LoginContext) -> str:
    """Sign in (browser, ``--device``) or ``--import``; the path of the token file written."""
    if getattr(args, "import_path", None) is not None:
        return import_codex(args.import_path, ctx)
    config = read_codex_config(ctx.config.root)
    client_id = getattr(args, "client_id", None) or config.client_id
    if getattr(args, "device", False):
        return await device_login(args, ctx, config, client_id)
    return await browser_login(args, ctx, config, client_id)


def _arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--device", action="store_true", help="sign in with a device code (headless machines)")
    add_import_argument(mode, codex_auth_file())
    parser.add_argument(
        "--client-id", help="OAuth client id (default: codex.client-id, else Codex CLI's public client)"
    )
    parser.add_argument(
        "--callback-port", type=int, help="local port for the sign-in redirect (default 1455, else 1457)"
    )
    parser.add_argument("--timeout", type=float, help="seconds to wait for the sign-in (default 300; device: 900)")


FLOW = LoginFlow(
    provider=PROVIDER,
    help="sign in to ChatGPT for Codex models (browser, --device, or --import Codex CLI's sign-in)",
    run=login,
    add_arguments=_arguments,
)
