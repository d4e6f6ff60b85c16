"""A local server's stream through ``LocalEvents`` folds to what the same answer sent
whole gives: same parts, same (estimated) usage, whatever the network splits."""

from __future__ import annotations

import asyncio
import json

from cliproxy import UpstreamResponse, ir
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy_mlx.stream import LocalEvents, local_response
from hypothesis import given, settings
from hypothesis import strategies as st

CHAT = OpenAIChat()


def sse(contents: list[str], usage: dict | None) -> bytes:
    def chunk(delta: dict, finish: str | None = None, **extra: object) -> bytes:
        body = {
            "id": "c-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    data = b"".join(chunk({"content": c}) for c in contents) + chunk({}, "stop")
    if usage is not None:
        data += b"data: " + json.dumps({"id": "c-1", "choices": [], "usage": usage}).encode() + b"\n\n"
    return data + b"data: [DONE]\n\n"


def whole(text: str, usage: dict | None) -> bytes:
    body = {
        "id": "c-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body).encode()


async def fold_stream(data: bytes, cuts: list[int]) -> ir.Response:
    async def chunks():
        start = 0
        for cut in [*sorted(set(cuts)), len(data)]:
            yield data[start:cut]
            start = cut

    closed = []
    result = UpstreamResponse(wire="openai-chat", chunks=chunks(), release=lambda: closed.append(True))
    events = LocalEvents(result, CHAT.stream_decoder(), think_tags=True, input_tokens=lambda: 42)
    await events.read_head()
    builder = ir.ResponseBuilder()
    async for event in events:
        builder.add(event)
    assert closed == [True]  # the upstream connection was released at the end
    return builder.build()


WORDS = st.sampled_from(["<think>", "</think>", "\n", " ", "hmm", "so", "Answer", "<th", "ink>", "é"])


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(WORDS, min_size=1, max_size=10),
    pieces=st.integers(1, 4),
    data=st.data(),
    with_usage=st.booleans(),
)
def test_stream_folds_to_the_whole_answer(words, pieces, data, with_usage):
    text = "".join(words)
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10} if with_usage else None
    step = max(1, len(words) // pieces)
    contents = ["".join(words[i : i + step]) for i in range(0, len(words), step)]
    raw = sse(contents, usage)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10))
    streamed = asyncio.run(fold_stream(raw, cuts))
    answer = local_response(CHAT.decode_response(whole(text, usage)), think_tags=True, input_tokens=lambda: 42)
    assert streamed.parts == answer.parts
    assert streamed.usage == answer.usage
    assert streamed.usage.estimated is not with_usage
    if not with_usage:
        assert streamed.usage.input_tokens == 42
