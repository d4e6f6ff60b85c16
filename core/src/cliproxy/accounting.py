"""Accounting for a client request once its fate is known: which credential failed (the
cooldown table, usage, metrics, the access log) and what an answer used.

Each client request counts once for its client, where it ends: :func:`settle` for an
answer that went out, :func:`count_failure` for one that did not -- in the client counters
and in the lasting usage (:mod:`cliproxy.usage_ledger`, with its cost; a stream that
failed midway counts its tokens there). Upstream attempts count for their credentials
each, through :func:`failed`. Only upstream answers come here: the gateway's own failures
(``GatewayError.local``) never rest a credential.
"""

from __future__ import annotations

import logging

from cliproxy.client import ClientRequest
from cliproxy.eager import finish_shielded
from cliproxy.errors import GatewayError
from cliproxy.gateway import Gateway
from cliproxy.ir import Usage
from cliproxy.outcome import Outcome
from cliproxy.routing import Candidate
from cliproxy.selection import Selection
from cliproxy.usage_ledger import NO_CREDENTIAL

__all__ = ["count_failure", "failed", "settle"]

log = logging.getLogger("cliproxy.pipeline")


async def failed(
    gateway: Gateway, client: ClientRequest, cand: Candidate, error: GatewayError, selection: Selection | None
) -> None:
    """An upstream attempt of ``cand`` failed: rest it as the cooldown table says, count
    the failure for its credential (and in the metrics and the access log), log it."""
    if client.exchange is not None:
        client.exchange.attempted(cand, error.status)
        client.exchange.failed_attempt(cand, error.status, error.message)
        if client.exchange.trace is not None:
            client.exchange.trace.failed(error.status, error.message)
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


async def settle(gateway: Gateway, outcome: Outcome, sent: tuple[Usage, GatewayError | None] | None) -> None:
    """An answer is over: close the upstream, then count it. ``sent`` is the usage and the
    error a stream ended with; None when the client left or the answer never started."""
    try:
        await outcome.result.aclose()
    finally:
        client = outcome.call.client
        exchange = client.exchange
        if exchange is not None:
            exchange.attempted(outcome.candidate, 200)
        if gateway.metrics is not None:
            gateway.metrics.settled(outcome.candidate, client.identity, sent)
        if sent is not None:  # None: the client left, or the answer failed before it started
            usage, error = sent
            cand = outcome.candidate
            if exchange is not None:
                exchange.usage = usage
                if exchange.trace is not None:
                    exchange.trace.settled(usage, None if error is None else error.message)
            if error is not None:
                if exchange is not None:
                    exchange.attempts -= 1  # (counted again as the failure it turned into)
                    exchange.error_status = error.status
                    exchange.error = error.message
                await failed(gateway, client, cand, error, outcome.selection)
            else:
                await gateway.selector.record_success(cand, outcome.selection)
                await gateway.state.add_usage(cand.credential.id, cand.upstream_model, usage, failed=False)
            identity = outcome.call.client.identity
            if identity is not None:  # the request's one count for its client (see count_failure);
                # tokens of successful answers only, like the credential's counters
                lost = error is not None
                await gateway.state.add_client_usage(identity.name, None if lost else usage, failed=lost)
                # the lasting usage counts what the answer used, a failed stream's tokens too
                cost = await _record(gateway, identity.name, cand, cand.upstream_model, usage, failed=lost)
                if exchange is not None:
                    exchange.cost = cost
                if client.ticket is not None:  # (its key's budgets: what it used, not the estimate)
                    client.ticket.spent(usage, cost)


async def count_failure(gateway: Gateway, client: ClientRequest) -> None:
    """Count a request no answer was started for (every candidate failed, an unknown
    model, everything resting) as a failure of its client. Answered requests are counted
    by :func:`settle`, once, whatever their attempts. Shielded like the other accounting."""
    if client.ticket is not None and client.ticket.used is None:
        client.ticket.unanswered()
    if client.identity is not None:
        await finish_shielded(_count_failure(gateway, client, client.identity.name))


async def _count_failure(gateway: Gateway, client: ClientRequest, name: str) -> None:
    await gateway.state.add_client_usage(name, None, failed=True)
    exchange = client.exchange
    if exchange is not None and exchange.credential_id != NO_CREDENTIAL:  # the last credential tried
        credential, model = exchange.credential_id, exchange.upstream_model
    else:
        credential, model = NO_CREDENTIAL, client.model
    await gateway.ledger.record(name, credential, model, None, failed=True)


async def _record(
    gateway: Gateway, name: str, cand: Candidate, model: str, usage: Usage | None, *, failed: bool
) -> int | None:
    """Count an answered request in the lasting usage, and its cost in the metrics;
    returns the cost (nano-dollars; None: unknown)."""
    cost = await gateway.ledger.record(name, cand.credential.id, model, usage, failed=failed)
    if cost and gateway.metrics is not None:
        gateway.metrics.cost(name, cand.credential.provider, model, cost)
    return cost
