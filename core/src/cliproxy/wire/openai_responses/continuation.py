"""Continuing a stored response: the pure parts.

What the gateway keeps of a Responses answer is the conversation the next turn needs:
the input items the answer was produced for and its output items (as a chain of turns,
see :mod:`cliproxy.response_store`, which does the I/O). A request naming it in
``previous_response_id`` is then the same request with that conversation in front of its
own ``input``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["continued_body", "final_response", "input_items", "megabytes", "not_found", "not_kept"]

_FINAL_EVENTS = (b"event: response.completed\n", b"event: response.incomplete\n")


def input_items(body: Mapping[str, Any]) -> list[Any]:
    """A request's ``input`` as a list of items (a string is one user message)."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if isinstance(raw, list):
        return list(raw)
    return []


def continued_body(body: Mapping[str, Any], conversation: Sequence[Any]) -> dict[str, Any]:
    """``body`` with ``conversation`` in front of its input and no ``previous_response_id``
    (what a stateless translator can decode). Instructions are the new request's own."""
    expanded = {k: v for k, v in body.items() if k != "previous_response_id"}
    expanded["input"] = [*conversation, *input_items(body)]
    return expanded


def not_found(response_id: str) -> GatewayError:
    """OpenAI's error for a ``previous_response_id`` nobody kept."""
    return GatewayError(
        status=404,
        kind=ErrorKind.INVALID_REQUEST,
        message=f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def not_kept(response_id: str, size: int, limit: int) -> GatewayError:
    """The 400 for a ``previous_response_id`` whose answer was too large to keep."""
    return GatewayError(
        status=400,
        kind=ErrorKind.INVALID_REQUEST,
        message=(
            f"Previous response with id '{response_id}' was not kept: its record ({megabytes(size)}) is larger "
            f"than this gateway keeps ({megabytes(limit)}, its responses-store.max-record-mb). Send the whole "
            "conversation in 'input' instead of 'previous_response_id', or ask the gateway's operator to raise "
            "responses-store.max-record-mb."
        ),
        param="previous_response_id",
        code="previous_response_not_kept",
    )


def megabytes(size: int) -> str:
    """``size`` bytes for people: ``4.2 MB``."""
    return f"{size / (1024 * 1024):.3g} MB"


def final_response(chunk: bytes) -> dict[str, Any] | None:
    """The response object of a ``response.completed`` or ``response.incomplete`` event
    in ``chunk`` (whole SSE events, as the gateway's stream encoder sends them)."""
    if not any(name in chunk for name in _FINAL_EVENTS):
        return None
    for event in chunk.split(b"\n\n"):
        head, _, data = event.strip().partition(b"\ndata: ")
        if head.strip() + b"\n" in _FINAL_EVENTS and data:
            try:
                response = orjson.loads(data).get("response")
            except (orjson.JSONDecodeError, AttributeError):
                return None
            return response if isinstance(response, dict) else None
    return None
