"""Gemini parts <-> IR, both ways, for requests and responses.

**IR -> Gemini parts** (requests to Gemini, responses to Gemini clients): a part's
Gemini-only fields come back from ``provider_metadata["gemini"]``: the
``thoughtSignature`` on the very part it arrived with, a Gemini-given function-call ``id``,
sibling fields the IR does not model (``videoMetadata``, ``mediaResolution``: kept as
``partFields``) and whole parts it cannot express (code execution: kept as ``part``). No
other provider's metadata is ever written into a Gemini part.

**Gemini response parts -> IR stream events** (:class:`PartAssembler`), for streams and
whole responses alike. A whole response is decoded by feeding all its parts through the
same assembler a stream uses, then folding the events, so the two paths agree by
construction:

* consecutive text parts (and consecutive thought parts) form one block; a part carrying a
  ``thoughtSignature`` ends its block, and the signature rides on the block's end event
  (Gemini sends it on the last part, often an empty text part of the final chunk);
* ``functionCall`` parts become tool calls with the complete arguments as one delta; Gemini
  3's streamed arguments (``willContinue`` + ``partialArgs`` with JSON paths) are collected
  until the call completes;
* ``inlineData``/``fileData`` parts become files; ``executableCode`` and
  ``codeExecutionResult`` become text blocks that remember the original part.

Tool calls without an ``id`` get one derived from the response id and their position
(:func:`~cliproxy.wire.gemini.common.generated_id`), the same in a stream and a whole
response.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs
import orjson
from cliproxy.ir import (
    BlockWriter,
    FilePart,
    Metadata,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallPart,
)
from cliproxy.wire.gemini.common import WIRE, gemini_meta, generated_id, signature_of

__all__ = [
    "PartAssembler",
    "call_args",
    "encode_call",
    "encode_file",
    "encode_text",
    "render_code_part",
    "with_fields",
]


# -- IR parts -> Gemini parts --------------------------------------------------------------


def with_fields(part: dict[str, Any], metadata: Metadata) -> dict[str, Any]:
    """``part`` plus its signature and unmodelled sibling fields from the metadata."""
    meta = gemini_meta(metadata)
    extra = meta.get("partFields")
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            part.setdefault(key, value)
    signature = signature_of(metadata)
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def encode_text(part: TextPart | ReasoningPart) -> dict[str, Any] | None:
    """A text or thought part; None for an empty part that carries nothing."""
    raw = gemini_meta(part.provider_metadata).get("part")
    if isinstance(raw, Mapping):
        return dict(raw)  # a code-execution part, as Gemini sent it
    if not part.text and signature_of(part.provider_metadata) is None:
        return None  # Gemini rejects empty text parts
    out: dict[str, Any] = {"text": part.text}
    if isinstance(part, ReasoningPart):
        out["thought"] = True
    return with_fields(out, part.provider_metadata)


def encode_file(part: FilePart) -> dict[str, Any]:
    if part.data is not None or not part.url:
        body: dict[str, Any] = {"inlineData": {"mimeType": part.media_type, "data": part.data or ""}}
    else:
        linked: dict[str, Any] = {"fileUri": part.url}
        if part.media_type and not part.media_type.endswith("/*"):
            linked["mimeType"] = part.media_type
        body = {"fileData": linked}
    return with_fields(body, part.provider_metadata)


def call_args(arguments: str) -> dict[str, Any]:
    """The arguments object of a tool call (Gemini takes an object, never text)."""
    if not arguments or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"arguments": arguments}  # keep what the model wrote rather than lose it
    if isinstance(value, dict):
        return value
    return {"value": value}


def encode_call(part: ToolCallPart, *, with_id: bool) -> dict[str, Any]:
    """A ``functionCall`` part; the id goes only where Gemini gave one (``with_id``) or the
    caller asks for the client's ids to be shown."""
    call: dict[str, Any] = {"name": part.name, "args": call_args(part.arguments)}
    given = gemini_meta(part.provider_metadata).get("id")
    if isinstance(given, str) and given:
        call["id"] = given
    elif with_id:
        call["id"] = part.id
    return with_fields({"functionCall": call}, part.provider_metadata)


# -- Gemini response parts -> IR events ----------------------------------------------------


@attrs.define
class _PendingCall:
    name: str
    args: dict[str, Any]
    continuing: set[str] = attrs.Factory(set)
    signature: str | None = None


def render_code_part(part: Mapping[str, Any]) -> str | None:
    """Readable text for a code-execution part (``executableCode``/``codeExecutionResult``)."""
    code = part.get("executableCode")
    if isinstance(code, Mapping):
        language = str(code.get("language") or "").lower().replace("language_unspecified", "")
        return f"```{language}\n{code.get('code') or ''}\n```"
    result = part.get("codeExecutionResult")
    if isinstance(result, Mapping):
        return f"```\n{result.get('output') or ''}\n```"
    return None


def _meta(**values: Any) -> dict[str, dict[str, Any]] | None:
    present = {k: v for k, v in values.items() if v is not None}
    return {WIRE: present} if present else None


class PartAssembler:
    """Feeds Gemini parts in order; appends IR events to the list it is given."""

    def __init__(self, id_seed: str) -> None:
        self._seed = id_seed
        # A text or reasoning block's end carries its signature: a block with one ends
        # at the next part. A pending call (streamed arguments) is the open tool block.
        self._blocks = BlockWriter()
        self._pending: _PendingCall | None = None
        self.tool_calls = 0

    def feed(self, parts: Iterable[Any], out: list[StreamEvent]) -> None:
        for part in parts:
            if isinstance(part, Mapping):
                self._part(part, out)

    def close(self, out: list[StreamEvent]) -> None:
        """End whatever block is still open (at the end of the response)."""
        self._finish_call(out)
        self._blocks.close(out)

    # -- blocks --------------------------------------------------------------------------

    def _part(self, part: Mapping[str, Any], out: list[StreamEvent]) -> None:
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            self._function_call(call, signature, out)
            return
        self._finish_call(out)
        text = part.get("text")
        if isinstance(text, str):
            self._text(text, part.get("thought") is True, signature, out)
            return
        blocks = self._blocks
        inline = part.get("inlineData")
        if isinstance(inline, Mapping):
            mime = str(inline.get("mimeType") or "application/octet-stream")
            file = FilePart(
                mime,
                data=str(inline.get("data") or ""),
                provider_metadata=_meta(thoughtSignature=signature),
            )
            blocks.file(file, out)
            return
        linked = part.get("fileData")
        if isinstance(linked, Mapping) and isinstance(linked.get("fileUri"), str):
            uri = linked["fileUri"]
            mime = linked.get("mimeType") or mimetypes.guess_type(uri.split("?", 1)[0])[0] or "application/octet-stream"
            blocks.file(FilePart(str(mime), url=uri, provider_metadata=_meta(thoughtSignature=signature)), out)
            return
        rendered = render_code_part(part)
        if rendered is not None:
            blocks.open("text", out)  # a block of its own, whatever text came before
            blocks.text(rendered, out)
            blocks.metadata = _meta(part=dict(part))
            blocks.close(out)
        # Anything else (future part kinds) carries nothing the IR can hold.

    def _text(self, text: str, thought: bool, signature: str | None, out: list[StreamEvent]) -> None:
        if not text and signature is None:
            return  # the empty part Gemini ends a turn with
        kind: Literal["text", "reasoning"] = "reasoning" if thought else "text"
        blocks = self._blocks
        if blocks.kind != kind or blocks.metadata is not None:  # a signature ended the open block
            blocks.open(kind, out)
        if text:
            out.append(TextDelta(blocks.index, text) if kind == "text" else ReasoningDelta(blocks.index, text))
        if signature is not None:
            blocks.metadata = _meta(thoughtSignature=signature)

    # -- function calls ------------------------------------------------------------------

    def _function_call(self, call: Mapping[str, Any], signature: str | None, out: list[StreamEvent]) -> None:
        name = found if isinstance(found := call.get("name"), str) else None
        partial = call.get("partialArgs")
        more = call.get("willContinue") is True
        pending = self._pending
        if pending is not None and (name is None or name == pending.name or partial):
            self._continue(pending, call, partial, signature)
            if not more:
                self._finish_call(out)
            return
        self._finish_call(out)
        given_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        call_id = given_id or generated_id(self._seed, self.tool_calls)
        self.tool_calls += 1
        blocks = self._blocks
        blocks.open_tool(call_id, name or "", out, _meta(thoughtSignature=signature, id=given_id))
        args = call.get("args")
        if more or partial:
            self._pending = _PendingCall(name or "", dict(args) if isinstance(args, Mapping) else {})
            self._continue(self._pending, call, partial, None)
            if not more:
                self._finish_call(out)
            return
        blocks.arguments(orjson.dumps(args if isinstance(args, Mapping) else {}).decode(), out)
        blocks.close(out)

    def _continue(self, pending: _PendingCall, call: Mapping[str, Any], partial: Any, signature: str | None) -> None:
        args = call.get("args")
        if isinstance(args, Mapping):
            pending.args.update(args)
        if isinstance(partial, list):
            for item in partial:
                if isinstance(item, Mapping):
                    _apply_partial(pending, item)
        if signature is not None and pending.signature is None:
            pending.signature = signature

    def _finish_call(self, out: list[StreamEvent]) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        blocks = self._blocks  # the pending call is the open block
        blocks.arguments(orjson.dumps(pending.args).decode(), out)
        blocks.metadata = _meta(thoughtSignature=pending.signature)
        blocks.close(out)


# -- streamed function-call arguments ------------------------------------------------------


_VALUE_KEYS = ("stringValue", "numberValue", "boolValue", "nullValue", "structValue", "listValue")


def _apply_partial(pending: _PendingCall, item: Mapping[str, Any]) -> None:
    path = item.get("jsonPath")
    segments = _parse_path(path) if isinstance(path, str) else None
    if not segments:
        return
    key = str(path)
    for value_key in _VALUE_KEYS:
        if value_key in item:
            value = item[value_key]
            break
    else:
        return
    if value_key == "nullValue":
        value = None
    if value_key == "stringValue" and key in pending.continuing:
        current = _get_path(pending.args, segments)
        value = (current if isinstance(current, str) else "") + str(value)
    _set_path(pending.args, segments, value)
    if item.get("willContinue") is True:
        pending.continuing.add(key)
    else:
        pending.continuing.discard(key)


def _parse_path(path: str) -> list[str | int] | None:
    """``$.a.b[0]['c d']`` -> ``["a", "b", 0, "c d"]``; None when it is not a JSON path."""
    if not path.startswith("$"):
        return None
    segments: list[str | int] = []
    i, n = 1, len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            j = i + 1
            while j < n and path[j] not in ".[":
                j += 1
            if j == i + 1:
                return None
            segments.append(path[i + 1 : j])
            i = j
        elif ch == "[":
            end = path.find("]", i)
            if end < 0:
                return None
            inner = path[i + 1 : end]
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(inner[1:-1])
            elif inner.isdigit():
                segments.append(int(inner))
            else:
                return None
            i = end + 1
        else:
            return None
    return segments


def _get_path(root: Any, segments: list[str | int]) -> Any:
    node = root
    for segment in segments:
        if isinstance(segment, int):
            if not isinstance(node, list) or segment >= len(node):
                return None
            node = node[segment]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(segment)
    return node


def _set_path(root: dict[str, Any], segments: list[str | int], value: Any) -> None:
    node: Any = root
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        following = None if last else segments[position + 1]
        fresh: Any = [] if isinstance(following, int) else {}
        if isinstance(segment, int):
            if not isinstance(node, list):
                return
            while len(node) <= segment:
                node.append(None)
            if last:
                node[segment] = value
            else:
                if not isinstance(node[segment], list | dict):
                    node[segment] = fresh
                node = node[segment]
        else:
            if not isinstance(node, dict):
                return
            if last:
                node[segment] = value
            else:
                if not isinstance(node.get(segment), list | dict):
                    node[segment] = fresh
                node = node[segment]
