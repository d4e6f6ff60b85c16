"""A test OAuth provider, and a gateway process serving it (for multi-process tests).

Token files of type ``test-oauth`` hold ``access_token``, ``refresh_token``,
``expires_at``, ``base_url`` (an OpenAI-compatible upstream) and ``token_url`` (where the
refresh token is spent). Run as a script to serve a gateway with this plugin loaded::

    python oauth_gateway.py CONFIG PORT
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    GatewayError,
    ModelEntry,
    Provider,
    TokenSet,
    UpstreamResponse,
    credential_id,
    hookimpl,
)

MODEL = "oauth-model"


class TestOAuth:
    type = "test-oauth"
    provider = "test-oauth"
    refresh_lead = 300.0

    def load(self, path: Path, data: Mapping[str, Any], host: Any) -> Sequence[tuple[Credential, TokenSet]]:
        credential = Credential(
            id=credential_id("test-oauth", data["account"]),
            provider=self.provider,
            label=path.name,
            models=(ModelEntry(MODEL),),
            source=str(path),
        )
        tokens = TokenSet(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=data.get("expires_at"),
            extra={"base_url": data["base_url"], "token_url": data["token_url"]},
        )
        return [(credential, tokens)]

    def dump(self, tokens: TokenSet, previous: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **previous,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
        }

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        payload = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        async with http.post(tokens.extra["token_url"], json=payload, proxy=proxy) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else body
                raise GatewayError.from_status(401, f"refresh rejected ({response.status}): {reason}")
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=time.time() + float(body["expires_in"]),
            extra=tokens.extra,
        )


class TestOAuthProvider(Provider):
    name = "test-oauth"
    config_keys = ()
    wire = "openai-chat"

    def load_config(self, key: str, node: ConfigNode, host: Any) -> list[Credential]:
        return []

    async def send(self, call: Call) -> UpstreamResponse:
        tokens = call.host.tokens
        access = await tokens.access_token(call.credential)
        base = tokens.tokens(call.credential).extra["base_url"]
        return await call.post(
            base + "/chat/completions",
            wire=self.wire,
            json=call.body_for(self.wire),
            headers={"authorization": f"Bearer {access}"},
        )


class Plugin:
    """Register it with ``gateway_app(..., plugins=[Plugin()])``."""

    @hookimpl
    def register_providers(self, register: Callable[[Provider], None]) -> None:
        register(TestOAuthProvider())

    @hookimpl
    def register_auth_types(self, register: Callable[[Any], None]) -> None:
        register(TestOAuth())


def _serve(config_path: str, port: int) -> None:
    import asyncio

    from cliproxy.app import create_app
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    app = create_app(config_path, plugins=[Plugin()], load_entrypoints=False)
    hc = Config()
    hc.bind = [f"127.0.0.1:{port}"]
    hc.accesslog = None
    asyncio.run(serve(app, hc))


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
