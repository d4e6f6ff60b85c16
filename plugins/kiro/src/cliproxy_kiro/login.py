"""``cliproxy login kiro``: get Kiro tokens into ``auth-dir``.

* ``--import [PATH]`` copies the Kiro IDE's login (default
  ``~/.aws/sso/cache/kiro-auth-token.json``), with its OIDC client for IdC logins;
* the default signs in with Google (``--idp github`` for GitHub) through Kiro's auth
  service: a browser login with PKCE whose redirect lands on a local callback server
  (the redirected address may be pasted instead; with ``--no-browser`` that is the way);
* ``--builder-id`` runs the AWS Builder ID device flow at SSO-OIDC: register a public
  client for this login, start a device authorization, show the code, poll for the
  token. ``--start-url`` signs in to an IAM Identity Center portal the same way.

No client id is configured for any of them: the social login needs none, and the device
flow registers its own client at SSO-OIDC, as the Kiro IDE does. ``--auth-url`` and
``--oidc-url`` point the flows at other endpoints; they are kept in the token file, so
refreshes go there too.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from cliproxy import GatewayError, LoginContext, LoginFlow, TokenSet
from cliproxy.oauth import (
    Pkce,
    TokenEndpoint,
    VendorFile,
    VendorPath,
    add_import_argument,
    authorize_in_browser,
    login_session,
    new_state,
    poll_device_token,
    save_token_file,
)

from cliproxy_kiro.auth import (
    BUILDER_ID_START_URL,
    DEFAULT_REGION,
    SOCIAL_AUTH,
    SSO_OIDC,
    USER_AGENT,
    cliproxy_token_file,
    tokens_from_file,
)

__all__ = ["DEFAULT_IDE_TOKEN", "KIRO_IDE_FILE", "LOGIN_FLOW"]

DEFAULT_IDE_TOKEN = "~/.aws/sso/cache/kiro-auth-token.json"
KIRO_IDE_FILE = VendorFile(
    vendor="Kiro IDE",
    create="sign in with the Kiro IDE first (it writes this file)",
    paths=(VendorPath(".aws/sso/cache/kiro-auth-token.json"),),
    provider="kiro",
)
SCOPES = [
    "codewhisperer:completions",
    "codewhisperer:analysis",
    "codewhisperer:conversations",
    "codewhisperer:transformations",
    "codewhisperer:taskassist",
]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
IDPS = {"google": "Google", "github": "Github"}


class LoginFailed(SystemExit):
    """A login that cannot complete; its message is what the user reads."""

    def __init__(self, message: str) -> None:
        super().__init__(f"kiro login failed: {message}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    add_import_argument(mode, KIRO_IDE_FILE)
    mode.add_argument("--builder-id", action="store_true", help="sign in with AWS Builder ID (device code)")
    mode.add_argument("--idp", choices=sorted(IDPS), default="google", help="social login provider (default google)")
    parser.add_argument("--token-path", help="with --import: the IDE token file (same as --import PATH)")
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
    name = _file_name(tokens.extra.get("auth_method", "social"), label)
    return str(save_token_file(ctx.auth_dir, name, cliproxy_token_file(tokens)))


def _lifetime(data: dict[str, Any]) -> float:
    value = data.get("expiresIn")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 3600.0


def _endpoint(url: str, name: str) -> TokenEndpoint:
    return TokenEndpoint(url=url, name=name, provider="kiro", login_command="cliproxy login kiro", encoding="json")


# -- import -----------------------------------------------------------------------------------


def import_ide_token(args: argparse.Namespace, ctx: LoginContext) -> str:
    path, data = KIRO_IDE_FILE.read(getattr(args, "token_path", None) or args.import_path or None)
    try:
        tokens = tokens_from_file(data, path)
    except ValueError as exc:
        raise KIRO_IDE_FILE.malformed(path, str(exc)) from None
    if tokens.refresh_token is None and (tokens.expires_at or 0) <= time.time():
        raise KIRO_IDE_FILE.expired(path)
    if args.auth_url:  # refreshes go where the user points them, as for a login
        tokens.extra["auth_url"] = args.auth_url.rstrip("/")
    if args.oidc_url:
        tokens.extra["oidc_url"] = args.oidc_url.rstrip("/")
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


async def social_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    region = args.region or DEFAULT_REGION
    base = (args.auth_url or SOCIAL_AUTH.format(region=region)).rstrip("/")
    idp = IDPS[args.idp]
    pkce, state = Pkce.new(), new_state()

    def login_page(redirect_uri: str) -> str:
        query = {
            "idp": idp,
            "redirect_uri": redirect_uri,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": state,
            "prompt": "select_account",
        }
        return f"{base}/login?{urlencode(query)}"

    answer = await authorize_in_browser(
        ctx,
        login_page,
        ports=(args.callback_port,),
        path="/oauth/callback",
        state=state,
        hint=f"Sign in to Kiro with {idp}",
        timeout=args.timeout,
    )
    endpoint = _endpoint(f"{base}/oauth/token", "the Kiro auth service")
    async with login_session(ctx.config.proxy_url, headers={"user-agent": USER_AGENT}) as (http, proxy):
        with endpoint.network_errors():
            data = await endpoint.post(
                http,
                {"code": answer.code, "code_verifier": pkce.verifier, "redirect_uri": answer.redirect_uri},
                proxy=proxy,
                require="accessToken",
            )
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
    register = _endpoint(f"{base}/client/register", "AWS SSO-OIDC (client registration)")
    authorize = _endpoint(f"{base}/device_authorization", "AWS SSO-OIDC (device authorization)")
    async with login_session(ctx.config.proxy_url, headers={"user-agent": USER_AGENT}) as (http, proxy):
        with register.network_errors():
            client = await register.post(
                http,
                {
                    "clientName": "Kiro IDE",
                    "clientType": "public",
                    "scopes": SCOPES,
                    "grantTypes": [DEVICE_GRANT, "refresh_token"],
                },
                proxy=proxy,
                require="clientId",
            )
        client_id, client_secret = client["clientId"], client.get("clientSecret", "")
        with authorize.network_errors():
            device = await authorize.post(
                http,
                {"clientId": client_id, "clientSecret": client_secret, "startUrl": args.start_url},
                proxy=proxy,
                require="deviceCode",
                secrets=[client_secret],
            )
        expires_in = min(float(device.get("expiresIn") or args.timeout), args.timeout)
        await ctx.show_device_code(
            str(device.get("userCode", "")),
            str(device.get("verificationUri") or ""),
            expires_in,
            verification_uri_complete=device.get("verificationUriComplete"),
        )
        body = {
            "clientId": client_id,
            "clientSecret": client_secret,
            "deviceCode": device["deviceCode"],
            "grantType": DEVICE_GRANT,
        }

        async def poll() -> tuple[int, Any]:
            async with http.post(
                f"{base}/token", data=orjson.dumps(body), headers={"content-type": "application/json"}, proxy=proxy
            ) as response:
                raw = await response.read()
                try:
                    return response.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return response.status, None

        given = device.get("interval")
        interval = float(given) if isinstance(given, int | float) and not isinstance(given, bool) else 5.0  # RFC 8628
        data = await poll_device_token(
            poll, interval=interval, expires_in=expires_in, service="AWS SSO-OIDC", provider="kiro"
        )
    if not isinstance(data.get("accessToken"), str) or not data["accessToken"]:
        raise LoginFailed("AWS SSO-OIDC confirmed the device login without an access token; run the command again")
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
        expires_at=time.time() + _lifetime(dict(data)),
        extra=extra,
    )
    return _save(ctx, tokens, args.label or extra["provider"])


async def run(args: argparse.Namespace, ctx: LoginContext) -> str:
    try:
        if getattr(args, "import_path", None) is not None:
            return import_ide_token(args, ctx)
        if getattr(args, "builder_id", False):
            return await device_login(args, ctx)
        return await social_login(args, ctx)
    except GatewayError as error:
        raise LoginFailed(error.message) from None
    except aiohttp.ClientError as exc:  # a request outside the toolkit's calls
        raise LoginFailed(f"a network error ended the login: {type(exc).__name__}") from None


LOGIN_FLOW = LoginFlow(
    provider="kiro",
    help="sign in to Kiro (social login; --builder-id for AWS Builder ID; --import for the Kiro IDE's login)",
    run=run,
    add_arguments=add_arguments,
)
