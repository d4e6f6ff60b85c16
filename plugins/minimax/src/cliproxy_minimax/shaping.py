"""MiniMax's body rules, applied to every request whatever door it came through.

Both wires: ``temperature`` must lie in (0, 1] -- a 0 becomes 0.01 (the nearest value
MiniMax takes), anything above 1 becomes 1.

OpenAI wire: ``max_completion_tokens`` instead of the deprecated ``max_tokens``;
``tool_choice`` only ``none`` or ``auto`` -- ``required`` becomes ``auto``, a named
function keeps only that tool (with ``auto``); ``reasoning_split: true`` (unless the
client says otherwise) so reasoning arrives in ``reasoning_details``; and reasoning of
earlier turns goes back as ``reasoning_details`` on translated assistant messages, as
MiniMax wants it.
"""

from __future__ import annotations

from typing import Any

from cliproxy import ir

__all__ = ["shape_anthropic", "shape_openai"]

LOWEST_TEMPERATURE = 0.01


def _temperature(body: dict[str, Any]) -> None:
    value = body.get("temperature")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            body["temperature"] = LOWEST_TEMPERATURE
        elif value > 1:
            body["temperature"] = 1.0


def shape_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    _temperature(body)
    return body


def _tool_choice(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not body.get("tools"):
        body.pop("tool_choice")
    elif choice == "required":
        body["tool_choice"] = "auto"
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        chosen = [t for t in body["tools"] if isinstance(t, dict) and (t.get("function") or {}).get("name") == name]
        if chosen:
            body["tools"] = chosen
        body["tool_choice"] = "auto"


def _reasoning_details(body: dict[str, Any], request: ir.Request) -> None:
    """Reasoning of earlier assistant turns that carries no ``reasoning_details`` of its
    own (thinking an Anthropic client sends back) as ``reasoning.text`` entries."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    encoded = iter(m for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    for message in request.messages:  # one encoded assistant message per IR one, in order
        if message.role != "assistant":
            continue
        target = next(encoded, None)
        if target is None:
            return
        if target.get("reasoning_details"):
            continue
        texts = [p.text for p in message.parts if isinstance(p, ir.ReasoningPart) and p.text]
        if texts:
            target["reasoning_details"] = [{"type": "reasoning.text", "text": t} for t in texts]


def shape_openai(
    body: dict[str, Any], request: ir.Request | None, *, stream: bool, reasoning_split: bool
) -> dict[str, Any]:
    """``request`` is the IR of a translated request (None when the client spoke the
    OpenAI wire and ``body`` is its own)."""
    _temperature(body)
    if "max_tokens" in body:
        tokens = body.pop("max_tokens")
        body.setdefault("max_completion_tokens", tokens)
    _tool_choice(body)
    if reasoning_split:
        body.setdefault("reasoning_split", True)
    if stream:
        options = body.get("stream_options")
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    if request is not None:
        body.pop("reasoning_effort", None)  # not a MiniMax field; its models think by default
        _reasoning_details(body, request)
    return body
