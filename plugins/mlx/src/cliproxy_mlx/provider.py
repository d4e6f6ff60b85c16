"""The ``mlx:`` provider: local OpenAI-compatible servers, on
``cliproxy_openai.OpenAIChatProvider``."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import orjson
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    GatewayError,
    Host,
    ModelEntry,
    UpstreamResponse,
    credential_id,
    estimate_request_tokens,
    mask_secret,
    read_common_fields,
)
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy_openai import OpenAIChatProvider, OpenAISettings

from cliproxy_mlx.errors import explain
from cliproxy_mlx.health import Health
from cliproxy_mlx.stream import LocalEvents, local_response

__all__ = ["DEFAULT_BASE_URL", "MLXProvider", "MLXSettings"]

log = logging.getLogger("cliproxy.mlx")

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_PREFIX = "mlx"
DISCOVERY_TIMEOUT = 10.0  # seconds for GET /models: a hung server must not stall discovery
_LOOPBACK = ("localhost", "::1", "0.0.0.0")
ASK_AGAIN_AFTER = 10.0  # at most one on-demand model-list refresh per credential this often


@attrs.frozen
class MLXSettings(OpenAISettings):
    """:class:`cliproxy_openai.OpenAISettings` plus what local servers need.

    Attributes:
        name: The entry's name, for logs and messages.
        think_tags: Turn a leading ``<think>...</think>`` in the text into reasoning.
        refresh_interval: Seconds between model-list refreshes while the server is up
            (0: at start-up, on recovery and on demand only).
        retry_interval: Seconds between checks while the server is down.
    """

    name: str = "mlx"
    think_tags: bool = True
    refresh_interval: float = 300.0
    retry_interval: float = 15.0

    @property
    def server(self) -> str:
        return f"{self.name} ({self.base_url})"


class MLXProvider(OpenAIChatProvider):
    """``mlx:`` -- one credential per local server."""

    name = "mlx"
    config_keys = ("mlx",)

    def __init__(self) -> None:
        self._health = Health()
        self._translator = OpenAIChat()
        self._asked: dict[str, float] = {}
        self._unlisted: set[str] = set()  # servers without a model list (warned once)
        self._host: Any = None

    # -- config ------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            name = entry.str("name") or "mlx"
            fields = read_common_fields(entry, api_key=False, base_url=DEFAULT_BASE_URL)
            prefix = fields.prefix if "prefix" in entry else DEFAULT_PREFIX
            settings = MLXSettings(
                base_url=fields.base_url or DEFAULT_BASE_URL,
                api_key=fields.api_key,
                headers=fields.headers,
                # a local server is reached directly, whatever the gateway's proxy-url says
                proxy_url=fields.proxy_url or "direct",
                timeout=entry.float("timeout", None, minimum=0.1),
                name=name,
                think_tags=entry.bool("think-tags", True),
                refresh_interval=entry.float("models-refresh-interval", 300.0, minimum=0),
                retry_interval=entry.float("retry-interval", 15.0, minimum=0.05),
            )
            entry.done()
            credentials.append(
                fields.credential(
                    id=_credential_id(name, settings.base_url, fields.api_key),
                    provider=self.name,
                    label=f"mlx server {name} at {settings.base_url}"
                    + (f" (key {mask_secret(fields.api_key)})" if fields.api_key else ""),
                    any_model=not fields.models,
                    settings=settings,
                    source=entry.location(),
                    prefix=prefix,
                    proxy_url=settings.proxy_url,
                )
            )
        return credentials

    # -- requests ----------------------------------------------------------------------

    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        cred = call.credential
        settings: MLXSettings = cred.settings
        self._ask_for(cred, call.model)

        def explained(error: GatewayError) -> GatewayError:
            return explain(
                error,
                model=call.client.model,
                server=settings.server,
                has_tools=_has_tools(call),
                timeout=settings.timeout,
            )

        try:
            result = await self.send_upstream(call)
        except GatewayError as error:
            if error.status in (502, 503, 504):
                self._check_soon(cred)
            raise explained(error) from None

        def input_tokens() -> int | None:
            try:
                return estimate_request_tokens(call.request)
            except GatewayError:
                return None

        if result.streamed:
            events = LocalEvents(
                result,
                self._translator.stream_decoder(),
                think_tags=settings.think_tags,
                input_tokens=input_tokens,
                explain=explained,
            )
            try:
                await events.read_head()
            except BaseException:
                await events.aclose()
                raise
            return DirectResponse(events=events)
        assert result.body is not None
        response = self._translator.decode_response(result.body)
        return DirectResponse(
            response=local_response(response, think_tags=settings.think_tags, input_tokens=input_tokens)
        )

    # -- models and health ---------------------------------------------------------------

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        """``GET /models``; a server that does not answer is marked down (see ``health``)."""
        try:
            session, proxy = host.http_for(credential, credential.settings.proxy_url)
            async with asyncio.timeout(DISCOVERY_TIMEOUT):
                async with session.get(
                    self.models_url(credential), headers=self.headers(credential), proxy=proxy
                ) as response:
                    status = response.status
                    body = await response.read()
        except Exception as exc:
            await self._down(
                credential,
                host,
                f"GET {self.models_url(credential)} failed ({type(exc).__name__})",
            )
            return None
        if status >= 500:
            await self._down(credential, host, f"GET {self.models_url(credential)} answered {status}")
            return None
        await self._health.mark_up(credential, host)
        if status >= 400:
            if credential.id in self._unlisted:
                return None
            self._unlisted.add(credential.id)
            log.warning(
                "%s does not list its models (GET /models answered %s); configured models and %s/<model> still work",
                credential.label,
                status,
                credential.prefix or "<prefix>",
            )
            return None
        try:
            return self.parse_models(orjson.loads(body))
        except orjson.JSONDecodeError:
            log.warning("%s answered GET /models with something that is not JSON", credential.label)
            return None

    async def refresh_models(self, credential: Credential, host: Host) -> bool:
        """Ask the server for its models now; rebuild the routes if the list changed."""
        found = await self.discover_models(credential, host)
        if found is None or credential.models:
            return False
        entries = tuple(ModelEntry(name) for name in found)
        if entries == credential.discovered:
            return False
        credential.discovered = entries
        host.models_changed()
        log.info("%s serves %d models: %s", credential.label, len(entries), ", ".join(found[:10]))
        return True

    async def _down(self, cred: Credential, host: Host, reason: str) -> None:
        await self._health.mark_down(
            cred,
            host,
            reason,
            cred.settings.retry_interval,
            lambda: self.refresh_models(cred, host),
        )

    def _check_soon(self, cred: Credential) -> None:
        """Ask the server for its models in the background, at most once per
        ``ASK_AGAIN_AFTER`` seconds (many failing requests make one check)."""
        if self._host is None:
            return
        now = self._host.clock()
        if now - self._asked.get(cred.id, -ASK_AGAIN_AFTER) < ASK_AGAIN_AFTER:
            return
        self._asked[cred.id] = now
        self._health.spawn(self.refresh_models(cred, self._host), f"cliproxy-mlx-check-{cred.id}")

    def _ask_for(self, cred: Credential, model: str) -> None:
        """A model the server did not list: maybe it was just loaded; look again soon."""
        if not cred.models and not any(e.name == model for e in cred.discovered):
            self._check_soon(cred)

    async def start(self, host: Host) -> None:
        self._host = host
        for cred in host.credentials(self.name):
            self._health.spawn(self._watch(cred, host), f"cliproxy-mlx-watch-{cred.id}")

    async def _watch(self, cred: Credential, host: Host) -> None:
        if cred.models:  # the gateway's start-up discovery skips these: check health now
            await self.refresh_models(cred, host)
        interval = cred.settings.refresh_interval
        while interval:
            await asyncio.sleep(interval)
            if cred.id not in self._health.down:
                await self.refresh_models(cred, host)

    async def stop(self) -> None:
        await self._health.close()


def _credential_id(name: str, base_url: str, api_key: str | None) -> str:
    """Stable across restarts; for a loopback URL also per machine, since instances on
    several machines sharing a state store each reach their *own* local server there,
    and one machine's server being down must not rest the others'."""
    host = urlsplit(base_url).hostname or ""
    machine = socket.gethostname() if host in _LOOPBACK or host.startswith("127.") else None
    return credential_id("mlx", name, base_url, api_key, machine)


def _has_tools(call: Call) -> bool:
    body = call.client.body
    if body.get("tools") or body.get("functions"):
        return True
    try:
        return bool(call.request.tools)
    except GatewayError:
        return False
