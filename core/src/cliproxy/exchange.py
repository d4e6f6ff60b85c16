"""One client request as the gateway serves it: its id, what it asked, who answered, how
it ended -- and the access log line that says so.

A door makes an :class:`Exchange` for every request and hands it to the ASGI server as
its ``send``: it stamps the ``x-request-id`` header on the response (the client's own id
when it sent a usable one), notes the status and a stream's first bytes, and knows when
the last message went out. The pipeline fills in the credential that answered, the
upstream's status and the usage. When the request is over the door writes one access log
line from it (``cliproxy.access``, INFO; ``access-log: false`` turns it off) and hands it
to the metrics.

While a request is served its exchange is :data:`current`, so every log line of that
request can carry its id (see :class:`cliproxy.logs.RequestIdFilter`).
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from starlette.types import Message, Send

if TYPE_CHECKING:
    from collections.abc import Callable

    from cliproxy.errors import GatewayError
    from cliproxy.ir import Usage
    from cliproxy.request_capture import RequestCapture
    from cliproxy.routing import Candidate
    from cliproxy.tracing import RequestTrace

__all__ = ["CLIENT_LEFT", "REQUEST_ID_HEADER", "Exchange", "client_request_id", "current", "new_request_id"]

access_log = logging.getLogger("cliproxy.access")

REQUEST_ID_HEADER = "x-request-id"
_HEADER = REQUEST_ID_HEADER.encode()
_MAX_CLIENT_ID = 128
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/+=")

current: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("cliproxy_exchange", default=None)
"""The exchange being served in this task (and in the tasks it starts), if any."""

CLIENT_LEFT = 499
"""The status of a request whose client left before it was answered (as nginx logs it)."""

NONE = "-"


class _Ids:
    """Request ids: a random prefix per process and a counter -- unique, and cheaper than
    drawing random bytes for each request. The prefix is drawn on first use; a forked
    worker forgets its parent's (an ``os.register_at_fork`` hook, set up on that first
    use) and draws its own, so no request pays a ``getpid`` system call."""

    __slots__ = ("count", "hooked", "prefix")

    def __init__(self) -> None:
        self.prefix: str | None = None
        self.count = itertools.count(1)
        self.hooked = False

    def next(self) -> str:
        prefix = self.prefix
        if prefix is None:
            prefix = self._start()
        return f"{prefix}{next(self.count) & 0xFFFFFFFF:08x}"

    def _start(self) -> str:
        if not self.hooked:
            self.hooked = True
            os.register_at_fork(after_in_child=self._forget)
        self.prefix = prefix = os.urandom(4).hex()
        self.count = itertools.count(1)
        return prefix

    def _forget(self) -> None:
        self.prefix = None


_ids = _Ids()


def new_request_id() -> str:
    """A fresh request id: 16 hex digits, unique across this gateway's processes."""
    return _ids.next()


def client_request_id(headers: Any) -> str | None:
    """The client's ``x-request-id``, when it is short and plain enough to echo and log."""
    value = headers.get(REQUEST_ID_HEADER)
    if value and len(value) <= _MAX_CLIENT_ID and _ID_CHARS.issuperset(value):
        return value
    return None


class Exchange:
    """A client request while it is served; also its ``send`` (see the module doc).

    Attributes:
        request_id: The id in the response header and in every log line of the request.
        door: The client's wire format.
        status: The HTTP status sent (0 until the response starts).
        error_status: A stream that ended in an error event: that error's status.
        error: A short description of what went wrong, when something did.
        client: The caller's identity name, once inbound auth accepted it.
        model: The model the client asked for.
        provider, credential, upstream_model: Who answered (or failed last).
        credential_id: That credential's id.
        upstream_status: The last upstream attempt's status.
        attempts: Upstream attempts made.
        failures: The upstream attempts that failed, as (provider, credential, model,
            status, error) -- None until one does.
        usage: Tokens of the answer.
        cost: What the lasting usage priced the answer at (nano-dollars; None: unknown or
            not counted).
        request_body: The request body as received (kept for the request log).
        capture: With ``request-log: true``: everything the request log keeps of it, as
            it happens (see :mod:`cliproxy.request_log`); None otherwise.
        ending: Once a stream started: the bytes that end it with an error event in the
            client's wire format (used when shutdown ends the request).
        trace: With ``tracing.enabled``: the request's spans (see :mod:`cliproxy.tracing`).
    """

    __slots__ = (
        "answered",
        "attempts",
        "capture",
        "client",
        "cost",
        "credential",
        "credential_id",
        "door",
        "ending",
        "error",
        "error_status",
        "failures",
        "first_byte",
        "model",
        "provider",
        "request_body",
        "request_id",
        "send",
        "start",
        "status",
        "trace",
        "upstream_model",
        "upstream_status",
        "usage",
    )

    def __init__(self, send: Send, door: str, request_id: str) -> None:
        self.send = send
        self.door = door
        self.request_id = request_id
        self.start = time.perf_counter()
        self.status = 0
        self.error_status = 0
        self.error: str | None = None
        self.first_byte: float | None = None
        self.answered = False
        self.client = NONE
        self.model = NONE
        self.provider = NONE
        self.credential = NONE
        self.credential_id = NONE
        self.upstream_model = NONE
        self.upstream_status = 0
        self.attempts = 0
        self.failures: list[tuple[str, str, str, int, str]] | None = None
        self.usage: Usage | None = None
        self.cost: int | None = None
        self.request_body: bytes | None = None
        self.capture: RequestCapture | None = None
        self.ending: Callable[[GatewayError], bytes] | None = None
        self.trace: RequestTrace | None = None

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), (_HEADER, self.request_id.encode())]}
            if self.capture is not None:
                self.capture.sent(message)
        elif kind == "http.response.body":
            if self.capture is not None:
                self.capture.sent(message)
            if not message.get("more_body", False):
                await self.send(message)
                self.answered = True
                return
            if self.first_byte is None and message.get("body"):
                self.first_byte = time.perf_counter()
        await self.send(message)

    def done(self) -> bool:
        """The response's last message has gone out."""
        return self.answered

    # -- what the pipeline notes -----------------------------------------------------------

    def attempted(self, cand: Candidate, status: int) -> None:
        """An upstream attempt with ``cand`` ended with ``status``."""
        cred = cand.credential
        self.provider = cred.provider
        self.credential = cred.label
        self.credential_id = cred.id
        self.upstream_model = cand.upstream_model
        self.upstream_status = status
        self.attempts += 1

    def failed_attempt(self, cand: Candidate, status: int, message: str) -> None:
        """An upstream attempt with ``cand`` failed with ``status``, saying ``message``."""
        cred = cand.credential
        failure = (cred.provider, cred.label, cand.upstream_model, status, message[:500])
        if self.failures is None:
            self.failures = [failure]
        elif len(self.failures) < 50:
            self.failures.append(failure)

    @property
    def final_status(self) -> int:
        """What the client got: the error of a stream that failed midway, else the status
        sent, else :data:`CLIENT_LEFT`."""
        return self.error_status or self.status or CLIENT_LEFT

    # -- the access log --------------------------------------------------------------------

    def log(self) -> None:
        """Write the access log line (call once the request is over)."""
        if not access_log.isEnabledFor(logging.INFO):
            return
        elapsed = (time.perf_counter() - self.start) * 1000.0
        usage = self.usage
        tokens = (
            f" in={usage.input_tokens or 0} out={usage.output_tokens or 0}"
            if usage is not None and (usage.input_tokens or usage.output_tokens)
            else ""
        )
        upstream = f" upstream={self.upstream_status}" if self.upstream_status else ""
        served = "" if self.provider == NONE else f" -> {self.provider} [{self.credential}] {self.upstream_model}"
        error = f' error="{self.error[:200]}"' if self.error else ""
        # (made and handled directly: Logger.info would also look up the calling frame's
        # file and line, which no format shows, on every request)
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %s %r%s%s%s %.0fms%s",
            (self.door, self.client, self.final_status, self.model, served, upstream, tokens, elapsed, error),
            None,
            extra={"exchange": self, "duration_ms": round(elapsed, 1)},
        )
        access_log.handle(record)
