"""The upstream HTTP side: one aiohttp session per worker, and the POST every provider uses."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.providers import UpstreamResponse
from cliproxy.redaction import Redactor, header_secrets, url_secrets

if TYPE_CHECKING:
    from cliproxy.config import Timeouts
    from cliproxy.providers import Call

__all__ = ["create_session", "post"]

log = logging.getLogger("cliproxy.upstream")

_JSON_HEADERS = {"content-type": "application/json"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

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
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


async def post(
    call: Call,
    url: str,
    *,
    wire: str,
    json: Mapping[str, Any] | None,
    data: bytes | None,
    headers: Mapping[str, str] | None,
    stream: bool,
    proxy: str | None,
    timeout: float | None,
) -> UpstreamResponse:
    """See :meth:`cliproxy.Call.post`."""
    gateway = call.gateway
    provider = call.credential.provider
    payload = data if data is not None else orjson.dumps(json or {})
    send_headers = dict(_JSON_HEADERS)
    if headers:
        send_headers.update(headers)
    if stream:
        send_headers.setdefault("accept", "text/event-stream")
    if gateway.has_preparers:
        await gateway.prepare_upstream(call, url, send_headers)
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = aiohttp.ClientTimeout(total=None, connect=min(timeout, 30.0), sock_read=timeout)
    try:
        session, proxy_arg = gateway.http_for(call.credential, proxy)
        response = await session.post(url, data=payload, headers=send_headers, proxy=proxy_arg, **options)
    except TimeoutError:
        raise GatewayError(
            status=504,
            kind=ErrorKind.TIMEOUT,
            message=f"{provider} did not answer in time ({_host(url)})",
            provider=provider,
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"could not reach {provider} at {_host(url)}: {type(exc).__name__}",
            provider=provider,
        ) from None

    if response.status >= 400:
        raise await _upstream_error(call, response, wire, url, send_headers)

    if stream:
        return UpstreamResponse(
            wire=wire,
            status=response.status,
            headers=response.headers,
            chunks=_read_chunks(response, provider),
            release=_releaser(response),
        )
    try:
        body = await response.read()
    except TimeoutError:
        raise GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message=f"{provider} stopped answering mid-response", provider=provider
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{provider} closed the connection mid-response: {type(exc).__name__}",
            provider=provider,
        ) from None
    finally:
        response.release()
    return UpstreamResponse(wire=wire, status=response.status, headers=response.headers, body=body)


async def _upstream_error(
    call: Call, response: aiohttp.ClientResponse, wire: str, url: str, sent: Mapping[str, str]
) -> GatewayError:
    """The error an upstream's non-2xx answer stands for, decoded by ``wire``'s translator,
    with every secret the gateway holds (and those this request sent) redacted from its text."""
    gateway = call.gateway
    truncated = False
    try:
        body = await response.read()
    except (aiohttp.ClientError, TimeoutError):
        body = b""
    finally:
        response.release()
    own = Redactor.of([*header_secrets(sent), *url_secrets(url)])  # what this request sent
    everything = gateway.redactor(known=own)
    body = own.body(body, truncated=truncated)
    body = everything.body(body, truncated=truncated, head=_REDACTED_HEAD)
    try:
        error = gateway.translators.upstream(wire).decode_error(response.status, response.headers, body)
    except Exception:  # a translator bug must not hide that the upstream failed
        log.exception("the %s translator could not decode an upstream error", wire)
        error = GatewayError.from_status(response.status, f"the upstream answered {response.status}")
    error.provider = error.provider or call.credential.provider
    everything.error(error, limit=MAX_ERROR_MESSAGE)
    error.message = _CONTROL.sub(" ", error.message).strip() or f"the upstream answered {response.status}"
    return error


def _releaser(response: aiohttp.ClientResponse) -> Callable[[], None]:
    """``response.release`` without its result: aiohttp releases at once and returns an
    awaitable that only yields to the event loop, which would cost the request a loop
    turn (and the accounting after it a task of its own)."""

    def release() -> None:
        response.release()

    return release


async def _read_chunks(response: aiohttp.ClientResponse, provider: str):  # type: ignore[no-untyped-def]
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


def parse_json_body(body: bytes) -> Any:
    """Parse an upstream JSON body; a body that is not JSON becomes a 502."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError(
            status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with a body that is not JSON"
        ) from None
