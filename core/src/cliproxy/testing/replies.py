"""Fake upstreams that speak a built-in wire format, answered by the core's own encoders."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from cliproxy import builtins, ir
from cliproxy.testing.upstream import RecordedRequest, Reply
from cliproxy.translate import ClientTranslator, EncodeContext

__all__ = ["DEFAULT_ANSWER", "wire_answer"]

DEFAULT_ANSWER = "Hello from the fake upstream."

_ids = itertools.count(1)


def built_in_translator(wire: str) -> ClientTranslator:
    """The core's translator for ``wire`` (``openai-chat``, ``openai-responses``,
    ``anthropic``, ``gemini``)."""
    found: list[object] = []
    builtins.register_translators(found.append)
    for translator in found:
        if getattr(translator, "name", None) == wire:
            return translator  # type: ignore[return-value]
    names = ", ".join(str(getattr(t, "name", "?")) for t in found)
    raise ValueError(f"no built-in wire format {wire!r}; the built-in ones are {names}")


def wire_answer(wire: str, text: str = DEFAULT_ANSWER, *, delay: float = 0.0) -> Callable[[RecordedRequest], Reply]:
    """A :class:`~cliproxy.testing.FakeUpstream` handler that answers in ``wire`` with
    ``text``: a whole body, or a stream when the request asks for one (``"stream": true``
    in the body, or Gemini's ``:streamGenerateContent``; ``?alt=sse`` picks Gemini's SSE
    framing), after ``delay`` seconds. The bytes come from the core's encoder for that
    wire, so they are what the gateway itself would send a client::

        upstream.add("POST", "/v1/chat/completions", wire_answer("openai-chat", "Hi!"))
    """
    translator = built_in_translator(wire)

    def answer(request: RecordedRequest) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        model = str(body.get("model") or _model_in(request.path) or "fake-model")
        stream = body.get("stream") is True or request.path.endswith(":streamGenerateContent")
        response = ir.Response(
            id=f"fake-{next(_ids)}",
            model=model,
            parts=[ir.TextPart(text)],
            finish=ir.Finish(ir.FinishReason.STOP),
            usage=ir.Usage(input_tokens=7, output_tokens=max(1, len(text.split()))),
        )
        ctx = EncodeContext(model=model, body=body, created=int(time.time()), query=dict(request.query))
        if not stream:
            return Reply(body=translator.encode_response(response, ctx), delay=delay)
        encoder = translator.stream_encoder(ctx)
        chunks = [encoder.encode([event]) for event in ir.response_events(response)] + [encoder.close()]
        return Reply(chunks=[c for c in chunks if c], content_type=encoder.media_type, delay=delay)

    return answer


def _model_in(path: str) -> str | None:
    """The model of a Gemini path (``/v1beta/models/<model>:generateContent``)."""
    _, found, rest = path.partition("/models/")
    return (rest.rpartition(":")[0] or None) if found else None
