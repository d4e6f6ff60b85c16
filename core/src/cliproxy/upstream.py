"""The upstream HTTP side: one aiohttp session per worker, and the POST every provider uses."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson

from cliproxy.answers import UpstreamResponse
from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.exchange import current
from cliproxy.host import Host
from cliproxy.redaction import Redactor, header_secrets, url_secrets

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from cliproxy.config import Timeouts
    from cliproxy.request_capture import AttemptCapture


class _Call(Protocol):
    """What posting needs of a :class:`cliproxy.Call`."""

    credential: Credential
    host: Host
    refused: tuple[str, Mapping[str, str]] | None


__all__ = ["create_session", "post"]

log = logging.getLogger("cliproxy.upstream")

_JSON_HEADERS = {"content-type": "application/json"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_JSON_START = re.compile(rb"[ \t\r\n]*[\[{\"0-9tfn-]")  # what a JSON text can begin with

MAX_ERROR_MESSAGE = 4096
"""Characters of an upstream's error message kept (it reaches clients, logs and status)."""
_REDACTED_HEAD = 4096  # bytes of an error body searched for every secret the gateway holds (translators cut at 500)


def create_session(timeouts: Timeouts) -> aiohttp.ClientSession:
    """The worker's one client session: pooled keep-alive connections, no total timeout
    (streams run long), a connect timeout and a per-read timeout."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.connect, sock_read=timeouts.read)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        json_serialize=lambda obj: orjson.dumps(obj).decode(),
    )


def _host(url: str) -> str:
    """The host and port of ``url`` (never the user:password part), for the log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


async def post(
    call: _Call,
    url: str,
    *,
    wire: str,
    json: Mapping[str, Any] | None,
    data: bytes | None,
    headers: Mapping[str, str] | None,
    stream: bool,
    proxy: str | None,
    timeout: float | None,
    decode_error: Callable[[int, Mapping[str, str], bytes], GatewayError] | None = None,
) -> UpstreamResponse:
    """See :meth:`cliproxy.Call.post`."""
    host = call.host
    provider = call.credential.provider
    payload = data if data is not None else _encode_body(json or {})
    send_headers = dict(_JSON_HEADERS)
    if headers:
        send_headers.update(headers)
    if stream:
        send_headers.setdefault("accept", "text/event-stream")
    if host.has_request_hooks:
        await host.prepare_request(call, url, send_headers)
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = aiohttp.ClientTimeout(total=None, connect=min(timeout, 30.0), sock_read=timeout)
    exchange = current.get()
    trace = None if exchange is None else exchange.trace
    if trace is not None:
        trace.inject(url, send_headers)
    capture = None if exchange is None else exchange.capture
    attempt = None if capture is None else capture.attempt(url, send_headers, payload)
    try:
        session, proxy_arg = host.http_for(call.credential, proxy)
        response = await session.post(url, data=payload, headers=send_headers, proxy=proxy_arg, **options)
    except TimeoutError:  # (the address goes to the log; clients learn which provider, not where it lives)
        log.info("%s at %s did not answer in time", provider, _host(url))
        error = GatewayError(
            status=504,
            kind=ErrorKind.TIMEOUT,
            message=f"{provider} ({call.credential.label}) did not answer in time",
            provider=provider,
        )
        if attempt is not None:
            attempt.failed(error.message)
        raise error from None
    except aiohttp.ClientError as exc:
        log.info("could not reach %s at %s: %s", provider, _host(url), type(exc).__name__)
        error = GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"could not reach {provider} ({call.credential.label}): {type(exc).__name__}",
            provider=provider,
        )
        if attempt is not None:
            attempt.failed(error.message)
        raise error from None
    if attempt is not None:
        attempt.answered(response.status, response.headers)
    if trace is not None:
        trace.answered(response.status)

    # Errors are raised only once this frame no longer refers to the response: a traceback
    # keeps its frames' locals, and the response holds what it buffered of the body.
    if response.status >= 400:
        call.refused = (url, send_headers)
        error = await _upstream_error(call, response, wire, url, send_headers, decode_error, attempt)
        del response
        raise error

    if stream:
        chunks = _read_chunks(response, provider)
        return UpstreamResponse(
            wire=wire,
            status=response.status,
            headers=response.headers,
            chunks=chunks if attempt is None else _captured(chunks, attempt),
            release=_releaser(response),
        )
    status, answer_headers = response.status, response.headers
    body = await _read_whole(response, provider, host.config.upstream_limits.response_body_bytes)
    del response
    if isinstance(body, GatewayError):
        if attempt is not None:
            attempt.failed(body.message)
        raise body
    if attempt is not None:
        attempt.chunk(body)
        attempt.done()
    return UpstreamResponse(wire=wire, status=status, headers=answer_headers, body=body)


async def _read_whole(response: aiohttp.ClientResponse, provider: str, limit: int) -> bytes | GatewayError:
    """The whole body, decompressed as it arrives -- or the error to raise: when the
    upstream stopped or broke off, or once the body grows past ``limit`` bytes (the
    connection is then closed, so a compression bomb never inflates further)."""
    chunks: list[bytes] = []
    size = 0
    content = response.content
    try:
        while chunk := await content.readany():
            size += len(chunk)
            if size > limit:
                response.close()
                return GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message=f"{provider} answered with more than {_size(limit)} (decompressed), the limit "
                    "of 'upstream-limits.response-body-mb'; raise it if such answers are expected",
                    provider=provider,
                    code="upstream_response_too_large",
                )
            chunks.append(chunk)
    except TimeoutError:
        return GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message=f"{provider} stopped answering mid-response", provider=provider
        )
    except aiohttp.ClientError as exc:
        return GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{provider} closed the connection mid-response: {type(exc).__name__}",
            provider=provider,
        )
    finally:
        response.release()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_head(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of the body (decompressed), and whether there was more;
    the rest is never read (the connection is closed instead)."""
    chunks: list[bytes] = []
    size = 0
    content = response.content
    while chunk := await content.readany():
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            response.close()
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


async def _upstream_error(
    call: _Call,
    response: aiohttp.ClientResponse,
    wire: str,
    url: str,
    sent: Mapping[str, str],
    decode_error: Callable[[int, Mapping[str, str], bytes], GatewayError] | None = None,
    attempt: AttemptCapture | None = None,
) -> GatewayError:
    """The error an upstream's non-2xx answer stands for, decoded by ``wire``'s translator
    from at most ``upstream-limits.error-body-kb`` of its body, with every secret the
    gateway holds (and those this request sent) redacted from its text.

    The body lives only in this frame, which has returned by the time the error is raised:
    no traceback holds on to it.
    """
    host = call.host
    try:
        body, truncated = await _read_head(response, host.config.upstream_limits.error_body_bytes)
    except (aiohttp.ClientError, TimeoutError):
        body, truncated = b"", False
    finally:
        response.release()
    own = Redactor.of([*header_secrets(sent), *url_secrets(url)])  # what this request sent
    everything = host.redactor(known=own)
    body = own.body(body, truncated=truncated)
    body = everything.body(body, truncated=truncated, head=_REDACTED_HEAD)
    try:
        decode = decode_error or host.translator(wire).decode_error
        error = decode(response.status, response.headers, body)
    except Exception:  # a translator bug must not hide that the upstream failed
        log.exception("the %s translator could not decode an upstream error", wire)
        error = GatewayError.from_status(response.status, f"the upstream answered {response.status}")
    error.provider = error.provider or call.credential.provider
    everything.error(error, limit=MAX_ERROR_MESSAGE)
    error.message = _CONTROL.sub(" ", error.message).strip() or f"the upstream answered {response.status}"
    if attempt is not None:
        attempt.chunk(body)
        attempt.failed(error.message)
    return error


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"


def _encode_body(body: Mapping[str, Any]) -> bytes:
    """The upstream body as JSON; a body JSON cannot carry is the client's fault (the
    door checks nesting, but an integer the client sent as 1e30 may have become one wider
    than 64 bits on its way through a translator)."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise GatewayError.invalid(
            f"the request cannot be sent on as JSON ({exc}); check numbers and nesting depth"
        ).as_local() from None


def _releaser(response: aiohttp.ClientResponse) -> Callable[[], None]:
    """``response.release`` without its result: aiohttp releases at once and returns an
    awaitable that only yields to the event loop, which would cost the request a loop
    turn (and the accounting after it a task of its own)."""

    def release() -> None:
        response.release()

    return release


async def _read_chunks(response: aiohttp.ClientResponse, provider: str) -> AsyncIterator[bytes]:
    """Yield the stream's bytes as each network read delivers them."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except TimeoutError:
        raise GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message=f"{provider} stopped sending mid-stream", provider=provider
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{provider} broke off the stream: {type(exc).__name__}",
            provider=provider,
        ) from None
    finally:
        response.release()


async def _captured(chunks: AsyncIterator[bytes], attempt: AttemptCapture) -> AsyncIterator[bytes]:
    """``chunks``, each noted in the request log's ``attempt`` as it passes."""
    try:
        async for chunk in chunks:
            attempt.chunk(chunk)
            yield chunk
    except GatewayError as error:
        attempt.failed(error.message)
        raise
    finally:
        attempt.done()


def parse_json_body(body: bytes) -> Any:
    """Parse an upstream JSON body; a body that is not JSON becomes a 502 -- raised from
    outside the handler and without the body in this frame, so the error holds neither
    (the decode error keeps the whole text it failed on). A body that does not even start
    like JSON (an HTML page) is not handed to the parser, whose failure costs many times
    the body's size."""
    if _JSON_START.match(body) is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    del body
    raise GatewayError(
        status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with a body that is not JSON"
    )
