"""The flow of one generate request after its door has parsed it.

``dispatch`` walks the model's candidates (priority, strategy, cooldowns), calls each
provider until one answers, and records failures; a stream counts as answered only once
its first content event arrived, so a failure before the first byte reaches the client
still moves on to the next candidate. ``respond`` then sends the answer in the client's
wire format: bytes passed through (model renamed) when client and upstream speak the same
format, otherwise decoded into IR events and re-encoded, one ASGI send per upstream read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs
import orjson
from starlette.types import Send

from cliproxy.eager import finish_shielded
from cliproxy.errors import ErrorKind, GatewayError, let_go
from cliproxy.estimate import estimate_request_tokens
from cliproxy.ir import (
    Response,
    ResponseBuilder,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    Usage,
    response_events,
)
from cliproxy.passthrough import PassthroughStream, rewrite_model
from cliproxy.providers import Call, ClientRequest, DirectResponse, UpstreamResponse
from cliproxy.routing import Candidate
from cliproxy.selection import Selection, is_model_missing
from cliproxy.tokens import REFRESH_FAILED
from cliproxy.translate import EncodeContext, StreamDecoder
from cliproxy.upstream import parse_json_body

if TYPE_CHECKING:
    from cliproxy.gateway import Gateway

__all__ = ["Outcome", "count_failure", "count_tokens", "dispatch", "respond"]

log = logging.getLogger("cliproxy.pipeline")

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
JSON_HEADERS = [(b"content-type", b"application/json")]

HEAD_LIMIT = 4 * 1048576
"""Bytes of an upstream stream held while waiting for its first event (see ``_read_head``)."""


@attrs.define(eq=False)
class Outcome:
    """A candidate that answered, and what was read of its answer so far."""

    call: Call
    candidate: Candidate
    selection: Selection
    result: UpstreamResponse | DirectResponse
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
        check = getattr(client.translator, "can_pass_through", None)
        return check is None or bool(check(client))


async def dispatch(gateway: Gateway, client: ClientRequest) -> Outcome:
    """Find a candidate that answers; raise the most telling error if none does.

    A round tries every available candidate in selection order; a retriable failure rests
    the candidate and moves on, a client error (400/413/422) returns at once. There are
    ``request-retry`` rounds after the first; when all candidates rest at the start of one,
    it first waits for the first to free up if that is within ``max-retry-interval``.
    When no round succeeds, the client gets the last upstream error (with ``Retry-After``
    until the first candidate frees up, when waiting can help); a request that found every
    candidate resting before trying any gets 429 ``model_cooldown`` with ``Retry-After``.
    """
    route = gateway.router.resolve(client.model)
    config = gateway.config
    selector = gateway.selector
    affinity = selector.affinity
    session = None if affinity is None or not route.rotates else affinity.key(client)
    last_error: GatewayError | None = None
    attempt = 0
    for _ in range(config.request_retry + 1):
        try:
            selection = await selector.select(route, client.model, session)
        except GatewayError as cooling:
            wait = cooling.retry_after or 0.0
            if wait > config.max_retry_interval:
                raise _give_up(cooling, last_error) from None
            await gateway.sleep(wait)
            try:
                selection = await selector.select(route, client.model, session)
            except GatewayError as still:  # another instance rested them meanwhile
                raise _give_up(still, last_error) from None
        for cand in selection.ordered:
            call = Call(client, cand.credential, cand.upstream_model, gateway, attempt)
            attempt += 1
            try:
                outcome = await _attempt_refreshing(gateway, call, cand, selection)
            except GatewayError as error:
                if error.local:  # the gateway's own failure or the client's input: no upstream answered
                    raise
                await _failed(gateway, client, cand, error, selection)
                if error.client_fault and not is_model_missing(error):
                    raise
                last_error = error
                continue
            if selection.session is not None:  # session affinity: the answering credential
                await selector.stick(selection, cand)
            return outcome
    try:  # out of rounds: say when to come back if everything rests now
        await selector.select(route, client.model)
    except GatewayError as cooling:
        raise _give_up(cooling, last_error) from None
    if last_error is not None:
        raise last_error
    raise GatewayError(status=503, kind=ErrorKind.UNAVAILABLE, message=f"no credential could serve '{client.model}'")


def _give_up(cooling: GatewayError, last_error: GatewayError | None) -> GatewayError:
    """The error for a request no candidate served: the last upstream error (it says what
    went wrong), told when to retry if waiting can help; else the all-resting error."""
    if last_error is None:
        return cooling
    transient = last_error.status in (408, 429) or last_error.status >= 500
    if transient and last_error.retry_after is None and cooling.retry_after is not None:
        return attrs.evolve(last_error, retry_after=cooling.retry_after)
    return last_error


async def _attempt_refreshing(gateway: Gateway, call: Call, cand: Candidate, selection: Selection) -> Outcome:
    """Attempt; after a 401 on an OAuth credential, refresh its token once and try again
    (another instance may have rotated it), before the credential is rested."""
    tokens = gateway.tokens
    if cand.credential not in tokens:
        return await _attempt(gateway, call, cand, selection)
    held = tokens.tokens(cand.credential).access_token
    try:
        return await _attempt(gateway, call, cand, selection)
    except GatewayError as error:
        if error.status != 401 or error.code == REFRESH_FAILED or error.local:
            raise  # (a refresh that just failed is not tried again at once)
        if tokens.tokens(cand.credential).access_token != held:
            raise  # refreshed during the attempt (a provider that retries on its own): refused too
    await tokens.refresh(cand.credential, force=True)  # raises a telling 401 if it cannot
    return await _attempt(gateway, attrs.evolve(call, attempt=call.attempt + 1), cand, selection)


async def count_tokens(gateway: Gateway, client: ClientRequest) -> tuple[int, str]:
    """Input tokens of the client's request: ``(count, "upstream")`` from the first
    provider that can count, else ``(estimate, "estimate")``.

    Counting never moves the cooldown table: only generation outcomes may rest a
    credential (an upstream that serves a model but cannot count its tokens -- Gemini
    answers 404 for some -- must keep serving it). A failed count falls back to the
    estimate; an upstream that said it cannot count a model is not asked again for a while
    (:class:`CountRefusals`).
    """
    route = gateway.router.resolve(client.model)
    try:
        selection = await gateway.selector.select(route, client.model)
    except GatewayError:
        return estimate_request_tokens(client.ir), "estimate"
    refusals = gateway.count_refusals
    for cand in selection.ordered:
        pair = (cand.credential.id, cand.upstream_model)
        if refusals.refused(pair, gateway.clock()):
            break
        provider = gateway.providers[cand.credential.provider]
        call = Call(client, cand.credential, cand.upstream_model, gateway)
        try:
            counted = await provider.count_tokens(call)
        except GatewayError as error:
            if error.local or (error.client_fault and not is_model_missing(error)):
                raise
            if error.status == 404 or is_model_missing(error):
                refusals.add(pair, gateway.clock())
            log.info(
                "%s could not count tokens for %s (%s, %d); answering with an estimate",
                cand.credential.provider,
                cand.upstream_model,
                error.message,
                error.status,
            )
            break
        except Exception:
            log.exception("provider %s failed to count tokens; answering with an estimate", provider.name)
            break
        if counted is not None:
            return counted, "upstream"
        break
    return estimate_request_tokens(client.ir), "estimate"


class CountRefusals:
    """(credential id, upstream model) pairs whose upstream said it cannot count tokens,
    remembered for ``ttl`` seconds; at most ``limit`` pairs (the oldest go first)."""

    def __init__(self, ttl: float = 3600.0, limit: int = 1024) -> None:
        self.ttl = ttl
        self.limit = limit
        self._until: dict[tuple[str, str], float] = {}

    def add(self, pair: tuple[str, str], now: float) -> None:
        self._until.pop(pair, None)
        if len(self._until) >= self.limit:
            del self._until[next(iter(self._until))]
        self._until[pair] = now + self.ttl

    def refused(self, pair: tuple[str, str], now: float) -> bool:
        until = self._until.get(pair)
        if until is None:
            return False
        if until <= now:
            del self._until[pair]
            return False
        return True


async def _failed(
    gateway: Gateway, client: ClientRequest, cand: Candidate, error: GatewayError, selection: Selection | None
) -> None:
    if client.exchange is not None:
        client.exchange.attempted(cand, error.status)
    if gateway.metrics is not None:
        gateway.metrics.failed(cand, error)
    rested = await gateway.selector.record_failure(cand, error, selection)
    note = f"{error.message} ({error.status})"
    if error.client_fault and rested is None:  # the request was wrong, not the credential
        await gateway.state.add_usage(cand.credential.id, cand.upstream_model, None, failed=False)
        log.info("%s rejected the request: %s", cand.credential.provider, note)
        return
    await gateway.state.add_usage(cand.credential.id, cand.upstream_model, None, failed=True, error=note)
    if rested is not None:
        whole, cooldown = rested
        log.warning(
            "%s credential %s failed for %s: %s; resting %s for %.0fs",
            cand.credential.provider,
            cand.credential.label,
            cand.upstream_model,
            note,
            "the whole credential" if whole else "this model on it",
            cooldown.remaining(gateway.clock()),
        )
    else:
        log.info(
            "%s credential %s failed for %s: %s",
            cand.credential.provider,
            cand.credential.label,
            cand.upstream_model,
            note,
        )


async def _attempt(gateway: Gateway, call: Call, cand: Candidate, selection: Selection) -> Outcome:
    provider = gateway.providers[cand.credential.provider]
    try:
        result = await provider.send(call)
    except GatewayError as error:
        let_go(error)  # failover keeps it: not the frames below, nor their bodies
        raise
    except Exception as exc:  # a provider bug: the gateway's failure, not the upstream's
        raise _provider_failed(provider.name, exc) from None
    outcome = Outcome(call, cand, selection, result)
    try:
        if isinstance(result, DirectResponse):
            return outcome
        if result.streamed:
            await _read_head(gateway, outcome, result)
        else:
            assert result.body is not None
            translator = gateway.translators.upstream(result.wire)
            check = getattr(translator, "check_response", None) if outcome.passthrough else None
            if check is not None:  # passed through: parse once, check, no IR
                outcome.parsed = parse_json_body(result.body)
                outcome.usage = check(outcome.parsed)
            else:
                outcome.response = translator.decode_response(result.body)
    except BaseException as error:
        await result.aclose()
        let_go(error)
        raise
    return outcome


def _provider_failed(provider: str, exc: Exception) -> GatewayError:
    """The client's error for a provider that raised something other than a
    :class:`GatewayError`: logged with its traceback, answered without one, and ``local``
    -- it rests no credential, so one client's odd request cannot rest a model for all."""
    log.error("provider %s failed unexpectedly", provider, exc_info=exc)
    return GatewayError(
        status=500,
        kind=ErrorKind.INTERNAL,
        message=f"provider {provider} failed unexpectedly ({type(exc).__name__}); the gateway log has the details",
        provider=provider,
        local=True,
    )


async def _read_head(gateway: Gateway, outcome: Outcome, result: UpstreamResponse) -> None:
    """Read the stream until its first content event, so an upstream that fails right
    away (an error event, a dropped connection) can still be failed over."""
    decoder = (
        result.decoder if result.decoder is not None else gateway.translators.upstream(result.wire).stream_decoder()
    )
    assert result.chunks is not None
    chunks = result.chunks.__aiter__()
    head: list[StreamEvent] = []
    raw: list[bytes] = []
    # Passed-through bytes are forwarded as they are, so only the head needs decoding:
    # feed the decoder event by event and stop at the first content event.
    feed = _feed_head if outcome.passthrough else _feed_all
    size = 0
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            head.extend(decoder.close())
            outcome.ended = True
            break
        raw.append(chunk)
        if feed(decoder, chunk, head):
            break
        size += len(chunk)
        if size > HEAD_LIMIT:  # held until the first event: bounded, like every buffer
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message=f"the upstream sent {HEAD_LIMIT // 1048576} MB of stream without a single event",
                provider=outcome.call.credential.provider,
            )
    started = False
    for event in head:
        if isinstance(event, StreamError):
            raise event.error
        if isinstance(event, StreamFinish) and not started:
            raise GatewayError(  # the upstream's failure: nothing in its stream was a valid event
                status=502,
                kind=ErrorKind.UPSTREAM,
                message="the upstream's stream ended without a single valid event",
                provider=outcome.call.credential.provider,
            )
        if not isinstance(event, StreamStart):
            break
        started = True
    outcome.head = head
    outcome.head_bytes = raw[0] if len(raw) == 1 else b"".join(raw)
    outcome.decoder = decoder
    outcome.chunks = chunks


def _has_content(events: list[StreamEvent]) -> bool:
    return any(not isinstance(e, StreamStart) for e in events)


def _feed_all(decoder: StreamDecoder, chunk: bytes, head: list[StreamEvent]) -> bool:
    """Decode the whole chunk; True once the head holds a content event."""
    head.extend(decoder.feed(chunk))
    return _has_content(head)


def _feed_head(decoder: StreamDecoder, chunk: bytes, head: list[StreamEvent]) -> bool:
    """Decode the chunk one SSE event at a time, stopping at the first content event (the
    rest is never decoded: the decoder is not used again on the pass-through path)."""
    start, size = 0, len(chunk)
    while start < size:
        end = chunk.find(b"\n\n", start)
        stop = size if end < 0 else end + 2
        head.extend(decoder.feed(chunk[start:stop] if start or stop < size else chunk))
        if _has_content(head):
            return True
        start = stop
    return False


# ---------------------------------------------------------------------------------------


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
        await finish_shielded(_settle(gateway, outcome, sent))


async def _settle(gateway: Gateway, outcome: Outcome, sent: tuple[Usage, GatewayError | None] | None) -> None:
    try:
        await outcome.result.aclose()
    finally:
        client = outcome.call.client
        exchange = client.exchange
        if exchange is not None:
            exchange.attempted(outcome.candidate, 200)
        if gateway.metrics is not None:
            gateway.metrics.settled(outcome, sent)
        if sent is not None:  # None: the client left, or the answer failed before it started
            usage, error = sent
            cand = outcome.candidate
            if exchange is not None:
                exchange.usage = usage
            if error is not None:
                if exchange is not None:
                    exchange.attempts -= 1  # (counted again as the failure it turned into)
                    exchange.error_status = error.status
                    exchange.error = error.message
                await _failed(gateway, client, cand, error, outcome.selection)
            else:
                await gateway.selector.record_success(cand, outcome.selection)
                await gateway.state.add_usage(cand.credential.id, cand.upstream_model, usage, failed=False)
            identity = outcome.call.client.identity
            if identity is not None:  # the request's one count for its client (see count_failure);
                # tokens of successful answers only, like the credential's counters
                failed = error is not None
                await gateway.state.add_client_usage(identity.name, None if failed else usage, failed=failed)


async def count_failure(gateway: Gateway, client: ClientRequest) -> None:
    """Count a request no answer was started for (every candidate failed, an unknown
    model, everything resting) as a failure of its client. Answered requests are counted
    by ``_settle``, once, whatever their attempts. Shielded like the other accounting."""
    if client.identity is not None:
        await finish_shielded(gateway.state.add_client_usage(client.identity.name, None, failed=True))


async def _whole(gateway: Gateway, outcome: Outcome, ctx: EncodeContext, send: Send) -> tuple[Usage, None]:
    client = outcome.call.client
    result = outcome.result
    if outcome.passthrough:
        assert isinstance(result, UpstreamResponse) and result.body is not None
        field = getattr(gateway.translators.upstream(result.wire), "model_field", "model")
        if outcome.usage is not None:
            body = _renamed(result.body, outcome.parsed, field, client.model)
            usage = outcome.usage
        else:
            assert outcome.response is not None
            body = rewrite_model(result.body, client.model, field)
            usage = outcome.response.usage
    else:
        response = await _whole_response(outcome)
        response = attrs.evolve(response, model=client.model)
        body = client.translator.encode_response(response, ctx)
        usage = response.usage
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return usage, None


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
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
        return await _stream_passthrough(gateway, outcome, ctx, send)
    encoder = client.translator.stream_encoder(ctx)
    await send({"type": "http.response.start", "status": 200, "headers": _stream_headers(encoder)})
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
    await send({"type": "http.response.body", "body": encoder.close(), "more_body": False})
    return usage, error


def _stream_headers(encoder: object) -> list[tuple[bytes, bytes]]:
    media_type = getattr(encoder, "media_type", "text/event-stream")
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
    make_filter = getattr(client.translator, "passthrough_filter", None)
    drop = make_filter(client.body) if make_filter is not None else None
    relay = PassthroughStream(client.model, gateway.translators.upstream(result.wire), drop)
    if client.exchange is not None:
        client.exchange.ending = lambda error: (
            relay.close() + client.translator.stream_encoder(ctx).encode([StreamError(error)])
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


def error_body(error: GatewayError, client: ClientRequest) -> bytes:
    """The client's error body for ``error`` (used by the doors)."""
    try:
        return client.translator.encode_error(error)
    except Exception:  # a translator bug must not hide the original error
        log.exception("could not encode an error for %s", client.wire)
        return orjson.dumps({"error": {"message": error.message, "type": str(error.kind)}})
