"""The ``openai-completions`` translator (legacy ``/v1/completions``): pure functions."""

from __future__ import annotations

import json

import pytest
from cliproxy import GatewayError
from cliproxy.ir import (
    Finish,
    FinishReason,
    Message,
    ReasoningPart,
    Response,
    StreamError,
    TextPart,
    ToolCallPart,
    Usage,
    response_events,
)
from cliproxy.sse import SSEParser
from cliproxy.translate import EncodeContext
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_completions import OpenAICompletions
from hypothesis import given, settings
from hypothesis import strategies as st

T = OpenAICompletions()


def test_decode_maps_a_prompt_onto_a_chat_request():
    request = T.decode_request(
        {
            "model": "m",
            "prompt": ["Once"],
            "max_tokens": 5,
            "temperature": 0,
            "top_p": 0.5,
            "stop": "\n",
            "seed": 1,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "user": "u",
            "n": 1,
            "best_of": 1,
            "logit_bias": {"1": 2},
            "service_tier": "flex",
        }
    )
    assert request.messages == (Message("user", [TextPart("Once")]),)
    assert (request.max_tokens, request.temperature, request.top_p, request.stop, request.seed) == (
        5,
        0,
        0.5,
        ("\n",),
        1,
    )
    assert (request.presence_penalty, request.frequency_penalty, request.metadata) == (0.1, 0.2, {"user": "u"})
    assert request.extras == {"openai-completions": {"service_tier": "flex"}, "openai-chat": {"logit_bias": {"1": 2}}}
    body = OpenAIChat().encode_request(request, "gpt")
    assert body["messages"] == [{"role": "user", "content": "Once"}] and body["logit_bias"] == {"1": 2}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": 3}, "prompt"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": [[1, 2]]}, "prompt"),
        ({"prompt": "a", "suffix": "b"}, "suffix"),
        ({"prompt": "a", "logprobs": 0}, "logprobs"),
        ({"prompt": "a", "n": 3}, "n"),
        ({"prompt": "a", "best_of": 2}, "best_of"),
        ({"prompt": "a", "max_tokens": "many"}, "max_tokens"),
    ],
)
def test_refusals_name_the_field(body, param):
    with pytest.raises(GatewayError) as caught:
        T.decode_request({"model": "m", **body})
    assert caught.value.status == 400 and caught.value.param == param


responses = st.builds(
    lambda parts, reason, usage: Response(
        id="chatcmpl-1", model="m", parts=parts, finish=Finish(reason), usage=usage, created=7
    ),
    st.lists(
        st.one_of(
            st.text(max_size=20).map(TextPart),
            st.text(max_size=10).map(ReasoningPart),
            st.just(ToolCallPart("c", "f", "{}")),
        ),
        max_size=5,
    ),
    st.sampled_from(list(FinishReason)),
    st.builds(Usage, input_tokens=st.integers(0, 99), output_tokens=st.integers(0, 99)),
)


@settings(max_examples=80, deadline=None)
@given(responses, st.booleans(), st.booleans())
def test_stream_carries_what_the_whole_response_carries(response, echo, usage):
    body = {"prompt": "P: ", "echo": echo, "stream_options": {"include_usage": usage}}
    ctx = EncodeContext(model="client", body=body, created=3)
    whole = json.loads(T.encode_response(response, ctx))
    encoder = T.stream_encoder(ctx)
    data = b"".join(encoder.encode([e]) for e in response_events(response)) + encoder.close()
    parser = SSEParser()
    events = [e.data for e in parser.feed(data) + parser.close()]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["id"] for c in chunks} == {whole["id"]} and {c["model"] for c in chunks} == {"client"}
    assert all(c["object"] == "text_completion" for c in chunks)
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == whole["choices"][0]["text"] == ("P: " if echo else "") + response.text
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == [whole["choices"][0]["finish_reason"]]
    assert whole["choices"][0]["finish_reason"] in ("stop", "length", "content_filter")
    if usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    else:
        assert all("usage" not in c for c in chunks)


def test_stream_error_is_an_openai_error_chunk():
    encoder = T.stream_encoder(EncodeContext(model="m", body={}))
    data = encoder.encode([StreamError(GatewayError.from_status(503, "try later"))])
    assert json.loads(data.removeprefix(b"data: "))["error"]["message"] == "try later"
    assert b"[DONE]" not in data
