"""The ``openrouter:`` provider, built on ``cliproxy_openai.OpenAIChatProvider``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    UpstreamResponse,
    add_reasoning_details,
    credential_id,
    mask_secret,
    read_common_fields,
)
from cliproxy_openai import OpenAIChatProvider, OpenAISettings

from cliproxy_openrouter.shaping import (
    apply_provider_defaults,
    reasoning_object,
)

__all__ = ["DEFAULT_BASE_URL", "OpenRouterProvider", "OpenRouterSettings"]

log = logging.getLogger("cliproxy.openrouter")

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_REFRESH = 3600.0
DISCOVERY_TIMEOUT = 30.0
WIRE = "openai-chat"


@attrs.frozen
class OpenRouterSettings(OpenAISettings):
    """:class:`cliproxy_openai.OpenAISettings` plus OpenRouter's own.

    Attributes:
        provider_preferences: Default ``provider`` routing object sent with every request
            (keys the client sends win).
        refresh_interval: Seconds between re-reads of the model list (0: start-up only).
    """

    provider_preferences: Mapping[str, Any] = attrs.field(factory=dict)
    refresh_interval: float = DEFAULT_REFRESH


def _plain(value: Any) -> Any:
    """YAML mappings and lists as plain dicts and lists (sent as JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _moderation(error: GatewayError) -> bool:
    text = error.message.lower()
    return error.status == 403 and ("flagged" in text or "moderation" in text)


class OpenRouterProvider(OpenAIChatProvider):
    """``openrouter:`` -- one credential per entry (one API key each)."""

    name = "openrouter"
    config_keys = ("openrouter",)

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    # -- config ------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=True, base_url=DEFAULT_BASE_URL)
            referer = entry.str("http-referer") or None
            title = entry.str("x-title") or None
            preferences = entry.raw("provider")
            if preferences is not None and not isinstance(preferences, Mapping):
                raise entry.error(
                    "provider",
                    f"'{entry.qualified('provider')}' must be a mapping of OpenRouter provider-routing preferences",
                    hint="for example 'provider: {order: [anthropic], allow_fallbacks: false}'",
                )
            refresh = entry.float("models-refresh-interval", DEFAULT_REFRESH, minimum=0)
            entry.done()
            headers: dict[str, str] = {}
            if referer:
                headers["HTTP-Referer"] = referer
            if title:
                headers["X-Title"] = title
                headers["X-OpenRouter-Title"] = title
            headers.update(fields.headers)
            settings = OpenRouterSettings(
                base_url=fields.base_url or DEFAULT_BASE_URL,
                api_key=fields.api_key,
                headers=headers,
                proxy_url=fields.proxy_url,
                provider_preferences=_plain(preferences or {}),
                refresh_interval=refresh,
            )
            credentials.append(
                fields.credential(
                    id=credential_id("openrouter", settings.base_url, fields.api_key),
                    provider=self.name,
                    label=f"openrouter {mask_secret(fields.api_key)}",
                    any_model=not fields.models,
                    settings=settings,
                    source=entry.location(),
                    proxy_url=settings.proxy_url,
                )
            )
        return credentials

    # -- requests ----------------------------------------------------------------------

    def build_body(self, call: Call) -> dict[str, Any]:
        body = super().build_body(call)
        settings: OpenRouterSettings = call.credential.settings
        if call.client.wire != WIRE:
            request = call.request
            body.pop("reasoning_effort", None)
            reasoning = reasoning_object(request.reasoning) if request.reasoning is not None else None
            if reasoning:
                body["reasoning"] = reasoning
            add_reasoning_details(body, request)
        apply_provider_defaults(body, settings.provider_preferences)
        return body

    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        try:
            return await super().send(call)
        except GatewayError as error:
            if _moderation(error):
                # The input was flagged: the request is at fault, not the key, so it must
                # not rest the credential the way a 403 otherwise does.
                raise GatewayError(
                    status=400,
                    kind=ErrorKind.INVALID_REQUEST,
                    message=f"OpenRouter's moderation rejected the input: {error.message}",
                    provider=self.name,
                    code="content_flagged",
                ) from None
            raise

    # -- model list --------------------------------------------------------------------

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        """OpenRouter's ``GET /models``, given up after ``DISCOVERY_TIMEOUT`` seconds so a
        slow answer never holds up the discovery of other credentials."""
        async with asyncio.timeout(DISCOVERY_TIMEOUT):
            return await super().discover_models(credential, host)

    async def start(self, host: Host) -> None:
        for cred in host.credentials(self.name):
            if cred.models:
                continue
            interval = cred.settings.refresh_interval
            if interval > 0:
                self._tasks.append(asyncio.create_task(self._refresh_every(cred, host, interval)))

    async def _refresh_every(self, cred: Credential, host: Host, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh_models(cred, host)

    async def refresh_models(self, cred: Credential, host: Host) -> bool:
        """Re-read ``cred``'s model list now; rebuilds the routes when it changed.

        Returns whether the list changed. Failures are logged and keep the cached list.
        """
        try:
            found = await self.discover_models(cred, host)
        except Exception as exc:
            log.warning("could not refresh the OpenRouter model list for %s: %s", cred.label, exc)
            return False
        if found is None:
            return False
        entries = tuple(ModelEntry(name) for name in found)
        if entries == cred.discovered:
            return False
        cred.discovered = entries
        host.models_changed()
        log.info("OpenRouter model list for %s refreshed: %d models", cred.label, len(entries))
        return True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
