"""Enforcing a client key's model allowlist (see :mod:`cliproxy.key_policy`).

A request for a model outside the key's ``models`` is refused with 403 in the door's
shape, naming the patterns the key may use; the model lists show each key only what it
may use. Nothing runs for a key without a policy.
"""

from __future__ import annotations

from cliproxy.client import ClientIdentity
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.key_policy import KeyPolicy

__all__ = ["check_model", "model_not_allowed"]


def model_not_allowed(name: str, policy: KeyPolicy, model: str) -> GatewayError:
    """The 403 for a key asking for a model its allowlist does not cover."""
    return GatewayError(
        status=403,
        kind=ErrorKind.PERMISSION,
        code="model_not_allowed",
        param="model",
        message=f"the API key '{name}' may not use the model '{model}'; it may use models matching: "
        + ", ".join(policy.models)
        + " (ask the gateway's operator to widen the key's 'models' if you need more)",
        local=True,
    )


def check_model(identity: ClientIdentity | None, model: str) -> None:
    """Raise the 403 when ``identity``'s key may not use ``model`` (the name asked for,
    without a thinking suffix)."""
    if identity is None:
        return
    policy = identity.policy
    if policy is not None and policy.models and not policy.allows(model):
        raise model_not_allowed(identity.name, policy, model)
