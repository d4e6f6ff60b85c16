"""``cliproxy login minimax``: the MiniMax Coding/Token Plan sign-in, per region.

A user-code flow with PKCE:

1. ``POST {host}/oauth/code`` (form: ``response_type=code``, ``client_id``, ``scope``,
   the S256 ``code_challenge``, ``state``; header ``x-request-id``) returns
   ``{user_code, verification_uri, expired_in, interval?, state}``; the ``state`` must
   come back unchanged;
2. the user opens the page (and confirms the code) while the login polls ``POST
   {host}/oauth/token`` (``grant_type=urn:ietf:params:oauth:grant-type:user_code``,
   ``client_id``, ``user_code``, ``code_verifier``): ``status: success`` brings the
   tokens, ``status: error`` ends it, anything else is pending -- every 2 s, backing off
   x1.5 up to 10 s.

``{host}`` is ``https://api.minimax.io`` (``--region global``, the default) or
``https://api.minimaxi.com`` (``--region cn``).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow, TokenSet
from cliproxy.oauth import (
    Pkce,
    PollOutcome,
    PollState,
    by_body_status,
    login_session,
    new_state,
    poll_device_token,
    save_token_file,
    token_file_name,
)

from cliproxy_minimax.auth import CLIENT_ID, DEFAULT_LIFETIME, expiry_from, token_file
from cliproxy_minimax.settings import REGIONS, api_root

__all__ = ["LOGIN_FLOW", "classify_poll", "poll_interval"]

SCOPE = "group_id profile model.completion"
USER_CODE_GRANT = "urn:ietf:params:oauth:grant-type:user_code"
POLL_INTERVAL = 2.0
MAX_INTERVAL = 10.0
USER_AGENT = "cliproxy-minimax/0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", choices=sorted(REGIONS), default="global", help="MiniMax platform (default global)")
    parser.add_argument("--base-url", help="sign in (and send requests) here instead of the region's host")
    parser.add_argument(
        "--client-id", help=f"OAuth client id (default: MiniMax's public Coding Plan client {CLIENT_ID})"
    )
    parser.add_argument(
        "--wire", choices=("anthropic", "openai"), default="anthropic", help="the API to call (default anthropic)"
    )
    parser.add_argument("--label", help="a name for this account in the token file's name (default: the region)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the sign-in (default 900)")


def _failed(message: str, status: int = 401) -> GatewayError:
    kind = ErrorKind.AUTHENTICATION if status < 500 else ErrorKind.UPSTREAM
    return GatewayError(status=status, kind=kind, message=f"minimax login failed: {message}", provider="minimax")


def _said(body: Any) -> str | None:
    resp = body.get("base_resp") if isinstance(body, Mapping) else None
    if isinstance(resp, Mapping) and resp.get("status_code") not in (None, 0):
        return f"{resp.get('status_msg') or 'refused'} ({resp.get('status_code')})"
    return None


_pending_or_done = by_body_status(field="status", done=("success",), failed=("error",))


def classify_poll(status: int, body: Any) -> PollOutcome:
    """MiniMax's poll answers: ``status: success | error`` in a 200, anything else
    pending; refusals (HTTP errors, ``status: error``) keep MiniMax's ``base_resp`` words."""
    outcome = _pending_or_done(status, body)
    if outcome.state is PollState.FAILED:
        return PollOutcome(PollState.FAILED, detail=_said(body) or outcome.detail)
    return outcome


def poll_interval(value: Any) -> float:
    """The first poll interval: MiniMax's ``interval`` is read as milliseconds when it is
    larger than 100 (as OpenClaw reads it), else as seconds; 2 s when absent."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return POLL_INTERVAL
    return min(float(value) / 1000.0 if value > 100 else float(value), MAX_INTERVAL)


async def _form(http: aiohttp.ClientSession, url: str, form: Mapping[str, str], proxy: str | None, **headers: str):
    async with http.post(url, data=dict(form), headers={"accept": "application/json", **headers}, proxy=proxy) as r:
        try:
            return r.status, await r.json(content_type=None)
        except ValueError:
            return r.status, None


async def run(args: argparse.Namespace, ctx: LoginContext) -> str:
    region = args.region or "global"
    host = api_root(args.base_url) if args.base_url else REGIONS[region]
    client_id = args.client_id or CLIENT_ID
    pkce, state = Pkce.new(), new_state()
    async with login_session(ctx.config.proxy_url, headers={"user-agent": USER_AGENT}) as (http, proxy):
        try:
            status, started = await _form(
                http,
                f"{host}/oauth/code",
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "scope": SCOPE,
                    "code_challenge": pkce.challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                },
                proxy,
                **{"x-request-id": str(uuid.uuid4())},
            )
            if status >= 400 or not isinstance(started, Mapping) or not started.get("user_code"):
                raise _failed(f"MiniMax did not start a sign-in (HTTP {status}: {_said(started) or 'no user code'})")
            if started.get("state") != state:
                raise _failed("MiniMax answered with another sign-in's state (state mismatch); start the login again")
            now = time.time()
            deadline = expiry_from(started.get("expired_in"), now) or now + args.timeout
            expires_in = max(1.0, min(deadline - now, args.timeout))
            await ctx.show_device_code(
                str(started["user_code"]), str(started.get("verification_uri") or ""), expires_in
            )
            form = {"grant_type": USER_CODE_GRANT, "client_id": client_id, "user_code": str(started["user_code"])}

            async def poll() -> tuple[int, Any]:
                return await _form(http, f"{host}/oauth/token", {**form, "code_verifier": pkce.verifier}, proxy)

            answer = await poll_device_token(
                poll,
                interval=poll_interval(started.get("interval")),
                expires_in=expires_in,
                classify=classify_poll,
                backoff=lambda seconds: min(seconds * 1.5, MAX_INTERVAL),
                service="MiniMax",
                provider="minimax",
            )
        except aiohttp.ClientError as exc:
            raise _failed(
                f"could not reach MiniMax at {host} ({type(exc).__name__}); check the network or proxy-url", 502
            ) from None
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise _failed("MiniMax confirmed the sign-in without an access token; start the login again", 502)
    refresh = answer.get("refresh_token")
    extra: dict[str, Any] = {"region": region, "client_id": client_id}
    if isinstance(answer.get("resource_url"), str) and answer["resource_url"]:
        extra["resource_url"] = answer["resource_url"]
    if args.base_url:
        extra["oauth_url"] = host
    now = time.time()
    tokens = TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expiry_from(answer.get("expired_in"), now) or now + DEFAULT_LIFETIME,
        extra=extra,
    )
    content = token_file(tokens)
    if args.base_url:
        content["base_url"] = host
    if args.wire != "anthropic":
        content["wire"] = args.wire
    notice = answer.get("notification_message")
    if isinstance(notice, str) and notice:
        ctx.echo(f"MiniMax: {notice}")
    ctx.echo(f"Signed in to MiniMax ({region}); the sign-in refreshes itself")
    return str(save_token_file(ctx.auth_dir, token_file_name("minimax", args.label or region), content))


LOGIN_FLOW = LoginFlow(
    provider="minimax",
    help="sign in to a MiniMax Coding/Token Plan (--region global|cn)",
    run=run,
    add_arguments=add_arguments,
)
