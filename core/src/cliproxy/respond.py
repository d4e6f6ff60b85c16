"""Sending an answer to its client, in the client's wire format.

Bytes are passed through (model renamed) when client and upstream speak the same format;
otherwise they are decoded into IR events and re-encoded, one ASGI send per upstream read.
Whole answers go out in one body; streams as they come, ending with the wire's error event
if the upstream fails midway.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.types import Send

from cliproxy.accounting import settle
from cliproxy.answers import DirectResponse, UpstreamResponse
from cliproxy.client import ClientRequest
from cliproxy.eager import finish_shielded
from cliproxy.errors import GatewayError
from cliproxy.gateway import Gateway
from cliproxy.ir import (
    Response,
    ResponseBuilder,
    StreamError,
    StreamEvent,
    StreamFinish,
    Usage,
    response_events,
)
from cliproxy.outcome import Outcome
from cliproxy.passthrough import PassthroughStream, rewrite_model
from cliproxy.rate_headers import with_rate_headers
from cliproxy.translate import EncodeContext, StreamEncoder

__all__ = ["JSON_HEADERS", "STREAM_HEADERS", "respond", "stream_headers"]

log = logging.getLogger("cliproxy.pipeline")

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

JSON_HEADERS = [(b"content-type", b"application/json")]


async def respond(gateway: Gateway, outcome: Outcome, send: Send) -> None:
    """Send the answer to the client, then account for it.

    The accounting (closing the upstream, cooldowns, usage) runs shielded: servers report
    a disconnect as soon as the response is complete, which cancels this task, and a
    finished answer must still count.
    """
    client = outcome.call.client
    ctx = EncodeContext(
        model=client.model, body=client.body, request=client._ir, created=client.created, query=client.query
    )
    sent: tuple[Usage, GatewayError | None] | None = None
    try:
        if client.stream:
            sent = await _stream(gateway, outcome, ctx, send)
        else:
            sent = await _whole(gateway, outcome, ctx, send)
    finally:
        await finish_shielded(settle(gateway, outcome, sent))


async def _whole(gateway: Gateway, outcome: Outcome, ctx: EncodeContext, send: Send) -> tuple[Usage, None]:
    client = outcome.call.client
    result = outcome.result
    if outcome.passthrough:
        assert isinstance(result, UpstreamResponse) and result.body is not None
        field = gateway.translators.upstream(result.wire).model_field
        if outcome.usage is not None:
            body = _renamed(result.body, outcome.parsed, field, client.model)
            usage = outcome.usage
        else:
            assert outcome.response is not None
            body = rewrite_model(result.body, client.model, field)
            usage = outcome.response.usage
    else:
        response = await _whole_response(outcome)
        response = response.named(client.model)
        body = client.translator.encode_response(response, ctx)
        usage = response.usage
    await send({"type": "http.response.start", "status": 200, "headers": _answered_by(client, JSON_HEADERS)})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return usage, None


def _answered_by(client: ClientRequest, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers``, with what the client key's rpm and tpm windows have left when it has
    such limits, and which model answered when a fallback model did."""
    headers = with_rate_headers(client, headers)
    if client.fallback_from is None:
        return headers
    return [
        *headers,
        (b"x-cliproxy-model", client.model.encode()),
        (b"x-cliproxy-fallback-from", client.fallback_from.encode()),
    ]


def _renamed(body: bytes, obj: Any, field: str, model: str) -> bytes:
    """``rewrite_model`` for a body already parsed into ``obj``."""
    if field not in obj or obj[field] == model:
        return body
    obj[field] = model
    return orjson.dumps(obj)


async def _whole_response(outcome: Outcome) -> Response:
    if outcome.response is not None:
        return outcome.response
    result = outcome.result
    if isinstance(result, DirectResponse):
        if result.response is not None:
            return result.response
        builder = ResponseBuilder()
        assert result.events is not None
        async for event in result.events:
            builder.add(event)
        return builder.build()
    builder = ResponseBuilder()
    builder.feed(outcome.head)
    decoder = outcome.decoder
    assert decoder is not None
    if not outcome.ended and outcome.chunks is not None:
        async for chunk in outcome.chunks:
            builder.feed(decoder.feed(chunk))
        builder.feed(decoder.close())
    return builder.build()


async def _stream(
    gateway: Gateway, outcome: Outcome, ctx: EncodeContext, send: Send
) -> tuple[Usage, GatewayError | None]:
    client = outcome.call.client
    if outcome.passthrough:
        await send({"type": "http.response.start", "status": 200, "headers": _answered_by(client, STREAM_HEADERS)})
        return await _stream_passthrough(gateway, outcome, ctx, send)
    encoder = client.translator.stream_encoder(ctx)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": _answered_by(client, stream_headers(encoder)),
        }
    )
    if client.exchange is not None:
        client.exchange.ending = lambda error: encoder.encode([StreamError(error)]) + encoder.close()
    usage = Usage()
    error: GatewayError | None = None

    def note(events: list[StreamEvent]) -> None:
        nonlocal usage, error
        for event in events:
            if isinstance(event, StreamFinish):
                usage = usage.merge(event.usage)
            elif isinstance(event, StreamError):
                error = event.error

    try:
        async for events in _event_batches(outcome):
            note(events)
            data = encoder.encode(events)
            if data:
                await send({"type": "http.response.body", "body": data, "more_body": True})
    except GatewayError as exc:
        error = exc
        data = encoder.encode([StreamError(exc)])
        await send({"type": "http.response.body", "body": data, "more_body": True})
    if error is not None:  # no StreamFinish brought the usage: take what the stream said before it failed
        so_far = getattr(outcome.decoder, "usage_so_far", None)
        if so_far is not None:
            usage = usage.merge(so_far())
    await send({"type": "http.response.body", "body": encoder.close(), "more_body": False})
    return usage, error


def stream_headers(encoder: StreamEncoder) -> list[tuple[bytes, bytes]]:
    """The headers of a stream ``encoder`` writes (its media type)."""
    media_type = encoder.media_type
    if media_type == "text/event-stream":
        return STREAM_HEADERS
    return [(b"content-type", media_type.encode()), *STREAM_HEADERS[1:]]


async def _event_batches(outcome: Outcome) -> AsyncIterator[list[StreamEvent]]:
    """IR events in batches, one batch per upstream network read."""
    result = outcome.result
    if isinstance(result, DirectResponse):
        if result.events is not None:
            async for event in result.events:
                yield [event]
        else:
            assert result.response is not None
            yield list(response_events(result.response))
        return
    if outcome.response is not None:  # the upstream answered whole; replay it as a stream
        yield list(response_events(outcome.response))
        return
    decoder = outcome.decoder
    assert decoder is not None
    if outcome.head:
        yield outcome.head
    if not outcome.ended and outcome.chunks is not None:
        async for chunk in outcome.chunks:
            events = decoder.feed(chunk)
            if events:
                yield events
        tail = decoder.close()
        if tail:
            yield tail


async def _stream_passthrough(
    gateway: Gateway, outcome: Outcome, ctx: EncodeContext, send: Send
) -> tuple[Usage, GatewayError | None]:
    result = outcome.result
    assert isinstance(result, UpstreamResponse)
    client = outcome.call.client
    drop = client.translator.passthrough_filter(client.body)
    relay = PassthroughStream(client.model, gateway.translators.upstream(result.wire), drop)
    if client.exchange is not None:
        translator = client.translator  # not ``client``: it holds the exchange, a cycle
        client.exchange.ending = lambda error: (
            relay.close() + translator.stream_encoder(ctx).encode([StreamError(error)])
        )
    error: GatewayError | None = None
    try:
        data = relay.feed(outcome.head_bytes)
        if data:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        if not outcome.ended and outcome.chunks is not None:
            async for chunk in outcome.chunks:
                data = relay.feed(chunk)
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
        tail = relay.close()
        error = relay.error  # the upstream's own error event, forwarded as it came
    except GatewayError as exc:
        error = exc
        tail = relay.close() + client.translator.stream_encoder(ctx).encode([StreamError(exc)])
    await send({"type": "http.response.body", "body": tail, "more_body": False})
    return relay.usage, error
