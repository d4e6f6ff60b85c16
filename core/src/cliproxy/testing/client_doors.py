"""The four client doors as a test client sees them: what to send, and how to read the
answer with the door's own wire translator (no vendor SDK needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from cliproxy import ir
from cliproxy.errors import GatewayError
from cliproxy.translate import UpstreamTranslator

__all__ = ["DOORS", "Answer", "ClientDoor", "read_answer"]


@attrs.frozen
class ClientDoor:
    """One of the gateway's client doors.

    Attributes:
        name: Short name used in messages (``chat``, ``responses``, ``messages``, ``gemini``).
        wire: The wire format clients speak there (its translator reads the answers).
    """

    name: str
    wire: str

    def request(self, model: str, prompt: str, *, stream: bool, key: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        """``(path, JSON body, headers)`` of a one-message request, as this door's clients send it."""
        user = [{"role": "user", "content": prompt}]
        if self.wire == "openai-chat":
            body: dict[str, Any] = {"model": model, "messages": user, "stream": stream}
            if stream:
                body["stream_options"] = {"include_usage": True}  # else a chat stream reports no usage
            return "/v1/chat/completions", body, _bearer(key)
        if self.wire == "openai-responses":
            return "/v1/responses", {"model": model, "input": prompt, "stream": stream}, _bearer(key)
        if self.wire == "anthropic":
            body = {"model": model, "max_tokens": 256, "messages": user, "stream": stream}
            return "/v1/messages", body, {"x-api-key": key, "anthropic-version": "2023-06-01"}
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        return f"/v1beta/models/{model}:{method}", body, {"x-goog-api-key": key}


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


DOORS = (
    ClientDoor("chat", "openai-chat"),
    ClientDoor("responses", "openai-responses"),
    ClientDoor("messages", "anthropic"),
    ClientDoor("gemini", "gemini"),
)
"""OpenAI Chat Completions, OpenAI Responses, Anthropic Messages, Gemini generateContent."""


@attrs.frozen
class Answer:
    """A door's answer read back into the IR, or what was wrong with it."""

    response: ir.Response | None = None
    problem: str | None = None

    @property
    def text(self) -> str:
        return (
            "" if self.response is None else "".join(p.text for p in self.response.parts if isinstance(p, ir.TextPart))
        )

    @property
    def tool_names(self) -> tuple[str, ...]:
        if self.response is None:
            return ()
        return tuple(p.name for p in self.response.parts if isinstance(p, ir.ToolCallPart))


def read_answer(
    translator: UpstreamTranslator, status: int, headers: Mapping[str, str], body: bytes, *, stream: bool
) -> Answer:
    """Read a door's answer with its wire's translator: a whole body must decode, a stream
    must decode into events that end with a finish and carry no error."""
    media_type = headers.get("content-type", "")
    if status != 200:
        return Answer(problem=f"answered {status}: {body[:500]!r}")
    if stream:
        if not media_type.startswith("text/event-stream"):
            return Answer(problem=f"a stream came as {media_type!r}, not text/event-stream")
        try:
            decoder = translator.stream_decoder()
            events = [*decoder.feed(body), *decoder.close()]
        except GatewayError as error:
            return Answer(problem=f"the stream does not decode: {error.message}")
        errors = [e for e in events if isinstance(e, ir.StreamError)]
        if errors:
            return Answer(problem=f"the stream carries an error: {errors[0].error.message}")
        if not events or not isinstance(events[0], ir.StreamStart):
            return Answer(problem="the stream does not begin with a start event")
        finishes = [i for i, e in enumerate(events) if isinstance(e, ir.StreamFinish)]
        if len(finishes) != 1:
            return Answer(problem=f"the stream has {len(finishes)} finish events, not one")
        builder = ir.ResponseBuilder()
        builder.feed(events)
        response = builder.build()
    else:
        if not media_type.startswith("application/json"):
            return Answer(problem=f"a whole answer came as {media_type!r}, not application/json")
        try:
            response = translator.decode_response(body)
        except (GatewayError, orjson.JSONDecodeError, ValueError, KeyError, TypeError) as error:
            return Answer(problem=f"the answer does not decode ({type(error).__name__}: {error})")
    if not any(_has_content(part) for part in response.parts):
        return Answer(response, problem="the answer carries no text, reasoning or tool call")
    if response.usage.output_tokens is None or response.usage.input_tokens is None:
        return Answer(response, problem=f"the answer reports no token usage ({response.usage})")
    return Answer(response)


def _has_content(part: ir.Part) -> bool:
    if isinstance(part, ir.TextPart | ir.ReasoningPart):
        return bool(part.text)
    return isinstance(part, ir.ToolCallPart)
