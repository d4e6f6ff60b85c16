"""The translator contract: a built-in translator passes it both ways (generated values and
recorded samples); translators broken one way each fail the property they break."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from cliproxy import EncodeContext, ir
from cliproxy.testing import Sample, TranslatorContract
from cliproxy.wire.openai_chat import OpenAIChat

RECORDINGS = Path(__file__).parents[2] / "recordings"


def _chat_request(request: ir.Request) -> ir.Request:
    """What openai-chat cannot carry: reasoning in the history, several assistant texts."""
    messages = []
    for message in request.messages:
        parts = [p for p in message.parts if not isinstance(p, ir.ReasoningPart)]
        if message.role == "assistant":
            texts = [p for p in parts if isinstance(p, ir.TextPart)]
            others = [p for p in parts if not isinstance(p, ir.TextPart)]
            parts = ([ir.TextPart("".join(t.text for t in texts))] if texts else []) + others
        messages.append(attrs.evolve(message, parts=parts))
    return attrs.evolve(request, messages=messages, extras={})


def _chat_response(response: ir.Response) -> ir.Response:
    """What openai-chat cannot carry: several text or reasoning blocks, ids and metadata."""
    parts: list[ir.Part] = []
    reasoning = "".join(p.text for p in response.parts if isinstance(p, ir.ReasoningPart))
    if reasoning:
        parts.append(ir.ReasoningPart(reasoning))
    text = "".join(p.text for p in response.parts if isinstance(p, ir.TextPart))
    if text:
        parts.append(ir.TextPart(text))
    parts.extend(attrs.evolve(p, provider_metadata=None) for p in response.parts if isinstance(p, ir.ToolCallPart))
    usage = attrs.evolve(response.usage, cache_read_tokens=response.usage.cache_read_tokens or None)
    return ir.Response(id="", model="", parts=parts, finish=ir.Finish(response.finish.reason), usage=usage)


class TestOpenAIChatContract(TranslatorContract):
    translator = OpenAIChat()
    context = EncodeContext(model="model-x", body={"stream_options": {"include_usage": True}}, created=1)
    samples = [
        Sample(
            stream=(RECORDINGS / "openai-chat/DERIVED-vercel-openai-text.sse.txt").read_bytes(),
            name="vercel text",
        ),
        Sample(stream=(RECORDINGS / "openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt").read_bytes()),
    ]

    def normalize_request(self, request: ir.Request) -> ir.Request:
        return _chat_request(request)

    def normalize_response(self, response: ir.Response) -> ir.Response:
        return _chat_response(response)


# -- broken translators: each fails the property it breaks --------------------------------


class _Forgetful:
    """A decoder that loses whatever a read leaves of an unfinished line."""

    def __init__(self) -> None:
        self.inner = OpenAIChat().stream_decoder()

    def feed(self, data: bytes) -> list[ir.StreamEvent]:
        keep, _, _ = data.rpartition(b"\n")
        return self.inner.feed(keep + b"\n" if keep else b"")

    def close(self) -> list[ir.StreamEvent]:
        return self.inner.close()


class LosesSplitLines(OpenAIChat):
    def stream_decoder(self) -> _Forgetful:  # type: ignore[override]
        return _Forgetful()


class ShoutsWhenWhole(OpenAIChat):
    """Decodes whole answers with their text upper-cased: stream and whole disagree."""

    def decode_response(self, body: bytes) -> ir.Response:
        response = super().decode_response(body)
        parts = [attrs.evolve(p, text=p.text.upper()) if isinstance(p, ir.TextPart) else p for p in response.parts]
        return attrs.evolve(response, parts=parts)


class DropsTools(OpenAIChat):
    """Encodes requests without their tools."""

    def encode_request(self, request: ir.Request, model: str) -> dict:
        return super().encode_request(attrs.evolve(request, tools=(), tool_choice=None), model)


class UpstreamOnly:
    """An upstream-only translator (as Kiro's is): no request decoding, no encoders."""

    name = "upstream-only"

    def __init__(self) -> None:
        self.chat = OpenAIChat()

    def encode_request(self, request: ir.Request, model: str) -> dict:
        return self.chat.encode_request(request, model)

    def decode_response(self, body: bytes) -> ir.Response:
        return self.chat.decode_response(body)

    def stream_decoder(self):
        return self.chat.stream_decoder()


def contract(translator: object, **attributes: object) -> TranslatorContract:
    cls = type("Check", (TestOpenAIChatContract,), {"translator": translator, **attributes})
    return cls()


def test_a_decoder_that_needs_whole_lines_fails_any_split() -> None:
    with pytest.raises(AssertionError):
        contract(LosesSplitLines(), examples=100).test_a_stream_split_anywhere_decodes_the_same()


def test_stream_and_whole_disagreeing_fails_stream_is_whole() -> None:
    with pytest.raises(AssertionError):
        contract(ShoutsWhenWhole(), samples=[]).test_stream_folds_to_the_whole_response()


def test_a_recorded_pair_that_disagrees_fails_stream_is_whole() -> None:
    text = (RECORDINGS / "openai-chat/DERIVED-vercel-openai-text.sse.txt").read_bytes()
    whole = OpenAIChat().encode_response(
        ir.Response(id="x", model="m", parts=[ir.TextPart("another answer")], finish=ir.Finish(ir.FinishReason.STOP)),
        EncodeContext(model="m", body={}),
    )
    check = contract(UpstreamOnly(), samples=[Sample(stream=text, whole=whole, name="mismatch")])
    with pytest.raises(AssertionError, match="sample mismatch"):
        check.test_stream_folds_to_the_whole_response()


def test_a_lossy_request_encoder_fails_the_round_trip() -> None:
    with pytest.raises(AssertionError):
        contract(DropsTools(), examples=100).test_request_round_trip()


def test_an_upstream_only_translator_is_told_to_give_samples_or_opt_out() -> None:
    check = contract(UpstreamOnly(), samples=[])
    with pytest.raises(pytest.fail.Exception, match="has no decode_request, which 'request_round_trip' needs"):
        check.test_request_round_trip()
    with pytest.raises(pytest.fail.Exception, match="give samples of its upstream's answers, or opt out"):
        check.test_a_stream_split_anywhere_decodes_the_same()


def test_an_upstream_only_translator_passes_on_its_samples() -> None:
    check = contract(UpstreamOnly())
    check.test_a_stream_split_anywhere_decodes_the_same()
