"""Finding a candidate that answers a client request: selection, attempts, failover.

:func:`dispatch` walks the model's candidates (priority, strategy, cooldowns), calls each
provider until one answers, and records failures; a stream counts as answered only once
its first content event arrived, so a failure before the first byte reaches the client
still moves on to the next candidate.
"""

from __future__ import annotations

import logging

import attrs

from cliproxy.accounting import failed
from cliproxy.answers import DirectResponse, UpstreamResponse
from cliproxy.client import ClientRequest
from cliproxy.embedding import not_embedding
from cliproxy.errors import ErrorKind, GatewayError, let_go
from cliproxy.gateway import Gateway
from cliproxy.ir import StreamError, StreamEvent, StreamFinish, StreamStart
from cliproxy.outcome import Outcome
from cliproxy.providers import Call
from cliproxy.routing import Candidate, Route
from cliproxy.selection import Selection, is_model_missing
from cliproxy.tokens import REFRESH_FAILED
from cliproxy.translate import StreamDecoder
from cliproxy.upstream import parse_json_body

__all__ = ["HEAD_LIMIT", "dispatch"]

log = logging.getLogger("cliproxy.pipeline")

HEAD_LIMIT = 4 * 1048576
"""Bytes of an upstream stream held while waiting for its first event (see ``_read_head``)."""


async def dispatch(gateway: Gateway, client: ClientRequest, *, wait: bool = True) -> Outcome:
    """Find a candidate that answers; raise the most telling error if none does.

    A round tries every available candidate in selection order; a retriable failure rests
    the candidate and moves on, a client error (400/413/422) returns at once. There are
    ``request-retry`` rounds after the first; when all candidates rest at the start of one,
    it first waits for the first to free up if that is within ``max-retry-interval``.
    When no round succeeds, the client gets the last upstream error (with ``Retry-After``
    until the first candidate frees up, when waiting can help); a request that found every
    candidate resting before trying any gets 429 ``model_cooldown`` with ``Retry-After``.
    Without ``wait`` (a fallback model is next), it never waits for a rest to end.
    """
    route = gateway.router.resolve(client.route_model)
    if client.thinking is not None and not client.thinking.disabled:
        route = _able_to_reason(gateway, route, client)
    elif client.action == "embed":
        route = _able_to_embed(gateway, route, client)
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
            pause = cooling.retry_after or 0.0
            if not wait or pause > config.max_retry_interval:
                raise _give_up(cooling, last_error) from None
            await gateway.sleep(pause)
            try:
                selection = await selector.select(route, client.model, session)
            except GatewayError as still:  # another instance rested them meanwhile
                raise _give_up(still, last_error) from None
        for cand in selection.ordered:
            call = Call(client, cand.credential, cand.upstream_model, gateway.host, attempt)
            attempt += 1
            try:
                outcome = await _attempt_refreshing(gateway, call, cand, selection)
            except GatewayError as error:
                if error.local:  # the gateway's own failure or the client's input: no upstream answered
                    raise
                await failed(gateway, client, cand, error, selection)
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


def _able_to_reason(gateway: Gateway, route: Route, client: ClientRequest) -> Route:
    """``route`` without the candidates whose provider says the model cannot think; a
    400 when none is left (a thinking suffix on a model that cannot think)."""
    providers = gateway.providers
    able = [
        c for c in route if providers[c.credential.provider].can_reason(c.credential, c.upstream_model) is not False
    ]
    if len(able) == len(route):
        return route
    if not able:
        raise GatewayError.invalid(
            f"'{client.route_model}' cannot think, so '{client.model}' asks for what it cannot do; "
            "use the model name without the suffix",
            param="model",
        ).as_local()
    return Route.of(route.key, able)


def _able_to_embed(gateway: Gateway, route: Route, client: ClientRequest) -> Route:
    """``route`` without the candidates whose provider says the model does not embed; a
    400 when none is left (a chat model asked for embeddings)."""
    providers = gateway.providers
    able = [c for c in route if providers[c.credential.provider].embeds(c.credential, c.upstream_model) is not False]
    if len(able) == len(route):
        return route
    if not able:
        raise not_embedding(client.model, route.candidates[0].credential.provider)
    return Route.of(route.key, able)


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
    """Attempt; after a 401 on an OAuth credential, try once more with a fresh token
    before the credential is rested.

    The token the upstream refused decides how: if it is still the current one, refresh
    it (another instance may have rotated it) and retry -- unless the token changed during
    the attempt, which means the provider refreshed and retried on its own and was refused
    again. If the refused token is an older one (another request refreshed meanwhile, as
    happens when many requests meet an expired token at once), retry with the current
    token, refreshing nothing.
    """
    tokens = gateway.tokens
    if cand.credential not in tokens:
        return await _attempt(gateway, call, cand, selection)
    held = tokens.tokens(cand.credential).access_token
    try:
        return await _attempt(gateway, call, cand, selection)
    except GatewayError as error:
        if error.status != 401 or error.code == REFRESH_FAILED or error.local:
            raise  # (a refresh that just failed is not tried again at once)
        current = tokens.tokens(cand.credential).access_token
        if current != held and call.refused_with(current):
            raise  # the provider retried with the new token on its own: refused too
    if tokens.tokens(cand.credential).access_token == held:  # nobody refreshed: the refused token is current
        await tokens.refresh(cand.credential, force=True)  # raises a telling 401 if it cannot
    return await _attempt(gateway, attrs.evolve(call, attempt=call.attempt + 1), cand, selection)


async def _attempt(gateway: Gateway, call: Call, cand: Candidate, selection: Selection) -> Outcome:
    provider = gateway.providers[cand.credential.provider]
    action = call.client.action
    exchange = call.client.exchange
    if exchange is not None and exchange.trace is not None:
        exchange.trace.attempt(cand, call.attempt)
    try:
        if action == "embed":
            return Outcome(call, cand, selection, await provider.embed(call))
        result = await (provider.compact(call) if action == "compact" else provider.send(call))
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
            if translator.checks_response and outcome.passthrough:  # passed through: parse once, check, no IR
                outcome.parsed = parse_json_body(result.body)
                outcome.usage = translator.check_response(outcome.parsed)
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
