"""Enforcing a client key's rates and budgets around each request (see
:mod:`cliproxy.key_policy` for the config, :mod:`cliproxy.state.limiter` for the rules).

:func:`admit` runs before a request is sent anywhere: one call to the state store checks
``rpm``, ``tpm``, ``max-parallel``, ``daily-tokens`` and ``monthly-budget-usd`` and takes
the request's share -- its input tokens estimated, and their cost at the model's input
price. Refused, the client gets 429 (402 for the monthly budget) in its door's shape, with
``Retry-After`` and the rate-limit headers its SDK reads, saying which limit and when it
has room again. Admitted, the request holds a :class:`Ticket`, and its answer's headers
say what the key's rpm and tpm windows have left (:mod:`cliproxy.rate_headers`); the
accounting tells the ticket what the request actually used (:meth:`Ticket.spent`, a
stream that failed midway included) and the door releases it once the request is over,
settling estimate against use. A request no answer was started for gives its estimate
back; one whose client left keeps it.

Keys without such limits cost nothing here: no estimate, no store call, no headers.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from typing import TYPE_CHECKING

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.estimate import estimate_body_tokens
from cliproxy.ir import Usage
from cliproxy.key_policy import KeyPolicy
from cliproxy.pricing import nanos_to_usd
from cliproxy.rate_headers import refusal_headers
from cliproxy.state.limiter import Admission, RateLimits
from cliproxy.ticket import Ticket

if TYPE_CHECKING:
    from cliproxy.client import ClientRequest
    from cliproxy.gateway import Gateway

__all__ = ["LEASE", "Ticket", "admit", "limits_of"]


_TICKETS = itertools.count()
_INSTANCE = os.urandom(8).hex()  # ticket ids are unique across instances sharing a store


def _new_instance() -> None:
    global _INSTANCE
    _INSTANCE = os.urandom(8).hex()


os.register_at_fork(after_in_child=_new_instance)  # (a forked worker is an instance of its own)

LEASE = 900.0
"""Seconds a request holds its ``max-parallel`` slot at most (a gateway that dies with
requests in flight frees their slots after this long)."""


@functools.lru_cache(maxsize=256)
def limits_of(policy: KeyPolicy) -> RateLimits:
    """The store's view of a key's policy."""
    return RateLimits(
        rpm=policy.rpm,
        tpm=policy.tpm,
        parallel=policy.max_parallel,
        daily_tokens=policy.daily_tokens,
        monthly_nanos=policy.monthly_budget_nanos,
    )


async def admit(gateway: Gateway, client: ClientRequest, policy: KeyPolicy) -> Ticket:
    """Take the request's share of its key's limits, or raise the refusal."""
    identity = client.identity
    name = identity.name if identity is not None else "anonymous"
    limits = limits_of(policy)
    tokens = cost = 0
    if policy.counts_tokens:
        tokens = max(1, estimate_body_tokens(client.body))
        if policy.monthly_budget_nanos is not None:
            cost = _input_cost(gateway, client.route_model, tokens)
    ticket_id = f"{_INSTANCE}{next(_TICKETS):x}"
    admission = await gateway.state.acquire(name, ticket_id, limits, tokens=tokens, cost=cost, lease=LEASE)
    if not admission.admitted:
        raise refusal(name, policy, admission, client.wire, tokens, gateway.clock())
    return Ticket(gateway.state, name, ticket_id, limits, admission, (tokens, cost))


def _input_cost(gateway: Gateway, model: str, tokens: int) -> int:
    """Nano-dollars of ``tokens`` input tokens of ``model`` (by the name asked for, else
    by the upstream name of its first candidate); 0 when it has no price."""
    pricing = gateway.config.pricing
    price = pricing.price_for(model)
    if price is None:
        try:
            route = gateway.router.resolve(model)
        except GatewayError:
            return 0
        for cand in route:
            price = pricing.price_for(cand.upstream_model)
            if price is not None:
                break
    return 0 if price is None else price.cost(Usage(input_tokens=tokens))


def _at(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def refusal(name: str, policy: KeyPolicy, admission: Admission, wire: str, tokens: int, now: float) -> GatewayError:
    """The error for a request ``admission`` refused, in terms of the key's policy."""
    limit = admission.refused
    retry = admission.retry_after
    key = f"the API key '{name}'"
    if limit == "rpm":
        message = f"{key} is over its limit of {policy.rpm} requests per minute"
    elif limit == "tpm":
        if retry is None:
            return GatewayError(
                status=413,
                kind=ErrorKind.REQUEST_TOO_LARGE,
                code="request_over_tpm",
                message=f"this request (about {tokens} input tokens) is larger than the {policy.tpm} tokens per "
                f"minute {key} may use; send a shorter one",
                local=True,
            )
        message = f"{key} is over its limit of {policy.tpm} tokens per minute (this request: about {tokens})"
    elif limit == "max-parallel":
        message = f"{key} has {policy.max_parallel} requests in flight, its max-parallel; retry when one ends"
    elif limit == "daily-tokens":
        message = (
            f"{key} has used its daily-tokens budget of {policy.daily_tokens} tokens for today; "
            f"it resets at {_at(now + (retry or 0))}"
        )
        return GatewayError(
            status=429,
            kind=ErrorKind.RATE_LIMITED,
            code="daily_tokens_exceeded",
            message=message,
            retry_after=retry,
            local=True,
        )
    else:
        budget = nanos_to_usd(policy.monthly_budget_nanos or 0)
        return GatewayError(
            status=402,
            kind=ErrorKind.BILLING,
            code="monthly_budget_exceeded",
            message=f"{key} has spent its monthly-budget-usd of ${budget:,.2f} for this month; "
            f"it resets at {_at(now + (retry or 0))}",
            retry_after=retry,
            local=True,
        )
    wait = f"; retry in {max(1, round(retry))} s" if retry is not None and limit != "max-parallel" else ""
    return GatewayError(
        status=429,
        kind=ErrorKind.RATE_LIMITED,
        code="rate_limit_exceeded",
        message=message + wait,
        retry_after=retry,
        headers=refusal_headers(wire, policy, limit, retry, now),
        local=True,
    )
