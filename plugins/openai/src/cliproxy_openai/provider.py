"""Providers speaking the ``openai-chat`` wire (or, per entry, ``openai-responses``):
generic compatible servers and presets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from cliproxy import (
    USER_AGENT,
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    EmbeddingInput,
    Embeddings,
    GatewayError,
    Host,
    Provider,
    UpstreamResponse,
    credential_id,
    in_batches,
    mask_secret,
    openai_embeddings,
    read_common_fields,
)

__all__ = ["PRESETS", "OpenAIChatProvider", "OpenAICompatibility", "OpenAIPreset", "OpenAISettings"]

WIRE = "openai-chat"
RESPONSES_WIRE = "openai-responses"
_WIRES = {"chat": WIRE, "responses": RESPONSES_WIRE}
DEFAULT_EMBEDDING_BATCH = 2048  # OpenAI's own limit of inputs per /embeddings request


def read_wire(entry: ConfigNode) -> str:
    """The entry's ``wire``: ``chat`` (``/chat/completions``, the default) or ``responses``
    (``/responses``, for servers that serve the OpenAI Responses API)."""
    return _WIRES[entry.str("wire", "chat", choices=tuple(_WIRES))]


@attrs.frozen
class OpenAISettings:
    """What a credential needs to call an OpenAI-compatible API.

    Attributes:
        base_url: The API root (``https://host/v1``); endpoints are appended to it.
        api_key: Sent as ``Authorization: Bearer``; None for keyless servers.
        headers: Extra request headers.
        proxy_url: Proxy for this credential (None: the gateway's ``proxy-url``).
        completion_tokens_field: Where translated requests put the output-token limit.
        wire: ``openai-chat`` or ``openai-responses``: which API ``send`` calls.
        timeout: Seconds to wait for each upstream read -- the first token included --
            before giving up with a 504 (None: the gateway's ``upstream-timeouts.read``).
        embedding_models: Models that embed although their names lack ``embed``.
        embedding_batch_size: The most inputs one upstream ``/embeddings`` call carries;
            longer requests are split.
    """

    base_url: str
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None
    completion_tokens_field: str = "max_tokens"
    wire: str = WIRE
    timeout: float | None = None
    embedding_models: tuple[str, ...] = ()
    embedding_batch_size: int = DEFAULT_EMBEDDING_BATCH


def read_embedding_fields(entry: ConfigNode) -> dict[str, Any]:
    """The entry's ``embedding-models`` (models that embed though their names do not say
    ``embed``) and ``embedding-batch-size`` (inputs per upstream ``/embeddings`` call)."""
    return {
        "embedding_models": tuple(entry.str_list("embedding-models")),
        "embedding_batch_size": entry.int("embedding-batch-size", DEFAULT_EMBEDDING_BATCH, minimum=1),
    }


class OpenAIChatProvider(Provider):
    """Base for providers whose upstream speaks OpenAI Chat Completions.

    Public extension point for other plugins (``cliproxy-openrouter``, ``cliproxy-mlx``):
    subclass it, give credentials :class:`OpenAISettings` (or a subclass), implement
    ``load_config``, and override what differs:

    * :meth:`headers` -- request headers for a credential (auth, attribution...);
    * :meth:`build_body` -- the JSON body for a call (the default asks for streamed usage
      and renames ``max_tokens`` where the upstream wants another field);
    * :meth:`chat_url` / :meth:`models_url` -- endpoints under the base URL;
    * :meth:`parse_models` -- model ids from the ``/models`` answer.

    ``send`` posts the body and returns the upstream's answer in the ``openai-chat`` wire
    -- or, for credentials whose settings say ``wire="openai-responses"``, posts
    :meth:`build_responses_body` to :meth:`responses_url` -- waiting
    ``OpenAISettings.timeout`` seconds per upstream read when set; ``discover_models`` lists
    ``/models`` when an entry names no models.
    """

    wire = WIRE

    def headers(self, credential: Credential) -> dict[str, str]:
        settings: OpenAISettings = credential.settings
        headers = {"user-agent": USER_AGENT}
        if settings.api_key:
            headers["authorization"] = f"Bearer {settings.api_key}"
        headers.update(settings.headers)
        return headers

    def build_body(self, call: Call) -> dict[str, Any]:
        settings: OpenAISettings = call.credential.settings
        body = call.body_for(WIRE)
        if call.stream:
            options = body.get("stream_options") or {}
            if not isinstance(options, dict):
                raise GatewayError.invalid(
                    "'stream_options' must be an object, such as {\"include_usage\": true}", param="stream_options"
                ).as_local()
            body["stream_options"] = {**options, "include_usage": True}
        if call.client.wire != WIRE and settings.completion_tokens_field != "max_tokens" and "max_tokens" in body:
            body[settings.completion_tokens_field] = body.pop("max_tokens")
        return body

    def build_responses_body(self, call: Call) -> dict[str, Any]:
        """The body for ``/responses`` (usage always comes in ``response.completed``)."""
        return call.body_for(RESPONSES_WIRE)

    def chat_url(self, credential: Credential) -> str:
        return credential.settings.base_url + "/chat/completions"

    def responses_url(self, credential: Credential) -> str:
        return credential.settings.base_url + "/responses"

    def models_url(self, credential: Credential) -> str:
        return credential.settings.base_url + "/models"

    def embeddings_url(self, credential: Credential) -> str:
        return credential.settings.base_url + "/embeddings"

    def embeds(self, credential: Credential, model: str) -> bool | None:
        """Models named ``*embed*`` (``text-embedding-3-small``, ``nomic-embed-text``), and
        those the entry lists in ``embedding-models``."""
        return "embed" in model.lower() or model in getattr(credential.settings, "embedding_models", ())

    async def embed(self, call: Call) -> Embeddings:
        """``POST /embeddings``, ``embedding-batch-size`` inputs at a time."""
        settings: OpenAISettings = call.credential.settings
        request = call.embedding

        async def batch(inputs: Sequence[EmbeddingInput]) -> Embeddings:
            answer = await call.post(
                self.embeddings_url(call.credential),
                wire=WIRE,
                json=openai_embeddings.upstream_body(request, inputs, call.model),
                headers=self.headers(call.credential),
                stream=False,
                proxy=settings.proxy_url,
                timeout=getattr(settings, "timeout", None),
            )
            try:
                return openai_embeddings.decode_response(answer.body or b"")
            finally:
                await answer.aclose()

        limit = getattr(settings, "embedding_batch_size", DEFAULT_EMBEDDING_BATCH)
        return await in_batches(request.inputs, limit, batch)

    async def send(self, call: Call) -> UpstreamResponse | DirectResponse:
        return await self.send_upstream(call)

    async def send_upstream(self, call: Call) -> UpstreamResponse:
        """POST the call to the upstream's chat or Responses endpoint (what :meth:`send`
        does; a subclass that answers in its own way builds on this)."""
        settings: OpenAISettings = call.credential.settings
        wire = getattr(settings, "wire", WIRE)
        if wire == RESPONSES_WIRE:
            url, body = self.responses_url(call.credential), self.build_responses_body(call)
        else:
            url, body = self.chat_url(call.credential), self.build_body(call)
        return await call.post(
            url,
            wire=wire,
            json=body,
            headers=self.headers(call.credential),
            proxy=settings.proxy_url,
            timeout=getattr(settings, "timeout", None),
        )

    def parse_models(self, data: Any) -> list[str] | None:
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return None
        return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        session, proxy = host.http_for(credential, credential.settings.proxy_url)
        async with session.get(self.models_url(credential), headers=self.headers(credential), proxy=proxy) as response:
            if response.status >= 400:
                body = await response.read()
                error: GatewayError = host.translator(WIRE).decode_error(response.status, response.headers, body)
                raise RuntimeError(f"GET /models answered {response.status}: {error.message}")
            data = await response.json(content_type=None)
        return self.parse_models(data)


class OpenAICompatibility(OpenAIChatProvider):
    """``openai-compatibility:`` -- any OpenAI-compatible server, one entry per server."""

    name = "openai-compatibility"
    config_keys = ("openai-compatibility",)

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            name = entry.str("name", required=True)
            fields = read_common_fields(entry, api_key=None, base_url="")
            if not fields.base_url:
                raise entry.error(None, f"'{entry.path}.base-url' is required", hint="add 'base-url: https://host/v1'")
            disabled = entry.bool("disabled", False)
            wire = read_wire(entry)
            embedding = read_embedding_fields(entry)
            keys = entry.nodes("api-key-entries")
            entry.done()
            if disabled:
                continue
            key_entries: list[tuple[str | None, str | None, int, str]] = []
            for key_entry in keys:
                api_key = key_entry.str("api-key") or None
                proxy = key_entry.str("proxy-url") or fields.proxy_url
                weight = key_entry.int("weight", fields.weight, minimum=1)
                key_entry.done()
                key_entries.append((api_key, proxy, weight, key_entry.location()))
            if not key_entries:
                key_entries.append((None, fields.proxy_url, fields.weight, entry.location()))
            for api_key, proxy, weight, where in key_entries:
                settings = OpenAISettings(
                    base_url=fields.base_url,
                    api_key=api_key,
                    headers=fields.headers,
                    proxy_url=proxy,
                    wire=wire,
                    **embedding,
                )
                credentials.append(
                    fields.credential(
                        id=credential_id(f"openai-compatibility/{name}", fields.base_url, api_key),
                        provider=self.name,
                        label=f"{name} {mask_secret(api_key)}",
                        any_model=not fields.models,
                        settings=settings,
                        source=where,
                        weight=weight,
                        proxy_url=proxy,
                    )
                )
        return credentials


class OpenAIPreset(OpenAIChatProvider):
    """A provider with a known base URL: one credential per entry (``api-key`` required)."""

    def __init__(self, key: str, base_url: str, *, completion_tokens_field: str = "max_tokens") -> None:
        self.name = key
        self.config_keys = (key,)
        self.default_base_url = base_url
        self.completion_tokens_field = completion_tokens_field

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=True, base_url=self.default_base_url)
            wire = read_wire(entry)
            embedding = read_embedding_fields(entry)
            entry.done()
            settings = OpenAISettings(
                base_url=fields.base_url or self.default_base_url,
                api_key=fields.api_key,
                headers=fields.headers,
                proxy_url=fields.proxy_url,
                completion_tokens_field=self.completion_tokens_field,
                wire=wire,
                **embedding,
            )
            credentials.append(
                fields.credential(
                    id=credential_id(key, settings.base_url, fields.api_key),
                    provider=self.name,
                    label=f"{key} {mask_secret(fields.api_key)}",
                    any_model=not fields.models,
                    settings=settings,
                    source=entry.location(),
                )
            )
        return credentials


PRESETS = (
    OpenAIPreset("openai-api-key", "https://api.openai.com/v1", completion_tokens_field="max_completion_tokens"),
    OpenAIPreset("mistral", "https://api.mistral.ai/v1"),
    OpenAIPreset("groq", "https://api.groq.com/openai/v1"),
    OpenAIPreset("deepseek", "https://api.deepseek.com"),
    OpenAIPreset("together", "https://api.together.xyz/v1"),
    OpenAIPreset("fireworks", "https://api.fireworks.ai/inference/v1"),
    OpenAIPreset("novita", "https://api.novita.ai/v3/openai"),
    OpenAIPreset("siliconflow", "https://api.siliconflow.cn/v1"),
)
