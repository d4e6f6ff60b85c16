"""``cliproxy login copilot``: sign a GitHub account with Copilot into ``auth-dir``.

* The default is GitHub's device flow with the public client of GitHub's Copilot editor
  plugins (``Iv1.b507a08c87ecfe98``): the user enters a code at github.com/login/device
  (``--no-browser`` only prints it), the login polls until GitHub answers with the
  GitHub token, checks that the account has Copilot (one token exchange), and writes
  ``copilot-<user>.json``.
* ``--import [PATH]`` copies the sign-in an editor plugin stored --
  ``~/.config/github-copilot/apps.json`` (JetBrains, copilot.vim, copilot.lua) or the
  older ``hosts.json`` -- after the same check.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow
from cliproxy.oauth import (
    TokenEndpoint,
    VendorFile,
    VendorPath,
    add_import_argument,
    login_session,
    poll_device_token,
    save_token_file,
    token_file_name,
)

from cliproxy_copilot.auth import copilot_tokens, initial_tokens, token_file
from cliproxy_copilot.config import OAuthSettings, read_oauth_settings
from cliproxy_copilot.github import CopilotToken, exchange_token, fetch_user
from cliproxy_copilot.settings import PROVIDER, VSCODE_COPILOT_CLIENT_ID

__all__ = ["COPILOT_FILES", "FLOW", "login", "sign_in_from"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LOGIN = "cliproxy login copilot"
COPILOT_FILES = VendorFile(
    vendor="GitHub Copilot editor plugin",
    create="sign in to GitHub Copilot in JetBrains, Neovim (copilot.vim / copilot.lua) or another editor "
    "plugin that keeps its sign-in in github-copilot/apps.json",
    paths=(
        VendorPath("github-copilot/apps.json", env="XDG_CONFIG_HOME", platforms=("linux", "darwin")),
        VendorPath(".config/github-copilot/apps.json", platforms=("linux", "darwin")),
        VendorPath("github-copilot/hosts.json", env="XDG_CONFIG_HOME", platforms=("linux", "darwin")),
        VendorPath(".config/github-copilot/hosts.json", platforms=("linux", "darwin")),
        VendorPath("github-copilot/apps.json", env="LOCALAPPDATA", platforms=("win32",)),
        VendorPath("github-copilot/hosts.json", env="LOCALAPPDATA", platforms=("win32",)),
    ),
    provider=PROVIDER,
)


@contextmanager
def _reaching_github(what: str) -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"could not reach {what} ({type(exc).__name__}); check the network or proxy-url and try again",
            provider=PROVIDER,
        ) from None


async def _check_copilot(
    http: aiohttp.ClientSession, settings: OAuthSettings, github_token: str, proxy: str | None
) -> CopilotToken:
    """One token exchange: the account has Copilot, and the first Copilot token."""
    with _reaching_github("GitHub's Copilot token exchange"):
        return await exchange_token(
            http,
            github_api_url=settings.github_api_url,
            github_token=github_token,
            client=settings.client,
            proxy=proxy,
        )


def _save(ctx: LoginContext, settings: OAuthSettings, github_token: str, exchanged: CopilotToken, **extra: Any) -> Path:
    tokens = copilot_tokens(
        initial_tokens(github_token, github_api_url=settings.github_api_url, client=settings.client, **extra),
        exchanged,
    )
    content = token_file(tokens)
    for key in ("imported_from",):
        if extra.get(key):
            content[key] = extra[key]
    return save_token_file(ctx.auth_dir, token_file_name("copilot", extra.get("user")), content)


# -- the device flow -------------------------------------------------------------------------


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else default


async def device_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    settings = read_oauth_settings(ctx.config.root)
    client_id = getattr(args, "client_id", None) or settings.client_id
    device_codes = TokenEndpoint(
        url=f"{settings.github_url}/login/device/code",
        name="GitHub's device sign-in",
        provider=PROVIDER,
        login_command=LOGIN,
        client_setting="copilot-oauth.client-id",
    )
    token_url = f"{settings.github_url}/login/oauth/access_token"
    async with login_session(settings.proxy_url, ctx.config.proxy_url) as (http, proxy):
        with device_codes.network_errors():
            device = await device_codes.post(
                http, {"client_id": client_id, "scope": settings.scopes}, proxy=proxy, require="device_code"
            )
        expires_in = _number(device.get("expires_in"), 900.0)
        timeout = getattr(args, "timeout", None)
        if timeout:
            expires_in = min(expires_in, float(timeout))
        await ctx.show_device_code(
            str(device.get("user_code") or ""),
            str(device.get("verification_uri") or f"{settings.github_url}/login/device"),
            expires_in,
            verification_uri_complete=device.get("verification_uri_complete"),
        )
        payload = {"client_id": client_id, "device_code": device["device_code"], "grant_type": DEVICE_GRANT}

        async def poll() -> tuple[int, Any]:
            async with http.post(token_url, data=payload, headers={"accept": "application/json"}, proxy=proxy) as r:
                raw = await r.read()
            try:
                return r.status, orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return r.status, None

        data = await poll_device_token(
            poll,
            interval=_number(device.get("interval"), 5.0),
            expires_in=expires_in,
            service="GitHub",
            provider=PROVIDER,
        )
        github_token = data.get("access_token")
        if not isinstance(github_token, str) or not github_token:
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message=f"GitHub confirmed the sign-in without a token; run `{LOGIN}` again",
                provider=PROVIDER,
            )
        exchanged = await _check_copilot(http, settings, github_token, proxy)
        user = await fetch_user(
            http, github_api_url=settings.github_api_url, github_token=github_token, client=settings.client, proxy=proxy
        )
    path = _save(ctx, settings, github_token, exchanged, user=user, client_id=client_id)
    ctx.echo(f"Signed in to GitHub Copilot as {user or 'an unnamed account'}.")
    return str(path)


# -- importing an editor plugin's sign-in --------------------------------------------------------


def sign_in_from(path: Path, data: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """``(GitHub token, user, app id)`` of the github.com sign-in in an ``apps.json``
    (``{"github.com:<app id>": {"user", "oauth_token"}}``, the Copilot editor app's
    preferred) or ``hosts.json`` (``{"github.com": {"user", "oauth_token"}}``)."""
    found: list[tuple[bool, str, str | None, str | None]] = []
    for key, entry in data.items():
        if not isinstance(entry, Mapping):
            continue
        oauth_token = entry.get("oauth_token")
        host, _, app = str(key).partition(":")
        if host != "github.com" or not isinstance(oauth_token, str) or not oauth_token:
            continue
        name = entry.get("user")
        found.append(
            (
                app == VSCODE_COPILOT_CLIENT_ID,
                oauth_token,
                name if isinstance(name, str) and name else None,
                app or None,
            )
        )
    if not found:
        raise COPILOT_FILES.malformed(path, "it holds no github.com sign-in with an oauth_token")
    found.sort(key=lambda item: not item[0])  # the Copilot editor app's first
    _, token, user, app_id = found[0]
    return token, user, app_id


async def import_sign_in(where: str, ctx: LoginContext) -> str:
    settings = read_oauth_settings(ctx.config.root)
    path, data = COPILOT_FILES.read(where or None)
    github_token, user, app = sign_in_from(path, data)
    async with login_session(settings.proxy_url, ctx.config.proxy_url) as (http, proxy):
        try:
            exchanged = await _check_copilot(http, settings, github_token, proxy)
        except GatewayError as error:
            if error.status == 401:
                raise COPILOT_FILES.expired(path) from None
            raise
        if user is None:
            user = await fetch_user(
                http,
                github_api_url=settings.github_api_url,
                github_token=github_token,
                client=settings.client,
                proxy=proxy,
            )
    written = _save(
        ctx,
        settings,
        github_token,
        exchanged,
        user=user,
        client_id=app or VSCODE_COPILOT_CLIENT_ID,
        imported_from=str(path),
    )
    ctx.echo(
        f"Imported the GitHub Copilot sign-in of {user or 'an unnamed account'} from {path}. "
        "The GitHub token does not rotate: the editor and the gateway keep working side by side."
    )
    return str(written)


async def login(args: argparse.Namespace, ctx: LoginContext) -> str:
    """Sign in (or import an editor plugin's sign-in) and write ``copilot-<user>.json``."""
    if getattr(args, "import_path", None) is not None:
        return await import_sign_in(args.import_path, ctx)
    return await device_login(args, ctx)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-id",
        help="OAuth client id (default: copilot-oauth.client-id, else GitHub's Copilot editor app "
        f"{VSCODE_COPILOT_CLIENT_ID})",
    )
    parser.add_argument("--timeout", type=float, help="seconds to wait for the code to be entered (default: GitHub's)")
    add_import_argument(parser, COPILOT_FILES)


FLOW = LoginFlow(
    provider=PROVIDER,
    help="sign in to GitHub Copilot (device code), or --import an editor plugin's sign-in",
    run=login,
    add_arguments=_arguments,
)
