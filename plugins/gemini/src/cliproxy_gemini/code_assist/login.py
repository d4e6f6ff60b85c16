"""``cliproxy login gemini``: Google OAuth for Gemini CLI / Code Assist, then onboarding.

1. Google sign-in with PKCE, with Gemini CLI's public client unless another is configured.
   The browser is sent to Google and comes back to a local callback
   (``http://127.0.0.1:8085/oauth2callback``, the next free port when taken). The address
   the browser ended on may also be pasted -- the only way with ``--no-browser`` on a
   remote machine, where the page does not load but its address holds the code.
   ``--import [PATH]`` takes Gemini CLI's stored sign-in instead
   (:mod:`cliproxy_gemini.code_assist.gemini_cli`), refreshed first if it expired.
2. The code is exchanged for tokens; the account's e-mail is read from userinfo.
3. Code Assist setup for each ``--project-id`` (or the account's own project when none is
   given): ``loadCodeAssist``, and ``onboardUser`` (a long-running operation, polled) when
   the account is not set up yet.
4. The token file is written to ``auth-dir`` (mode 0600) as ``gemini-cli-<email>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow, TokenSet
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

from cliproxy_gemini.code_assist.auth import TOKEN_TYPE, google_token_endpoint, project_ids, refresh_google_tokens
from cliproxy_gemini.code_assist.gemini_cli import GEMINI_CLI_FILE, active_account, tokens_from_gemini_cli
from cliproxy_gemini.code_assist.options import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    SCOPES,
    CodeAssistOptions,
    read_options,
)

__all__ = ["GeminiLogin", "login_flow"]

CLIENT_METADATA = {
    "ideType": "IDE_UNSPECIFIED",
    "platform": "PLATFORM_UNSPECIFIED",
    "pluginType": "GEMINI",
}
FREE_TIER = "free-tier"
LEGACY_TIER = "legacy-tier"
REFRESH_MARGIN = 60.0


def _fail(message: str) -> GatewayError:
    return GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message=message)


def _client(args: argparse.Namespace, options: CodeAssistOptions) -> tuple[str, str]:
    """The client to sign in with: flags, then config and environment, then Gemini CLI's.
    A client id of one's own needs its own secret."""
    client_id = getattr(args, "client_id", None) or options.client_id
    secret = getattr(args, "client_secret", None) or (options.client_secret if client_id == options.client_id else None)
    if not secret:
        raise GatewayError.invalid(
            f"the Google OAuth client {client_id} needs its client secret: pass --client-secret, set "
            f"{ENV_CLIENT_SECRET}, or add client-secret under 'gemini-cli:' in config.yaml "
            "(without a client id of your own, Gemini CLI's client is used)"
        )
    return client_id, secret


@attrs.define
class GeminiLogin:
    """The login flow; the timings can be replaced (tests)."""

    timeout: float = DEFAULT_TIMEOUT
    poll_interval: float = 5.0
    max_polls: int = 60

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--project-id", help="Google Cloud project id(s) for Code Assist, comma-separated")
        parser.add_argument(
            "--client-id",
            help=f"OAuth client id (default: gemini-cli.client-id or ${ENV_CLIENT_ID}, else Gemini CLI's client)",
        )
        parser.add_argument(
            "--client-secret",
            help=f"OAuth client secret (default: gemini-cli.client-secret or ${ENV_CLIENT_SECRET})",
        )
        parser.add_argument(
            "--port",
            type=int,
            help="local port for the OAuth callback (default: gemini-cli.callback-port, else 8085 or any free port)",
        )
        add_import_argument(parser, GEMINI_CLI_FILE)

    async def run(self, args: argparse.Namespace, ctx: LoginContext) -> str:
        options = read_options(ctx.config.root)
        importing = getattr(args, "import_path", None)
        async with login_session(options.proxy_url, ctx.config.proxy_url) as (http, proxy):
            if importing is not None:
                tokens, email = await self._imported(importing, options, http, proxy)
            else:
                client_id, client_secret = _client(args, options)
                signing_in = _Flow(self, options, client_id, client_secret, http, proxy, ctx)
                tokens, email = await signing_in.sign_in(getattr(args, "port", None)), None
            flow = _Flow(self, options, tokens.extra["client_id"], tokens.extra["client_secret"], http, proxy, ctx)
            email = email or await flow.email(tokens.access_token)
            wanted = project_ids(getattr(args, "project_id", None) or "")
            access = tokens.access_token
            projects = [await flow.setup(access, p) for p in wanted] if wanted else [await flow.setup(access, None)]
        content = {
            "type": TOKEN_TYPE,
            "email": email,
            "project_id": ",".join(dict.fromkeys(projects)),
            "access_token": access,
            "refresh_token": tokens.refresh_token,
            "expires_at": int(tokens.expires_at or time.time()),
            "token_uri": options.token_url,
            "client_id": tokens.extra["client_id"],
            "client_secret": tokens.extra["client_secret"],
            "scope": tokens.extra.get("scope") or " ".join(SCOPES),
        }
        if importing is not None:
            content["imported_from"] = "gemini-cli"
        path = save_token_file(ctx.auth_dir, token_file_name("gemini-cli", email or "account"), content)
        ctx.echo(f"Signed in as {email or 'an unknown account'}; Code Assist project(s): {content['project_id']}")
        return str(path)

    async def _imported(
        self, where: str, options: CodeAssistOptions, http: aiohttp.ClientSession, proxy: str | None
    ) -> tuple[TokenSet, str | None]:
        """Gemini CLI's stored sign-in, refreshed first when its access token is (nearly) spent."""
        path, data = GEMINI_CLI_FILE.read(where or None)
        tokens = tokens_from_gemini_cli(path, data)
        tokens.extra["token_uri"] = options.token_url
        if isinstance(data.get("scope"), str):
            tokens.extra["scope"] = data["scope"]
        if tokens.expires_within(REFRESH_MARGIN, time.time()) or not tokens.access_token:
            endpoint = google_token_endpoint(options.token_url)
            try:
                with endpoint.network_errors():
                    tokens = await refresh_google_tokens(tokens, http, proxy)
            except GatewayError as error:
                if error.code == "invalid_grant":
                    raise GEMINI_CLI_FILE.expired(path) from None
                raise
        return tokens, active_account(path)


@attrs.define
class _Flow:
    login: GeminiLogin
    options: CodeAssistOptions
    client_id: str
    client_secret: str = attrs.field(repr=False)
    http: aiohttp.ClientSession
    proxy: str | None
    ctx: LoginContext

    # -- OAuth ---------------------------------------------------------------------------

    async def sign_in(self, port: int | None) -> TokenSet:
        pkce, state = Pkce.new(), new_state()
        answer = await authorize_in_browser(
            self.ctx,
            lambda redirect_uri: self._auth_url(redirect_uri, state, pkce.challenge),
            ports=self.options.callback_ports if port is None else (port,),
            path="/oauth2callback",
            state=state,
            hint="Sign in with your Google account in your browser",
            timeout=self.login.timeout,
            redirect_host="127.0.0.1",
        )
        form = {
            "grant_type": "authorization_code",
            "code": answer.code,
            "redirect_uri": answer.redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code_verifier": pkce.verifier,
        }
        endpoint = google_token_endpoint(self.options.token_url)
        with endpoint.network_errors():
            issued = await endpoint.post(self.http, form, proxy=self.proxy)
        if not issued.get("refresh_token"):
            raise _fail(
                "Google issued no refresh token; remove cliproxy's access at myaccount.google.com/permissions "
                "and sign in again"
            )
        lifetime = issued.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else 3600.0
        extra: dict[str, Any] = {"client_id": self.client_id, "client_secret": self.client_secret}
        if isinstance(issued.get("scope"), str):
            extra["scope"] = issued["scope"]
        return TokenSet(issued["access_token"], issued["refresh_token"], time.time() + lifetime, extra)

    def _auth_url(self, redirect: str, state: str, challenge: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "access_type": "offline",
            "prompt": "consent",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.options.auth_url}?{urlencode(query)}"

    async def email(self, access: str) -> str | None:
        async with self.http.get(
            self.options.userinfo_url,
            headers={"authorization": f"Bearer {access}"},
            proxy=self.proxy,
        ) as response:
            answer = _json(await response.read()) if response.status < 400 else {}
        email = answer.get("email")
        return email if isinstance(email, str) else None

    # -- Code Assist onboarding ----------------------------------------------------------

    async def _call(self, access: str, method: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.options.base_url}/v1internal{method}"
        headers = {"authorization": f"Bearer {access}", "content-type": "application/json"}
        if body is None:
            request = self.http.get(url, headers=headers, proxy=self.proxy)
        else:
            request = self.http.post(url, data=orjson.dumps(body), headers=headers, proxy=self.proxy)
        async with request as response:
            status, raw = response.status, await response.read()
        answer = _json(raw)
        if status >= 400:
            error = found if isinstance(found := answer.get("error"), Mapping) else {}
            message = error.get("message") or raw[:300].decode("utf-8", "replace") or f"HTTP {status}"
            raise GatewayError.from_status(status, f"Code Assist {method.lstrip(':/')} failed: {message}")
        return answer

    async def setup(self, access: str, project: str | None) -> str:
        """Make sure the account may use Code Assist in ``project``; the project id to use."""
        metadata = {**CLIENT_METADATA, **({"duetProject": project} if project else {})}
        loaded = await self._call(
            access,
            ":loadCodeAssist",
            {**({"cloudaicompanionProject": project} if project else {}), "metadata": metadata},
        )
        if loaded.get("currentTier"):
            found = loaded.get("cloudaicompanionProject") or project
            if not found:
                raise GatewayError.invalid(
                    "this Google account needs a Google Cloud project for Code Assist: pass --project-id ID"
                )
            return str(found)
        tier = next(
            (t for t in loaded.get("allowedTiers") or () if isinstance(t, Mapping) and t.get("isDefault")),
            None,
        )
        tier_id = str((tier or {}).get("id") or LEGACY_TIER)
        onboard: dict[str, Any] = {
            "tierId": tier_id,
            "metadata": CLIENT_METADATA if tier_id == FREE_TIER else metadata,
        }
        if tier_id != FREE_TIER and project:  # the free tier brings its own managed project
            onboard["cloudaicompanionProject"] = project
        self.ctx.echo(f"Setting up Code Assist ({tier_id}) for this account...")
        operation = await self._call(access, ":onboardUser", onboard)
        polls = 0
        while not operation.get("done"):
            name = operation.get("name")
            if not isinstance(name, str) or polls >= self.login.max_polls:
                raise GatewayError(
                    status=504,
                    kind=ErrorKind.TIMEOUT,
                    message="Code Assist onboarding did not finish; run the login again later",
                )
            polls += 1
            await asyncio.sleep(self.login.poll_interval)
            operation = await self._call(access, "/" + name)
        result = found if isinstance(found := operation.get("response"), Mapping) else {}
        companion = result.get("cloudaicompanionProject")
        found = companion.get("id") if isinstance(companion, Mapping) else companion
        found = found or project
        if not found:
            raise GatewayError.invalid("Code Assist set up no project for this account: pass --project-id ID")
        return str(found)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def login_flow(login: GeminiLogin | None = None) -> LoginFlow:
    """The ``cliproxy login gemini`` flow."""
    login = login or GeminiLogin()
    return LoginFlow(
        provider="gemini",
        help="sign in to Gemini CLI / Code Assist with a Google account",
        run=login.run,
        add_arguments=login.add_arguments,
    )
