"""``cliproxy login kilo``: a Kilo token into ``auth-dir``.

* the default is Kilo's device flow: ``POST {api}/api/device-auth/codes`` gives a code and
  a page to confirm it on; ``GET {api}/api/device-auth/codes/{code}`` is polled every 3 s
  (202 pending, 403 denied, 410 expired, 200 ``{status: "approved", token, userEmail}``);
  then ``GET {api}/api/profile`` lists the user's organizations, and the login is for the
  personal account or one of them (``--org``, else the user is asked through the login
  context -- the terminal, or the management API remotely);
* ``--import [PATH]`` copies the Kilo CLI's sign-in (its ``auth.json``, key ``kilo``).

Kilo's device flow takes no client id: nothing to configure, and the terms of the Kilo
account apply.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from cliproxy import ErrorKind, GatewayError, LoginContext, LoginFlow
from cliproxy.oauth import (
    PasteUnavailable,
    PollOutcome,
    PollState,
    VendorFile,
    VendorPath,
    add_import_argument,
    by_status,
    login_session,
    parse_expiry,
    poll_device_token,
    save_token_file,
    token_file_name,
)

from cliproxy_kilo.auth import token_file
from cliproxy_kilo.settings import api_root, env_api_url, env_organization, jwt_expiry

__all__ = ["KILO_CLI_FILE", "LOGIN_FLOW", "classify_poll"]

POLL_INTERVAL = 3.0
USER_AGENT = "cliproxy-kilo/0.1"
PERSONAL = "personal"
KILO_CLI_FILE = VendorFile(
    vendor="Kilo CLI",
    create="sign in with the Kilo CLI first (`kilo auth login`)",
    paths=(
        VendorPath("kilo/auth.json", env="XDG_DATA_HOME"),
        VendorPath(".local/share/kilo/auth.json"),
        VendorPath("auth.json", env="PI_CODING_AGENT_DIR"),
        VendorPath(".pi/agent/auth.json"),
    ),
    provider="kilo",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_import_argument(parser, KILO_CLI_FILE)
    parser.add_argument(
        "--org",
        metavar="ID",
        help="bill this Kilo organization (its id or name), or 'personal'; default: ask when the account "
        "belongs to organizations",
    )
    parser.add_argument("--base-url", help="Kilo API root (default $KILO_API_URL, else https://api.kilo.ai)")
    parser.add_argument("--label", help="a name for this account in the token file's name (default: the e-mail)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the sign-in (default 600)")


def _failed(message: str, status: int = 502) -> GatewayError:
    kind = ErrorKind.UPSTREAM if status >= 500 else ErrorKind.AUTHENTICATION
    return GatewayError(status=status, kind=kind, message=f"kilo login failed: {message}", provider="kilo")


def classify_poll(status: int, body: Any) -> PollOutcome:
    """A poll answer: the status code carries the state (202 pending, 403 denied, 410
    expired); a 200 is read by its ``status`` field too, in case a pending or refused code
    is ever answered with a 200 and a body saying so."""
    if status == 200 and isinstance(body, Mapping):
        state = body.get("status")
        if state == "pending":
            return PollOutcome(PollState.PENDING)
        if state == "denied":
            return PollOutcome(PollState.DENIED)
        if state == "expired":
            return PollOutcome(PollState.EXPIRED)
    return by_status(pending={202}, denied={403}, expired={410})(status, body)


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


# -- choosing the account ---------------------------------------------------------------------


def _organizations(profile: Any) -> list[dict[str, str]]:
    items = profile.get("organizations") if isinstance(profile, Mapping) else None
    found = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]:
            name = item.get("name") if isinstance(item.get("name"), str) else item["id"]
            role = item.get("role") if isinstance(item.get("role"), str) else ""
            found.append({"id": item["id"], "name": name, "role": role})
    return found


def _email(profile: Any, fallback: str | None) -> str | None:
    if isinstance(profile, Mapping):
        user = profile.get("user")
        for holder in (user if isinstance(user, Mapping) else {}, profile):
            if isinstance(holder.get("email"), str) and holder["email"]:
                return holder["email"]
    return fallback


def _match(choice: str, organizations: Sequence[Mapping[str, str]]) -> str | bool | None:
    """The organization id ``choice`` names (by number, id or name), None for the
    personal account, False when it names nothing."""
    text = choice.strip()
    if not text or text.lower() in (PERSONAL, "0"):
        return None
    if text.isdigit() and 1 <= int(text) <= len(organizations):
        return organizations[int(text) - 1]["id"]
    for org in organizations:
        if text in (org["id"], org["name"]):
            return org["id"]
    return False


async def choose_account(
    ctx: LoginContext, organizations: Sequence[Mapping[str, str]], wanted: str | None
) -> str | None:
    """The organization to bill (None: personal): ``wanted`` (``--org``), else the user's
    answer through the login context when there is a choice."""
    if wanted is not None:
        chosen = _match(wanted, organizations)
        if chosen is False:
            if not organizations:  # no profile to check against: take the id as given
                return wanted.strip()
            known = ", ".join(f"{o['name']} ({o['id']})" for o in organizations)
            raise _failed(f"--org {wanted!r} is none of this account's organizations: {known}, or 'personal'", 400)
        return chosen  # type: ignore[return-value]
    if not organizations:
        return None
    ctx.echo("This Kilo account can bill:")
    ctx.echo("  0. personal account")
    for number, org in enumerate(organizations, 1):
        role = f", {org['role']}" if org["role"] else ""
        ctx.echo(f"  {number}. {org['name']} ({org['id']}{role})")
    for _ in range(3):
        try:
            answer = await ctx.ask_redirect("Which one? Enter its number, id or name (empty: personal): ")
        except PasteUnavailable:
            ctx.echo("(nothing to read an answer from: using the personal account; choose with --org)")
            return None
        chosen = _match(answer, organizations)
        if chosen is not False:
            return chosen  # type: ignore[return-value]
        ctx.echo(f"{answer.strip()!r} is not one of the accounts above")
    raise _failed("no account was chosen; run the login again with --org ID or --org personal", 400)


# -- device flow ------------------------------------------------------------------------------


async def device_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    root = api_root(args.base_url or env_api_url())
    codes = f"{root}/api/device-auth/codes"
    async with login_session(ctx.config.proxy_url, headers={"user-agent": USER_AGENT}) as (http, proxy):
        try:
            async with http.post(codes, headers={"content-type": "application/json"}, proxy=proxy) as response:
                started = await _json(response)
                if response.status == 429:
                    raise _failed("Kilo has too many sign-ins pending for you; wait a few minutes and try again")
                if response.status >= 400 or not isinstance(started, Mapping) or not started.get("code"):
                    raise _failed(f"Kilo did not start a device sign-in (HTTP {response.status})")
            code = str(started["code"])
            expires_in = float(started.get("expiresIn") or args.timeout)
            expires_in = min(expires_in, args.timeout)
            await ctx.show_device_code(code, str(started.get("verificationUrl") or ""), expires_in)

            async def poll() -> tuple[int, Any]:
                async with http.get(f"{codes}/{code}", proxy=proxy) as answer:
                    return answer.status, await _json(answer)

            approved = await poll_device_token(
                poll,
                interval=POLL_INTERVAL,
                expires_in=expires_in,
                classify=classify_poll,
                service="Kilo",
                provider="kilo",
            )
            token = approved.get("token")
            if not isinstance(token, str) or not token:
                raise _failed("Kilo approved the sign-in without a token; run the login again")
            async with http.get(f"{root}/api/profile", headers={"authorization": f"Bearer {token}"}, proxy=proxy) as r:
                profile = await _json(r) if r.status < 400 else None
                if profile is None:
                    ctx.echo(f"(could not read the Kilo profile: HTTP {r.status}; organizations cannot be listed)")
        except aiohttp.ClientError as exc:
            raise _failed(
                f"could not reach Kilo at {root} ({type(exc).__name__}); check the network or proxy-url"
            ) from None
        except TimeoutError:
            raise _failed(f"Kilo at {root} did not answer in time") from None
    email = _email(profile, approved.get("userEmail") if isinstance(approved.get("userEmail"), str) else None)
    organization = await choose_account(ctx, _organizations(profile), args.org or env_organization())
    ctx.echo(f"Signed in to Kilo as {email or 'an unnamed account'}, billing {organization or 'the personal account'}")
    return _save(ctx, token, organization=organization, email=email, api_url=root, label=args.label)


def _save(
    ctx: LoginContext,
    token: str,
    *,
    organization: str | None,
    email: str | None,
    api_url: str | None,
    label: str | None,
    expires_at: float | None = None,
    unnamed: str = "account",
) -> str:
    name_label = label or email or unnamed
    if organization and not label:
        name_label = f"{name_label}-{organization}"
    content = token_file(token, organization_id=organization, email=email, api_url=api_url, expires_at=expires_at)
    return str(save_token_file(ctx.auth_dir, token_file_name("kilo", name_label), content))


# -- import -----------------------------------------------------------------------------------


def import_cli_login(args: argparse.Namespace, ctx: LoginContext) -> str:
    path, data = KILO_CLI_FILE.read(args.import_path or None)
    entry = data.get("kilo")
    if not isinstance(entry, Mapping):
        raise KILO_CLI_FILE.malformed(path, "it has no 'kilo' sign-in")
    kind = entry.get("type")
    if kind == "api":
        token, expires, organization = entry.get("key"), None, None
    elif kind == "oauth":
        token, expires, organization = entry.get("access"), parse_expiry(entry.get("expires")), entry.get("accountId")
    else:
        raise KILO_CLI_FILE.malformed(path, f"its 'kilo' sign-in is of type {kind!r}, not 'oauth' or 'api'")
    if not isinstance(token, str) or not token:
        raise KILO_CLI_FILE.malformed(path, "its 'kilo' sign-in holds no token")
    expires = jwt_expiry(token) or expires
    if expires is not None and expires <= time.time():
        raise KILO_CLI_FILE.expired(path)
    if args.org is not None:
        organization = None if args.org.strip().lower() in ("", PERSONAL) else args.org.strip()
    elif not isinstance(organization, str) or not organization:
        organization = env_organization()
    written = _save(
        ctx,
        token,
        organization=organization,
        email=None,
        api_url=args.base_url,
        label=args.label,
        expires_at=expires,
        unnamed="cli",
    )
    ctx.echo(f"imported the Kilo CLI's sign-in from {path}, billing {organization or 'the personal account'}")
    return written


async def run(args: argparse.Namespace, ctx: LoginContext) -> str:
    if getattr(args, "import_path", None) is not None:
        return import_cli_login(args, ctx)
    return await device_login(args, ctx)


LOGIN_FLOW = LoginFlow(
    provider="kilo",
    help="sign in to Kilo (device code; --org for an organization; --import for the Kilo CLI's sign-in)",
    run=run,
    add_arguments=add_arguments,
)
