"""Keepalives: what a door sends while its upstream is silent, so that proxies and clients
with idle timeouts do not cut a long wait (a model thinking before its first word).

Two settings, both off by default (and then nothing here runs):

* ``streaming: {keepalive-seconds: N}`` -- a stream that has sent nothing for ``N``
  seconds gets the door's own keepalive (:meth:`ClientTranslator.keepalive`: an SSE
  comment for the OpenAI and Gemini ``alt=sse`` doors, Anthropic's ``ping`` event). That
  holds before the answer's first byte too: the ``200`` status and the stream's headers go
  out with the first keepalive, while the gateway keeps trying candidates behind it --
  failover still runs until the first real byte. What is lost once a keepalive went out
  is the error *status*: when every candidate fails, the error arrives as the stream's
  error event (as a failure midway does), without ``Retry-After``. A stream answered
  within ``N`` seconds never notices the setting.
* ``nonstream-keepalive-interval: N`` -- a JSON answer still being waited for after ``N``
  seconds gets a blank line, and another every ``N`` seconds: leading whitespace, which
  every JSON parser skips. The first one commits the ``200`` status; failover still runs
  behind it, but a request that fails in the end gets its error body (the door's usual
  error JSON) with that ``200`` status.

:class:`Keepalive` is a ``send`` wrapper with a timer task; it sends keepalives only
between whole messages, and the gateway's messages are whole events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Message

from cliproxy.errors import GatewayError
from cliproxy.exchange import Exchange

__all__ = ["BLANK_LINE", "Keepalive"]

BLANK_LINE = b"\n"
"""The keepalive of a JSON answer: whitespace before the value, valid JSON."""


class Keepalive:
    """``send`` for one response, with keepalives after ``interval`` seconds of silence.

    Args:
        exchange: The request's exchange (the real ``send``).
        interval: Seconds of silence before each keepalive.
        ping: The keepalive bytes.
        headers: The response headers sent with the ``200`` status when a keepalive has to
            commit it before the answer is ready.
        stream: Whether the answer is a stream (keepalives go on between its events) or
            one JSON body (they stop when it starts).
        ending: The bytes that end a committed response with ``error`` (the stream's error
            event, or the error's JSON body).
    """

    __slots__ = (
        "committed",
        "ending",
        "exchange",
        "finished",
        "headers",
        "interval",
        "last",
        "lock",
        "ping",
        "started",
        "stream",
        "task",
    )

    def __init__(
        self,
        exchange: Exchange,
        interval: float,
        ping: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        stream: bool,
        ending: Callable[[GatewayError], bytes],
    ) -> None:
        self.exchange = exchange
        self.interval = interval
        self.ping = ping
        self.headers = headers
        self.stream = stream
        self.ending = ending
        self.committed = False  # a keepalive sent the status line
        self.started = False  # the answer's own status line came
        self.finished = False
        self.last = asyncio.get_running_loop().time()
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = asyncio.create_task(self._pump())

    async def __call__(self, message: Message) -> None:
        async with self.lock:
            if message["type"] == "http.response.start":
                self.started = True
                if self.committed:
                    status = message.get("status", 200)
                    if status != 200:
                        self.exchange.error_status = status
                    return  # the status line is out already
            elif message["type"] == "http.response.body":
                self.last = asyncio.get_running_loop().time()
                if not message.get("more_body", False):
                    self.finished = True
            await self.exchange(message)

    async def fail(self, error: GatewayError) -> None:
        """End a committed response with ``error`` (no status can say it any more)."""
        self.exchange.error_status = error.status
        await self({"type": "http.response.body", "body": self.ending(error), "more_body": False})

    def stop(self) -> None:
        """Stop the timer (call when the response is over, however it ended)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _pump(self) -> None:
        try:
            await self._beat()
        except Exception:  # the client is gone: the answer's own send will say so
            return

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self.last + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            async with self.lock:
                if self.finished or (self.started and not self.stream):
                    return
                if not self.started and not self.committed:
                    self.committed = True
                    self.exchange.ending = self.ending
                    await self.exchange({"type": "http.response.start", "status": 200, "headers": self.headers})
                # Straight to the server: a keepalive is not the answer's first byte, nor
                # part of what the request log keeps.
                await self.exchange.send({"type": "http.response.body", "body": self.ping, "more_body": True})
                self.last = loop.time()
