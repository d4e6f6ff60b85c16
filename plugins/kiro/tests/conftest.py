"""Fixtures: a fake Kiro (API, auth service and SSO-OIDC on one loopback server) and a
gateway in front of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cliproxy_kiro
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app

GENERATE = "/generateAssistantResponse"


@pytest.fixture
def kiro_entry(upstream: FakeUpstream) -> Callable[..., dict[str, Any]]:
    """A ``kiro:`` entry whose API, auth service and OIDC endpoints are the fake."""

    def make(**overrides: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "access-token": "at-1",
            "refresh-token": "rt-1",
            "profile-arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST",
            "base-url": upstream.url,
            "auth-url": upstream.url,
            "oidc-url": upstream.url,
        }
        entry.update(overrides)
        return {k: v for k, v in entry.items() if v is not None}

    return make


@pytest.fixture
def kiro_app(kiro_entry: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """``kiro_app(entries=[...], **config)`` -> a gateway app with only this plugin."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        full: dict[str, Any] = {"api-keys": ["client-key"], "kiro": entries if entries is not None else [kiro_entry()]}
        full.update(config)
        return gateway_app(full, plugins=[cliproxy_kiro])

    return make


@pytest.fixture
def refresh_reply() -> Callable[..., Reply]:
    def make(access: str = "at-2", refresh: str = "rt-2", expires_in: int = 3600, **extra: Any) -> Reply:
        return Reply.json({"accessToken": access, "refreshToken": refresh, "expiresIn": expires_in, **extra})

    return make
