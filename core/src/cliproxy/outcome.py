"""What dispatching a request found: the candidate that answered, and what was read of
its answer so far (a stream is read up to its first event before it counts as answered)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs

from cliproxy.answers import DirectResponse, UpstreamResponse
from cliproxy.embedding import Embeddings
from cliproxy.ir import Response, StreamEvent, Usage
from cliproxy.providers import Call
from cliproxy.routing import Candidate
from cliproxy.selection import Selection
from cliproxy.translate import StreamDecoder

__all__ = ["Outcome"]


@attrs.define(eq=False)
class Outcome:
    """A candidate that answered, and what was read of its answer so far."""

    call: Call
    candidate: Candidate
    selection: Selection
    result: UpstreamResponse | DirectResponse | Embeddings
    response: Response | None = None  # whole responses, decoded
    head: list[StreamEvent] = attrs.Factory(list)  # stream events decoded while checking the start
    head_bytes: bytes = b""  # the raw bytes those events came from
    decoder: StreamDecoder | None = None
    chunks: AsyncIterator[bytes] | None = None
    ended: bool = False  # the upstream stream is already exhausted
    parsed: Any = None  # a whole response passed through: its JSON, parsed once
    usage: Usage | None = None  # ... and the usage it reports

    @property
    def passthrough(self) -> bool:
        """Forward the upstream's bytes: same wire and same shape (stream or not), no
        decoder of the provider's own that must read them first, and no framing the
        client's translator says this client needs instead (Gemini's JSON-array stream)."""
        result = self.result
        client = self.call.client
        if not (
            isinstance(result, UpstreamResponse)
            and result.wire == client.wire
            and result.streamed == client.stream
            and result.decoder is None
        ):
            return False
        return client.translator.can_pass_through(client.stream, client.query)
