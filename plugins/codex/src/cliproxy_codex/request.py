"""What the Codex backend is sent: a Responses body it accepts, and its headers.

The backend is not the public Responses API. It takes only ``store: false`` and
``stream: true``, requires ``instructions`` (``""`` will do), and refuses by name several
fields the public API knows (``max_output_tokens``, ``temperature``...): those are left
out. ``include`` always asks for ``reasoning.encrypted_content``, so reasoning survives
from turn to turn although nothing is stored upstream.

Every request names the ChatGPT account (``ChatGPT-Account-ID``), the client program
(``originator``, ``User-Agent``) and a session (``session_id``): the client's own session
when it names one -- Codex's ``session_id`` header, Claude Code's ``metadata.user_id``, a
``prompt_cache_key`` -- so the backend's prompt cache holds from turn to turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cliproxy import Call, GatewayError

from cliproxy_codex.auth import CodexSettings

__all__ = ["REFUSED_FIELDS", "WIRE", "build_body", "build_headers", "compact_body", "session_id"]

WIRE = "openai-responses"
REFUSED_FIELDS = (
    "max_output_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "metadata",
    "truncation",
    "user",
    "safety_identifier",
    "prompt_cache_retention",
    "stream_options",
    "previous_response_id",
    "background",
)
"""Fields the backend refuses (``Unsupported parameter``) or cannot honour. A
``previous_response_id`` has been served by the gateway's own store by the time a body gets
here: the conversation is in ``input``."""
ENCRYPTED_REASONING = "reasoning.encrypted_content"
MAX_ITEM_ID = 64  # the backend refuses longer input item ids
_SESSION_HEADERS = ("session_id", "session-id", "x-session-id", "conversation_id", "x-claude-code-session-id")
_CODEX_HEADERS = (
    "version",
    "x-codex-turn-metadata",
    "x-codex-turn-state",
    "x-codex-window-id",
    "x-codex-beta-features",
    "x-client-request-id",
    "thread-id",
)
"""Headers of Codex CLI's own requests passed on when it is the client."""
_NAMESPACE = uuid.UUID("5c0f9d8e-6a43-4c1b-9a77-3b1d3e0c2a51")


def _client_session(call: Call) -> str | None:
    client = call.client
    for name in _SESSION_HEADERS:
        value = client.headers.get(name)
        if value:
            return value
    body = client.body
    for value in (body.get("prompt_cache_key"), body.get("session_id")):
        if isinstance(value, str) and value:
            return value
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        return str(metadata["user_id"])
    return None


def session_id(call: Call) -> str | None:
    """The session to name upstream: the client's own id when it is a UUID (Codex's),
    else a UUID derived from it and the caller (stable per session, revealing nothing);
    None when the client names no session."""
    value = _client_session(call)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        caller = call.client.identity.name if call.client.identity is not None else ""
        return str(uuid.uuid5(_NAMESPACE, caller + "\x00" + value))


def _input_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    return list(value) if isinstance(value, list) else []


def _short_ids(items: list[Any]) -> list[Any]:
    """Items with an ``id`` longer than the backend takes lose it (nothing is stored
    upstream, so no id is looked up)."""
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and len(item["id"]) > MAX_ITEM_ID:
            item = {k: v for k, v in item.items() if k != "id"}
        out.append(item)
    return out


def _instructions(body: dict[str, Any]) -> None:
    """``instructions`` as the string the backend requires; instructions given as input
    items go in front of the input."""
    given = body.get("instructions")
    if isinstance(given, list):
        body["input"] = [*given, *body["input"]]
        given = None
    body["instructions"] = given if isinstance(given, str) else ""


def _refuse_state(body: Mapping[str, Any]) -> None:
    if body.get("conversation") is not None:
        raise GatewayError.invalid(
            "the Codex backend keeps no conversations: send the whole conversation in 'input', or continue an "
            "answer of this gateway with 'previous_response_id'",
            param="conversation",
        ).as_local()
    if body.get("background") is True:
        raise GatewayError.invalid(
            "the Codex backend cannot run a response in the background; leave 'background' out", param="background"
        ).as_local()


def build_body(call: Call, session: str | None = None) -> dict[str, Any]:
    """The Responses body for the backend (the client's own when it spoke Responses);
    ``session`` becomes its ``prompt_cache_key`` when the client set none."""
    body = call.body_for(WIRE)
    _refuse_state(body)
    for key in REFUSED_FIELDS:
        body.pop(key, None)
    body.pop("conversation", None)
    body["input"] = _short_ids(_input_list(body.get("input")))
    _instructions(body)
    body["store"] = False
    body["stream"] = True
    include = [v for v in body.get("include") or () if isinstance(v, str)]
    if ENCRYPTED_REASONING not in include:
        include.append(ENCRYPTED_REASONING)
    body["include"] = include
    if session is not None and not body.get("prompt_cache_key"):
        body["prompt_cache_key"] = session
    return body


def compact_body(call: Call) -> dict[str, Any]:
    """The body for the backend's compact endpoint: the client's compact request with the
    upstream model name, less what the backend refuses."""
    body = {k: v for k, v in call.client.body.items() if k not in ("stream", "store", "include")}
    _refuse_state(body)
    for key in REFUSED_FIELDS:
        body.pop(key, None)
    body["model"] = call.model
    body["input"] = _short_ids(_input_list(body.get("input")))
    _instructions(body)
    return body


def build_headers(call: Call, token: str, session: str | None, *, stream: bool = True) -> dict[str, str]:
    """The backend's headers: the account's token and id, the client program, the session;
    Codex CLI's own turn headers when it is the client; then the configured ``headers``."""
    settings: CodexSettings = call.credential.settings
    config = settings.config
    headers = {
        "authorization": f"Bearer {token}",
        "originator": config.originator,
        "user-agent": config.agent,
        "version": config.client_version,
        "accept": "text/event-stream" if stream else "application/json",
        "content-type": "application/json",
    }
    if settings.account_id:
        headers["chatgpt-account-id"] = settings.account_id
    if session is not None:
        headers["session_id"] = session
    if call.client.wire == WIRE:
        for name in _CODEX_HEADERS:
            value = call.client.headers.get(name)
            if value:
                headers[name] = value
    for name, value in config.headers.items():
        headers[name.lower()] = value
    return headers
