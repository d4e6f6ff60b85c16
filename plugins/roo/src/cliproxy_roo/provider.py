"""The ``roo:`` provider: the Roo Code Cloud proxy (``{base}/v1/chat/completions``, OpenAI
Chat), built on ``cliproxy_openai.OpenAIChatProvider``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    GatewayError,
    Host,
    Quota,
    UpstreamResponse,
    credential_id,
    mask_secret,
    read_common_fields,
)
from cliproxy.oauth import format_expiry
from cliproxy_openai import OpenAIChatProvider

from cliproxy_roo.auth import RooAuthType, sign_in_again, tokens_for
from cliproxy_roo.session import task_id
from cliproxy_roo.settings import APP_VERSION, RooSettings, proxy_base
from cliproxy_roo.shaping import shape_translated
from cliproxy_roo.token import read_cli_credentials

__all__ = ["EXPIRY_WARNING", "RooProvider", "roo_headers"]


WIRE = "openai-chat"
MODELS_TIMEOUT = 10.0
EXPIRY_WARNING = 86400.0
"""How long before its token expires a credential's status starts warning."""
ENV_TOKEN = "ROO_CODE_CLOUD_TOKEN"
REFERER = "https://github.com/RooVetGit/Roo-Cline"


def roo_headers(settings: RooSettings, token: str | None, task: str | None = None) -> dict[str, str]:
    """The headers Roo Code sends its proxy."""
    headers = {
        "user-agent": f"RooCode/{settings.app_version}",
        "X-Roo-App-Version": settings.app_version,
        "HTTP-Referer": REFERER,
        "X-Title": "Roo Code",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    if task:
        headers["X-Roo-Task-ID"] = task
    headers.update(settings.headers)
    return headers


def _advice(error: GatewayError, tokens: Any) -> GatewayError:
    """Roo's refusals with what to do: a refused token (401), no credit (402)."""
    if error.status == 401 and tokens is not None:
        return attrs.evolve(error, message=f"{error.message} ({sign_in_again(tokens)})")
    if error.status == 402:
        return attrs.evolve(
            error, message=f"{error.message} (add credit to the Roo Code Cloud account at https://app.roocode.com)"
        )
    return error


class RooProvider(OpenAIChatProvider):
    """``roo:`` entries and ``cliproxy login roo`` token files."""

    name = "roo"
    config_keys = ("roo",)

    def __init__(self, auth: RooAuthType) -> None:
        self._auth = auth

    # -- config ------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=None, base_url=proxy_base())
            token = entry.str("token") or None
            token_path = entry.str("token-file") or None
            version = entry.str("app-version", APP_VERSION)
            timeout = entry.float("timeout", None, minimum=1)
            entry.done()
            if token and token_path:
                raise entry.error("token-file", "give 'token' or 'token-file', not both")
            source, extra = "config", {}
            if token_path:
                path = Path(token_path).expanduser()
                try:
                    token = read_cli_credentials(path)
                except ValueError as exc:
                    raise entry.error(
                        "token-file",
                        f"{exc}",
                        hint="sign in with the Roo CLI (`roo auth login`), which writes ~/.roo/cli-credentials.json",
                    ) from None
                source, extra = str(path), {"token_file": str(path)}
            elif not token:
                token = os.environ.get(ENV_TOKEN) or None
                source = ENV_TOKEN
            if not token:
                raise entry.error(
                    "token",
                    f"'{entry.qualified('token')}' is missing and {ENV_TOKEN} is not set",
                    hint="give a Roo Code Cloud token, point 'token-file' at the Roo CLI's "
                    "~/.roo/cli-credentials.json, or sign in with 'cliproxy login roo' and drop this entry",
                )
            settings = RooSettings(
                base_url=proxy_base(fields.base_url),
                headers=fields.headers,
                proxy_url=fields.proxy_url,
                timeout=timeout,
                app_version=version,
                source=source,
            )
            credential = fields.credential(
                id=credential_id("roo", settings.base_url, token),
                provider=self.name,
                label=f"roo {mask_secret(token)}",
                any_model=bool(fields.prefix) and not fields.models,
                settings=settings,
                source=entry.location(),
            )
            host.tokens.track(credential, tokens_for(token, **extra), self._auth)
            credentials.append(credential)
        return credentials

    # -- requests ----------------------------------------------------------------------

    def build_body(self, call: Call) -> dict[str, Any]:
        body = super().build_body(call)
        if call.client.wire != WIRE:
            shape_translated(body, call.request)
        return body

    async def send(self, call: Call) -> UpstreamResponse:
        credential, host = call.credential, call.host
        settings: RooSettings = credential.settings
        token = await host.tokens.access_token(credential)  # an expired one is not sent: "sign in again"
        try:
            return await call.post(
                self.chat_url(credential),
                wire=WIRE,
                json=self.build_body(call),
                headers=roo_headers(settings, token, task_id(call.client)),
                proxy=settings.proxy_url,
                timeout=settings.timeout,
            )
        except GatewayError as error:
            raise _advice(error, host.tokens.tokens(credential)) from None

    # -- models and the token's state --------------------------------------------------

    def parse_models(self, data: Any) -> list[str] | None:
        """Roo's model list: language models that are not deprecated."""
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            return None
        return [
            str(item["id"])
            for item in items
            if isinstance(item, Mapping)
            and item.get("id")
            and item.get("type", "language") == "language"
            and not item.get("deprecated")
        ]

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        """``GET {base}/models`` (Bearer; 10 s, as Roo Code waits)."""
        settings: RooSettings = credential.settings
        try:
            token: str | None = await host.tokens.access_token(credential)
        except GatewayError:
            token = None  # the list is public; a spent token does not hide it
        session, proxy = host.http_for(credential, settings.proxy_url)
        timeout = aiohttp.ClientTimeout(total=MODELS_TIMEOUT)
        async with asyncio.timeout(MODELS_TIMEOUT):
            headers = roo_headers(settings, token)
            async with session.get(
                self.models_url(credential), headers=headers, proxy=proxy, timeout=timeout
            ) as response:
                if response.status >= 400:
                    body = await response.content.read(65536)
                    error = host.translator(WIRE).decode_error(response.status, response.headers, body)
                    raise RuntimeError(f"GET /models answered {response.status}: {host.redact(error.message)}")
                data = await response.json(content_type=None)
        return self.parse_models(data)

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        """No quota endpoint is known; the status shows the token's state instead (see
        the README): a warning from a day before it expires, and "sign in again" once it
        has (the credential then rests)."""
        tokens = host.tokens
        try:
            await tokens.access_token(credential)  # past exp: re-read the Roo CLI's file, or rest the credential
        except GatewayError as error:
            return Quota(note=error.message)
        expires = tokens.tokens(credential).expires_at
        if expires is None:
            return Quota(note="the token names no expiry")
        left = expires - host.clock()
        when = format_expiry(expires)
        if left <= EXPIRY_WARNING:
            hours = max(0, int(left // 3600))
            again = sign_in_again(tokens.tokens(credential))
            return Quota(note=f"the Roo Code Cloud token expires at {when} (in {hours} h): {again} before then")
        return Quota(note=f"the Roo Code Cloud token is valid until {when}")
