"""IR request -> Kiro ``generateAssistantResponse`` body (``conversationState``).

Kiro's conversation differs from the chat APIs the IR comes from:

* no system field: the system prompt (and any instruction the gateway adds: thinking
  tags, tool choice, response format) is folded into the first user turn; a system
  message later in the conversation becomes, in place, a user-side text marked as a
  system instruction;
* strict alternation: ``history`` is user, assistant, user, assistant...; the last user
  turn is ``currentMessage``. Adjacent turns of one role are merged, a conversation that
  opens with the assistant gets a placeholder user turn, one that ends with the assistant
  (a prefill) gets a ``Continue`` turn;
* tool results ride on the user turn after the assistant's tool uses
  (``userInputMessageContext.toolResults``), and every tool use needs its result: a tool
  use without a result is dropped, a result without its tool use becomes text;
* tools are declared once, on ``currentMessage`` (names of at most 64 characters,
  descriptions of at most 10237); a tool the history used but the request no longer
  declares gets a stub declaration, and when the request declares no tools at all, tool
  calls and results in the history are written out as text;
* images are inline only (``{format, source: {bytes}}``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import orjson
from cliproxy import GatewayError, ir
from cliproxy.wire.common import leading_system, system_note

from cliproxy_kiro.models import kiro_model_id, wants_thinking

__all__ = [
    "MAX_TOOL_DESCRIPTION",
    "MAX_TOOL_NAME",
    "ORIGIN",
    "EncodedRequest",
    "build_request",
]

WIRE = "kiro"
ORIGIN = "AI_EDITOR"
MAX_TOOL_DESCRIPTION = 10237
MAX_TOOL_NAME = 64
DEFAULT_THINKING_BUDGET = 16000

PLACEHOLDER_USER = "."
CONTINUE = "Continue"
TOOL_RESULTS_ONLY = "Tool results provided."
EMPTY_RESULT = "(no output)"

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_SESSION = re.compile(
    r"session(?:_id)?[_\"':\s]*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
_STUB_SCHEMA = {"type": "object", "properties": {}, "additionalProperties": True}


@attrs.frozen
class EncodedRequest:
    """The body to send, and what decoding the answer needs to know.

    Attributes:
        body: The ``generateAssistantResponse`` JSON body (without ``profileArn``, which
            belongs to the credential).
        tool_names: Kiro tool name -> the client's name, for names that were shortened.
        thinking: Whether thinking tags were injected.
        image_bytes: Characters of base64 image data in the body (Kiro's size limit
            counts the conversation without them).
    """

    body: dict[str, Any]
    tool_names: Mapping[str, str] = attrs.field(factory=dict)
    thinking: bool = False
    image_bytes: int = 0


@attrs.define
class _Turn:
    role: str  # "user" or "assistant"
    texts: list[str] = attrs.Factory(list)
    images: list[dict[str, Any]] = attrs.Factory(list)
    results: list[dict[str, Any]] = attrs.Factory(list)
    tool_uses: list[dict[str, Any]] = attrs.Factory(list)
    reasoning: dict[str, Any] | None = None

    @property
    def content(self) -> str:
        return "\n\n".join(t for t in self.texts if t)


def _tool_name(name: str, renamed: dict[str, str]) -> str:
    """Kiro refuses names over 64 characters: shorten deterministically, remember."""
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    short = f"{name[: MAX_TOOL_NAME - 9]}_{digest}"
    renamed[short] = name
    return short


def _image(part: ir.FilePart, where: str) -> dict[str, Any]:
    fmt = _IMAGE_FORMATS.get(part.media_type.lower())
    if not part.is_image or fmt is None:
        raise GatewayError.invalid(
            f"Kiro accepts PNG, JPEG, GIF and WebP images only, not {part.media_type} ({where})", param=where
        )
    if not part.data:
        raise GatewayError.invalid(f"Kiro needs images inline: send {where} as base64 data, not as a URL", param=where)
    return {"format": fmt, "source": {"bytes": part.data}}


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {"input": text}
    return value if isinstance(value, dict) else {"input": value}


def _result_text(part: ir.ToolResultPart) -> str:
    return part.text or EMPTY_RESULT


def _turns(request: ir.Request, renamed: dict[str, str]) -> tuple[list[str], list[_Turn]]:
    """System texts, and the conversation as merged, role-alternating turns."""
    system: list[str] = []
    turns: list[_Turn] = []

    def turn(role: str) -> _Turn:
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role))
        return turns[-1]

    leading = leading_system(request.messages)
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if message.role == "system":
            text = message.joined_text
            if text and i < leading:
                system.append(text)
            elif text:  # mid-conversation: a marked note on the user side, in place
                turn("user").texts.append(system_note(text))
            continue
        if message.role == "assistant":
            current = turn("assistant")
            for part in message.parts:
                if isinstance(part, ir.TextPart):
                    current.texts.append(part.text)
                elif isinstance(part, ir.ToolCallPart):
                    current.tool_uses.append(
                        {
                            "toolUseId": part.id,
                            "name": _tool_name(part.name, renamed),
                            "input": _arguments(part.arguments),
                        }
                    )
                elif isinstance(part, ir.ReasoningPart):
                    signature = ir.metadata_for(part.provider_metadata, WIRE).get("signature")
                    if signature and part.text:
                        current.reasoning = {"reasoningText": {"text": part.text, "signature": signature}}
            continue
        current = turn("user")
        for j, part in enumerate(message.parts):
            at = f"{where}.content[{j}]"
            if isinstance(part, ir.TextPart):
                current.texts.append(part.text)
            elif isinstance(part, ir.FilePart):
                current.images.append(_image(part, at))
            elif isinstance(part, ir.ToolResultPart):
                current.results.append(
                    {
                        "toolUseId": part.call_id,
                        "content": [{"text": _result_text(part)}],
                        "status": "error" if part.is_error else "success",
                    }
                )
                current.images.extend(_image(p, at) for p in part.content if isinstance(p, ir.FilePart))
    return system, turns


def _pair_tools(turns: list[_Turn]) -> None:
    """Every tool use answered by the next user turn, every result answering a tool use."""
    for i, current in enumerate(turns):
        if current.role != "user" or not current.results:
            continue
        previous = turns[i - 1] if i and turns[i - 1].role == "assistant" else None
        asked = {use["toolUseId"] for use in previous.tool_uses} if previous else set()
        kept: list[dict[str, Any]] = []
        orphans: list[dict[str, Any]] = []
        for result in current.results:
            if result["toolUseId"] not in asked:
                orphans.append(result)
            elif all(result["toolUseId"] != k["toolUseId"] for k in kept):  # a repeat is dropped
                kept.append(result)
        current.results = kept
        for result in orphans:
            current.texts.append(f"[Tool result for {result['toolUseId']}]\n{result['content'][0]['text']}")
    for i, current in enumerate(turns):
        if current.role != "assistant" or not current.tool_uses:
            continue
        following = turns[i + 1] if i + 1 < len(turns) else None
        answered = {r["toolUseId"] for r in following.results} if following else set()
        current.tool_uses = [use for use in current.tool_uses if use["toolUseId"] in answered]
        unique = {use["toolUseId"]: use for use in reversed(current.tool_uses)}
        current.tool_uses = [use for use in current.tool_uses if unique.get(use["toolUseId"]) is use]


def _tools_as_text(turns: list[_Turn]) -> None:
    """No tools declared: Kiro refuses tool uses and results, so write them out."""
    for current in turns:
        for use in current.tool_uses:
            current.texts.append(f"[Called tool {use['name']} with input {orjson.dumps(use['input']).decode()}]")
        for result in current.results:
            current.texts.append(f"[Tool result for {result['toolUseId']}]\n{result['content'][0]['text']}")
        current.tool_uses, current.results = [], []


def _tool_spec(tool: ir.Tool, renamed: dict[str, str]) -> dict[str, Any]:
    description = (tool.description or "").strip() or f"Tool {tool.name}"
    if len(description) > MAX_TOOL_DESCRIPTION:
        description = description[: MAX_TOOL_DESCRIPTION - 3] + "..."
    schema = dict(tool.parameters) if isinstance(tool.parameters, Mapping) else {}
    schema.setdefault("type", "object")
    if schema.get("type") == "object" and not isinstance(schema.get("properties"), Mapping):
        schema["properties"] = {}
    if "required" in schema and not isinstance(schema["required"], list):
        del schema["required"]
    return {
        "toolSpecification": {
            "name": _tool_name(tool.name, renamed),
            "description": description,
            "inputSchema": {"json": schema},
        }
    }


def _thinking(request: ir.Request, model: str) -> str | None:
    """The tags that switch Kiro's thinking on: for a model that thinks by name, or a
    request that asks for an amount of thinking (a level or a budget; asking only for a
    summary or for thoughts to be shown asks for none)."""
    reasoning = request.reasoning
    requested = reasoning.requested_budget() if reasoning is not None and not reasoning.disabled else None
    if requested is None and not wants_thinking(model):
        return None
    budget = requested if requested is not None and requested > 0 else DEFAULT_THINKING_BUDGET  # -1: model decides
    return f"<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>{budget}</max_thinking_length>"


def _instructions(request: ir.Request, tools: list[ir.Tool]) -> list[str]:
    """What the gateway adds after the system prompt: tool choice and response format,
    which Kiro has no fields for."""
    lines: list[str] = []
    choice = request.tool_choice
    if tools and choice is not None:
        if choice.type == "none":
            lines.append("Do not call any tools for this answer; reply with text only.")
        elif choice.type == "required":
            lines.append("You must call at least one of the available tools for this answer.")
        elif choice.type == "tool" and choice.name:
            lines.append(f"You must call the tool named {choice.name!r} for this answer.")
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        lines.append("Reply with a single JSON object and nothing else.")
    elif fmt is not None and fmt.type == "json_schema" and fmt.schema is not None:
        schema = orjson.dumps(dict(fmt.schema)).decode()
        lines.append(f"Reply with a single JSON object that matches this JSON Schema, and nothing else:\n{schema}")
    return lines


def _user_message(current: _Turn, model_id: str) -> dict[str, Any]:
    content = current.content
    if not content:
        content = TOOL_RESULTS_ONLY if current.results else PLACEHOLDER_USER
    message: dict[str, Any] = {"content": content, "modelId": model_id, "origin": ORIGIN}
    if current.images:
        message["images"] = current.images
    if current.results:
        message["userInputMessageContext"] = {"toolResults": current.results}
    return message


def _assistant_message(current: _Turn) -> dict[str, Any]:
    message: dict[str, Any] = {"content": current.content or PLACEHOLDER_USER}
    if current.tool_uses:
        message["toolUses"] = current.tool_uses
    if current.reasoning is not None:
        message["reasoningContent"] = current.reasoning
    return message


def _session_id(request: ir.Request) -> str | None:
    """Claude Code's session id (in ``metadata.user_id``), so one session keeps one Kiro
    conversation id."""
    user = (request.metadata or {}).get("user_id")
    if not isinstance(user, str):
        return None
    match = _SESSION.search(user)
    return match.group(1) if match else None


def build_request(request: ir.Request, model: str, *, conversation_id: str | None = None) -> EncodedRequest:
    """Encode ``request`` for Kiro, asking for ``model`` (mapped to a Kiro model id).

    Raises :class:`~cliproxy.GatewayError` (400) for what Kiro cannot take: no user
    content at all, images by URL, files that are not images.
    """
    renamed: dict[str, str] = {}
    model_id = kiro_model_id(model)
    system, turns = _turns(request, renamed)
    if not turns and not system:
        raise GatewayError.invalid("the request has no messages: send at least one user message", param="messages")
    tools = list(request.function_tools)
    thinking = _thinking(request, model)
    if thinking is not None:
        system.insert(0, thinking)
    system.extend(_instructions(request, tools))

    if turns and turns[0].role == "assistant":
        turns.insert(0, _Turn("user", [PLACEHOLDER_USER]))
    if not turns or turns[-1].role == "assistant":
        turns.append(_Turn("user", [CONTINUE] if turns else []))

    if tools:
        _pair_tools(turns)
    else:
        _tools_as_text(turns)
    if system:
        turns[0].texts.insert(0, "\n\n".join(system))

    history: list[dict[str, Any]] = []
    for current in turns[:-1]:
        if current.role == "user":
            history.append({"userInputMessage": _user_message(current, model_id)})
        else:
            history.append({"assistantResponseMessage": _assistant_message(current)})

    specs = [_tool_spec(tool, renamed) for tool in tools]
    declared = {spec["toolSpecification"]["name"].lower() for spec in specs}
    for current in turns:
        for use in current.tool_uses:
            if use["name"].lower() not in declared:
                declared.add(use["name"].lower())
                specs.append(
                    {
                        "toolSpecification": {
                            "name": use["name"],
                            "description": "A tool used earlier in this conversation.",
                            "inputSchema": {"json": _STUB_SCHEMA},
                        }
                    }
                )

    current_message = _user_message(turns[-1], model_id)
    if specs:
        context = current_message.setdefault("userInputMessageContext", {})
        context["tools"] = specs

    state: dict[str, Any] = {
        "agentContinuationId": str(uuid.uuid4()),
        "agentTaskType": "vibe",
        "chatTriggerType": "MANUAL",
        "conversationId": conversation_id or _session_id(request) or str(uuid.uuid4()),
        "currentMessage": {"userInputMessage": current_message},
    }
    if history:
        state["history"] = history
    body: dict[str, Any] = {"conversationState": state}
    inference: dict[str, Any] = {}
    if request.max_tokens:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if inference:
        body["inferenceConfig"] = inference
    images = sum(len(image["source"]["bytes"]) for current in turns for image in current.images)
    return EncodedRequest(body=body, tool_names=renamed, thinking=thinking is not None, image_bytes=images)
