"""Model fallback chains (``fallback-models``): when no credential of a model can answer
for a reason another model may not share -- a rate limit, exhausted capacity, an upstream
outage, everything resting -- before the first byte of an answer, the request goes to the
next model of its chain, and on. The answer says which model answered: its body names that
model, and the ``x-cliproxy-model`` header says so (``x-cliproxy-fallback-from`` names the
model asked for).

A chain is one level: the fallbacks' own chains are not followed. A client key's
allowlist applies to the fallbacks too (a model the key may not use is skipped).
"""

from __future__ import annotations

import logging

import attrs

from cliproxy.client import ClientRequest
from cliproxy.dispatch import dispatch
from cliproxy.errors import GatewayError
from cliproxy.gateway import Gateway
from cliproxy.outcome import Outcome

__all__ = ["dispatch_with_fallbacks", "falls_back"]

log = logging.getLogger("cliproxy.pipeline")


def falls_back(error: GatewayError) -> bool:
    """Whether another model may do better: a rate limit, a timeout, a capacity or
    upstream failure (5xx, 529), or every credential resting -- not the client's own
    input, a refused key, or a model nobody serves."""
    if error.local and error.code != "model_cooldown":
        return False
    return error.status in (408, 429) or error.status >= 500


async def dispatch_with_fallbacks(gateway: Gateway, client: ClientRequest) -> Outcome:
    """:func:`~cliproxy.dispatch.dispatch`, then each model of ``client``'s fallback chain
    in turn while the failure is one :func:`falls_back` allows; the last error otherwise."""
    chain = gateway.config.fallback_models.get(client.route_model)
    if not chain:
        return await dispatch(gateway, client)
    policy = client.identity.policy if client.identity is not None else None
    allowed = [m for m in chain if policy is None or policy.allows(m)]
    try:  # (no waiting for a rest to end while a fallback is next)
        return await dispatch(gateway, client, wait=not allowed)
    except GatewayError as error:
        if not falls_back(error):
            raise
        last = error
    asked = client.model
    for i, model in enumerate(allowed):
        log.info("'%s' could not answer (%s); trying its fallback '%s'", asked, last.message, model)
        fallback = attrs.evolve(client, model=model, base_model=None, ir=None, fallback_from=asked)
        try:
            return await dispatch(gateway, fallback, wait=i == len(allowed) - 1)
        except GatewayError as error:
            if not falls_back(error):
                raise
            last = error
    raise last
