"""Session affinity: keep a client session on the credential that served it.

Upstreams cache prompts per key or organisation (Anthropic's prompt cache, OpenAI's
``prompt_cache_key`` routing), so an agent session that round-robin spreads over several
credentials pays for its whole context on every turn. With ``routing.session-affinity``
the selector puts the credential remembered for a session first, as long as it can serve
the model and is in the highest priority that has an available credential.

A session is named by what the client sends, first found wins:

1. the headers ``x-session-id``, ``session_id`` or ``conversation_id`` (Codex);
2. the body's ``prompt_cache_key`` (OpenAI);
3. the body's ``metadata.user_id`` (Anthropic; Claude Code puts its session id in it);
4. the body's ``session_id``, or ``request.session_id`` (Gemini CLI).

Requests naming none get no affinity; message contents are never hashed (two sessions
opening with the same prompt would be pinned together, and hashing a large body costs
more than it saves). The session's value is hashed together with the caller's identity
and the model asked for, so clients never share a session and nothing a client sent is
stored or logged as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from cliproxy.client import ClientRequest
    from cliproxy.state import StateStore

__all__ = ["SESSION_HEADERS", "Affinity", "Pin", "session_value"]

SESSION_HEADERS = ("x-session-id", "session_id", "conversation_id")
"""Headers naming a session, in the order they are looked at (lower-case)."""

KEY_PREFIX = "aff:"


def session_value(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The session id the client sent, as sent (never log it), or None."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            return value
    value = body.get("prompt_cache_key")
    if value and isinstance(value, str):
        return value
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        value = metadata.get("user_id")
        if value and isinstance(value, str):
            return value
    value = body.get("session_id")
    if value and isinstance(value, str):
        return value
    inner = body.get("request")
    if isinstance(inner, dict):
        value = inner.get("session_id")
        if value and isinstance(value, str):
            return value
    return None


@attrs.frozen(slots=True)
class Pin:
    """The credential remembered for a session, and when that memory ends."""

    credential_id: str
    expires: float


class Affinity:
    """Remembers which credential serves each session, in the state store.

    A record lives ``ttl`` seconds after it was written; it is written again when the
    session moves to another credential, or when it is used with less than half its
    time left -- so a busy session costs one read per request and a write now and then.
    """

    def __init__(self, state: StateStore, ttl: float) -> None:
        self.state = state
        self.ttl = ttl

    def key(self, client: ClientRequest) -> str | None:
        """The state key of the client's session, or None when it names none."""
        value = session_value(client.headers, client.body)
        if value is None:
            return None
        who = client.identity.name if client.identity is not None else ""
        digest = hashlib.blake2b(digest_size=16)
        for part in (who, client.route_model, value):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return KEY_PREFIX + digest.hexdigest()

    async def recall(self, key: str) -> Pin | None:
        """The credential remembered for ``key``, if any."""
        raw = await self.state.get_value(key)
        if raw is None:
            return None
        expires, sep, credential = raw.decode("utf-8", "replace").partition("|")
        try:
            return Pin(credential, float(expires)) if sep and credential else None
        except ValueError:
            return None

    async def remember(self, key: str, credential_id: str, pin: Pin | None) -> None:
        """Point ``key`` at ``credential_id``, unless ``pin`` (what was read) already does
        and has more than half its time left."""
        now = self.state.clock()
        if pin is not None and pin.credential_id == credential_id and pin.expires - now > self.ttl / 2:
            return
        await self.state.set_value(key, f"{now + self.ttl:.3f}|{credential_id}".encode(), self.ttl)
