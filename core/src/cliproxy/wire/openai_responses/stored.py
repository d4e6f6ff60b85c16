"""Reading and deleting stored responses: the pure parts of ``GET/DELETE
/v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``.

The gateway keeps a response as its client received it, with the input items it answered
as the client sent them, earlier turns linked (see :mod:`cliproxy.response_store`);
:func:`listed_items` gives them the ids and shapes OpenAI lists. The store itself (I/O)
is elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.wire.openai_responses.continuation import megabytes

__all__ = [
    "deleted",
    "input_items_page",
    "listed_items",
    "response_not_found",
    "response_not_kept",
    "store_off",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# Id prefixes OpenAI uses for items of these types; other types get "item_".
_PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "custom_tool_call": "ctc_",
    "custom_tool_call_output": "ctco_",
    "reasoning": "rs_",
}


def response_not_found(response_id: str) -> GatewayError:
    """OpenAI's 404 for a response id it does not know."""
    return GatewayError(
        status=404,
        kind=ErrorKind.INVALID_REQUEST,
        message=f"Response with id '{response_id}' not found.",
    )


def response_not_kept(response_id: str, size: int, limit: int) -> GatewayError:
    """The 404 for a response that was too large to keep."""
    return GatewayError(
        status=404,
        kind=ErrorKind.INVALID_REQUEST,
        message=(
            f"Response with id '{response_id}' was not kept: its record ({megabytes(size)}) is larger than this "
            f"gateway keeps ({megabytes(limit)}, its responses-store.max-record-mb); the gateway's operator can "
            "raise responses-store.max-record-mb."
        ),
    )


def store_off() -> GatewayError:
    """The 404 of these endpoints while ``responses-store`` is disabled."""
    return GatewayError(
        status=404,
        kind=ErrorKind.INVALID_REQUEST,
        message=(
            "this gateway keeps no responses: its responses store is disabled; "
            "set 'responses-store: {enabled: true}' in its config to keep them"
        ),
    )


def deleted(response_id: str) -> dict[str, Any]:
    """OpenAI's answer to ``DELETE /v1/responses/{id}``."""
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def listed_items(items: Sequence[Any]) -> list[Any]:
    """A response's input items as OpenAI lists them: each with an ``id``, a message
    with its ``type`` and ``status`` and its text content as a list of parts.

    An item sent without an id gets one derived from the conversation up to and including
    it, so it is the same on every listing (an ``after`` cursor) and in every later
    response continuing the conversation, as on OpenAI.
    """
    running = hashlib.sha256()
    listed = []
    for item in items:
        running.update(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) + b"\n")
        listed.append(_listed(item, running.hexdigest()[:48]))
    return listed


def _listed(item: Any, digest: str) -> Any:
    if not isinstance(item, Mapping):
        return item
    listed = dict(item)
    if "type" not in listed and "role" in listed:
        listed["type"] = "message"
    kind = listed.get("type")
    if kind == "message":
        content = listed.get("content")
        if isinstance(content, str):
            if listed.get("role") == "assistant":
                part = {"type": "output_text", "text": content, "annotations": []}
            else:
                part = {"type": "input_text", "text": content}
            listed["content"] = [part]
        listed.setdefault("status", "completed")
    if not listed.get("id"):
        prefix = _PREFIXES.get(kind, "item_") if isinstance(kind, str) else "item_"
        listed = {"id": prefix + digest, **listed}
    return listed


def _item_id(item: Any) -> Any:
    return item.get("id") if isinstance(item, Mapping) else None


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise GatewayError.invalid(f"'limit' must be an integer from 1 to {MAX_LIMIT}, not {raw!r}", param="limit")
    return limit


def input_items_page(response_id: str, items: Sequence[Any], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of a response's input items in OpenAI's list shape, following the
    ``order`` (``desc``, the default, lists the last item first), ``limit`` and
    ``after`` (an item id: the page starts after it) query parameters."""
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise GatewayError.invalid(f"'order' must be 'asc' or 'desc', not {order!r}", param="order")
    limit = _limit(query)
    listed = listed_items(items)
    if order == "desc":
        listed.reverse()
    start = 0
    after = query.get("after")
    if after:
        ids = [_item_id(item) for item in listed]
        if after not in ids:
            raise GatewayError.invalid(f"no input item with id {after!r} in response '{response_id}'", param="after")
        start = ids.index(after) + 1
    page = listed[start : start + limit]
    return {
        "object": "list",
        "data": page,
        "first_id": _item_id(page[0]) if page else None,
        "last_id": _item_id(page[-1]) if page else None,
        "has_more": start + limit < len(listed),
    }
