"""Copilot's body quirks, per endpoint, and what the headers say about a request.

* ``/chat/completions`` refuses ``max_tokens`` for OpenAI's reasoning models (GPT-5.x,
  o-series): they get ``max_completion_tokens``.
* Claude on ``/chat/completions`` re-answers earlier turns when an assistant turn's
  content is a list: it gets a string.
* ``/responses`` refuses ``service_tier``.
* A whole chat answer may split one reply over several ``choices`` (text in one, tool
  calls in the next): they are merged back into one.
* ``X-Initiator`` is ``agent`` once the conversation holds assistant or tool turns (an
  agent's follow-up; Copilot counts premium requests by it), else ``user``;
  ``copilot-vision-request: true`` goes with any image.

Client bodies are shared with the gateway (``Call.body_for`` copies only the top level),
so every function here copies what it changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.ir import BLOCK_SEPARATOR

from cliproxy_copilot.models import Endpoint

__all__ = [
    "flatten_assistant_content",
    "is_agent_turn",
    "merge_choices",
    "shape_body",
    "uses_max_completion_tokens",
    "wants_vision",
]

_REASONING_FAMILY = re.compile(r"^(gpt-5|o\d)", re.IGNORECASE)
_AGENT_ITEMS = frozenset(
    {
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "local_shell_call_output",
        "reasoning",
    }
)


def uses_max_completion_tokens(model: str) -> bool:
    """OpenAI's reasoning models, which refuse ``max_tokens`` on ``/chat/completions``."""
    return _REASONING_FAMILY.match(model) is not None


def flatten_assistant_content(messages: list[Any]) -> list[Any]:
    """``messages`` with each assistant turn's list content joined into one string."""
    out: list[Any] = []
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(message, Mapping) and message.get("role") == "assistant" and isinstance(content, list):
            texts = [
                part.get("text")
                for part in content
                if isinstance(part, Mapping) and part.get("type") in ("text", "output_text")
            ]
            joined = BLOCK_SEPARATOR.join(t for t in texts if isinstance(t, str) and t)
            message = {**message, "content": joined if joined or not message.get("tool_calls") else None}
        out.append(message)
    return out


def shape_body(body: dict[str, Any], endpoint: Endpoint, model: str, *, claude: bool, max_completion: bool) -> None:
    """Adjust ``body`` (a top-level copy) for ``endpoint`` in place (see the module doc)."""
    if endpoint is Endpoint.CHAT:
        if max_completion and "max_tokens" in body:
            value = body.pop("max_tokens")
            body.setdefault("max_completion_tokens", value)
        if claude and isinstance(body.get("messages"), list):
            body["messages"] = flatten_assistant_content(body["messages"])
    elif endpoint is Endpoint.RESPONSES:
        body.pop("service_tier", None)


# -- what the headers say ----------------------------------------------------------------------


def _parts(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


def is_agent_turn(body: Mapping[str, Any], endpoint: Endpoint) -> bool:
    """True when the conversation already holds assistant or tool turns."""
    if endpoint is Endpoint.RESPONSES:
        items = body.get("input")
        for item in items if isinstance(items, list) else ():
            if isinstance(item, Mapping) and (item.get("role") == "assistant" or item.get("type") in _AGENT_ITEMS):
                return True
        return False
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role in ("assistant", "tool"):
            return True
        if endpoint is Endpoint.MESSAGES and any(
            isinstance(block, Mapping) and block.get("type") == "tool_result"
            for block in _parts(message.get("content"))
        ):
            return True
    return False


_IMAGE_TYPES = frozenset({"image_url", "input_image", "image"})


def _has_image(parts: Any) -> bool:
    for part in _parts(parts):
        if not isinstance(part, Mapping):
            continue
        if part.get("type") in _IMAGE_TYPES:
            return True
        nested = part.get("content") if part.get("type") == "tool_result" else part.get("output")
        if isinstance(nested, list) and _has_image(nested):
            return True
    return False


def wants_vision(body: Mapping[str, Any], endpoint: Endpoint) -> bool:
    """True when any turn carries an image."""
    turns = body.get("input") if endpoint is Endpoint.RESPONSES else body.get("messages")
    for turn in turns if isinstance(turns, list) else ():
        if isinstance(turn, Mapping) and (_has_image(turn.get("content")) or _has_image([turn])):
            return True
    return False


# -- answers ---------------------------------------------------------------------------------------


def merge_choices(body: bytes) -> bytes | None:
    """A whole chat answer whose one reply Copilot split over several ``choices``, merged
    into one choice; None when there is nothing to merge (the body stays as it is)."""
    if body.count(b'"index"') < 2:  # cheap: one choice has one index
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, dict) for c in choices):
        return None
    texts: list[str] = []
    calls: list[Any] = []
    message: dict[str, Any] = {"role": "assistant"}
    for choice in choices:
        part = found if isinstance(found := choice.get("message"), dict) else {}
        for key, value in part.items():
            if key == "content":
                if isinstance(value, str) and value:
                    texts.append(value)
            elif key == "tool_calls":
                if isinstance(value, list):
                    calls.extend(value)
            elif value is not None and message.get(key) is None:
                message[key] = value
    message["content"] = "".join(texts) if texts else None
    if calls:
        message["tool_calls"] = calls
    finish = "tool_calls" if calls else choices[0].get("finish_reason")
    merged = {**choices[0], "index": 0, "message": message, "finish_reason": finish}
    data["choices"] = [merged]
    return orjson.dumps(data)
