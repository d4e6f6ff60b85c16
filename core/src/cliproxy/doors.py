"""Doors: the HTTP endpoints clients call, one set per wire format.

A :class:`Door` binds a path to a client translator. Its endpoint authenticates the
caller, reads and parses the body, finds the model and the stream flag, and hands the
request to the pipeline; every failure on the way is answered in the door's own error
format with the right status, never as a 500 with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from cliproxy.accounting import count_failure
from cliproxy.activity import note_activity
from cliproxy.asgi import checked_headers, client_disconnect_cancels, query_map, read_body
from cliproxy.client import ClientRequest, InboundRequest
from cliproxy.counting import count_tokens
from cliproxy.dispatch import dispatch
from cliproxy.drain import shutdown_error
from cliproxy.eager import finish_shielded
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.exchange import Exchange, client_request_id, current, new_request_id
from cliproxy.fallback import dispatch_with_fallbacks
from cliproxy.gateway import Gateway
from cliproxy.ir import StreamError
from cliproxy.keepalive import BLANK_LINE, Keepalive
from cliproxy.limits import admit
from cliproxy.outcome import Outcome
from cliproxy.policy import check_model
from cliproxy.rate_headers import with_rate_headers
from cliproxy.request_capture import RequestCapture
from cliproxy.request_log import keep_request
from cliproxy.respond import JSON_HEADERS, respond, stream_headers
from cliproxy.thinking_suffix import split_suffix
from cliproxy.translate import ClientTranslator, Door, EncodeContext
from cliproxy.wire.common import kind_of

__all__ = ["DoorEndpoint", "error_response"]

log = logging.getLogger("cliproxy.doors")


def _retry_after_header(error: GatewayError) -> list[tuple[bytes, bytes]]:
    if error.retry_after is None:
        return []
    return [(b"retry-after", str(max(1, math.ceil(error.retry_after))).encode())]


def error_response(translator: ClientTranslator, error: GatewayError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body for ``error`` in ``translator``'s format."""
    try:
        body = translator.encode_error(error)
    except Exception:
        log.exception("translator %s could not encode an error", translator.name)
        body = orjson.dumps({"error": {"message": error.message, "type": str(error.kind)}})
    headers = [(b"content-type", b"application/json"), *_retry_after_header(error)]
    if error.headers:
        headers += [(name.encode(), value.encode()) for name, value in error.headers]
    return error.status, headers, body


async def send_error(send: Send, translator: ClientTranslator, error: GatewayError) -> None:
    status, headers, body = error_response(translator, error)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _internal(exc: BaseException) -> GatewayError:
    log.error("internal error while serving a request", exc_info=exc)
    return GatewayError(
        status=500,
        kind=ErrorKind.INTERNAL,
        message="internal gateway error; the gateway log has the details",
    )


def inbound(scope: Scope, headers: Mapping[str, str], query: Mapping[str, str]) -> InboundRequest:
    client = scope.get("client")
    return InboundRequest(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        headers=headers,
        query=query,
        client_host=client[0] if client else None,
    )


MAX_NESTING = 128
"""The deepest nesting of objects and arrays a request body may have. Far more than any
real request needs, and well inside what the JSON encoder that sends it on can write
(254 levels), so a provider may still wrap it and a response may still echo it."""

_ENCODER_DEPTH = 254  # orjson refuses to write anything nested deeper


class _DepthProbe:
    """Checks nesting depth in C: the body is hung at the bottom of a prebuilt chain of
    ``254 - MAX_NESTING`` lists and encoded; the encoder refuses exactly the bodies that
    nest deeper than :data:`MAX_NESTING`. (Reused: encoding is synchronous, so no other
    request can see the body hung there.)"""

    def __init__(self) -> None:
        self.outer: list[Any] = []
        inner = self.outer
        for _ in range(_ENCODER_DEPTH - MAX_NESTING - 1):
            deeper: list[Any] = []
            inner.append(deeper)
            inner = deeper
        inner.append(None)
        self.inner = inner

    def too_deep(self, body: Any) -> bool:
        self.inner[0] = body
        try:
            orjson.dumps(self.outer)
        except orjson.JSONEncodeError:
            return True
        finally:
            self.inner[0] = None
        return False


_probe = _DepthProbe()


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong with it.

    One bounded decode: besides the syntax, the nesting depth is checked here, at the door,
    so that no request the gateway accepted can fail later while being sent on or echoed
    back (where it would look like the upstream's or the gateway's failure).
    """
    if not raw.strip():
        raise GatewayError.invalid("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise _too_deep() from None
        raise GatewayError.invalid(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise GatewayError.invalid(f"the request body must be a JSON object, not {kind_of(body)}")
    size = len(raw)
    if (
        size > 2 * MAX_NESTING  # shorter bodies cannot nest that deep; nor can small ones with few brackets
        and (size > 4096 or raw.count(b"{") + raw.count(b"[") > MAX_NESTING)
        and _probe.too_deep(body)
    ):
        raise _too_deep()
    return body


def _too_deep() -> GatewayError:
    return GatewayError.invalid(
        f"the request body nests objects or arrays more than {MAX_NESTING} levels deep; flatten it"
    )


class DoorEndpoint:
    """The ASGI app behind one door."""

    def __init__(self, gateway: Gateway, translator: ClientTranslator, door: Door) -> None:
        self.gateway = gateway
        self.door = door
        self.translator = translator
        self.label = translator.name  # the door's name in the access log, metrics and request logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self.gateway
        config = gateway.config  # (the request is served under the config it arrived under)
        try:
            headers: dict[str, str] | GatewayError = checked_headers(scope, config.max_header_bytes)
        except GatewayError as too_large:
            headers = too_large
        request_id = (client_request_id(headers) if isinstance(headers, dict) else None) or new_request_id()
        exchange = Exchange(send, self.label, request_id)
        if config.request_logs.enabled and self.door.action != "models":
            exchange.capture = RequestCapture()
        if gateway.tracing is not None:
            traced = headers if isinstance(headers, dict) else None
            exchange.trace = gateway.tracing.begin(scope["method"], scope["path"], traced, exchange)
        token = current.set(exchange)
        metrics = gateway.metrics
        if metrics is not None:
            metrics.started(exchange, self.door)
        drain = gateway.drain
        task = asyncio.current_task()
        drain.enter(task)
        try:
            await self._handle(scope, receive, exchange, headers, task)
        except asyncio.CancelledError:
            if not drain.cutting:
                raise
            if task is not None:
                task.uncancel()
            await self._cut_short(exchange)
        finally:
            drain.leave(task)
            if metrics is not None:
                metrics.finished(exchange, self.door)
            if config.access_log:
                exchange.log()
            if exchange.capture is not None or exchange.error is not None:
                keep_request(gateway, exchange, scope)
            if config.remote_management.secret_key:  # the panel's activity: only with the API on
                note_activity(gateway.activity, config, gateway.clock(), exchange)
            if exchange.trace is not None:
                exchange.trace.finish(exchange)
            current.reset(token)

    async def _cut_short(self, exchange: Exchange) -> None:
        """End a request that shutdown interrupted, in the client's wire format: a 503 if
        nothing was sent yet, else the stream's error event (see :mod:`cliproxy.drain`)."""
        error = shutdown_error()
        exchange.error = error.message
        if exchange.status == 0:
            await send_error(exchange, self.translator, error)
        elif not exchange.answered:
            exchange.error_status = error.status
            tail = exchange.ending(error) if exchange.ending is not None else b""
            await exchange({"type": "http.response.body", "body": tail, "more_body": False})

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        exchange: Exchange,
        headers: dict[str, str] | GatewayError,
        task: asyncio.Task[Any] | None,
    ) -> None:
        translator = self.translator
        try:
            if isinstance(headers, GatewayError):
                raise headers
            if self.door.action == "models":
                await self._models(scope, exchange, headers)
                return
            client = await self._client_request(scope, receive, headers, task)
        except GatewayError as error:
            exchange.error = error.message
            await send_error(exchange, translator, error)
            return
        except Exception as exc:
            internal = _internal(exc)
            exchange.error = internal.message
            await send_error(exchange, translator, internal)
            return
        if client is None:
            return  # the client left while sending its body
        client.exchange = exchange
        exchange.model = client.model
        await client_disconnect_cancels(self._serve(self.gateway, client, exchange), receive, exchange.done, task)

    async def _client_request(
        self, scope: Scope, receive: Receive, headers: dict[str, str], task: asyncio.Task[Any] | None
    ) -> ClientRequest | None:
        gateway = self.gateway
        if gateway.http is None:
            raise GatewayError(
                status=503,
                kind=ErrorKind.UNAVAILABLE,
                message="the gateway has not been started: run its lifespan (see README, 'Embedding')",
            )
        query = query_map(scope)
        identity = await gateway.authenticate(inbound(scope, headers, query))
        exchange = current.get()
        if exchange is not None:
            exchange.client = identity.name
        try:
            config = gateway.config
            raw = await read_body(
                receive, headers, config.max_body_bytes, config.body_read_timeout, gateway.deadlines, task
            )
        except GatewayError:
            raise
        except BaseException:  # disconnect while reading the body
            return None
        if exchange is not None:
            exchange.request_body = raw  # (for the request log)
        body = parse_json_object(raw)
        door = self.door
        if door.model_param is not None:
            model: Any = scope.get("path_params", {}).get(door.model_param)
        else:
            model = body.get("model")
        if model is None or model == "":
            raise GatewayError.invalid("'model' is required: name the model to use", param="model")
        if not isinstance(model, str):
            raise GatewayError.invalid(f"'model' must be a string, not {kind_of(model)}", param="model")
        base_model, thinking = None, None
        if model.endswith(")") and not gateway.router.knows(model):
            base, thinking = split_suffix(model)
            base_model = base if thinking is not None else None
        check_model(identity, base_model or model)
        stream = door.stream
        if stream is None:
            flag = body.get("stream", False)
            if flag is not None and not isinstance(flag, bool):
                raise GatewayError.invalid(f"'stream' must be true or false, not {kind_of(flag)}", param="stream")
            stream = bool(flag)
        return ClientRequest(
            wire=self.translator.name,
            translator=self.translator,
            body=body,
            raw=raw,
            model=model,
            stream=stream,
            headers=headers,
            query=query,
            action="count_tokens" if door.action == "count_tokens" else "generate",  # (a models door never gets here)
            identity=identity,
            created=int(time.time()),
            thinking=thinking,
            base_model=base_model,
        )

    async def _models(self, scope: Scope, send: Send, headers: dict[str, str]) -> None:
        try:
            identity = await self.gateway.authenticate(inbound(scope, headers, query_map(scope)))
            body = self.translator.encode_models(self.gateway.listed_models(identity))
        except GatewayError as error:
            await send_error(send, self.translator, error)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _count(self, gateway: Gateway, client: ClientRequest, send: Send) -> None:
        try:
            tokens, source = await count_tokens(gateway, client)
            ctx = EncodeContext(
                model=client.model, body=client.body, request=client._ir, created=client.created, query=client.query
            )
            body = self.translator.encode_count(tokens, ctx)
        except GatewayError as error:
            await send_error(send, self.translator, error)
            return
        except Exception as exc:
            await send_error(send, self.translator, _internal(exc))
            return
        headers = [(b"content-type", b"application/json"), (b"x-cliproxy-token-count", source.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _serve(self, gateway: Gateway, client: ClientRequest, send: Send) -> None:
        if client.action == "count_tokens":
            await self._count(gateway, client, send)
            return
        policy = None if client.identity is None else client.identity.policy
        ticket = None
        if policy is not None and policy.limits_rate:
            try:
                ticket = await admit(gateway, client, policy)
            except GatewayError as error:
                if client.exchange is not None:
                    client.exchange.error = error.message
                await send_error(send, self.translator, error)
                return
            client.ticket = ticket
        keepalive = self._keepalive(client, send)
        try:
            await self._answer(gateway, client, send if keepalive is None else keepalive)
        finally:
            if keepalive is not None:
                keepalive.stop()
            if ticket is not None:
                await finish_shielded(ticket.release())

    def _keepalive(self, client: ClientRequest, send: Send) -> Keepalive | None:
        """The ``send`` with keepalives this request gets (see :mod:`cliproxy.keepalive`);
        None when the config asks for none, or for a stream whose framing has none."""
        config = self.gateway.config
        exchange = client.exchange
        interval = config.stream_keepalive if client.stream else config.nonstream_keepalive
        if interval is None or exchange is None:
            return None  # (the usual case: no keepalives)
        translator = self.translator
        if client.stream:
            ping = translator.keepalive(client.query)
            if ping is None:
                return None
            ctx = EncodeContext(model=client.model, body=client.body, created=client.created, query=client.query)

            def ending(error: GatewayError) -> bytes:
                encoder = translator.stream_encoder(ctx)
                return encoder.encode([StreamError(error)]) + encoder.close()

            headers = with_rate_headers(client, stream_headers(translator.stream_encoder(ctx)))
            return Keepalive(exchange, interval, ping, headers, stream=True, ending=ending)
        return Keepalive(
            exchange,
            interval,
            BLANK_LINE,
            with_rate_headers(client, JSON_HEADERS),
            stream=False,
            ending=lambda error: error_response(translator, error)[2],
        )

    async def _answer(self, gateway: Gateway, client: ClientRequest, send: Send) -> None:
        try:
            if gateway.config.fallback_models:
                outcome = await dispatch_with_fallbacks(gateway, client)
            else:
                outcome = await dispatch(gateway, client)
        except GatewayError as error:
            await self._unanswered(gateway, client, error, send)
            return
        except Exception as exc:
            await self._unanswered(gateway, client, _internal(exc), send)
            return
        try:
            await self._respond(gateway, outcome, send)
        except GatewayError as error:  # failed before the response started
            await self._unanswered(gateway, client, error, send)
        except Exception:
            log.exception("internal error while sending a response")

    async def _unanswered(self, gateway: Gateway, client: ClientRequest, error: GatewayError, send: Send) -> None:
        """Count the request as its client's failure and send it ``error``."""
        if client.exchange is not None:
            client.exchange.error = error.message
        await count_failure(gateway, client)
        if isinstance(send, Keepalive) and send.committed:
            await send.fail(error)
        else:
            await send_error(send, self.translator, error)

    async def _respond(self, gateway: Gateway, outcome: Outcome, send: Send) -> None:
        """Send the answer (doors that keep what they answered override this)."""
        await respond(gateway, outcome, send)
