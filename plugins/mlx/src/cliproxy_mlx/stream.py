"""A local server's answer as IR: decoded, ``<think>`` split, usage filled in.

Local servers often send no usage (mlx-openai-server has no ``stream_options``; Ollama
sends it only when asked), so a response that arrives without token counts gets estimated
ones, marked ``estimated``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from cliproxy import GatewayError, StreamDecoder, UpstreamResponse, estimate_tokens, ir

__all__ = ["LocalEvents", "fill_usage", "local_response"]


def _output_text(parts: Iterable[ir.Part]) -> str:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, ir.TextPart | ir.ReasoningPart):
            pieces.append(part.text)
        elif isinstance(part, ir.ToolCallPart):
            pieces.append(part.name)
            pieces.append(part.arguments)
    return "".join(pieces)


def fill_usage(usage: ir.Usage, input_tokens: Callable[[], int | None], output_text: str) -> ir.Usage:
    """``usage`` with missing input/output counts estimated (and marked so)."""
    if usage.input_tokens is not None and usage.output_tokens is not None:
        return usage
    return attrs.evolve(
        usage,
        input_tokens=usage.input_tokens if usage.input_tokens is not None else input_tokens(),
        output_tokens=usage.output_tokens if usage.output_tokens is not None else estimate_tokens(output_text),
        estimated=True,
    )


def local_response(response: ir.Response, *, think_tags: bool, input_tokens: Callable[[], int | None]) -> ir.Response:
    """A whole response with ``<think>`` split out and usage filled in."""
    if think_tags:
        response = ir.split_think_response(response)
    usage = fill_usage(response.usage, input_tokens, _output_text(response.parts))
    return response if usage is response.usage else attrs.evolve(response, usage=usage)


class LocalEvents:
    """The IR events of a local server's stream, as an async iterator.

    :meth:`read_head` reads until the first content event, raising the stream's error if
    it fails before that, so the gateway can still try another credential. Closing (or
    reaching the end) releases the upstream connection.
    """

    def __init__(
        self,
        result: UpstreamResponse,
        decoder: StreamDecoder,
        *,
        think_tags: bool,
        input_tokens: Callable[[], int | None],
        explain: Callable[[GatewayError], GatewayError] = lambda e: e,
    ) -> None:
        assert result.chunks is not None
        self._result = result
        self._chunks = result.chunks.__aiter__()
        self._decoder = decoder
        self._splitter = ir.ThinkBlockSplitter() if think_tags else None
        self._input_tokens = input_tokens
        self._explain = explain
        self._pending: deque[ir.StreamEvent] = deque()
        self._output: list[str] = []
        self._ended = False

    def _process(self, events: list[ir.StreamEvent]) -> list[ir.StreamEvent]:
        if self._splitter is not None:
            events = self._splitter.feed(events)
        for i, event in enumerate(events):
            if isinstance(event, ir.TextDelta | ir.ReasoningDelta):
                self._output.append(event.text)
            elif isinstance(event, ir.ToolCallStart):
                self._output.append(event.name)
            elif isinstance(event, ir.ToolCallDelta):
                self._output.append(event.arguments)
            elif isinstance(event, ir.StreamFinish):
                usage = fill_usage(event.usage, self._input_tokens, "".join(self._output))
                if usage is not event.usage:
                    events[i] = attrs.evolve(event, usage=usage)
            elif isinstance(event, ir.StreamError):
                events[i] = ir.StreamError(self._explain(event.error))
        return events

    async def _pull(self) -> None:
        """Read one network chunk (or the end) into the pending events."""
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            self._pending.extend(self._process(self._decoder.close()))
            return
        except GatewayError as error:
            raise self._explain(error) from None
        self._pending.extend(self._process(self._decoder.feed(chunk)))

    async def read_head(self) -> None:
        """Read until the first content event; raise the upstream's error if it comes first."""
        while not self._ended and all(isinstance(e, ir.StreamStart) for e in self._pending):
            await self._pull()
        for event in self._pending:
            if isinstance(event, ir.StreamError):
                raise event.error
            if not isinstance(event, ir.StreamStart):
                break

    def __aiter__(self) -> LocalEvents:
        return self

    async def __anext__(self) -> ir.StreamEvent:
        while not self._pending:
            if self._ended:
                await self.aclose()
                raise StopAsyncIteration
            await self._pull()
        return self._pending.popleft()

    async def aclose(self) -> Any:
        await self._result.aclose()
