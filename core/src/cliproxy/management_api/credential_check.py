"""Trying one credential against its upstream, on demand.

:func:`check_credential` asks the provider for the credential's model list; a provider
that cannot list models (or a caller naming a ``model``) gets one request instead: a
one-word prompt asking for one token, sent by the provider itself with this credential
only. Nothing is counted or rested either way: it is a look, not traffic.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from cliproxy.answers import DirectResponse
from cliproxy.client import ClientRequest
from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError, let_go
from cliproxy.gateway import Gateway
from cliproxy.ir import StreamError, StreamStart
from cliproxy.providers import Call

__all__ = ["check_credential"]

PROBE_TIMEOUT = 60.0
_SHOWN_MODELS = 20


def _failure(gateway: Gateway, how: str, error: BaseException, started: float) -> dict[str, Any]:
    if isinstance(error, GatewayError):
        status, message = error.status, error.message
    else:
        status, message = None, f"{type(error).__name__}: {error}"
    return {
        "ok": False,
        "method": how,
        "status": status,
        "message": gateway.redact(message),
        "latency_ms": round((time.monotonic() - started) * 1000),
    }


def _models_of(gateway: Gateway, cred: Credential) -> list[tuple[str, str]]:
    """(client name, upstream name) of the models the credential serves."""
    entries = cred.models or cred.discovered or tuple(gateway.providers[cred.provider].default_models(cred))
    return [(entry.id, entry.name) for entry in entries if not cred.excludes(entry.id)]


async def check_credential(gateway: Gateway, cred: Credential, model: str | None = None) -> dict[str, Any]:
    """Try ``cred`` (see the module doc); the result, successful or not."""
    provider = gateway.providers[cred.provider]
    started = time.monotonic()
    if model is None:
        try:
            names = await provider.discover_models(cred, gateway.host)
        except Exception as exc:
            return _failure(gateway, "models", exc, started)
        if names is not None:
            listed = list(names)
            return {
                "ok": True,
                "method": "models",
                "models": len(listed),
                "sample": listed[:_SHOWN_MODELS],
                "latency_ms": round((time.monotonic() - started) * 1000),
            }
    served = _models_of(gateway, cred)
    if model is None:
        if not served:
            raise GatewayError.invalid(
                'this credential lists no model to try; name one: {"model": "<model>"}', param="model"
            )
        model, upstream = served[0]
    else:
        upstream = dict(served).get(model, model)
    try:
        status = await _one_token(gateway, cred, model, upstream)
    except Exception as exc:
        let_go(exc)
        return {**_failure(gateway, "request", exc, started), "model": model}
    return {
        "ok": True,
        "method": "request",
        "model": model,
        "status": status,
        "latency_ms": round((time.monotonic() - started) * 1000),
    }


async def _one_token(gateway: Gateway, cred: Credential, model: str, upstream: str) -> int:
    body = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "Say OK."}]}
    client = ClientRequest(
        wire="openai-chat",
        translator=gateway.translators.client("openai-chat"),
        body=body,
        raw=orjson.dumps(body),
        model=model,
        stream=False,
    )
    call = Call(client, cred, upstream, gateway.host)
    result = await gateway.providers[cred.provider].send(call)
    try:
        if isinstance(result, DirectResponse):
            return 200
        translator = gateway.translators.upstream(result.wire)
        if not result.streamed:
            assert result.body is not None
            translator.decode_response(result.body)
            return result.status
        decoder = result.decoder if result.decoder is not None else translator.stream_decoder()
        assert result.chunks is not None
        async for chunk in result.chunks:
            for event in decoder.feed(chunk):
                if isinstance(event, StreamError):
                    raise event.error
                if not isinstance(event, StreamStart):
                    return result.status
        for event in decoder.close():
            if isinstance(event, StreamError):
                raise event.error
        raise GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="the upstream's stream ended without an event")
    finally:
        await result.aclose()
