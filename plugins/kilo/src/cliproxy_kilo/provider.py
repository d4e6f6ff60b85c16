"""The ``kilo:`` provider: the Kilo AI gateway, built on ``cliproxy_openai.OpenAIChatProvider``.

Chat goes to ``{api}/api/gateway/chat/completions`` (OpenRouter-shaped); GPT-5 and
o-series models to ``{api}/api/openrouter/responses``, since the gateway refuses them on
chat. Every request carries the account's token, its organization
(``X-KiloCode-OrganizationId``) and the client session's task id (``X-KiloCode-TaskId``,
Kilo's prompt-cache key). The balance is read as the account's quota; at zero the
credential rests with "top up your Kilo balance".
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs
from cliproxy import (
    Call,
    ConfigNode,
    Cooldown,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    Quota,
    QuotaWindow,
    UpstreamResponse,
    credential_id,
    mask_secret,
    read_common_fields,
)
from cliproxy_openai import OpenAIChatProvider

from cliproxy_kilo.models import MAX_LEARNED, parse_models, responses_only
from cliproxy_kilo.session import task_id
from cliproxy_kilo.settings import (
    DEFAULT_ALIAS,
    EDITOR_NAME,
    KiloSettings,
    api_root,
    env_api_url,
    env_organization,
)
from cliproxy_kilo.shaping import shape_translated

__all__ = ["TOP_UP", "KiloProvider", "request_headers"]

log = logging.getLogger("cliproxy.kilo")

WIRE = "openai-chat"
RESPONSES_WIRE = "openai-responses"
USER_AGENT = "cliproxy-kilo/0.1"
TOP_UP = "top up your Kilo balance at https://app.kilo.ai"
BALANCE_REST = 1800.0
"""Seconds a credential at zero balance rests (the quota reader clears it once Kilo
reports a positive balance again, and renews it while it does not)."""
REFUSED_TOKEN = "Kilo refused the token: sign in again with `cliproxy login kilo`, or replace the entry's api-key"
READ_TIMEOUT = 30.0
_BALANCE_WORDS = ("insufficient balance", "insufficient funds", "balance is", "top up", "add credits")


def request_headers(settings: KiloSettings, token: str | None, task: str | None = None) -> dict[str, str]:
    """Kilo's request headers: the token, the organization, the editor and task ids."""
    headers = {"user-agent": USER_AGENT, "X-KILOCODE-EDITORNAME": settings.editor_name}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if settings.organization_id:
        headers["X-KiloCode-OrganizationId"] = settings.organization_id
    if task:
        headers["X-KiloCode-TaskId"] = task
    headers.update(settings.headers)
    return headers


def _wants_responses(error: GatewayError) -> bool:
    """The gateway's refusal of a Responses-only model on chat ("please use any of:
    responses")."""
    text = error.message.lower()
    return error.status == 400 and "please use" in text and "responses" in text


def _kilo_error(error: GatewayError) -> GatewayError:
    """A refusal for want of balance as a 402, a refused token as the 401 it is, each
    saying what to do; others as they are."""
    text = error.message.lower()
    if error.status == 402 or (error.status in (400, 403) and any(word in text for word in _BALANCE_WORDS)):
        return GatewayError(
            status=402,
            kind=ErrorKind.BILLING,
            message=f"{TOP_UP} ({error.message})",
            provider="kilo",
            code="insufficient_balance",
            upstream_type=error.upstream_type,
        )
    if error.status == 401:
        return attrs.evolve(error, message=f"{error.message} ({REFUSED_TOKEN})")
    return error


class KiloProvider(OpenAIChatProvider):
    """``kilo:`` entries (one token each) and ``cliproxy login kilo`` token files."""

    name = "kilo"
    config_keys = ("kilo",)

    def __init__(self) -> None:
        self._responses: dict[str, set[str]] = {}  # credential id -> Responses-only models Kilo named
        self._defaults: dict[str, str] = {}  # credential id -> the account's default model

    # -- config ------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=False, base_url=env_api_url())
            organization = entry.str("organization-id") or env_organization()
            editor = entry.str("editor-name", EDITOR_NAME)
            alias = entry.str("default-model-alias", DEFAULT_ALIAS) or None
            timeout = entry.float("timeout", None, minimum=1)
            entry.done()
            token = fields.api_key or os.environ.get("KILO_API_KEY") or None
            if token is None:
                raise entry.error(
                    "api-key",
                    f"'{entry.qualified('api-key')}' is missing and KILO_API_KEY is not set",
                    hint="give the Kilo API key (app.kilo.ai, profile) as 'api-key', set KILO_API_KEY, "
                    "or sign in with 'cliproxy login kilo' and drop this entry",
                )
            root = api_root(fields.base_url or env_api_url())
            settings = KiloSettings(
                base_url=root + "/api/gateway",
                api_key=token,
                headers=fields.headers,
                proxy_url=fields.proxy_url,
                timeout=timeout,
                api_root=root,
                organization_id=organization,
                editor_name=editor,
                default_alias=alias,
            )
            label = f"kilo {mask_secret(token)}" + (f" org {organization}" if organization else "")
            credentials.append(
                fields.credential(
                    id=credential_id("kilo", root, token, organization),
                    provider=self.name,
                    label=label,
                    any_model=bool(fields.prefix) and not fields.models,
                    settings=settings,
                    source=entry.location(),
                )
            )
        return credentials

    # -- tokens ------------------------------------------------------------------------

    async def token(self, credential: Credential, host: Host) -> str | None:
        """The credential's token: a signed-in file's (checked for expiry), else the
        configured one."""
        if credential in host.tokens:
            return await host.tokens.access_token(credential)
        return credential.settings.api_key

    # -- requests ----------------------------------------------------------------------

    def build_body(self, call: Call) -> dict[str, Any]:
        body = super().build_body(call)
        if call.client.wire != WIRE:
            shape_translated(body, call.request)
        return body

    def uses_responses(self, credential: Credential, model: str) -> bool:
        return responses_only(model) or model in self._responses.get(credential.id, ())

    def _learn(self, credential: Credential, model: str) -> None:
        known = self._responses.setdefault(credential.id, set())
        if len(known) < MAX_LEARNED:
            known.add(model)

    async def send(self, call: Call) -> UpstreamResponse:
        credential = call.credential
        settings: KiloSettings = credential.settings
        token = await self.token(credential, call.host)
        headers = request_headers(settings, token, task_id(call.client))
        if settings.default_alias and call.model == settings.default_alias:
            call = attrs.evolve(call, model=await self.default_model(credential, call.host, token))
        if self.uses_responses(credential, call.model):
            return await self._responses_call(call, headers)
        try:
            return await call.post(
                settings.chat_url,
                wire=WIRE,
                json=self.build_body(call),
                headers=headers,
                proxy=settings.proxy_url,
                timeout=settings.timeout,
            )
        except GatewayError as error:
            if not _wants_responses(error):
                raise _kilo_error(error) from None
        self._learn(credential, call.model)
        log.info("kilo: %s answers on the Responses API only; sending it there from now on", call.model)
        return await self._responses_call(call, headers)

    async def _responses_call(self, call: Call, headers: Mapping[str, str]) -> UpstreamResponse:
        settings: KiloSettings = call.credential.settings
        try:
            return await call.post(
                settings.responses_url,
                wire=RESPONSES_WIRE,
                json=self.build_responses_body(call),
                headers=headers,
                proxy=settings.proxy_url,
                timeout=settings.timeout,
            )
        except GatewayError as error:
            raise _kilo_error(error) from None

    # -- reading the account -------------------------------------------------------------

    async def _get(self, credential: Credential, host: Host, url: str, token: str | None) -> Any:
        settings: KiloSettings = credential.settings
        session, proxy = host.http_for(credential, settings.proxy_url)
        timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT)
        headers = request_headers(settings, token)
        async with session.get(url, headers=headers, proxy=proxy, timeout=timeout) as response:
            if response.status >= 400:
                body = await response.content.read(65536)
                error = host.translator(WIRE).decode_error(response.status, response.headers, body)
                path = url[len(settings.api_root) :] if url.startswith(settings.api_root) else url
                raise RuntimeError(f"GET {path} answered {response.status}: {host.redact(error.message, token)}")
            return await response.json(content_type=None)

    async def default_model(self, credential: Credential, host: Host, token: str | None) -> str:
        """The account's (or organization's) default model, from Kilo's defaults endpoint
        (read once, then kept); ``kilo/auto`` when Kilo names none."""
        known = self._defaults.get(credential.id)
        if known is not None:
            return known
        try:
            data = await self._get(credential, host, credential.settings.defaults_url, token)
        except (RuntimeError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("kilo: could not read the default model of %s: %s", credential.label, exc)
            return "kilo/auto"
        model = data.get("defaultModel") if isinstance(data, Mapping) else None
        if not isinstance(model, str) or not model:
            return "kilo/auto"
        self._defaults[credential.id] = model
        return model

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        """The gateway's model list (the organization's, for an organization), and the
        default-model alias when the entry offers one."""
        settings: KiloSettings = credential.settings
        token = await self.token(credential, host)
        async with asyncio.timeout(READ_TIMEOUT):
            names, responses = parse_models(await self._get(credential, host, settings.models_url, token))
            self._responses[credential.id] = set(list(responses)[:MAX_LEARNED])
            if settings.default_alias:
                self._defaults.pop(credential.id, None)  # read afresh with the list
                await self.default_model(credential, host, token)
                names.append(settings.default_alias)
        return names

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        """The balance (``GET /api/profile/balance``, the organization's when set), in
        USD. At zero or below the credential rests with "top up your Kilo balance"; a
        positive balance ends such a rest."""
        settings: KiloSettings = credential.settings
        token = await self.token(credential, host)
        data = await self._get(credential, host, settings.balance_url, token)
        balance = data.get("balance") if isinstance(data, Mapping) else None
        plan = f"organization {settings.organization_id}" if settings.organization_id else "personal"
        if not isinstance(balance, int | float) or isinstance(balance, bool):
            return Quota(plan=plan, note="Kilo reported no balance")
        now = host.clock()
        if balance <= 0:
            reason = f"{TOP_UP} (the balance is {balance:.2f} USD)"
            await host.state.set_cooldown(
                credential.id, None, Cooldown(until=now + BALANCE_REST, reason=reason, status=402)
            )
        else:
            whole, _ = await host.state.get_cooldowns(credential.id, "*")
            if whole is not None and whole.status == 402 and whole.until > now:
                await host.state.clear_cooldown(credential.id, None)
        return Quota(windows=[QuotaWindow("balance", remaining=float(balance), unit="USD")], plan=plan)
