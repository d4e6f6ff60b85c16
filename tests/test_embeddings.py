"""Embeddings: ``POST /v1/embeddings`` and Gemini's ``:embedContent`` / ``:batchEmbedContents``
doors, against fake OpenAI-compatible and Gemini upstreams, with the openai SDK (float and
base64) and google-genai -- through a real server and in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import httpx
import openai
import orjson
import pytest
from cliproxy import Call, Credential, GatewayError, ModelEntry, Provider, UpstreamResponse, hookimpl
from cliproxy.embedding import EmbeddingRequest, Embeddings, in_batches
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app, serve_app
from google import genai
from google.genai import types

KEY = "embed-key"


def vector(text: Any, dimensions: int | None) -> list[float]:
    """A vector that says which input it is for (exact in float32)."""
    size = len(text) if isinstance(text, str) else 1000 + len(text)
    return [float(size), 0.5, -2.0][: dimensions or 3]


def openai_answer(request: RecordedRequest) -> Reply:
    body = request.json
    data = [
        {"object": "embedding", "index": i, "embedding": vector(item, body.get("dimensions"))}
        for i, item in enumerate(body["input"])
    ]
    data.reverse()  # an upstream may answer out of order: 'index' says where each goes
    usage = {"prompt_tokens": len(body["input"]), "total_tokens": len(body["input"])}
    return Reply.json({"object": "list", "data": data, "model": body["model"], "usage": usage})


def gemini_answer(request: RecordedRequest) -> Reply:
    body = request.json
    vectors = [
        {"values": vector(r["content"]["parts"][0]["text"], r.get("outputDimensionality"))} for r in body["requests"]
    ]
    return Reply.json({"embeddings": vectors})


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        server.add("POST", "/v1/embeddings", openai_answer)
        server.add("POST", "/down/embeddings", Reply.error(503, "overloaded"))
        server.add("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", gemini_answer)
        yield server


def config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "api-keys": [KEY],
        "request-retry": 0,
        "openai-compatibility": [
            {
                "name": "local",
                "base-url": upstream.url + "/v1",
                "models": [{"name": "text-embedding-3-small", "alias": "small"}, "gpt-4o", "bge-m3", "flaky-embed"],
                "embedding-models": ["bge-m3"],
                "embedding-batch-size": 3,
            },
            {
                "name": "down",
                "base-url": upstream.url + "/down",
                "models": ["flaky-embed"],
                "priority": 5,
                "prefix": "team",
            },
        ],
        "gemini-api-key": [
            {"api-key": "g-key", "base-url": upstream.url, "models": ["gemini-embedding-001", "gemini-2.5-flash"]}
        ],
        "claude-api-key": [{"api-key": "sk-ant", "base-url": upstream.url, "models": ["claude-sonnet-4-5"]}],
        "openai-api-key": [
            {"api-key": "sk-openai", "base-url": upstream.url + "/v1", "models": ["text-embedding-3-large", "gpt-4.1"]}
        ],
        "local-embedder": [{"models": ["hash-embed", "local-chat"]}],
    }


class LocalEmbedder(Provider):
    """A third-party plugin's provider that embeds locally: the hook, end to end."""

    name = "local-embedder"
    config_keys = ("local-embedder",)
    wire = "openai-chat"

    def load_config(self, key: str, node: Any, host: Any) -> list[Credential]:
        credentials = []
        for entry in node.nodes(key):
            models = tuple(ModelEntry(m) for m in entry.str_list("models"))
            entry.done()
            credentials.append(Credential(id="local", provider=self.name, label="local", models=models))
        return credentials

    async def send(self, call: Call) -> UpstreamResponse:
        raise GatewayError.invalid("this demo only embeds").as_local()

    def embeds(self, credential: Credential, model: str) -> bool | None:
        return model == "hash-embed"

    async def embed(self, call: Call) -> Embeddings:
        request = call.embedding

        async def batch(inputs: Any) -> Embeddings:
            return Embeddings([[float(len(text)), 1.0] for text in inputs], input_tokens=len(inputs))

        return await in_batches(request.inputs, 2, batch)


class LocalEmbedderPlugin:
    @staticmethod
    @hookimpl
    def register_providers(register: Any) -> None:
        register(LocalEmbedder())


PLUGINS = [cliproxy_openai, cliproxy_gemini, cliproxy_claude, LocalEmbedderPlugin]


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    with serve_app(gateway_app(config(upstream), plugins=PLUGINS)) as url:
        yield url


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)


def google(url: str) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


def upstream_batches(upstream: FakeUpstream, path: str, since: int) -> list[Any]:
    return [r.json for r in upstream.requests_to(path)[since:]]


# -- the OpenAI door -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_openai_sdk_gets_vectors_in_either_encoding(gateway: str, encoding: str) -> None:
    answer = sdk(gateway).embeddings.create(model="small", input=["a", "bbb"], encoding_format=encoding)  # type: ignore[arg-type]
    if encoding == "base64":  # the SDK hands base64 through as it came; decode it as the SDK would for floats
        import base64
        from array import array

        vectors: list[list[float]] = [array("f", base64.b64decode(d.embedding)).tolist() for d in answer.data]  # type: ignore[arg-type,misc]
    else:
        vectors = [d.embedding for d in answer.data]
    assert vectors == [[1.0, 0.5, -2.0], [3.0, 0.5, -2.0]]
    assert answer.model == "small" and answer.usage.prompt_tokens == 2


def test_the_sdk_default_is_base64_and_it_decodes_floats(gateway: str, upstream: FakeUpstream) -> None:
    answer = sdk(gateway).embeddings.create(model="small", input="hello")
    assert answer.data[0].embedding == [5.0, 0.5, -2.0]  # the SDK asked for base64 and decoded it
    sent = upstream.requests_to("/v1/embeddings")[-1].json
    assert sent == {"model": "text-embedding-3-small", "input": ["hello"], "encoding_format": "float"}


def test_long_inputs_are_split_to_the_upstream_batch_size_in_order(gateway: str, upstream: FakeUpstream) -> None:
    before = len(upstream.requests_to("/v1/embeddings"))
    texts = ["x" * n for n in range(1, 8)]
    answer = sdk(gateway).embeddings.create(model="bge-m3", input=texts, dimensions=2, encoding_format="float")
    assert [d.embedding for d in answer.data] == [[float(n), 0.5] for n in range(1, 8)]
    assert [d.index for d in answer.data] == list(range(7))
    batches = upstream_batches(upstream, "/v1/embeddings", before)
    assert [len(b["input"]) for b in batches] == [3, 3, 1] and all(b["dimensions"] == 2 for b in batches)
    assert answer.usage.prompt_tokens == 7  # summed over the batches


def test_openai_api_key_entries_embed(gateway: str, upstream: FakeUpstream) -> None:
    answer = sdk(gateway).embeddings.create(model="text-embedding-3-large", input="abcd", encoding_format="float")
    assert answer.data[0].embedding == [4.0, 0.5, -2.0]
    sent = upstream.requests_to("/v1/embeddings")[-1]
    assert sent.headers["authorization"] == "Bearer sk-openai" and sent.json["model"] == "text-embedding-3-large"
    with pytest.raises(openai.BadRequestError, match="not an embedding model"):
        sdk(gateway).embeddings.create(model="gpt-4.1", input="abcd")


def test_a_plugin_provider_embeds_through_the_hook(gateway: str) -> None:
    answer = sdk(gateway).embeddings.create(model="hash-embed", input=["a", "bb", "ccc"])
    assert [d.embedding for d in answer.data] == [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    assert answer.usage.prompt_tokens == 3
    client = google(gateway)
    result = client.models.embed_content(model="hash-embed", contents="abcd")
    assert [e.values for e in result.embeddings or []] == [[4.0, 1.0]]
    with pytest.raises(openai.BadRequestError, match="not an embedding model"):
        sdk(gateway).embeddings.create(model="local-chat", input="x")
    listed = {m.id: m.model_extra or {} for m in sdk(gateway).models.list()}
    assert listed["hash-embed"]["capabilities"] == ["embeddings"] and "capabilities" not in listed["local-chat"]


def test_token_arrays_reach_an_openai_upstream(gateway: str, upstream: FakeUpstream) -> None:
    answer = sdk(gateway).embeddings.create(model="small", input=[[1, 2, 3], [4]], encoding_format="float")
    assert [d.embedding[0] for d in answer.data] == [1003.0, 1001.0]
    assert upstream.requests_to("/v1/embeddings")[-1].json["input"] == [[1, 2, 3], [4]]


def test_the_openai_door_reaches_gemini_upstreams_in_batches_of_100(gateway: str, upstream: FakeUpstream) -> None:
    path = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    before = len(upstream.requests_to(path))
    texts = ["y" * (n % 7 + 1) for n in range(150)]
    answer = sdk(gateway).embeddings.create(model="gemini-embedding-001", input=texts, dimensions=1)
    assert [d.embedding for d in answer.data] == [[float(n % 7 + 1)] for n in range(150)]
    batches = upstream_batches(upstream, path, before)
    assert [len(b["requests"]) for b in batches] == [100, 50]
    first = batches[0]["requests"][0]
    assert first["model"] == "models/gemini-embedding-001" and first["outputDimensionality"] == 1
    assert upstream.requests_to(path)[-1].headers["x-goog-api-key"] == "g-key"


def test_token_arrays_cannot_go_to_gemini(gateway: str) -> None:
    with pytest.raises(openai.BadRequestError, match="token ids"):
        sdk(gateway).embeddings.create(model="gemini-embedding-001", input=[[1, 2]])


@pytest.mark.parametrize("model", ["gpt-4o", "gemini-2.5-flash", "claude-sonnet-4-5"])
def test_a_chat_model_asked_to_embed_is_a_clear_400(gateway: str, upstream: FakeUpstream, model: str) -> None:
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError, match="not an embedding model") as error:
        sdk(gateway).embeddings.create(model=model, input="hi")
    assert error.value.code == "model_not_embedding"
    assert len(upstream.requests) == before  # refused before any upstream call


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": "small"}, "'input'"),
        ({"model": "small", "input": []}, "empty array"),
        ({"model": "small", "input": [1.5]}, "input[0]"),
        ({"model": "small", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": "small", "input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x"}, "'model' is required"),
        ({"model": "nope", "input": "x"}, "nope"),
    ],
)
def test_bad_requests_get_openai_shaped_errors(gateway: str, body: dict[str, Any], says: str) -> None:
    response = httpx.post(gateway + "/v1/embeddings", json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
    assert response.status_code in (400, 404)
    assert says in response.json()["error"]["message"]


def test_failover_to_the_next_credential(gateway: str, upstream: FakeUpstream) -> None:
    before = len(upstream.requests_to("/down/embeddings"))
    answer = sdk(gateway).embeddings.create(model="flaky-embed", input="abc", encoding_format="float")
    assert answer.data[0].embedding == [3.0, 0.5, -2.0]
    assert len(upstream.requests_to("/down/embeddings")) == before + 1  # the first candidate failed
    with pytest.raises(openai.RateLimitError, match="cooling down"):  # the failure rested it (a prefix reaches it)
        sdk(gateway).embeddings.create(model="team/flaky-embed", input="abc")


def test_unauthenticated_requests_are_refused(gateway: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway + "/v1", api_key="wrong", max_retries=0).embeddings.create(
            model="small", input="x"
        )


# -- the Gemini doors ------------------------------------------------------------------------


def test_google_genai_embeds_through_a_gemini_upstream(gateway: str, upstream: FakeUpstream) -> None:
    client = google(gateway)  # (kept: a client that is collected closes its connections)
    result = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["ab", "abcd"],
        config=types.EmbedContentConfig(output_dimensionality=2, task_type="RETRIEVAL_QUERY"),
    )
    assert [e.values for e in result.embeddings or []] == [[2.0, 0.5], [4.0, 0.5]]
    sent = upstream.requests_to("/v1beta/models/gemini-embedding-001:batchEmbedContents")[-1].json
    assert sent["requests"][0]["taskType"] == "RETRIEVAL_QUERY"


def test_google_genai_embeds_through_an_openai_upstream(gateway: str, upstream: FakeUpstream) -> None:
    client = google(gateway)
    result = client.models.embed_content(
        model="small", contents="abc", config=types.EmbedContentConfig(output_dimensionality=1)
    )
    assert [e.values for e in result.embeddings or []] == [[3.0]]
    sent = upstream.requests_to("/v1/embeddings")[-1].json
    assert sent["input"] == ["abc"] and sent["dimensions"] == 1


def test_the_embed_content_door_answers_one_embedding(gateway: str) -> None:
    response = httpx.post(
        gateway + "/v1beta/models/small:embedContent",
        json={"content": {"parts": [{"text": "abcd"}]}},
        headers={"x-goog-api-key": KEY},
        timeout=30,
    )
    assert response.status_code == 200 and response.json() == {"embedding": {"values": [4.0, 0.5, -2.0]}}


def test_gemini_doors_answer_errors_in_gemini_shape(gateway: str) -> None:
    response = httpx.post(
        gateway + "/v1beta/models/gemini-2.5-flash:batchEmbedContents",
        json={"requests": [{"content": {"parts": [{"text": "x"}]}}]},
        headers={"x-goog-api-key": KEY},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "not an embedding model" in response.json()["error"]["message"]
    response = httpx.post(
        gateway + "/v1beta/models/small:batchEmbedContents",
        json={"requests": []},
        headers={"x-goog-api-key": KEY},
        timeout=30,
    )
    assert response.status_code == 400 and "'requests'" in response.json()["error"]["message"]


# -- model lists -----------------------------------------------------------------------------


def test_model_lists_mark_the_models_that_embed(gateway: str) -> None:
    listed = {m.id: m for m in sdk(gateway).models.list()}
    assert listed["small"].model_extra["capabilities"] == ["embeddings"]  # type: ignore[index]
    assert listed["bge-m3"].model_extra["capabilities"] == ["embeddings"]  # type: ignore[index]
    assert "capabilities" not in (listed["gpt-4o"].model_extra or {})
    client = google(gateway)
    models = {m.name: m for m in client.models.list()}
    assert models["models/gemini-embedding-001"].supported_actions == ["embedContent", "batchEmbedContents"]
    assert "generateContent" in (models["models/gemini-2.5-flash"].supported_actions or [])


# -- in-process ------------------------------------------------------------------------------


async def test_in_process_with_usage_and_the_access_log(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    app = gateway_app(config(upstream), plugins=PLUGINS)
    caplog.set_level(logging.INFO, logger="cliproxy.access")
    async with asgi_client(app, headers={"authorization": f"Bearer {KEY}"}) as http:
        client = openai.AsyncOpenAI(base_url="http://localhost/v1", api_key=KEY, http_client=http, max_retries=0)
        answer = await client.embeddings.create(model="small", input=["a", "bb"])
        assert [d.embedding for d in answer.data] == [[1.0, 0.5, -2.0], [2.0, 0.5, -2.0]]
        status = (await http.get("/v0/status")).json()
    line = next(r.getMessage() for r in caplog.records if r.name == "cliproxy.access")
    assert (
        line.startswith("openai-embeddings ")
        and "'small' -> openai-compatibility" in line
        and "text-embedding-3-small" in line
        and "in=2" in line
    )
    (client_usage,) = status["clients"].values()  # counted for the key that asked
    assert client_usage["requests"] == 1 and client_usage["input_tokens"] == 2
    assert b"embed-key" not in orjson.dumps(status)  # (the status names keys, never shows them)


# -- the provider hook -----------------------------------------------------------------------


class ChatOnly(Provider):
    name = "chat-only"
    wire = "openai-chat"

    def load_config(self, key: str, node: Any, host: Any) -> list[Credential]:
        return []

    async def send(self, call: Call) -> UpstreamResponse:
        raise NotImplementedError


async def test_by_default_a_provider_does_not_embed() -> None:
    provider = ChatOnly()
    credential = Credential(id="c", provider="chat-only", label="c")
    assert provider.embeds(credential, "text-embedding-3-small") is False

    class FakeCall:
        client = attrs_client = type("C", (), {"model": "m"})()

    with pytest.raises(GatewayError, match="not an embedding model") as error:
        await provider.embed(FakeCall())  # type: ignore[arg-type]
    assert error.value.status == 400 and error.value.local


async def test_in_batches_joins_answers_and_checks_their_count() -> None:
    seen: list[int] = []

    async def embed(batch: Any) -> Embeddings:
        seen.append(len(batch))
        return Embeddings([[float(len(t))] for t in batch], input_tokens=len(batch))

    answer = await in_batches(["a", "bb", "ccc", "dddd", "e"], 2, embed)
    assert seen == [2, 2, 1] and answer.vectors == [[1.0], [2.0], [3.0], [4.0], [1.0]] and answer.input_tokens == 5

    async def short(batch: Any) -> Embeddings:
        return Embeddings([[0.0]])

    with pytest.raises(GatewayError, match="1 embeddings for 2 inputs") as error:
        await in_batches(["a", "b"], 5, short)
    assert error.value.status == 502
    assert EmbeddingRequest(inputs=("a",)).dimensions is None


async def test_an_upstream_that_reports_no_tokens_is_counted_at_an_estimate(upstream: FakeUpstream) -> None:
    """Gemini's embeddings API reports no token counts: the request is counted at four
    characters a token, not as free (usage, budgets and tpm read this count)."""
    app = gateway_app(config(upstream), plugins=PLUGINS)
    async with asgi_client(app, headers={"authorization": f"Bearer {KEY}"}) as http:
        client = openai.AsyncOpenAI(base_url="http://localhost/v1", api_key=KEY, http_client=http, max_retries=0)
        await client.embeddings.create(model="gemini-embedding-001", input=["abcd", "abcdefgh"], dimensions=1)
        status = (await http.get("/v0/status")).json()
    (client_usage,) = status["clients"].values()
    assert client_usage["requests"] == 1 and client_usage["input_tokens"] == 3  # 4 / 4 + 8 / 4
