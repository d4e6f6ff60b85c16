"""``X-KiloCode-TaskId``: the key Kilo keeps a prompt cache under, from the client's
session.

Kilo's own clients send their task's id; through the gateway the task is the client's
session, named the way clients name one (a session header, OpenAI's
``prompt_cache_key``, Claude Code's ``metadata.user_id``, Gemini CLI's ``session_id``).
What the client sent never reaches Kilo as it was: the id is a UUID-shaped hash of it and
of the caller's identity, so two callers never share a task and a session id that
carries account details is not passed on.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from cliproxy import ClientRequest

__all__ = ["task_id"]

_HEADERS = ("x-session-id", "session_id", "conversation_id")


def _session(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    for name in _HEADERS:
        value = headers.get(name)
        if value:
            return value
    for holder, key in ((body, "prompt_cache_key"), (body.get("metadata"), "user_id"), (body, "session_id")):
        value = holder.get(key) if isinstance(holder, Mapping) else None
        if isinstance(value, str) and value:
            return value
    inner = body.get("request")
    value = inner.get("session_id") if isinstance(inner, Mapping) else None
    return value if isinstance(value, str) and value else None


def task_id(client: ClientRequest) -> str | None:
    """The task id for ``client``'s session, or None when it names no session."""
    value = _session(client.headers, client.body)
    if value is None:
        return None
    caller = client.identity.name if client.identity is not None else ""
    digest = hashlib.sha256(f"{caller}\x00{value}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
