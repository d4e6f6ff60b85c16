"""``cliproxy login kiro``: get Kiro tokens into ``auth-dir``.

* ``--import`` copies the Kiro IDE's login (``~/.aws/sso/cache/kiro-auth-token.json``,
  ``--token-path`` to read another file), with its OIDC client for IdC logins;
* the default signs in with Google (``--idp github`` for GitHub) through Kiro's auth
  service: a browser login with PKCE whose redirect lands on a local callback server
  (with ``--no-browser`` the URL is printed and the redirected address pasted back);
* ``--builder-id`` runs the AWS Builder ID device flow at SSO-OIDC: register a client,
  start a device authorization, show the code, poll for the token. ``--start-url``
  signs in to an IAM Identity Center portal the same way.

``--auth-url`` and ``--oidc-url`` point the flows at other endpoints; they are kept in
the token file, so refreshes go there too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import orjson
from aiohttp import web
from cliproxy import LoginContext, LoginFlow, TokenSet, write_token_file

from cliproxy_kiro.auth import (
    BUILDER_ID_START_URL,
    DEFAULT_REGION,
    SOCIAL_AUTH,
    SSO_OIDC,
    USER_AGENT,
    cliproxy_token_file,
    tokens_from_file,
)

__all__ = ["DEFAULT_IDE_TOKEN", "LOGIN_FLOW", "open_browser"]

DEFAULT_IDE_TOKEN = "~/.aws/sso/cache/kiro-auth-token.json"
SCOPES = [
    "codewhisperer:completions",
    "codewhisperer:analysis",
    "codewhisperer:conversations",
    "codewhisperer:transformations",
    "codewhisperer:taskassist",
]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
IDPS = {"google": "Google", "github": "Github"}

open_browser: Callable[[str], Any] = webbrowser.open
"""How a flow opens the login page (tests replace it with a scripted browser)."""


class LoginFailed(SystemExit):
    """A login that cannot complete; its message is what the user reads."""

    def __init__(self, message: str) -> None:
        super().__init__(f"kiro login failed: {message}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--import", dest="import_token", action="store_true", help="copy the Kiro IDE's login")
    mode.add_argument("--builder-id", action="store_true", help="sign in with AWS Builder ID (device code)")
    mode.add_argument("--idp", choices=sorted(IDPS), default="google", help="social login provider (default google)")
    parser.add_argument(
        "--token-path", default=DEFAULT_IDE_TOKEN, help=f"the IDE token file (default {DEFAULT_IDE_TOKEN})"
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"AWS region of the login (default {DEFAULT_REGION})")
    parser.add_argument(
        "--start-url", default=BUILDER_ID_START_URL, help="IAM Identity Center start URL (Builder ID by default)"
    )
    parser.add_argument(
        "--auth-url", help="Kiro auth service base URL (default https://prod.{region}.auth.desktop.kiro.dev)"
    )
    parser.add_argument("--oidc-url", help="AWS SSO-OIDC base URL (default https://oidc.{region}.amazonaws.com)")
    parser.add_argument(
        "--callback-port", type=int, default=0, help="local port for the login redirect (default: any free port)"
    )
    parser.add_argument("--label", help="a name for this account, used in the token file's name")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the sign-in (default 600)")


def _file_name(method: str, label: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._@-]+", "-", label).strip("-").lower() or "account"
    return f"kiro-{method}-{clean}.json"


def _save(ctx: LoginContext, tokens: TokenSet, label: str) -> str:
    path = Path(ctx.auth_dir) / _file_name(tokens.extra.get("auth_method", "social"), label)
    write_token_file(path, cliproxy_token_file(tokens))
    return str(path)


def _lifetime(data: dict[str, Any]) -> float:
    value = data.get("expiresIn")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 3600.0


def _session(ctx: LoginContext) -> tuple[aiohttp.ClientSession, str | None]:
    """A session for the login's requests, through the config's ``proxy-url`` (HTTP, or
    SOCKS with aiohttp-socks installed), and the ``proxy=`` argument to pass it."""
    proxy = ctx.config.proxy_url
    options: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=60), "headers": {"user-agent": USER_AGENT}}
    if not proxy or proxy in ("direct", "none"):
        return aiohttp.ClientSession(**options), None
    if proxy.startswith("socks"):
        try:
            from aiohttp_socks import ProxyConnector
        except ImportError:
            raise LoginFailed(
                f"proxy-url {proxy} is a SOCKS proxy, which needs: pip install 'cliproxy[socks]'"
            ) from None
        return aiohttp.ClientSession(connector=ProxyConnector.from_url(proxy), **options), None
    return aiohttp.ClientSession(**options), proxy


async def _post_json(http: aiohttp.ClientSession, url: str, body: dict[str, Any], proxy: str | None) -> tuple[int, Any]:
    try:
        async with http.post(
            url, data=orjson.dumps(body), headers={"content-type": "application/json"}, proxy=proxy
        ) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise LoginFailed(f"could not reach {urlsplit(url).netloc}: {type(exc).__name__}") from None
    try:
        return status, orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return status, None


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("error_description", "message", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
    return "no details"


# -- import -----------------------------------------------------------------------------------


def import_ide_token(args: argparse.Namespace, ctx: LoginContext) -> str:
    path = Path(args.token_path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoginFailed(f"{path} does not exist; sign in with the Kiro IDE first, or pass --token-path") from None
    except (OSError, ValueError) as exc:
        raise LoginFailed(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise LoginFailed(f"{path} is not a Kiro token file")
    try:
        tokens = tokens_from_file(data, path)
    except ValueError as exc:
        raise LoginFailed(f"{path}: {exc}") from None
    if tokens.extra["auth_method"] == "idc" and not tokens.extra.get("client_id"):
        ctx.echo("warning: this IdC login's OIDC client registration was not found next to it; it cannot be refreshed")
    label = args.label or str(tokens.extra.get("email") or tokens.extra.get("provider") or "ide")
    written = _save(ctx, tokens, label)
    ctx.echo(
        "imported; the IDE and the gateway now refresh separately -- if one of them logs the other out, "
        "point a 'kiro: - token-file:' entry at the IDE's file instead"
    )
    return written


# -- social login (Kiro auth service) ---------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class _Callback:
    """A one-shot local HTTP server for the login redirect."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.result: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/oauth/callback", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://localhost:{self.port}/oauth/callback"

    async def _handle(self, request: web.Request) -> web.Response:
        if not self.result.done():
            self.result.set_result(dict(request.query))
        return web.Response(
            text="<html><body><h1>Kiro sign-in received</h1><p>You can close this window.</p></body></html>",
            content_type="text/html",
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _query_of(pasted: str) -> dict[str, str]:
    query = urlsplit(pasted.strip()).query or pasted.strip().lstrip("?")
    return {key: values[0] for key, values in parse_qs(query).items() if values}


async def social_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    region = args.region or DEFAULT_REGION
    base = (args.auth_url or SOCIAL_AUTH.format(region=region)).rstrip("/")
    idp = IDPS[args.idp]
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    callback = _Callback(args.callback_port)
    redirect_uri = await callback.start()
    try:
        query = urlencode(
            {
                "idp": idp,
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "prompt": "select_account",
            }
        )
        url = f"{base}/login?{query}"
        ctx.echo(f"Sign in to Kiro with {idp}:\n  {url}")
        if ctx.no_browser:
            pasted = await asyncio.to_thread(
                ctx.prompt, "After signing in, paste the address the browser was sent to (http://localhost:...): "
            )
            answer = _query_of(pasted)
        else:
            open_browser(url)
            ctx.echo("Waiting for the browser to come back...")
            try:
                answer = await asyncio.wait_for(callback.result, timeout=args.timeout)
            except TimeoutError:
                raise LoginFailed(f"no sign-in within {args.timeout:.0f}s; run the command again") from None
    finally:
        await callback.stop()
    if answer.get("error"):
        raise LoginFailed(f"the sign-in page reported: {answer['error']}")
    if answer.get("state") != state:
        raise LoginFailed("the redirect's state does not match this login (a stale or forged redirect); try again")
    code = answer.get("code")
    if not code:
        raise LoginFailed("the redirect carries no authorization code")
    http, proxy = _session(ctx)
    async with http:
        status, data = await _post_json(
            http, f"{base}/oauth/token", {"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}, proxy
        )
    if status >= 400 or not isinstance(data, dict) or not data.get("accessToken"):
        raise LoginFailed(f"the Kiro auth service refused the code ({status}: {_describe(data)})")
    extra: dict[str, Any] = {"auth_method": "social", "provider": idp, "region": region}
    if data.get("profileArn"):
        extra["profile_arn"] = data["profileArn"]
    if args.auth_url:
        extra["auth_url"] = base
    tokens = TokenSet(
        access_token=data["accessToken"],
        refresh_token=data.get("refreshToken") or None,
        expires_at=time.time() + _lifetime(data),
        extra=extra,
    )
    return _save(ctx, tokens, args.label or idp)


# -- AWS Builder ID / IAM Identity Center (SSO-OIDC device flow) ------------------------------


async def device_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    region = args.region or DEFAULT_REGION
    base = (args.oidc_url or SSO_OIDC.format(region=region)).rstrip("/")
    http, proxy = _session(ctx)
    async with http:
        status, client = await _post_json(
            http,
            f"{base}/client/register",
            {
                "clientName": "Kiro IDE",
                "clientType": "public",
                "scopes": SCOPES,
                "grantTypes": [DEVICE_GRANT, "refresh_token"],
            },
            proxy,
        )
        if status >= 400 or not isinstance(client, dict) or not client.get("clientId"):
            raise LoginFailed(f"SSO-OIDC refused to register a client ({status}: {_describe(client)})")
        client_id, client_secret = client["clientId"], client.get("clientSecret", "")
        status, device = await _post_json(
            http,
            f"{base}/device_authorization",
            {"clientId": client_id, "clientSecret": client_secret, "startUrl": args.start_url},
            proxy,
        )
        if status >= 400 or not isinstance(device, dict) or not device.get("deviceCode"):
            raise LoginFailed(f"SSO-OIDC refused to start the device login ({status}: {_describe(device)})")
        page = device.get("verificationUriComplete") or device.get("verificationUri") or ""
        ctx.echo(f"Open {page} and confirm the code {device.get('userCode', '')}")
        if not ctx.no_browser and page:
            open_browser(page)
        given = device.get("interval")
        interval = float(given) if isinstance(given, int | float) and not isinstance(given, bool) else 5.0  # RFC 8628
        deadline = time.monotonic() + min(float(device.get("expiresIn") or args.timeout), args.timeout)
        body = {
            "clientId": client_id,
            "clientSecret": client_secret,
            "deviceCode": device["deviceCode"],
            "grantType": DEVICE_GRANT,
        }
        while True:
            status, data = await _post_json(http, f"{base}/token", body, proxy)
            if status < 400 and isinstance(data, dict) and data.get("accessToken"):
                break
            error = data.get("error") if isinstance(data, dict) else None
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                raise LoginFailed(f"SSO-OIDC refused the device login ({status}: {_describe(data)})")
            if time.monotonic() + interval > deadline:
                raise LoginFailed("the code was not confirmed in time; run the command again")
            await asyncio.sleep(interval)
    extra: dict[str, Any] = {
        "auth_method": "idc",
        "provider": "BuilderId" if args.start_url == BUILDER_ID_START_URL else "IdC",
        "region": region,
        "client_id": client_id,
        "client_secret": client_secret,
        "start_url": args.start_url,
    }
    if args.oidc_url:
        extra["oidc_url"] = base
    tokens = TokenSet(
        access_token=data["accessToken"],
        refresh_token=data.get("refreshToken") or None,
        expires_at=time.time() + _lifetime(data),
        extra=extra,
    )
    return _save(ctx, tokens, args.label or extra["provider"])


async def run(args: argparse.Namespace, ctx: LoginContext) -> str:
    if getattr(args, "import_token", False):
        return import_ide_token(args, ctx)
    if getattr(args, "builder_id", False):
        return await device_login(args, ctx)
    return await social_login(args, ctx)


LOGIN_FLOW = LoginFlow(
    provider="kiro",
    help="sign in to Kiro (social login; --builder-id for AWS Builder ID; --import for the Kiro IDE's login)",
    run=run,
    add_arguments=add_arguments,
)
