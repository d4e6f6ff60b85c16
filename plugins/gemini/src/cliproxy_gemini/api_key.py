"""``gemini-api-key``: the Gemini API (Google AI Studio keys), one credential per key.

Requests go to ``{base-url}/v1beta/models/{model}:generateContent`` or
``:streamGenerateContent?alt=sse`` with ``x-goog-api-key``; the ``gemini`` wire translator
of the core does every translation, and Gemini clients' bodies pass through untouched.
Token counts come from ``:countTokens``; an entry without ``models`` serves the static
catalogue until ``GET /v1beta/models`` says what the key can use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs
import orjson
from cliproxy import (
    USER_AGENT,
    Call,
    ConfigNode,
    Credential,
    EmbeddingInput,
    Embeddings,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    UpstreamResponse,
    credential_id,
    gemini_embeddings,
    in_batches,
    mask_secret,
    read_common_fields,
    text_only,
)

from cliproxy_gemini.catalogue import API_MODELS, can_reason

__all__ = [
    "DEFAULT_BASE_URL",
    "GeminiProvider",
    "GeminiSettings",
    "count_body",
    "total_tokens",
    "versioned",
]

WIRE = "gemini"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")
MAX_MODEL_PAGES = 20


def versioned(base_url: str) -> str:
    """The API root: ``base-url`` plus ``/v1beta`` unless it already names a version."""
    base = base_url.rstrip("/")
    return base if _VERSIONED.search(base) else base + "/v1beta"


@attrs.frozen
class GeminiSettings:
    """What a credential needs to call the Gemini API."""

    api_root: str
    api_key: str = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    proxy_url: str | None = None


def count_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A ``countTokens`` body for ``model``: ``contents`` alone, or the whole request as
    ``generateContentRequest`` (then system instruction and tools are counted too)."""
    inner = body.get("generateContentRequest")
    if isinstance(inner, Mapping):
        return {"generateContentRequest": {**inner, "model": f"models/{model}"}}
    if set(body) <= {"contents"}:
        return dict(body)
    return {"generateContentRequest": {"model": f"models/{model}", **body}}


class GeminiProvider(Provider):
    """The Gemini API with API keys."""

    name = "gemini"
    config_keys = ("gemini-api-key",)
    wire = WIRE

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=True, base_url=DEFAULT_BASE_URL)
            entry.done()
            settings = GeminiSettings(
                api_root=versioned(fields.base_url or DEFAULT_BASE_URL),
                api_key=fields.api_key or "",
                headers=fields.headers,
                proxy_url=fields.proxy_url,
            )
            credentials.append(
                fields.credential(
                    id=credential_id(key, settings.api_root, fields.api_key),
                    provider=self.name,
                    label=f"gemini {mask_secret(fields.api_key)}",
                    settings=settings,
                    source=entry.location(),
                )
            )
        return credentials

    def can_reason(self, credential: Credential, model: str) -> bool | None:
        return can_reason(model)

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return API_MODELS

    def headers(self, settings: GeminiSettings) -> dict[str, str]:
        headers = {"x-goog-api-key": settings.api_key, "user-agent": USER_AGENT}
        headers.update(settings.headers)
        return headers

    def url(self, settings: GeminiSettings, model: str, method: str) -> str:
        return f"{settings.api_root}/models/{quote(model, safe='/-._~')}:{method}"

    async def send(self, call: Call) -> UpstreamResponse:
        settings: GeminiSettings = call.credential.settings
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        return await call.post(
            self.url(settings, call.model, method),
            wire=WIRE,
            json=call.body_for(WIRE),
            headers=self.headers(settings),
            proxy=settings.proxy_url,
        )

    def embeds(self, credential: Credential, model: str) -> bool | None:
        """``gemini-embedding-001``, ``text-embedding-004``...: the names say ``embedding``."""
        return "embedding" in model

    async def embed(self, call: Call) -> Embeddings:
        """``batchEmbedContents``, 100 texts at a time (the API's limit)."""
        settings: GeminiSettings = call.credential.settings
        request = call.embedding
        texts = text_only(request, "the Gemini API")

        async def batch(inputs: Sequence[EmbeddingInput]) -> Embeddings:
            answer = await call.post(
                self.url(settings, call.model, "batchEmbedContents"),
                wire=WIRE,
                json=gemini_embeddings.upstream_body(request, [str(text) for text in inputs], call.model),
                headers=self.headers(settings),
                proxy=settings.proxy_url,
                stream=False,
            )
            try:
                return gemini_embeddings.decode_response(answer.body or b"")
            finally:
                await answer.aclose()

        return await in_batches(texts, gemini_embeddings.BATCH_LIMIT, batch)

    async def count_tokens(self, call: Call) -> int | None:
        settings: GeminiSettings = call.credential.settings
        if call.client.wire == WIRE:
            body = count_body(call.client.body, call.model)
        else:
            request = call.host.translator(WIRE).encode_request(call.request, call.model)
            body = {"generateContentRequest": {"model": f"models/{call.model}", **request}}
        answer = await call.post(
            self.url(settings, call.model, "countTokens"),
            wire=WIRE,
            json=body,
            headers=self.headers(settings),
            proxy=settings.proxy_url,
            stream=False,
        )
        return total_tokens(answer.body or b"")

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        settings: GeminiSettings = credential.settings
        found: list[str] = []
        token: str | None = None
        session, proxy = host.http_for(credential, settings.proxy_url)
        for _ in range(MAX_MODEL_PAGES):
            params = {"pageSize": "1000", **({"pageToken": token} if token else {})}
            async with session.get(
                settings.api_root + "/models", params=params, headers=self.headers(settings), proxy=proxy
            ) as response:
                body = await response.read()
                if response.status >= 400:
                    error: GatewayError = host.translator(WIRE).decode_error(response.status, response.headers, body)
                    raise RuntimeError(f"GET /models answered {response.status}: {error.message}")
            page = orjson.loads(body)
            for model in page.get("models") or ():
                methods = model.get("supportedGenerationMethods") or ()
                name = str(model.get("name") or "")
                if name and ("generateContent" in methods or "embedContent" in methods):
                    found.append(name.removeprefix("models/"))
            token = page.get("nextPageToken")
            if not token:
                break
        return found


def total_tokens(body: bytes) -> int | None:
    """``totalTokens`` of a ``countTokens`` answer (Code Assist's too)."""
    try:
        value = orjson.loads(body).get("totalTokens")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if isinstance(value, str) and value.isdigit():  # int64 may come as text
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
