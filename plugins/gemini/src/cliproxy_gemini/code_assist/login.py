"""``cliproxy login gemini``: Google OAuth for Gemini CLI / Code Assist, then onboarding.

1. Google sign-in with PKCE. The browser is sent to Google and comes back to a local
   callback (``http://127.0.0.1:<callback-port>/oauth2callback``). With ``--no-browser``
   the URL is printed instead and the user pastes the address the browser ended on (the
   page will not load on a remote machine; its address holds the code).
2. The code is exchanged for tokens; the account's e-mail is read from userinfo.
3. Code Assist setup for each ``--project-id`` (or the account's own project when none is
   given): ``loadCodeAssist``, and ``onboardUser`` (a long-running operation, polled) when
   the account is not set up yet.
4. The token file is written to ``auth-dir`` (mode 0600) as ``gemini-cli-<email>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import re
import secrets
import time
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import attrs
import orjson
from aiohttp import web
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow, write_token_file

from cliproxy_gemini.code_assist.auth import TOKEN_TYPE, project_ids
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

_SUCCESS_PAGE = b"<html><body><h3>Signed in. You can close this window and return to the terminal.</h3></body></html>"


def _fail(message: str) -> GatewayError:
    return GatewayError(status=401, kind=ErrorKind.AUTHENTICATION, message=message)


def _pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _code_from(pasted: str, state: str) -> str:
    """The authorization code from what the user pasted: the redirect address, or the code."""
    text = pasted.strip()
    if not text:
        raise _fail("nothing was pasted; run the login again")
    if "://" not in text and "code=" not in text:
        return text
    query = parse_qs(urlsplit(text).query if "://" in text else text)
    if "error" in query:
        raise _fail(f"Google refused the sign-in: {query['error'][0]}")
    if query.get("state", [None])[0] != state:
        raise _fail("the pasted address belongs to another sign-in (state mismatch); run the login again")
    code = query.get("code", [None])[0]
    if not code:
        raise _fail("the pasted address has no 'code'; paste the whole address from the browser")
    return code


@attrs.define
class GeminiLogin:
    """The login flow; ``open_browser`` and the timings can be replaced (tests)."""

    open_browser: Callable[[str], Any] = webbrowser.open
    timeout: float = 300.0
    poll_interval: float = 5.0
    max_polls: int = 60

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--project-id", help="Google Cloud project id(s) for Code Assist, comma-separated")
        parser.add_argument(
            "--client-id",
            help=f"OAuth client id (default: gemini-cli.client-id or ${ENV_CLIENT_ID})",
        )
        parser.add_argument(
            "--client-secret",
            help=f"OAuth client secret (default: gemini-cli.client-secret or ${ENV_CLIENT_SECRET})",
        )
        parser.add_argument(
            "--port",
            type=int,
            help="local port for the OAuth callback (default: gemini-cli.callback-port, 8085)",
        )

    async def run(self, args: argparse.Namespace, ctx: LoginContext) -> str:
        options = read_options(ctx.config.root)
        client_id = getattr(args, "client_id", None) or options.client_id
        client_secret = getattr(args, "client_secret", None) or options.client_secret
        if not client_id or not client_secret:
            raise GatewayError.invalid(
                "Gemini CLI sign-in needs a Google OAuth client id and secret: pass --client-id and "
                f"--client-secret, set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, or add client-id and "
                "client-secret under 'gemini-cli:' in config.yaml"
            )
        port = getattr(args, "port", None)
        port = options.callback_port if port is None else port
        proxy = options.proxy_url or ctx.config.proxy_url
        async with aiohttp.ClientSession() as http:
            flow = _Flow(self, options, client_id, client_secret, http, proxy, ctx)
            tokens = await flow.sign_in(port)
            access = tokens["access_token"]
            email = await flow.email(access)
            wanted = project_ids(getattr(args, "project_id", None) or "")
            projects = [await flow.setup(access, p) for p in wanted] if wanted else [await flow.setup(access, None)]
        expires_at = time.time() + float(tokens.get("expires_in") or 3600)
        content = {
            "type": TOKEN_TYPE,
            "email": email,
            "project_id": ",".join(dict.fromkeys(projects)),
            "access_token": access,
            "refresh_token": tokens.get("refresh_token"),
            "expires_at": int(expires_at),
            "token_uri": options.token_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": tokens.get("scope") or " ".join(SCOPES),
        }
        name = re.sub(r"[^A-Za-z0-9_.@-]", "_", email or "account")
        path = Path(ctx.auth_dir).expanduser() / f"gemini-cli-{name}.json"
        write_token_file(path, content)
        ctx.echo(f"Signed in as {email or 'an unknown account'}; Code Assist project(s): {content['project_id']}")
        return str(path)


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

    async def sign_in(self, port: int) -> Mapping[str, Any]:
        verifier, challenge = _pkce()
        state = secrets.token_hex(16)
        if self.ctx.no_browser:
            redirect = f"http://127.0.0.1:{port or self.options.callback_port}/oauth2callback"
            self.ctx.echo(
                "Open this address in a browser and sign in with your Google account:\n\n"
                + self._auth_url(redirect, state, challenge)
                + "\n"
            )
            self.ctx.echo("The browser then lands on a page that does not load; copy its whole address.")
            pasted = await asyncio.to_thread(self.ctx.prompt, "Paste that address (or just the code): ")
            code = _code_from(pasted, state)
        else:
            code, redirect = await self._callback(port, state, challenge)
        return await self._exchange(code, redirect, verifier)

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

    async def _callback(self, port: int, state: str, challenge: str) -> tuple[str, str]:
        arrived: asyncio.Future[Mapping[str, str]] = asyncio.get_running_loop().create_future()

        async def handle(request: web.Request) -> web.Response:
            if not arrived.done():
                arrived.set_result(dict(request.query))
            return web.Response(body=_SUCCESS_PAGE, content_type="text/html")

        app = web.Application()
        app.router.add_get("/oauth2callback", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", port)
            try:
                await site.start()
            except OSError as exc:
                raise GatewayError.invalid(
                    f"could not listen on 127.0.0.1:{port} for the sign-in callback ({exc.strerror}); "
                    "pass --port with a free port, or use --no-browser"
                ) from None
            bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            redirect = f"http://127.0.0.1:{bound}/oauth2callback"
            url = self._auth_url(redirect, state, challenge)
            self.ctx.echo("Opening your browser to sign in with Google. If it does not open, visit:\n\n" + url + "\n")
            await asyncio.to_thread(self.login.open_browser, url)
            try:
                query = await asyncio.wait_for(arrived, self.login.timeout)
            except TimeoutError:
                raise _fail(
                    f"no sign-in arrived within {self.login.timeout:.0f}s; run the login again (or use --no-browser)"
                ) from None
        finally:
            await runner.cleanup()
        if query.get("error"):
            raise _fail(f"Google refused the sign-in: {query['error']}")
        if query.get("state") != state:
            raise _fail("the sign-in callback belongs to another sign-in (state mismatch); run the login again")
        if not query.get("code"):
            raise _fail("the sign-in callback carried no code; run the login again")
        return query["code"], redirect

    async def _exchange(self, code: str, redirect: str, verifier: str) -> Mapping[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code_verifier": verifier,
        }
        async with self.http.post(self.options.token_url, data=form, proxy=self.proxy) as response:
            status, body = response.status, await response.read()
        answer = _json(body)
        if status >= 400 or not isinstance(answer.get("access_token"), str):
            reason = answer.get("error_description") or answer.get("error") or f"HTTP {status}"
            raise _fail(f"Google did not issue tokens: {reason}")
        if not answer.get("refresh_token"):
            raise _fail(
                "Google issued no refresh token; remove cliproxy's access at myaccount.google.com/permissions and sign in again"
            )
        return answer

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
            error = answer.get("error") if isinstance(answer.get("error"), Mapping) else {}
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
        result = operation.get("response") if isinstance(operation.get("response"), Mapping) else {}
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
