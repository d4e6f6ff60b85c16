"""Between streams and whole responses: fold events into a response, or replay one.

:class:`ResponseBuilder` folds stream events into the :class:`Response` a non-stream call
would have returned (used when a client asks for a whole response from an upstream that
only streams, and to check that both paths agree). :func:`response_events` replays a
whole response as the events a stream of it would carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from cliproxy.errors import GatewayError
from cliproxy.ir import events as ev
from cliproxy.ir.parts import (
    FilePart,
    Metadata,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    merge_metadata,
)
from cliproxy.ir.response import Finish, FinishReason, Response, Usage

__all__ = ["ResponseBuilder", "response_events"]


@attrs.define
class _Block:
    kind: str
    chunks: list[str] = attrs.Factory(list)
    metadata: Metadata = None
    call_id: str = ""
    name: str = ""
    file: FilePart | None = None


@attrs.define
class ResponseBuilder:
    """Accumulates stream events; :meth:`build` returns the whole response.

    Tolerant by design: a delta whose block never started opens one, so a sloppy
    upstream still folds into something sensible.
    """

    id: str = ""
    model: str = ""
    created: int | None = None
    finish: Finish | None = None
    usage: Usage = Usage()
    error: GatewayError | None = None
    provider_metadata: Metadata = None
    _blocks: dict[int, _Block] = attrs.Factory(dict)

    def feed(self, events: Iterable[ev.StreamEvent]) -> None:
        for event in events:
            self.add(event)

    def add(self, event: ev.StreamEvent) -> None:
        match event:
            case ev.TextDelta(index=i, text=text):
                self._block(i, "text").chunks.append(text)
            case ev.ReasoningDelta(index=i, text=text):
                self._block(i, "reasoning").chunks.append(text)
            case ev.ToolCallDelta(index=i, arguments=args):
                self._block(i, "tool").chunks.append(args)
            case ev.StreamStart():
                self.id = event.id or self.id
                self.model = event.model or self.model
                self.created = event.created if event.created is not None else self.created
                self.provider_metadata = merge_metadata(self.provider_metadata, event.provider_metadata)
            case ev.TextStart(index=i) | ev.TextEnd(index=i):
                block = self._block(i, "text")
                block.metadata = merge_metadata(block.metadata, event.provider_metadata)
            case ev.ReasoningStart(index=i) | ev.ReasoningEnd(index=i):
                block = self._block(i, "reasoning")
                block.metadata = merge_metadata(block.metadata, event.provider_metadata)
            case ev.ToolCallStart(index=i):
                block = self._block(i, "tool")
                block.call_id, block.name = event.id, event.name
                block.metadata = merge_metadata(block.metadata, event.provider_metadata)
            case ev.ToolCallEnd(index=i):
                block = self._block(i, "tool")
                block.metadata = merge_metadata(block.metadata, event.provider_metadata)
            case ev.FileOutput(index=i, part=part):
                self._block(i, "file").file = part
            case ev.StreamFinish():
                self.finish = event.finish
                self.usage = self.usage.merge(event.usage)
                self.provider_metadata = merge_metadata(self.provider_metadata, event.provider_metadata)
            case ev.StreamError(error=error):
                self.error = error

    def _block(self, index: int, kind: str) -> _Block:
        block = self._blocks.get(index)
        if block is None:
            block = self._blocks[index] = _Block(kind)
        return block

    @property
    def parts(self) -> list[Part]:
        parts: list[Part] = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if block.kind == "text":
                parts.append(TextPart("".join(block.chunks), block.metadata))
            elif block.kind == "reasoning":
                parts.append(ReasoningPart("".join(block.chunks), block.metadata))
            elif block.kind == "tool":
                parts.append(ToolCallPart(block.call_id, block.name, "".join(block.chunks) or "{}", block.metadata))
            elif block.file is not None:
                parts.append(block.file)
        return parts

    def build(self) -> Response:
        """The folded response; raises the stream's error if it ended with one."""
        if self.error is not None:
            raise self.error
        parts = self.parts
        finish = self.finish
        if finish is None:
            has_tools = any(isinstance(p, ToolCallPart) for p in parts)
            finish = Finish(FinishReason.TOOL_CALLS if has_tools else FinishReason.STOP)
        return Response(
            id=self.id,
            model=self.model,
            parts=parts,
            finish=finish,
            usage=self.usage,
            created=self.created,
            provider_metadata=self.provider_metadata,
        )


def response_events(response: Response) -> Iterator[ev.StreamEvent]:
    """The events a stream of ``response`` carries, one delta per block."""
    yield ev.StreamStart(response.id, response.model, response.created)
    index = 0
    for part in response.parts:
        match part:
            case TextPart(text=text, provider_metadata=meta):
                yield ev.TextStart(index)
                if text:
                    yield ev.TextDelta(index, text)
                yield ev.TextEnd(index, meta)
            case ReasoningPart(text=text, provider_metadata=meta):
                yield ev.ReasoningStart(index)
                if text:
                    yield ev.ReasoningDelta(index, text)
                yield ev.ReasoningEnd(index, meta)
            case ToolCallPart(id=call_id, name=name, arguments=args, provider_metadata=meta):
                yield ev.ToolCallStart(index, call_id, name, meta)
                if args:
                    yield ev.ToolCallDelta(index, args)
                yield ev.ToolCallEnd(index)
            case FilePart():
                yield ev.FileOutput(index, part)
            case _:
                continue
        index += 1
    yield ev.StreamFinish(response.finish, response.usage, response.provider_metadata)
