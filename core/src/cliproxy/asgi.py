"""Small ASGI helpers for the hot path: body reading, JSON replies, disconnect watching."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope, Send

from cliproxy.config import Config
from cliproxy.deadlines import Deadlines
from cliproxy.errors import ErrorKind, GatewayError

__all__ = [
    "checked_headers",
    "client_disconnect_cancels",
    "header_map",
    "query_map",
    "read_body",
    "send_bytes",
    "server_header_limit",
]

JSON_HEADERS = [(b"content-type", b"application/json")]


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers with lower-case names (ASGI already lower-cases them)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def server_header_limit(config: Config) -> int:
    """The request-head size to configure the HTTP server with: room above the
    gateway's ``max-header-size-kb`` for the request line and the gateway's own check."""
    return 2 * config.max_header_bytes + 16 * 1024


def checked_headers(scope: Scope, limit: int) -> dict[str, str]:
    """:func:`header_map`, after checking the headers' total size against ``limit``
    bytes: 431 when they are larger (the server's own limit is set above it, so the
    client gets the gateway's answer in its own error format)."""
    raw = scope["headers"]
    size = 0
    for name, value in raw:
        size += len(name) + len(value) + 4
    if size > limit:
        raise GatewayError(
            status=431,
            kind=ErrorKind.INVALID_REQUEST,
            message=f"the request headers are {size // 1024} KB, more than the gateway's limit of {limit // 1024} KB; "
            "send fewer or shorter headers (or raise max-header-size-kb)",
            code="request_header_fields_too_large",
        )
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}


def query_map(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string") or b""
    if not raw:
        return {}
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


async def read_body(
    receive: Receive,
    headers: Mapping[str, str],
    limit: int,
    timeout: float | None = None,
    deadlines: Deadlines | None = None,
    task: asyncio.Task[Any] | None = None,
) -> bytes:
    """The whole request body; 413 as soon as it is known to exceed ``limit`` bytes, 408
    when it has not all arrived ``timeout`` seconds after the call (a client that stalls
    mid-body then holds nothing: the server closes a connection whose body was not read).
    The timeout is kept by ``deadlines`` (the gateway's one sweeper); without it, there
    is none. ``task`` is the calling task, when the caller has it at hand already.

    A client that leaves while sending raises :class:`asyncio.CancelledError`.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    if timeout is None or deadlines is None:
        return await _receive_body(receive, limit)
    if task is None:
        task = asyncio.current_task()
        assert task is not None
    deadlines.watch(task, timeout)
    try:
        return await _receive_body(receive, limit)
    except asyncio.CancelledError:
        if not deadlines.release(task) or task.uncancel() > 0:
            raise  # cancelled by someone else (too)
        raise _too_slow(timeout) from None
    finally:
        deadlines.release(task)


async def _receive_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


def _too_slow(timeout: float) -> GatewayError:
    return GatewayError(
        status=408,
        kind=ErrorKind.TIMEOUT,
        message=f"the request body did not arrive within {timeout:g} s (the gateway's body-read-timeout): "
        "send the whole body at once, or raise body-read-timeout for slow links",
        code="request_timeout",
    )


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        status=413,
        kind=ErrorKind.REQUEST_TOO_LARGE,
        message=f"request body is larger than the gateway's limit of {limit / 1048576:g} MB",
        code="request_too_large",
    )


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or JSON_HEADERS})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def client_disconnect_cancels(
    work: Awaitable[Any],
    receive: Receive,
    answered: Callable[[], bool] | None = None,
    task: asyncio.Task[Any] | None = None,
) -> None:
    """Run ``work``; if the client disconnects first, cancel it (and its upstream call).

    ``work`` runs in the calling task; one watcher task waits for the disconnect and
    cancels the caller (one task per request, not two). A disconnect once ``answered()``
    says the response's last message went out is the exchange ending normally (in-process
    servers report it at once), not the client leaving: the work finishes undisturbed.
    Once answered, the watcher is left to end on that disconnect, which ASGI servers send
    when ``receive`` is called after the response (cheaper than cancelling it).
    ``task`` is the calling task, when the caller has it at hand already.
    """
    caller = task if task is not None else asyncio.current_task()
    assert caller is not None
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                if answered is None or not answered():
                    disconnected = True
                    caller.cancel()
                return

    watcher = caller.get_loop().create_task(watch())  # (get_running_loop costs a getpid call on 3.11)
    try:
        await work
    except asyncio.CancelledError:
        if not disconnected:
            raise  # we were cancelled ourselves (shutdown), not by the client leaving
        caller.uncancel()
    finally:
        if answered is None or not answered():
            watcher.cancel()
