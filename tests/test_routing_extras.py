"""``disable-cooling`` (failures fail over but rest nothing) and ``fallback-models``
(when a model cannot answer before the first byte, the next model of its chain does, and
the answer says which), through a served gateway and the official SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy.config import ConfigError, load_config
from cliproxy.testing import FakeClock, FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app, serve_app

KEY = "sk-client-routing-000001"
TEAM = "sk-client-team-00000001"


def answer(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"from {model}"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def stream(model: str) -> Reply:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model}
    return Reply.sse_events(
        [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": f"from {model}"}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ],
        done=True,
    )


def block(name: str, upstream: FakeUpstream, models: list[dict[str, str]], keys: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "base-url": f"{upstream.url}/{name}/v1",
        "api-key-entries": [{"api-key": k} for k in keys],
        "models": models,
    }


# -- disable-cooling ----------------------------------------------------------------------------


def test_disable_cooling_fails_over_but_rests_nothing(upstream: FakeUpstream) -> None:
    def by_key(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer sk-up-first-000001":
            return Reply.error(429, "slow down", headers={"retry-after": "600"})
        return Reply.json(answer("gpt-4.1-nano"))

    upstream.add("POST", "/pool/v1/chat/completions", by_key)
    keys = ("sk-up-first-000001", "sk-up-second-00001")
    config = {
        "api-keys": [KEY],
        "routing": {"strategy": "fill-first"},
        "openai-compatibility": [block("pool", upstream, [{"name": "gpt-4.1-nano", "alias": "nano"}], keys)],
    }

    def tried(cooling: bool) -> list[str]:
        upstream.requests.clear()
        with serve_app(gateway_app({**config, "disable-cooling": not cooling}, plugins=[cliproxy_openai])) as url:
            client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
            for _ in range(3):
                assert client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}]).id
            status = httpx.get(url + "/v0/status").json()
        rests = [c for c in status["credentials"] if c.get("cooldowns")]
        assert bool(rests) == cooling
        used = [r.headers["authorization"] for r in upstream.requests_to("/pool/v1/chat/completions")]
        return ["first" if "first" in key else "second" for key in used]

    assert tried(cooling=True) == ["first", "second", "second", "second"]  # rested after one 429
    assert tried(cooling=False) == ["first", "second"] * 3  # every request fails over, nothing rests


# -- fallback-models ----------------------------------------------------------------------------


@pytest.fixture
def url(upstream: FakeUpstream) -> Iterator[str]:
    upstream.add("POST", "/busy/v1/chat/completions", Reply.error(529, "overloaded"))
    upstream.add("POST", "/picky/v1/chat/completions", Reply.error(400, "bad request for this model"))

    def spare(request: RecordedRequest) -> Reply:
        return stream("gpt-4.1-nano") if request.json.get("stream") else Reply.json(answer("gpt-4.1-nano"))

    upstream.add("POST", "/spare/v1/chat/completions", spare)
    config = {
        "api-keys": [KEY, {"key": TEAM, "models": ["sonnet", "picky"]}],
        "request-retry": 0,
        "fallback-models": {"sonnet": ["opus", "gpt-5"], "picky": ["gpt-5"]},
        "openai-compatibility": [
            block(
                "busy", upstream, [{"name": "busy-model", "alias": "sonnet"}, {"name": "b2", "alias": "opus"}], ("k1",)
            ),
            block("picky", upstream, [{"name": "picky-model", "alias": "picky"}], ("k2",)),
            block("spare", upstream, [{"name": "gpt-4.1-nano", "alias": "gpt-5"}], ("k3",)),
        ],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as served:
        yield served


def test_a_model_that_cannot_answer_falls_back_and_says_which_model_answered(url: str, upstream: FakeUpstream) -> None:
    client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    completion = raw.parse()
    assert raw.headers["x-cliproxy-model"] == "gpt-5" and raw.headers["x-cliproxy-fallback-from"] == "sonnet"
    assert completion.model == "gpt-5" and completion.choices[0].message.content == "from gpt-4.1-nano"
    assert upstream.requests_to("/spare/v1/chat/completions")[0].json["model"] == "gpt-4.1-nano"

    with anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0).messages.stream(
        model="sonnet", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    ) as streamed:
        message = streamed.get_final_message()
        assert streamed.response.headers["x-cliproxy-model"] == "gpt-5"
    assert message.model == "gpt-5" and message.content[0].text == "from gpt-4.1-nano"  # type: ignore[union-attr]


def test_no_fallback_for_the_clients_own_error_nor_for_a_model_the_key_may_not_use(url: str) -> None:
    client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError):  # a 400 is the request's fault: another model will not help
        client.chat.completions.create(model="picky", messages=[{"role": "user", "content": "hi"}])
    team = openai.OpenAI(api_key=TEAM, base_url=url + "/v1", max_retries=0)
    with pytest.raises(openai.APIStatusError) as busy:  # gpt-5 is not the team's: the model's own error stands
        team.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert busy.value.status_code == 529
    plain = client.chat.completions.with_raw_response.create(
        model="gpt-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert "x-cliproxy-model" not in plain.headers  # answered by the model asked for


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[a, b]", "'fallback-models' must be a mapping of models to lists"),
        ("{a: a}", "'fallback-models.a' lists 'a' as its own fallback"),
        ("{a: []}", "'fallback-models.a' needs a model name and its fallbacks"),
        ("{a: [1, {b: c}]}", "'fallback-models.a[1]' must be a string"),
    ],
)
def test_bad_fallback_chains_are_located_errors(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"port: 8317\nfallback-models: {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value) and str(error.value).startswith(f"{path}:2:")


def test_fallback_chains_and_disable_cooling_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"disable-cooling": True, "fallback-models": {"sonnet": ["gpt-5", "gpt-5", "gem"]}}))
    config = load_config(path)
    assert config.disable_cooling and config.fallback_models == {"sonnet": ("gpt-5", "gem")}


async def test_a_resting_model_falls_back_at_once_instead_of_waiting(upstream: FakeUpstream) -> None:
    upstream.add("POST", "/busy/v1/chat/completions", Reply.error(429, "slow down", headers={"retry-after": "5"}))
    upstream.add("POST", "/spare/v1/chat/completions", Reply.json(answer("gpt-4.1-nano")))
    config = {
        "api-keys": [KEY],
        "request-retry": 1,
        "fallback-models": {"sonnet": ["gpt-5"]},
        "openai-compatibility": [
            block("busy", upstream, [{"name": "busy-model", "alias": "sonnet"}], ("k1",)),
            block("spare", upstream, [{"name": "gpt-4.1-nano", "alias": "gpt-5"}], ("k3",)),
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai])
    clock = FakeClock().install(app)
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app, headers={"authorization": f"Bearer {KEY}"}) as client:
        for _ in range(2):  # the first rests sonnet for 5 s; the second finds it resting
            answered = await client.post("/v1/chat/completions", json=body)
            assert answered.status_code == 200 and answered.json()["model"] == "gpt-5"
    assert clock.slept == []  # within max-retry-interval, but a fallback was next: no wait
    assert len(upstream.requests_to("/busy/v1/chat/completions")) == 1
