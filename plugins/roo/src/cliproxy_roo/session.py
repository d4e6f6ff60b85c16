"""``X-Roo-Task-ID``: Roo Code sends its task's id; through the gateway the task is the
client's session (a session header, OpenAI's ``prompt_cache_key``, Claude Code's
``metadata.user_id``, Gemini CLI's ``session_id``), hashed with the caller's identity into
a UUID, so one session keeps one task id, callers never share one, and what the client
sent is not passed on."""

from __future__ import annotations

import hashlib
import uuid

from cliproxy import ClientRequest, session_value

__all__ = ["task_id"]


def task_id(client: ClientRequest) -> str | None:
    """The task id for ``client``'s session, or None when it names no session."""
    value = session_value(client.headers, client.body)
    if value is None:
        return None
    caller = client.identity.name if client.identity is not None else ""
    digest = hashlib.sha256(f"roo\x00{caller}\x00{value}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
