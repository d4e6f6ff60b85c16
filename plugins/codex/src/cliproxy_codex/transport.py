"""Talking to the Codex backend over the gateway's HTTP sessions.

The provider posts itself rather than through :meth:`cliproxy.Call.post`: the backend
reports an account's rate-limit windows in the headers of every answer, refusals
included, and a usage-limit refusal's reset time is in its body -- both are needed where
``Call.post`` keeps only the decoded error. The rest is the same: the credential's proxy,
the ``prepare_upstream_request`` hooks, bounded reads (``upstream-limits``), timeouts as
504s, broken connections as 502s, and every secret redacted from error text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from cliproxy import Call, ErrorKind, GatewayError

from cliproxy_codex.errors import decode_error
from cliproxy_codex.settings import PROVIDER

__all__ = ["open_response", "read_chunks", "read_whole"]

HeadersSeen = Callable[[Mapping[str, str]], None]


async def open_response(
    call: Call, url: str, payload: bytes, headers: dict[str, str], seen: HeadersSeen, *, token: str
) -> aiohttp.ClientResponse:
    """POST ``payload``; the open response of a 2xx answer. ``seen`` gets every answer's
    headers (refusals' too); a refusal is raised as the gateway error it stands for."""
    host = call.host
    if host.has_request_hooks:
        await host.prepare_request(call, url, headers)
    session, proxy = host.http_for(call.credential, getattr(call.credential.settings, "proxy_url", None))
    label = call.credential.label
    try:
        response = await session.post(url, data=payload, headers=headers, proxy=proxy)
    except TimeoutError:
        raise GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message=f"codex ({label}) did not answer in time", provider=PROVIDER
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"could not reach codex ({label}): {type(exc).__name__}",
            provider=PROVIDER,
        ) from None
    seen(response.headers)
    if response.status < 400:
        return response
    try:
        body = await _head(response, host.config.upstream_limits.error_body_bytes)
    except (aiohttp.ClientError, TimeoutError):
        body = b""
    finally:
        response.release()
    error = decode_error(response.status, response.headers, body, host.clock())
    error.message = call.redact(error.message, token)
    raise error


async def _head(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        chunks.append(chunk[: limit - size])
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)


async def read_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The stream's bytes as network reads deliver them; the connection released at the end."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except TimeoutError:
        raise GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message="codex stopped sending mid-stream", provider=PROVIDER
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"codex broke off the stream: {type(exc).__name__}",
            provider=PROVIDER,
        ) from None
    finally:
        response.release()


async def read_whole(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """A whole answer, at most ``limit`` bytes (a larger one is a 502)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await response.content.readany():
            size += len(chunk)
            if size > limit:
                response.close()
                raise GatewayError(
                    status=502,
                    kind=ErrorKind.UPSTREAM,
                    message=f"codex answered with more than {limit // 1048576} MB, the limit of "
                    "'upstream-limits.response-body-mb'",
                    provider=PROVIDER,
                    code="upstream_response_too_large",
                )
            chunks.append(chunk)
    except TimeoutError:
        raise GatewayError(
            status=504, kind=ErrorKind.TIMEOUT, message="codex stopped answering mid-response", provider=PROVIDER
        ) from None
    except aiohttp.ClientError as exc:
        raise GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"codex closed the connection mid-response: {type(exc).__name__}",
            provider=PROVIDER,
        ) from None
    finally:
        response.release()
    return b"".join(chunks)
