"""What a provider answers a call with: the upstream's bytes, or an answer in the IR.

:class:`UpstreamResponse` holds an upstream's successful answer still in its wire format
(the gateway decodes it, or passes it through to a client of the same wire);
:class:`DirectResponse` an answer a provider produced in the IR itself (local models,
the echo demo).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs

from cliproxy.ir import Response, StreamEvent
from cliproxy.translate import StreamDecoder

__all__ = ["DirectResponse", "UpstreamResponse"]


@attrs.define(eq=False)
class UpstreamResponse:
    """An upstream's successful answer, still in its wire format.

    Exactly one of ``body`` (a whole response) and ``chunks`` (a stream, as network reads
    arrive) is set. ``streamed`` says how ``wire``'s translator should decode it: a stream
    decoder for ``chunks``, ``decode_response`` for ``body``. Close it with :meth:`aclose`.

    ``decoder`` is a stream decoder the provider prepared for this one response, when
    decoding needs what only the request knows (tool names it shortened, an input-token
    estimate); the stream is then always decoded, never passed through. None means
    ``wire``'s translator's ``stream_decoder()``.
    """

    wire: str
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None
    release: Callable[[], Any] | None = None
    decoder: StreamDecoder | None = None

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    async def aclose(self) -> None:
        """Release the connection, and let go of the body (a frame that still refers to
        this response, say in a traceback, keeps no megabytes alive)."""
        self.body = None
        if self.release is not None:
            release, self.release = self.release, None
            result = release()
            if result is not None and isinstance(result, Awaitable):
                await result


@attrs.define(eq=False)
class DirectResponse:
    """An answer a provider produced in the IR itself (local models, the echo demo).

    Set ``response`` for a whole response, or ``events`` for a stream; the gateway folds or
    replays as the client needs.
    """

    response: Response | None = None
    events: AsyncIterator[StreamEvent] | None = None

    async def aclose(self) -> None:
        closer = getattr(self.events, "aclose", None)
        if closer is not None:
            await closer()
