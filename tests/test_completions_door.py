"""``/v1/completions`` end to end: the official ``openai`` SDK's ``completions.create``
against the gateway, answered by a fake OpenAI Chat upstream."""

from __future__ import annotations

import cliproxy_openai
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

CHAT = "/v1/chat/completions"


@pytest.fixture
def url(upstream: FakeUpstream):
    config = {
        "api-keys": ["client-key"],
        "openai-compatibility": [
            {
                "name": "local",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as base:
        yield base


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def chat_answer(content: str, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-nano",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def test_completion_maps_onto_one_chat_message(upstream, url):
    upstream.add("POST", CHAT, Reply.json(chat_answer(" upon a time", "length")))
    answer = client(url).completions.create(
        model="nano", prompt="Once", max_tokens=3, temperature=0.5, stop=["\n"], logit_bias={"50256": -100}, user="u-1"
    )
    assert answer.object == "text_completion" and answer.model == "nano" and answer.id.startswith("cmpl-")
    assert answer.choices[0].text == " upon a time" and answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and (
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
        answer.usage.total_tokens,
    ) == (5, 2, 7)
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["messages"] == [{"role": "user", "content": "Once"}]
    assert sent["model"] == "gpt-4.1-nano"
    assert (sent["max_tokens"], sent["temperature"], sent["stop"]) == (3, 0.5, ["\n"])
    assert sent["logit_bias"] == {"50256": -100}


def test_a_list_holding_one_prompt_and_echo(upstream, url):
    upstream.add("POST", CHAT, Reply.json(chat_answer(" world")))
    answer = client(url).completions.create(model="nano", prompt=["Hello"], echo=True)
    assert answer.choices[0].text == "Hello world"


def test_stream_of_text_completion_chunks(upstream, url, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")))
    chunks = list(
        client(url).completions.create(
            model="nano", prompt="Tell a story", stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "text_completion" and c.model == "nano" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert len(text) > 100
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_stream_without_usage_and_with_echo(upstream, url, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/aibridge-chat_simple.stream.sse.txt")))
    chunks = list(client(url).completions.create(model="nano", prompt="Q: ", echo=True, stream=True))
    assert chunks[0].choices[0].text == "Q: "
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_mid_stream_error(upstream, url, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt")))
    with pytest.raises(openai.APIError, match="server had an error"):
        list(client(url).completions.create(model="nano", prompt="hi", stream=True))


@pytest.mark.parametrize(
    ("options", "param", "words"),
    [
        ({"prompt": ["a", "b"]}, "prompt", "one prompt per request"),
        ({"prompt": [1, 2, 3]}, "prompt", "token-id"),
        ({"prompt": []}, "prompt", "empty"),
        ({"prompt": "a", "n": 2}, "n", "one completion per request"),
        ({"prompt": "a", "best_of": 3}, "best_of", "one completion per request"),
        ({"prompt": "a", "suffix": "z"}, "suffix", "fill-in-the-middle"),
        ({"prompt": "a", "logprobs": 2}, "logprobs", "not supported"),
        ({"prompt": "a", "stop": 5}, "stop", "string"),
    ],
)
def test_unsupported_options_get_a_clear_400(upstream, url, options, param, words):
    with pytest.raises(openai.BadRequestError) as caught:
        client(url).completions.create(model="nano", **options)
    assert caught.value.status_code == 400 and caught.value.body["param"] == param
    assert words in caught.value.message
    assert not upstream.requests_to(CHAT)
