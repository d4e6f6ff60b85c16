"""Counting a request's input tokens: upstream where a provider can, else an estimate."""

from __future__ import annotations

import logging

from cliproxy.client import ClientRequest
from cliproxy.errors import GatewayError
from cliproxy.estimate import estimate_request_tokens
from cliproxy.gateway import Gateway
from cliproxy.providers import Call
from cliproxy.selection import is_model_missing

__all__ = ["count_tokens"]

log = logging.getLogger("cliproxy.pipeline")


async def count_tokens(gateway: Gateway, client: ClientRequest) -> tuple[int, str]:
    """Input tokens of the client's request: ``(count, "upstream")`` from the first
    provider that can count, else ``(estimate, "estimate")``.

    Counting never moves the cooldown table: only generation outcomes may rest a
    credential (an upstream that serves a model but cannot count its tokens -- Gemini
    answers 404 for some -- must keep serving it). A failed count falls back to the
    estimate; an upstream that said it cannot count a model is not asked again for a while
    (:class:`CountRefusals`).
    """
    route = gateway.router.resolve(client.route_model)
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
        call = Call(client, cand.credential, cand.upstream_model, gateway.host)
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
