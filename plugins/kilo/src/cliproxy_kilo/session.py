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

from cliproxy import ClientRequest, session_value

__all__ = ["task_id"]


def task_id(client: ClientRequest) -> str | None:
    """The task id for ``client``'s session, or None when it names no session."""
    value = session_value(client.headers, client.body)
    if value is None:
        return None
    caller = client.identity.name if client.identity is not None else ""
    digest = hashlib.sha256(f"{caller}\x00{value}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
