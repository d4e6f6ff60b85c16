"""The Claude provider: ``claude-api-key`` entries and OAuth token files, one upstream wire
(``anthropic``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from cliproxy import (
    USER_AGENT,
    Call,
    ConfigNode,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    UpstreamResponse,
    credential_id,
    mask_secret,
    read_common_fields,
)

from cliproxy_claude.models import CATALOGUE, caps_for
from cliproxy_claude.oauth import OAUTH_BETA, read_oauth_settings
from cliproxy_claude.settings import ANTHROPIC_VERSION, DEFAULT_BASE_URL, PROVIDER, ClaudeSettings
from cliproxy_claude.shaping import COUNT_FIELDS, shape_body

__all__ = ["ClaudeProvider"]

WIRE = "anthropic"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def auth_headers(settings: ClaudeSettings, token: str | None) -> dict[str, str]:
    """Authentication and version headers: a bearer token for OAuth and for hosts other
    than api.anthropic.com, ``x-api-key`` for Anthropic's own API."""
    headers = {"anthropic-version": ANTHROPIC_VERSION, "user-agent": USER_AGENT}
    secret = token if settings.oauth else settings.api_key
    if secret:
        if settings.is_anthropic and not settings.oauth:
            headers["x-api-key"] = secret
        else:
            headers["authorization"] = f"Bearer {secret}"
    for name, value in settings.headers.items():
        if name.lower() != "anthropic-beta":
            headers[name.lower()] = value
    return headers


class ClaudeProvider(Provider):
    """Anthropic's Messages API with API keys (``claude-api-key``) or Claude subscription
    OAuth tokens (``cliproxy login claude``).

    Every body is shaped for its model first (:mod:`cliproxy_claude.shaping`): unsigned
    thinking left out, tool ids made valid, thinking and sampling within the model's
    rules. The client's ``anthropic-beta`` header and a body's ``betas`` go upstream as
    the ``anthropic-beta`` header.
    """

    name = PROVIDER
    config_keys = ("claude-api-key", "claude-oauth")
    wire = WIRE

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        if key == "claude-oauth":
            read_oauth_settings(node, check=True)  # OAuth credentials come from token files
            return []
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            fields = read_common_fields(entry, api_key=True, base_url=DEFAULT_BASE_URL)
            entry.done()
            settings = ClaudeSettings(
                base_url=fields.base_url or DEFAULT_BASE_URL,
                api_key=fields.api_key,
                headers=fields.headers,
                proxy_url=fields.proxy_url,
            )
            credentials.append(
                fields.credential(
                    id=credential_id("claude-api-key", settings.base_url, fields.api_key),
                    provider=self.name,
                    label=mask_secret(fields.api_key),
                    settings=settings,
                    source=entry.location(),
                )
            )
        return credentials

    def can_reason(self, credential: Credential, model: str) -> bool | None:
        """Claude 3.7 and later think; older Claude models cannot; other names: unknown."""
        caps = caps_for(model)
        return None if caps is None else caps.thinking != "none"

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return tuple(ModelEntry(name) for name in CATALOGUE)

    # -- requests ------------------------------------------------------------------------

    def build_body(self, call: Call) -> tuple[dict[str, Any], list[str]]:
        """The body for ``call``, shaped for its model, and the body's betas."""
        body = call.body_for(WIRE)
        if call.client.wire == WIRE:
            explicit = isinstance(call.client.body.get("max_tokens"), int)
        else:
            explicit = call.request.max_tokens is not None
        betas = shape_body(body, caps_for(call.model), explicit_max_tokens=explicit)
        return body, betas

    def headers(self, call: Call, token: str | None, betas: Iterable[str]) -> dict[str, str]:
        settings: ClaudeSettings = call.credential.settings
        headers = auth_headers(settings, token)
        wanted: list[str] = []
        configured = next((v for k, v in settings.headers.items() if k.lower() == "anthropic-beta"), None)
        for value in (*_split(call.client.headers.get("anthropic-beta")), *_split(configured), *betas):
            if value not in wanted:
                wanted.append(value)
        if settings.oauth and OAUTH_BETA not in wanted:
            wanted.append(OAUTH_BETA)
        if wanted:
            headers["anthropic-beta"] = ",".join(wanted)
        return headers

    async def _post(
        self, call: Call, path: str, body: Mapping[str, Any], betas: list[str], *, stream: bool | None = None
    ) -> UpstreamResponse:
        """POST with the credential's auth; an OAuth token refused with 401 is refreshed
        once (the token manager lets one refresh run per credential) and the call retried."""
        settings: ClaudeSettings = call.credential.settings
        tokens = call.host.tokens
        payload = orjson.dumps(body)

        async def post(token: str | None) -> UpstreamResponse:
            return await call.post(
                settings.base_url + path,
                wire=WIRE,
                data=payload,
                headers=self.headers(call, token, betas),
                proxy=settings.proxy_url,
                stream=stream,
            )

        if not settings.oauth:
            return await post(None)
        used = await tokens.access_token(call.credential)
        try:
            return await post(used)
        except GatewayError as error:
            if error.status != 401:
                raise
        current = tokens.tokens(call.credential).access_token
        if current == used:  # nobody refreshed it meanwhile; a failed refresh rests the credential
            current = (await tokens.refresh(call.credential, force=True)).access_token
        return await post(current)

    async def send(self, call: Call) -> UpstreamResponse:
        body, betas = self.build_body(call)
        return await self._post(call, "/v1/messages", body, betas)

    async def count_tokens(self, call: Call) -> int | None:
        body, betas = self.build_body(call)
        counted = {k: v for k, v in body.items() if k in COUNT_FIELDS}
        response = await self._post(call, "/v1/messages/count_tokens", counted, betas, stream=False)
        try:
            value = orjson.loads(response.body or b"").get("input_tokens")
        except (orjson.JSONDecodeError, AttributeError):
            value = None
        if not isinstance(value, int):
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message="the upstream's count_tokens answer has no input_tokens",
                provider=self.name,
            )
        return value

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        settings: ClaudeSettings = credential.settings
        token = await host.tokens.access_token(credential) if settings.oauth else None
        headers = auth_headers(settings, token)
        if settings.oauth:
            headers["anthropic-beta"] = OAUTH_BETA
        session, proxy = host.http_for(credential, settings.proxy_url)
        async with session.get(
            settings.base_url + "/v1/models", params={"limit": "1000"}, headers=headers, proxy=proxy
        ) as response:
            if response.status >= 400:
                raise RuntimeError(f"GET /v1/models answered {response.status}")
            data = await response.json(content_type=None)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return None
        found = [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]
        return found or None
