"""Copilot's model list, and which endpoint serves each model.

``GET {api}/models`` lists the account's models; newer answers give each one
``supported_endpoints`` -- ``/chat/completions``, ``/responses``, ``/v1/messages``
(Anthropic Messages) and ``ws:/responses`` -- and GPT-5.x-codex models are served by
``/responses`` only. The rule here: a Claude model goes to ``/v1/messages`` where it is
offered; otherwise the endpoint speaking the client's own format when the model offers it
(no translation), else ``/chat/completions``, else what the model offers. A model listed
without ``supported_endpoints`` (older answers) goes to ``/chat/completions``, unless its
id says ``codex`` (``/responses``). An endpoint that answers ``unsupported_api_for_model``
is replaced by the next one the order names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import attrs

__all__ = ["DEFAULT_MODELS", "Endpoint", "ModelInfo", "endpoint_order", "parse_models", "premium_models"]

DEFAULT_MODELS = (
    "gpt-4.1",
    "gpt-4o",
    "gpt-5-mini",
    "gpt-5",
    "gpt-5.3-codex",
    "claude-sonnet-4.5",
    "claude-haiku-4.5",
    "claude-opus-4.5",
    "claude-sonnet-4",
    "gemini-2.5-pro",
)
"""What a credential serves until its model list is read (at start-up, in the background)
or when it cannot be read: so that early requests route, and an account that cannot
sign in answers with why rather than with an unknown model."""


class Endpoint(StrEnum):
    CHAT = "/chat/completions"
    RESPONSES = "/responses"
    MESSAGES = "/v1/messages"

    @property
    def wire(self) -> str:
        """The cliproxy wire format the endpoint speaks."""
        return _WIRES[self]


_WIRES = {Endpoint.CHAT: "openai-chat", Endpoint.RESPONSES: "openai-responses", Endpoint.MESSAGES: "anthropic"}
_BY_WIRE = {wire: endpoint for endpoint, wire in _WIRES.items()}
_KNOWN = {e.value: e for e in Endpoint}


@attrs.frozen
class ModelInfo:
    """What the model list says about one model.

    Attributes:
        id: The model id to send.
        vendor: ``Anthropic``, ``OpenAI``, ``Google``... when given.
        endpoints: The endpoints it is served at, in the order listed (empty: not listed).
        premium: Whether a request spends premium requests (``billing``), when given.
        vision: Whether it takes images, when given.
    """

    id: str
    vendor: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    premium: bool | None = None
    vision: bool | None = None

    @property
    def is_claude(self) -> bool:
        return is_claude(self.id, self.vendor)


def is_claude(model: str, vendor: str | None = None) -> bool:
    return (vendor or "").lower() == "anthropic" or model.lower().startswith("claude")


def _premium(entry: Mapping[str, Any]) -> bool | None:
    billing = entry.get("billing")
    if not isinstance(billing, Mapping):
        return None
    flag = billing.get("is_premium")
    if isinstance(flag, bool):
        return flag
    multiplier = billing.get("multiplier")
    if isinstance(multiplier, int | float) and not isinstance(multiplier, bool):
        return multiplier > 0
    return None


def _info(entry: Mapping[str, Any]) -> ModelInfo | None:
    model = entry.get("id")
    if not isinstance(model, str) or not model:
        return None
    capabilities = found if isinstance(found := entry.get("capabilities"), Mapping) else {}
    kind = capabilities.get("type")
    if kind is not None and kind != "chat":  # embeddings, code completions
        return None
    policy = found if isinstance(found := entry.get("policy"), Mapping) else {}
    if policy.get("state") == "disabled":  # switched off in the account's Copilot settings
        return None
    listed = entry.get("supported_endpoints")
    endpoints = tuple(dict.fromkeys(_KNOWN[e] for e in listed if e in _KNOWN)) if isinstance(listed, list) else ()
    supports = found if isinstance(found := capabilities.get("supports"), Mapping) else {}
    vision = supports.get("vision")
    vendor = entry.get("vendor")
    return ModelInfo(
        id=model,
        vendor=vendor if isinstance(vendor, str) and vendor else None,
        endpoints=endpoints,
        premium=_premium(entry),
        vision=vision if isinstance(vision, bool) else None,
    )


def parse_models(data: Any) -> dict[str, ModelInfo]:
    """The chat models of a ``/models`` answer, by id, in the order listed."""
    items = data.get("data") if isinstance(data, Mapping) else None
    found: dict[str, ModelInfo] = {}
    for entry in items if isinstance(items, list) else ():
        info = _info(entry) if isinstance(entry, Mapping) else None
        if info is not None and info.id not in found:
            found[info.id] = info
    return found


def endpoint_order(model: str, info: ModelInfo | None, client_wire: str) -> tuple[Endpoint, ...]:
    """The endpoints to try for ``model``, best first (see the module doc)."""
    claude = info.is_claude if info is not None else is_claude(model)
    own = _BY_WIRE.get(client_wire)
    if info is not None and info.endpoints:
        offered = info.endpoints
        first: list[Endpoint] = []
        if claude and Endpoint.MESSAGES in offered:
            first.append(Endpoint.MESSAGES)
        if own is not None and own in offered:
            first.append(own)
        return tuple(dict.fromkeys([*first, *(e for e in Endpoint if e in offered)]))
    if claude:
        return (Endpoint.CHAT, Endpoint.MESSAGES)
    if "codex" in model.lower():
        return (Endpoint.RESPONSES, Endpoint.CHAT)
    return (Endpoint.CHAT, Endpoint.RESPONSES)


def premium_models(models: Iterable[ModelInfo]) -> tuple[str, ...]:
    """The models that spend premium requests (those the list does not call free)."""
    return tuple(m.id for m in models if m.premium is not False)
