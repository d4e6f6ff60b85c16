"""Model name resolution: prefix, alias, force-model-prefix, pools, exclusions,
ambiguity warnings, model_not_found with suggestions."""

from __future__ import annotations

import asyncio
import logging

import cliproxy_openai
import pytest
from cliproxy import Credential, GatewayError, ModelEntry, credential_id
from cliproxy.routing import Router
from cliproxy.testing import Reply, asgi_client, gateway_app


def cred(kind: str, key: str, *models: ModelEntry | str, **fields: object) -> Credential:
    entries = tuple(m if isinstance(m, ModelEntry) else ModelEntry(m) for m in models)
    return Credential(
        id=credential_id(kind, key),
        provider=str(fields.pop("provider", "openai-compatibility")),
        label=f"{kind} {key[:2]}...",
        models=entries,
        source=str(fields.pop("source", f"config.yaml:{len(key)}:3")),
        **fields,  # type: ignore[arg-type]
    )


def upstream_of(router: Router, model: str) -> list[tuple[str, str]]:
    return [(c.credential.label, c.upstream_model) for c in router.resolve(model).candidates]


def test_prefixed_credential_serves_prefixed_and_plain_names_without_force():
    a = cred("openai-compatibility/core", "k1", "claude-3-5-sonnet", prefix="agent-core")
    router = Router([a])
    assert upstream_of(router, "agent-core/claude-3-5-sonnet") == [(a.label, "claude-3-5-sonnet")]
    assert upstream_of(router, "claude-3-5-sonnet") == [(a.label, "claude-3-5-sonnet")]
    assert [m.id for m in router.models()] == ["agent-core/claude-3-5-sonnet", "claude-3-5-sonnet"]


def test_force_model_prefix_hides_plain_names_of_prefixed_credentials():
    a = cred("openai-compatibility/core", "k1", "claude-3-5-sonnet", prefix="agent-core")
    plain = cred("groq", "k2", "llama-3.3")
    router = Router([a, plain], force_model_prefix=True)
    assert [m.id for m in router.models()] == ["agent-core/claude-3-5-sonnet", "llama-3.3"]
    with pytest.raises(GatewayError) as caught:
        router.resolve("claude-3-5-sonnet")
    assert caught.value.status == 404 and caught.value.code == "model_not_found"
    assert "'agent-core/claude-3-5-sonnet'" in caught.value.message  # the prefixed name is suggested
    assert upstream_of(router, "llama-3.3") == [(plain.label, "llama-3.3")]  # unprefixed credentials unaffected


def test_alias_is_what_clients_use_and_name_is_what_the_upstream_gets():
    a = cred(
        "openai-compatibility/core", "k1", ModelEntry("claude-3-5-sonnet-20241022", "core-sonnet"), prefix="agent-core"
    )
    router = Router([a], force_model_prefix=True)
    assert upstream_of(router, "agent-core/core-sonnet") == [(a.label, "claude-3-5-sonnet-20241022")]
    assert [m.id for m in router.models()] == ["agent-core/core-sonnet"]
    with pytest.raises(GatewayError):
        router.resolve("agent-core/claude-3-5-sonnet-20241022")


def test_same_alias_on_several_providers_forms_a_pool_ordered_by_priority():
    direct = cred(
        "claude-api-key", "k1", ModelEntry("claude-sonnet-4-20250514", "sonnet"), priority=10, provider="claude"
    )
    aggregator = cred("openai-compatibility/openrouter", "k2", ModelEntry("anthropic/claude-sonnet-4", "sonnet"))
    router = Router([aggregator, direct])
    assert upstream_of(router, "sonnet") == [
        (direct.label, "claude-sonnet-4-20250514"),
        (aggregator.label, "anthropic/claude-sonnet-4"),
    ]
    assert router.ambiguities == []
    assert [m.owned_by for m in router.models()] == ["claude"]  # the preferred provider


def test_excluded_models_take_wildcards():
    a = cred(
        "openai-compatibility/core",
        "k1",
        "gpt-4o",
        "gpt-4o-mini",
        "o3-preview",
        "text-embed",
        excluded_models=("*-preview", "*mini*", "text-*"),
    )
    router = Router([a])
    assert [m.id for m in router.models()] == ["gpt-4o"]
    for model in ("gpt-4o-mini", "o3-preview", "text-embed"):
        with pytest.raises(GatewayError):
            router.resolve(model)


def test_any_model_credential_answers_every_name_under_its_prefix_but_excluded_ones():
    a = cred("openai-compatibility/mlx", "k1", prefix="mlx", any_model=True, excluded_models=("*-base",))
    router = Router([a])
    route = router.resolve("mlx/qwen3-coder-30b")
    assert [(c.credential.id, c.upstream_model) for c in route.candidates] == [(a.id, "qwen3-coder-30b")]
    assert route.key == "mlx/*"  # one rotation per prefix, not per client-invented name
    assert router.resolve("mlx/qwen3-coder-30b") is route
    with pytest.raises(GatewayError):
        router.resolve("mlx/llama-base")
    with pytest.raises(GatewayError) as caught:
        router.resolve("qwen3-coder-30b")  # no prefix: the any-model credential is not reached
    assert caught.value.status == 404
    assert router.models() == []  # nothing to list: its catalogue is unknown


def test_ambiguity_between_providers_with_equal_priority_names_both_sources(caplog):
    a = cred(
        "openai-compatibility/openrouter",
        "k1",
        ModelEntry("anthropic/claude-sonnet-4", "sonnet"),
        source="config.yaml:10:5",
    )
    b = cred("openai-compatibility/together", "k2", ModelEntry("claude-sonnet", "sonnet"), source="config.yaml:20:5")
    router = Router([a, b])
    assert len(router.ambiguities) == 1
    message = router.ambiguities[0]
    assert "'sonnet'" in message and "config.yaml:10:5" in message and "config.yaml:20:5" in message
    assert "openrouter" in message and "together" in message
    with caplog.at_level(logging.WARNING, logger="cliproxy.routing"):
        router.log_ambiguities()
    assert [r.getMessage() for r in caplog.records] == [message]


def test_several_keys_of_one_provider_are_a_pool_not_an_ambiguity():
    keys = [cred("openai-compatibility/openrouter", f"key-{i}", "gpt-4o") for i in range(3)]
    router = Router(keys)
    assert router.ambiguities == []
    assert len(router.resolve("gpt-4o").candidates) == 3
    assert router.resolve("gpt-4o").rotates


def test_ambiguous_any_model_prefix_is_reported():
    a = cred("openai-compatibility/a", "k1", prefix="local", any_model=True)
    b = cred("openai-compatibility/b", "k2", prefix="local", any_model=True)
    assert any("local/<any model>" in m for m in Router([a, b]).ambiguities)


def test_unknown_model_is_404_model_not_found_with_close_ids():
    router = Router([cred("openai-api-key", "k1", "gpt-4o", "gpt-4o-mini", "o3")])
    with pytest.raises(GatewayError) as caught:
        router.resolve("gpt4o")
    error = caught.value
    assert (error.status, error.code, error.param) == (404, "model_not_found", "model")
    assert "'gpt4o'" in error.message and "'gpt-4o'" in error.message
    with pytest.raises(GatewayError) as caught:
        router.resolve("completely-different")
    assert "GET /v1/models" in caught.value.message and "did you mean" not in caught.value.message


async def test_ambiguities_are_logged_once_at_start_up_and_again_only_when_new(upstream, caplog):
    upstream.add("GET", "/a/v1/models", Reply.json({"data": [{"id": "shared"}, {"id": "only-a"}]}))
    upstream.add("GET", "/b/v1/models", Reply.json({"data": [{"id": "shared"}]}))
    listed = {
        "name": "listed",
        "base-url": upstream.url + "/c/v1",
        "api-key-entries": [{"api-key": "k3"}],
        "models": ["fixed"],
    }
    twin = {**listed, "name": "twin", "api-key-entries": [{"api-key": "k4"}]}
    found_a = {"name": "found-a", "base-url": upstream.url + "/a/v1", "api-key-entries": [{"api-key": "k1"}]}
    found_b = {"name": "found-b", "base-url": upstream.url + "/b/v1", "api-key-entries": [{"api-key": "k2"}]}
    config = {"openai-compatibility": [listed, twin, found_a, found_b]}
    with caplog.at_level(logging.WARNING, logger="cliproxy.routing"):
        app = gateway_app(config, plugins=[cliproxy_openai])
        at_build = [r.getMessage() for r in caplog.records if "equal priority" in r.getMessage()]
        async with asgi_client(app):
            gateway = app.state.gateway
            for _ in range(100):  # discovery runs in the background at start-up
                if gateway.router.models() and any("'shared'" in m for m in gateway.router.ambiguities):
                    break
                await asyncio.sleep(0.02)
            gateway.refresh_routes()  # nothing new: nothing logged
    logged = [r.getMessage() for r in caplog.records if "equal priority" in r.getMessage()]
    assert len(at_build) == 1 and "'fixed'" in at_build[0]
    assert len(logged) == 2 and "'shared'" in logged[1]
