"""``GenerateContentResponse`` <-> IR responses.

:class:`ResponseReader` reads one response object -- a whole response or one stream chunk
-- into IR events; stream decoding and :func:`decode_response` share it. Usage in a
stream is cumulative, so the latest counts win; ``finishReason`` arrives on the last chunk.
A prompt blocked before generation (``promptFeedback.blockReason``, no candidates) ends as
a content filter.

:func:`encode_response` writes a whole response for a Gemini client. Thought text is
included when the client asked for it (``includeThoughts``); a thought's Gemini signature
always is (on an empty thought part), since the client must send it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Part,
    ReasoningPart,
    Response,
    ResponseBuilder,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextPart,
    ToolCallPart,
    Usage,
)
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.gemini.common import (
    GENERATED_ID_PREFIX,
    decode_usage,
    encode_finish,
    encode_usage,
    finish_from,
    id_seed,
    signature_of,
)
from cliproxy.wire.gemini.errors import error_from_status
from cliproxy.wire.gemini.parts import PartAssembler, encode_call, encode_file, encode_text

__all__ = ["ResponseReader", "decode_response", "encode_parts", "encode_response", "wants_thoughts"]


def _created(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _first_candidate(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = obj.get("candidates")
    if not isinstance(candidates, list):
        return None
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("index", 0) == 0:
            return candidate
    return None


class ResponseReader:
    """Reads response objects (one, or a stream's chunks in order) into IR events."""

    def __init__(self) -> None:
        self._assembler: PartAssembler | None = None
        self.usage = Usage()
        self.finish_raw: str | None = None
        self.blocked: str | None = None
        self.started = False

    def read(self, obj: Mapping[str, Any], out: list[StreamEvent]) -> None:
        if self._assembler is None:
            self._assembler = PartAssembler(id_seed(obj.get("responseId")))
        if not self.started:
            self.started = True
            out.append(
                StreamStart(
                    id=obj.get("responseId") if isinstance(obj.get("responseId"), str) else None,
                    model=obj.get("modelVersion") if isinstance(obj.get("modelVersion"), str) else None,
                    created=_created(obj.get("createTime")),
                )
            )
        usage = decode_usage(obj.get("usageMetadata"))
        if usage is not None:
            self.usage = self.usage.merge(usage)
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, Mapping) and isinstance(feedback.get("blockReason"), str):
            self.blocked = feedback["blockReason"]
        candidate = _first_candidate(obj)
        if candidate is None:
            return
        content = candidate.get("content")
        if isinstance(content, Mapping) and isinstance(content.get("parts"), list):
            self._assembler.feed(content["parts"], out)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            self.finish_raw = reason
            self._assembler.close(out)

    @property
    def finished(self) -> bool:
        return self.finish_raw is not None or self.blocked is not None

    def finish(self, out: list[StreamEvent]) -> None:
        """Close open blocks and end with the finish reason and the last usage seen."""
        calls = 0
        if self._assembler is not None:
            self._assembler.close(out)
            calls = self._assembler.tool_calls
        if self.finish_raw is None and self.blocked is not None:
            finish = Finish(FinishReason.CONTENT_FILTER, self.blocked)
        else:
            finish = finish_from(self.finish_raw, tool_calls=calls > 0)
        out.append(StreamFinish(finish, self.usage))


def _error_status(obj: Mapping[str, Any]) -> int:
    err = obj.get("error")
    code = err.get("code") if isinstance(err, Mapping) else None
    return code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 502


def decode_response(body: bytes) -> Response:
    try:
        obj = c.loads(body)
    except ValueError:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message="Gemini answered with a body that is not JSON",
        ) from None
    chunks = obj if isinstance(obj, list) else [obj]  # a JSON-array stream, read whole
    reader = ResponseReader()
    events: list[StreamEvent] = []
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message="Gemini answered with JSON that is not an object",
            )
        if isinstance(chunk.get("error"), Mapping):
            raise error_from_status(_error_status(chunk), chunk)
        reader.read(chunk, events)
    if not reader.started:
        reader.read({}, events)
    reader.finish(events)
    builder = ResponseBuilder()
    builder.feed(events)
    response = builder.build()
    if not response.id:
        response = Response(
            id=c.new_id("gemini-"),
            model=response.model,
            parts=response.parts,
            finish=response.finish,
            usage=response.usage,
            created=response.created,
        )
    return response


# -- client side --------------------------------------------------------------------------


def wants_thoughts(body: Mapping[str, Any]) -> bool:
    """Whether a Gemini client asked for thought parts (``includeThoughts``, in either
    spelling)."""
    config = body.get("generationConfig", body.get("generation_config"))
    if not isinstance(config, Mapping):
        return False
    thinking = config.get("thinkingConfig", config.get("thinking_config"))
    if not isinstance(thinking, Mapping):
        return False
    return thinking.get("includeThoughts", thinking.get("include_thoughts")) is True


def client_call_id(part: ToolCallPart) -> bool:
    """Whether a Gemini client should see this call's id (ids the translator invented are
    not shown: Gemini clients answer by name, as Gemini itself expects)."""
    return not part.id.startswith(GENERATED_ID_PREFIX)


def encode_parts(parts: Iterable[Part], thoughts: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        encoded: dict[str, Any] | None = None
        if isinstance(part, ReasoningPart):
            if thoughts:
                encoded = encode_text(part)
            elif signature_of(part.provider_metadata) is not None:
                # The client did not ask for thoughts, but must carry the signature back.
                encoded = encode_text(ReasoningPart("", part.provider_metadata))
        elif isinstance(part, TextPart):
            encoded = encode_text(part) if part.text or signature_of(part.provider_metadata) else None
        elif isinstance(part, ToolCallPart):
            encoded = encode_call(part, with_id=client_call_id(part))
        elif isinstance(part, FilePart):
            encoded = encode_file(part)
        if encoded is not None:
            out.append(encoded)
    return out


def encode_response(response: Response, ctx: EncodeContext) -> bytes:
    candidate = {
        "content": {
            "role": "model",
            "parts": encode_parts(response.parts, wants_thoughts(ctx.body)),
        },
        "finishReason": encode_finish(response.finish),
        "index": 0,
    }
    return orjson.dumps(
        {
            "candidates": [candidate],
            "usageMetadata": encode_usage(response.usage),
            "modelVersion": ctx.model,
            "responseId": response.id or c.new_id(""),
        }
    )
