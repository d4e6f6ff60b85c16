"""The ``minimax:`` provider: MiniMax's Anthropic-compatible API (the default) or its
OpenAI-compatible one, with API keys or Coding Plan sign-ins, on the international or the
China platform."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    Host,
    ModelEntry,
    Provider,
    Quota,
    QuotaWindow,
    UpstreamResponse,
    credential_id,
    ir,
    mask_secret,
    read_common_fields,
)
from cliproxy.oauth import parse_expiry

from cliproxy_minimax.catalogue import canonical, default_entries
from cliproxy_minimax.errors import BaseRespGuard, envelope_of, error_decoder, raise_for_envelope
from cliproxy_minimax.settings import ANTHROPIC, OPENAI, REGIONS, WIRES, MiniMaxSettings, api_root
from cliproxy_minimax.shaping import shape_anthropic, shape_openai
from cliproxy_minimax.think import ThinkSplitter

__all__ = ["MiniMaxProvider"]


USER_AGENT = "cliproxy-minimax/0.1"
ANTHROPIC_VERSION = "2023-06-01"
READ_TIMEOUT = 30.0
TEXT_MODELS = "MiniMax-M"
"""Coding Plan windows of these models meter chat (others: speech, video, images)."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class MiniMaxProvider(Provider):
    """``minimax:`` entries (one API key each) and ``cliproxy login minimax`` files."""

    name = "minimax"
    config_keys = ("minimax",)
    wire = ANTHROPIC

    def __init__(self) -> None:
        self._resets: dict[str, float] = {}  # credential id -> when its Coding Plan window resets

    # -- config ------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=True, base_url="")
            region = entry.str("region", "global", choices=tuple(REGIONS))
            wire = entry.str("wire", "anthropic", choices=tuple(WIRES))
            split = entry.bool("reasoning-split", True)
            count = entry.str("coding-plan-count", "remaining", choices=("remaining", "used"))
            timeout = entry.float("timeout", None, minimum=1)
            entry.done()
            root = api_root(fields.base_url or REGIONS[region])
            settings = MiniMaxSettings(
                root=root,
                region=region,
                api_key=fields.api_key,
                wire=WIRES[wire],
                reasoning_split=split,
                remaining_count=count == "remaining",
                headers=fields.headers,
                proxy_url=fields.proxy_url,
                timeout=timeout,
            )
            credentials.append(
                fields.credential(
                    id=credential_id("minimax", root, fields.api_key),
                    provider=self.name,
                    label=f"minimax {region} {mask_secret(fields.api_key)}",
                    any_model=bool(fields.prefix) and not fields.models,
                    settings=settings,
                    source=entry.location(),
                )
            )
        return credentials

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return default_entries()

    # -- requests ----------------------------------------------------------------------

    async def token(self, credential: Credential, host: Host) -> str | None:
        if credential in host.tokens:
            return await host.tokens.access_token(credential)
        return credential.settings.api_key

    def _reset_in(self, credential: Credential, host: Host) -> Callable[[], float | None]:
        def seconds() -> float | None:
            reset = self._resets.get(credential.id)
            left = None if reset is None else reset - host.clock()
            return left if left is not None and left > 0 else None

        return seconds

    def _headers(self, settings: MiniMaxSettings, token: str | None) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if settings.wire == ANTHROPIC:
            headers["anthropic-version"] = ANTHROPIC_VERSION
        headers.update(settings.headers)
        return headers

    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        credential, host = call.credential, call.host
        settings: MiniMaxSettings = credential.settings
        model = canonical(call.model)
        if model != call.model:
            call = attrs.evolve(call, model=model)
        token = await self.token(credential, host)
        wire = settings.wire
        translated = call.client.wire != wire
        if wire == ANTHROPIC:
            url, body = settings.messages_url, shape_anthropic(call.body_for(ANTHROPIC))
        else:
            request = call.request if translated else None
            body = call.body_for(OPENAI)
            url, body = (
                settings.chat_url,
                shape_openai(body, request, stream=call.stream, reasoning_split=settings.reasoning_split),
            )
        reset_in = self._reset_in(credential, host)
        result = await call.post(
            url,
            wire=wire,
            json=body,
            headers=self._headers(settings, token),
            proxy=settings.proxy_url,
            timeout=settings.timeout,
            decode_error=error_decoder(host.translator(wire).decode_error, reset_in),
        )
        split_thinking = wire == OPENAI and translated
        if result.chunks is not None:
            result.chunks = BaseRespGuard(reset_in).watch(result.chunks)
            if split_thinking:
                result.decoder = ThinkSplitter(host.translator(OPENAI).stream_decoder())
            return result
        body_bytes = result.body or b""
        try:
            raise_for_envelope(body_bytes, reset_in)
            if not split_thinking:
                return result
            response = ir.split_think_response(host.translator(OPENAI).decode_response(body_bytes), trim=False)
        except BaseException:
            await result.aclose()
            raise
        await result.aclose()
        return DirectResponse(response=response)

    # -- quota -------------------------------------------------------------------------

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        """The Coding Plan's remaining requests per 5-hour window
        (``GET /v1/api/openplatform/coding_plan/remains``), one window per text model; a
        credential without a plan gets a note instead."""
        settings: MiniMaxSettings = credential.settings
        token = await self.token(credential, host)
        session, proxy = host.http_for(credential, settings.proxy_url)
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data: Any = None
        for url in settings.quota_urls:
            timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT)
            async with session.get(url, headers=headers, proxy=proxy, timeout=timeout) as response:
                if response.status == 404:
                    continue
                if response.status >= 400:
                    raise RuntimeError(f"GET {url[len(settings.root) :]} answered {response.status}")
                data = await response.json(content_type=None)
                break
        if not isinstance(data, Mapping):
            return None
        refused = envelope_of(data)
        if refused is not None:
            code, message = refused
            return Quota(note=f"MiniMax reports no Coding Plan quota for this credential: {message} ({code})")
        return self._read_remains(credential, settings, data)

    def _read_remains(self, credential: Credential, settings: MiniMaxSettings, data: Mapping[str, Any]) -> Quota:
        windows: list[QuotaWindow] = []
        ends: list[float] = []
        items = data.get("model_remains")
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, Mapping):
                continue
            model = item.get("model_name") if isinstance(item.get("model_name"), str) else ""
            if model and not model.startswith(TEXT_MODELS):
                continue
            total, count = (
                _number(item.get("current_interval_total_count")),
                _number(item.get("current_interval_usage_count")),
            )
            if total is None or count is None:
                continue
            remaining = count if settings.remaining_count else max(0.0, total - count)
            resets = parse_expiry(item.get("end_time"))
            if resets is not None:
                ends.append(resets)
            windows.append(
                QuotaWindow(
                    name=f"{model} 5h" if model else "5h",
                    used=total - remaining,
                    limit=total,
                    remaining=remaining,
                    resets_at=resets,
                    unit="requests",
                )
            )
        if ends:
            self._resets[credential.id] = min(ends)
        return Quota(windows=windows, plan="coding plan")
