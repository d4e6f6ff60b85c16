"""OpenAI legacy Completions (``/v1/completions``): the ``openai-completions`` wire format.

Client side only. A completion request becomes a chat request with one user message
holding the prompt, served by whatever model the name routes to; answers come back as
``text_completion`` objects, streams as ``text_completion`` chunks ending with
``data: [DONE]``.

What maps and what does not:

* ``prompt``: a string, or an array holding exactly one string. Several prompts in one
  request (batching), and token-id prompts, are refused with a 400: send one request per
  prompt, as text.
* ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``, ``presence_penalty``,
  ``frequency_penalty``, ``user``, ``stream``, ``stream_options.include_usage`` map as in
  Chat; ``logit_bias`` reaches OpenAI-compatible upstreams unchanged. No ``max_tokens``
  means the upstream's default, not the legacy API's 16.
* ``echo: true`` puts the prompt in front of the completion.
* ``suffix`` (fill-in-the-middle), ``logprobs``, ``n > 1`` and ``best_of > 1`` have no
  chat counterpart and are refused with a 400 naming the field.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FinishReason,
    Message,
    Request,
    Response,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextPart,
    Usage,
)
from cliproxy.sse import KEEPALIVE_COMMENT, frame
from cliproxy.translate import ClientTranslator, Door, EncodeContext, StreamEncoder
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat import encode_error
from cliproxy.wire.openai_chat.common import decode_stop

__all__ = ["OpenAICompletions"]

WIRE = "openai-completions"

_FINISH = {FinishReason.LENGTH: "length", FinishReason.CONTENT_FILTER: "content_filter"}
_MODELLED = frozenset(
    {
        "model",
        "prompt",
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "stream",
        "stream_options",
        "echo",
        "suffix",
        "logprobs",
        "n",
        "best_of",
        "logit_bias",
    }
)


def _prompt(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        if len(raw) == 1 and isinstance(raw[0], str):
            return raw[0]
        if raw and all(isinstance(p, str) for p in raw):
            raise GatewayError.invalid(
                f"'prompt' holds {len(raw)} prompts; the gateway serves one prompt per request "
                "(it answers completions with a chat model): send one request per prompt",
                param="prompt",
            )
        if not raw:
            raise GatewayError.invalid("'prompt' is an empty array; send the prompt as a string", param="prompt")
        raise GatewayError.invalid(
            "'prompt' must be text: token-id prompts cannot be forwarded to chat models; send the prompt as a string",
            param="prompt",
        )
    if raw is None:
        raise GatewayError.invalid("'prompt' is required: send the text to complete", param="prompt")
    raise GatewayError.invalid(f"'prompt' must be a string, not {c.kind_of(raw)}", param="prompt")


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    if body.get("suffix"):
        raise GatewayError.invalid(
            "'suffix' (fill-in-the-middle) is not supported: the gateway answers completions with chat models; "
            "leave it out",
            param="suffix",
        )
    if body.get("logprobs") is not None:
        raise GatewayError.invalid(
            "'logprobs' is not supported on /v1/completions through the gateway; leave it out", param="logprobs"
        )
    for key in ("n", "best_of"):
        value = c.get_int(body, key)
        if value is not None and value > 1:
            raise GatewayError.invalid(
                f"'{key}' > 1 is not supported: the gateway returns one completion per request; "
                "send several requests instead",
                param=key,
            )


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    prompt = _prompt(body.get("prompt"))
    _refuse_unsupported(body)
    extras: dict[str, dict[str, Any]] = {}
    rest = {k: v for k, v in body.items() if k not in _MODELLED}
    if rest:
        extras[WIRE] = rest
    if isinstance(body.get("logit_bias"), dict):
        extras["openai-chat"] = {"logit_bias": body["logit_bias"]}  # same meaning on the Chat wire
    user = c.get_str(body, "user", "")
    return Request(
        model=model or c.get_str(body, "model", "", required=True) or "",
        messages=[Message("user", [TextPart(prompt)])],
        max_tokens=c.get_int(body, "max_tokens"),
        temperature=c.get_number(body, "temperature"),
        top_p=c.get_number(body, "top_p"),
        stop=decode_stop(body.get("stop")),
        seed=c.get_int(body, "seed"),
        frequency_penalty=c.get_number(body, "frequency_penalty"),
        presence_penalty=c.get_number(body, "presence_penalty"),
        stream=bool(c.get_bool(body, "stream")) if stream is None else stream,
        metadata={"user": user} if user else None,
        extras=extras,
    )


def _echo(body: Mapping[str, Any]) -> str:
    if body.get("echo") is not True:
        return ""
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else prompt[0] if isinstance(prompt, list) and prompt else ""


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens or 0,
        "completion_tokens": usage.output_tokens or 0,
        "total_tokens": usage.total_tokens or 0,
    }


def _completion_id(response_id: str | None) -> str:
    if response_id and response_id.startswith("cmpl-"):
        return response_id
    return "cmpl-" + response_id if response_id else c.new_id("cmpl-")


def encode_response(response: Response, ctx: EncodeContext) -> bytes:
    choice = {
        "text": _echo(ctx.body) + response.text,
        "index": 0,
        "logprobs": None,
        "finish_reason": _FINISH.get(response.finish.reason, "stop"),
    }
    return orjson.dumps(
        {
            "id": _completion_id(response.id),
            "object": "text_completion",
            "created": response.created or ctx.created or int(time.time()),
            "model": ctx.model,
            "choices": [choice],
            "usage": _usage(response.usage),
        }
    )


class CompletionStreamEncoder(StreamEncoder):
    """IR events -> ``text_completion`` SSE chunks (see :class:`cliproxy.StreamEncoder`)."""

    def __init__(self, ctx: EncodeContext) -> None:
        self._ctx = ctx
        options = ctx.body.get("stream_options")
        self._include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._prefix = b""
        self._finished = False

    def _begin(self, start: StreamStart | None) -> bytes:
        cid = orjson.dumps(_completion_id(start.id if start else None))
        created = str((start.created if start else None) or self._ctx.created or int(time.time())).encode()
        model = orjson.dumps(self._ctx.model)
        self._prefix = (
            b'data: {"id":' + cid + b',"object":"text_completion","created":' + created + b',"model":' + model
        )
        echo = _echo(self._ctx.body)
        return self._chunk(echo) if echo else b""

    def _chunk(self, text: str, finish: bytes = b"null") -> bytes:
        return (
            self._prefix
            + b',"choices":[{"text":'
            + orjson.dumps(text)
            + b',"index":0,"logprobs":null,"finish_reason":'
            + finish
            + b"}]}\n\n"
        )

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._finished:
                break
            if not self._prefix and not isinstance(event, StreamError):
                out.append(self._begin(event if isinstance(event, StreamStart) else None))
            if isinstance(event, TextDelta):
                out.append(self._chunk(event.text))
            elif isinstance(event, StreamFinish):
                self._finished = True
                out.append(self._chunk("", orjson.dumps(_FINISH.get(event.finish.reason, "stop"))))
                if self._include_usage:
                    out.append(self._prefix + b',"choices":[],"usage":' + orjson.dumps(_usage(event.usage)) + b"}\n\n")
                out.append(b"data: [DONE]\n\n")
            elif isinstance(event, StreamError):
                self._finished = True
                out.append(frame(encode_error(event.error)))
        return b"".join(out)

    def close(self) -> bytes:
        return b""


class OpenAICompletions(ClientTranslator):
    """The ``openai-completions`` translator (client side only)."""

    name = WIRE
    doors = (Door("/v1/completions"),)

    def decode_request(
        self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None
    ) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> CompletionStreamEncoder:
        return CompletionStreamEncoder(ctx)

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def keepalive(self, query: Mapping[str, str]) -> bytes | None:
        return KEEPALIVE_COMMENT
