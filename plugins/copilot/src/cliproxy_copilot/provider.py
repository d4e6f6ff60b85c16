"""The Copilot provider: ``copilot`` entries and ``cliproxy login copilot`` accounts, each
Copilot model served at the endpoint it is offered at (see :mod:`cliproxy_copilot.models`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Sequence

import orjson
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    Quota,
    UpstreamResponse,
    credential_id,
    mask_secret,
    read_common_fields,
)

from cliproxy_copilot.auth import CopilotAuth, api_url_of, initial_tokens
from cliproxy_copilot.config import OAUTH_BLOCK, read_oauth_settings, read_url
from cliproxy_copilot.github import fetch_usage
from cliproxy_copilot.models import (
    DEFAULT_MODELS,
    Endpoint,
    ModelInfo,
    endpoint_order,
    is_claude,
    parse_models,
    premium_models,
)
from cliproxy_copilot.settings import DEFAULT_GITHUB_API_URL, PROVIDER, CopilotSettings, read_client
from cliproxy_copilot.shaping import is_agent_turn, merge_choices, shape_body, uses_max_completion_tokens, wants_vision
from cliproxy_copilot.stream import OneChoice, StableIds, rewrite_events
from cliproxy_copilot.usage import quota_from

__all__ = ["CopilotProvider"]

log = logging.getLogger("cliproxy.plugin.copilot")

MODELS_REFRESH = 30 * 60.0
"""Seconds between re-reads of every credential's model list."""
CATALOG_RETRY = 60.0
"""After a model list could not be read, requests go on without it this long."""
QUOTA_WAIT = 3600.0
"""How long a model rests after Copilot said the quota is spent, when its reset is unknown."""
MAX_LEARNED = 4096
_UNSUPPORTED_API = "unsupported_api_for_model"


def _unsupported_api(error: GatewayError) -> bool:
    """Copilot says the model is not served at this endpoint (in OpenAI's error shape, which
    the Anthropic translator reads without the code)."""
    return error.code == _UNSUPPORTED_API or (error.status == 400 and "is not accessible via the /" in error.message)


def _max_tokens_refused(error: GatewayError) -> bool:
    return error.status == 400 and "max_completion_tokens" in error.message and "max_tokens" in error.message


class _Catalog:
    """One credential's model list and when it was read."""

    __slots__ = ("models", "read_at")

    def __init__(self, models: dict[str, ModelInfo], read_at: float) -> None:
        self.models = models
        self.read_at = read_at


class CopilotProvider(Provider):
    """GitHub Copilot: one credential per GitHub account (``copilot`` entries with a
    ``github-token``, or token files from ``cliproxy login copilot``)."""

    name = PROVIDER
    config_keys = ("copilot", OAUTH_BLOCK)
    wire = "openai-chat"

    def __init__(self, auth: CopilotAuth | None = None) -> None:
        self.auth = auth or CopilotAuth()
        self.models_refresh = MODELS_REFRESH
        self._catalogs: dict[str, _Catalog] = {}
        self._failed: dict[str, float] = {}  # credential id -> when its model list could not be read
        self._reading: dict[str, asyncio.Lock] = {}
        self._learned: dict[tuple[str, str], Endpoint] = {}  # (credential, model) -> the endpoint that served it
        self._max_completion: set[tuple[str, str]] = set()
        self._resets: dict[str, float] = {}  # credential id -> its quota's next reset
        self._task: asyncio.Task[None] | None = None

    # -- config --------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        if key == OAUTH_BLOCK:
            read_oauth_settings(node, check=True)  # its accounts come from token files
            return []
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=None, base_url=None)
            github_token = entry.str("github-token", required=True)
            github_api_url = read_url(entry, "github-api-url", DEFAULT_GITHUB_API_URL)
            client = read_client(entry)
            entry.done()
            settings = CopilotSettings(
                github_api_url=github_api_url, client=client, headers=fields.headers, proxy_url=fields.proxy_url
            )
            credential = fields.credential(
                id=credential_id("copilot", github_token),
                provider=self.name,
                label=mask_secret(github_token),
                settings=settings,
                source=entry.location(),
            )
            host.tokens.track(
                credential, initial_tokens(github_token, github_api_url=github_api_url, client=client), self.auth
            )
            credentials.append(credential)
        return credentials

    # -- background work -----------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self._task = asyncio.ensure_future(self._refresh_forever(host))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _refresh_forever(self, host: Host) -> None:
        while True:
            await asyncio.sleep(self.models_refresh)
            await self.refresh_models(host)

    async def refresh_models(self, host: Host) -> None:
        """Re-read every credential's model list; clients see new and removed models at once."""
        live = host.credentials(self.name)
        changed = False
        for credential in live:
            try:
                catalog = await self._read_catalog(credential, host)
            except Exception as exc:
                log.warning("could not list copilot models for %s: %s", credential.label, host.redact(str(exc)))
                continue
            entries = tuple(ModelEntry(model) for model in catalog.models)
            if not credential.models and entries != credential.discovered:
                credential.discovered = entries
                changed = True
        ids = {c.id for c in live}
        for table in (self._catalogs, self._failed, self._resets, self._reading):
            for gone in [key for key in table if key not in ids]:
                del table[gone]
        if changed:
            host.models_changed()

    # -- models --------------------------------------------------------------------------

    def _headers(self, credential: Credential, token: str) -> dict[str, str]:
        settings: CopilotSettings = credential.settings
        client = settings.client
        headers = {
            "authorization": f"Bearer {token}",
            "copilot-integration-id": client.integration_id,
            "editor-version": client.editor_version,
            "editor-plugin-version": client.plugin_version,
            "user-agent": client.user_agent,
            "openai-intent": "conversation-panel",
            "x-github-api-version": client.api_version,
            "x-request-id": str(uuid.uuid4()),
        }
        headers.update({name.lower(): value for name, value in settings.headers.items()})
        return headers

    async def _read_catalog(self, credential: Credential, host: Host) -> _Catalog:
        settings: CopilotSettings = credential.settings
        token = await host.tokens.access_token(credential)
        url = api_url_of(host.tokens.tokens(credential)) + "/models"
        session, proxy = host.http_for(credential, settings.proxy_url)
        async with session.get(url, headers=self._headers(credential, token), proxy=proxy) as response:
            status = response.status
            body = await response.read()
        if status >= 400:
            raise GatewayError.from_status(status, f"GET /models answered {status}", provider=self.name)
        try:
            models = parse_models(orjson.loads(body))
        except orjson.JSONDecodeError:
            raise GatewayError(
                status=502, kind=ErrorKind.UPSTREAM, message="GET /models answered something other than JSON"
            ) from None
        catalog = _Catalog(models, host.clock())
        self._catalogs[credential.id] = catalog
        self._failed.pop(credential.id, None)
        return catalog

    async def _catalog(self, credential: Credential, host: Host) -> _Catalog | None:
        """The credential's model list: as read last, else read now (once, whoever asks);
        None while it cannot be read."""
        catalog = self._catalogs.get(credential.id)
        if catalog is not None:
            return catalog
        failed = self._failed.get(credential.id)
        if failed is not None and host.clock() - failed < CATALOG_RETRY:
            return None
        lock = self._reading.setdefault(credential.id, asyncio.Lock())
        async with lock:
            catalog = self._catalogs.get(credential.id)
            if catalog is not None:
                return catalog
            try:
                return await self._read_catalog(credential, host)
            except GatewayError as error:
                if error.code == "token_refresh_failed":
                    raise  # the credential is unusable: the caller should hear why
                self._failed[credential.id] = host.clock()
            except Exception as exc:
                log.warning("could not list copilot models for %s: %s", credential.label, host.redact(str(exc)))
                self._failed[credential.id] = host.clock()
        return None

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return tuple(ModelEntry(model) for model in DEFAULT_MODELS)

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        catalog = await self._read_catalog(credential, host)
        return list(catalog.models) or None

    # -- requests ------------------------------------------------------------------------

    def _learn_endpoint(self, key: tuple[str, str], endpoint: Endpoint) -> None:
        if len(self._learned) >= MAX_LEARNED:
            self._learned.clear()
        self._learned[key] = endpoint

    def _learn_max_completion(self, key: tuple[str, str]) -> None:
        if len(self._max_completion) >= MAX_LEARNED:
            self._max_completion.clear()
        self._max_completion.add(key)

    async def send(self, call: Call) -> UpstreamResponse:
        credential, host = call.credential, call.host
        token = await host.tokens.access_token(credential)
        catalog = await self._catalog(credential, host)
        info = catalog.models.get(call.model) if catalog is not None else None
        key = (credential.id, call.model)
        order = list(endpoint_order(call.model, info, call.client.wire))
        learned = self._learned.get(key)
        if learned is not None:
            order = [learned, *(e for e in order if e is not learned)]
        max_completion = uses_max_completion_tokens(call.model) or key in self._max_completion
        claude = info.is_claude if info is not None else is_claude(call.model)
        tried = 0
        renewed = False
        while True:
            endpoint = order[min(tried, len(order) - 1)]
            try:
                response = await self._post(call, token, endpoint, claude=claude, max_completion=max_completion)
            except GatewayError as error:
                if error.status == 401 and not renewed:
                    # Copilot no longer takes the token: use the one another request got
                    # meanwhile, else exchange again (once, whoever else asks).
                    renewed = True
                    current = host.tokens.tokens(credential).access_token
                    if current == token:
                        current = (await host.tokens.refresh(credential, force=True)).access_token
                    token = current
                    continue
                if _unsupported_api(error) and tried + 1 < len(order):
                    tried += 1
                    continue
                if endpoint is Endpoint.CHAT and not max_completion and _max_tokens_refused(error):
                    max_completion = True
                    self._learn_max_completion(key)
                    continue
                raise self._mapped(error, credential, host) from None
            if endpoint is not order[0]:
                self._learn_endpoint(key, endpoint)
            return response

    async def _post(
        self, call: Call, token: str, endpoint: Endpoint, *, claude: bool, max_completion: bool
    ) -> UpstreamResponse:
        wire = endpoint.wire
        body = call.body_for(wire)
        shape_body(body, endpoint, call.model, claude=claude, max_completion=max_completion)
        headers = self._headers(call.credential, token)
        headers["x-initiator"] = "agent" if is_agent_turn(body, endpoint) else "user"
        if wants_vision(body, endpoint):
            headers["copilot-vision-request"] = "true"
        if endpoint is Endpoint.MESSAGES:
            client = call.credential.settings.client
            headers["openai-intent"] = "messages-proxy"
            headers["x-interaction-type"] = "messages-proxy"
            headers["x-github-api-version"] = client.messages_api_version
            headers["anthropic-version"] = "2023-06-01"
            beta = call.client.headers.get("anthropic-beta") if call.client.wire == wire else None
            if beta:
                headers["anthropic-beta"] = beta
        settings: CopilotSettings = call.credential.settings
        url = api_url_of(call.host.tokens.tokens(call.credential)) + endpoint.value
        response = await call.post(url, wire=wire, json=body, headers=headers, proxy=settings.proxy_url)
        return self._mended(response, endpoint, call, claude=claude)

    def _mended(self, response: UpstreamResponse, endpoint: Endpoint, call: Call, *, claude: bool) -> UpstreamResponse:
        if response.chunks is not None:
            if endpoint is Endpoint.RESPONSES:
                response.chunks = rewrite_events(response.chunks, StableIds())
            elif endpoint is Endpoint.CHAT and claude:
                response.chunks = rewrite_events(response.chunks, OneChoice())
        elif endpoint is Endpoint.CHAT and response.body is not None:
            n = call.client.body.get("n") if call.client.wire == "openai-chat" else None
            if n in (None, 1):
                merged = merge_choices(response.body)
                if merged is not None:
                    response.body = merged
        return response

    def _mapped(self, error: GatewayError, credential: Credential, host: Host) -> GatewayError:
        """Copilot's answers the cooldown table would misread: a spent quota (402
        ``quota_exceeded``) rests the model until the quota's reset, not the account."""
        if error.code == "quota_exceeded" or (error.status == 402 and "quota" in error.message.lower()):
            now = host.clock()
            reset = self._resets.get(credential.id)
            wait = reset - now if reset is not None and reset > now else QUOTA_WAIT
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now + wait))
            return GatewayError(
                status=429,
                kind=ErrorKind.RATE_LIMITED,
                message=f"Copilot says this account's quota for the model is spent ({error.message}); "
                f"it rests until {when}, when the quota resets"
                if reset is not None and reset > now
                else f"Copilot says this account's quota for the model is spent ({error.message}); "
                f"it rests for {int(wait // 60)} minutes",
                provider=self.name,
                code="quota_exceeded",
                retry_after=wait,
            )
        if error.status == 400 and error.code is None and "model is not supported" in error.message:
            error.code = "model_not_supported"
        return error

    # -- quota -----------------------------------------------------------------------------

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        settings: CopilotSettings = credential.settings
        github_token = host.tokens.tokens(credential).refresh_token
        if not github_token:
            return None
        session, proxy = host.http_for(credential, settings.proxy_url)
        data = await fetch_usage(
            session,
            github_api_url=settings.github_api_url,
            github_token=github_token,
            client=settings.client,
            proxy=proxy,
        )
        try:
            catalog = await self._catalog(credential, host)
        except GatewayError:  # the Copilot token cannot be had: the usage is still worth showing
            catalog = None
        quota = quota_from(data, premium_models(catalog.models.values()) if catalog is not None else ())
        reset = quota.next_reset()
        if reset is not None:
            self._resets[credential.id] = reset
        return quota
