"""The four client doors through the official SDKs, each answer folded into one view.

``ask_sdk(url, "messages", model, prompt=..., stream=True, tools=[tool])`` calls the
gateway at ``url`` the way a user of the door's SDK does (``openai`` for ``chat`` and
``responses``, ``anthropic`` for ``messages``, ``google-genai`` for ``gemini``), reads the
stream or the whole answer as that SDK shows it, and returns an :class:`SdkAnswer`: text,
tool calls with parsed arguments, reasoning and usage. :func:`answer_of` gives the same view
of an IR response, for comparing what a client saw with what an upstream said.

The SDKs are test dependencies of their own: each is imported when its door is first used,
and a missing one fails naming the package to install.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any, Literal, NamedTuple

import attrs

from cliproxy import ir

__all__ = [
    "SDK_DOORS",
    "ChatReasoning",
    "SdkAnswer",
    "SdkDoor",
    "SdkTool",
    "SdkUsage",
    "ToolCall",
    "answer_of",
    "ask_sdk",
    "chat_reasoning",
]

SdkDoor = Literal["chat", "responses", "messages", "gemini"]
SDK_DOORS: tuple[SdkDoor, ...] = ("chat", "responses", "messages", "gemini")
"""OpenAI Chat Completions, OpenAI Responses, Anthropic Messages, Gemini generateContent."""

ChatReasoning = Callable[[Sequence[Mapping[str, Any]]], str]
"""Reads the reasoning of a chat answer from the fields the ``openai`` SDK does not model:
those of the message (whole) or of every delta in order (streamed)."""


class ToolCall(NamedTuple):
    """A tool call as the client sees it; ``arguments`` parsed from JSON."""

    name: str
    arguments: dict[str, Any]


@attrs.frozen
class SdkUsage:
    """Token counts, as the door reports them."""

    input_tokens: int | None
    output_tokens: int | None


@attrs.frozen
class SdkAnswer:
    """What a user of the SDK sees of one answer.

    Two answers are equal when they read the same: text, tool calls and reasoning. Usage is
    left out of that (each door counts in its own convention); compare it on its own.
    """

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""
    usage: SdkUsage | None = attrs.field(default=None, eq=False)


@attrs.frozen
class SdkTool:
    """A function tool, shaped for each SDK by :func:`ask_sdk`; ``parameters`` is its JSON schema."""

    name: str
    description: str
    parameters: Mapping[str, Any]


def chat_reasoning(extras: Sequence[Mapping[str, Any]]) -> str:
    """Reasoning as a chat client reads it: the ``reasoning_content`` (or ``reasoning``)
    text, else the text of the ``reasoning_details`` (OpenRouter's and MiniMax's shape, and
    where the gateway puts signed reasoning)."""
    plain = "".join(extra.get("reasoning_content") or extra.get("reasoning") or "" for extra in extras)
    if plain:
        return plain
    details = (detail for extra in extras for detail in extra.get("reasoning_details") or ())
    return "".join(detail.get("text") or "" for detail in details)


def answer_of(response: ir.Response) -> SdkAnswer:
    """What an SDK should show of ``response``: its text, tool calls and reasoning."""
    calls = tuple(ToolCall(p.name, _arguments(p.arguments)) for p in response.parts if isinstance(p, ir.ToolCallPart))
    reasoning = "".join(p.text for p in response.parts if isinstance(p, ir.ReasoningPart))
    return SdkAnswer(response.text, calls, reasoning)


def ask_sdk(
    url: str,
    door: SdkDoor,
    model: str,
    *,
    prompt: str,
    stream: bool,
    tools: Sequence[SdkTool] = (),
    key: str = "client-key",
    max_tokens: int = 1024,
    extra: Mapping[str, Any] | None = None,
    reasoning: ChatReasoning = chat_reasoning,
) -> SdkAnswer:
    """Ask ``model`` one ``prompt`` through ``door`` of the gateway at ``url`` with the
    door's official SDK, streaming or not, offering ``tools``.

    ``extra`` holds door-specific request fields, passed to the SDK call as keywords (for
    ``gemini``, fields of ``GenerateContentConfig``, e.g. ``thinking_config``).
    ``reasoning`` reads a ``chat`` answer's reasoning (default :func:`chat_reasoning`); the
    other doors carry reasoning in fields their SDKs model. ``max_tokens`` is sent where the
    door requires it (``messages``). The SDKs do not retry.
    """
    call = _Call(url, model, prompt, stream, tuple(tools), key, max_tokens, dict(extra or {}), reasoning)
    if door not in _DOORS:
        raise ValueError(f"unknown door {door!r}: choose one of {', '.join(SDK_DOORS)}")
    return _DOORS[door](call)


@attrs.frozen
class _Call:
    url: str
    model: str
    prompt: str
    stream: bool
    tools: tuple[SdkTool, ...]
    key: str
    max_tokens: int
    extra: dict[str, Any]
    reasoning: ChatReasoning


def _sdk(module: str, package: str, door: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"the {door!r} door is driven with the official {package!r} SDK, which is not installed: "
            f"pip install {package}"
        ) from error


def _arguments(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(value, str):
        return dict(json.loads(value or "{}"))
    return dict(value or {})


def _drained(stream: Any, final: Callable[[Any], Any]) -> Any:
    """Read every event of an SDK stream manager (each must parse), then ``final(events)``."""
    with stream as events:
        for _ in events:
            pass
        return final(events)


def _chat(call: _Call) -> SdkAnswer:
    openai = _sdk("openai", "openai", "chat")
    client = openai.OpenAI(base_url=call.url + "/v1", api_key=call.key, max_retries=0)
    params: dict[str, Any] = {"model": call.model, "messages": [{"role": "user", "content": call.prompt}]}
    if call.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in call.tools
        ]
    params |= call.extra
    if not call.stream:
        completion = client.chat.completions.create(**params)
        message = completion.choices[0].message
        calls = tuple(ToolCall(c.function.name, _arguments(c.function.arguments)) for c in message.tool_calls or ())
        usage = completion.usage and SdkUsage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
        return SdkAnswer(message.content or "", calls, call.reasoning([message.model_extra or {}]), usage)
    text, usage = "", None
    extras: list[Mapping[str, Any]] = []
    pieces: dict[int, tuple[str, str]] = {}
    for chunk in client.chat.completions.create(stream=True, **params):
        if chunk.usage:
            usage = SdkUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        extras.append(delta.model_extra or {})
        for piece in delta.tool_calls or ():
            name, arguments = pieces.get(piece.index, ("", ""))
            pieces[piece.index] = (name + (piece.function.name or ""), arguments + (piece.function.arguments or ""))
    calls = tuple(ToolCall(name, _arguments(arguments)) for _, (name, arguments) in sorted(pieces.items()))
    return SdkAnswer(text, calls, call.reasoning(extras), usage)


def _responses(call: _Call) -> SdkAnswer:
    openai = _sdk("openai", "openai", "responses")
    client = openai.OpenAI(base_url=call.url + "/v1", api_key=call.key, max_retries=0)
    params: dict[str, Any] = {"model": call.model, "input": call.prompt}
    if call.tools:
        params["tools"] = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in call.tools
        ]
    params |= call.extra
    if call.stream:
        response = _drained(client.responses.stream(**params), lambda events: events.get_final_response())
    else:
        response = client.responses.create(**params)
    text, reasoning, calls = "", "", list[ToolCall]()
    for item in response.output:
        if item.type == "message":
            text += "".join(c.text for c in item.content if c.type == "output_text")
        elif item.type == "reasoning":
            reasoning += "".join(s.text for s in item.summary)
        elif item.type == "function_call":
            calls.append(ToolCall(item.name, _arguments(item.arguments)))
    usage = response.usage and SdkUsage(response.usage.input_tokens, response.usage.output_tokens)
    return SdkAnswer(text, tuple(calls), reasoning, usage)


def _messages(call: _Call) -> SdkAnswer:
    anthropic = _sdk("anthropic", "anthropic", "messages")
    client = anthropic.Anthropic(base_url=call.url, api_key=call.key, max_retries=0)
    params: dict[str, Any] = {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "messages": [{"role": "user", "content": call.prompt}],
    }
    if call.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in call.tools
        ]
    params |= call.extra
    if call.stream:
        message = _drained(client.messages.stream(**params), lambda events: events.get_final_message())
    else:
        message = client.messages.create(**params)
    blocks = message.content
    return SdkAnswer(
        "".join(b.text for b in blocks if b.type == "text"),
        tuple(ToolCall(b.name, _arguments(b.input)) for b in blocks if b.type == "tool_use"),
        "".join(b.thinking for b in blocks if b.type == "thinking"),
        SdkUsage(message.usage.input_tokens, message.usage.output_tokens),
    )


_genai_clients: list[Any] = []  # the SDK closes its HTTP client when a Client is collected


def _gemini(call: _Call) -> SdkAnswer:
    genai = _sdk("google.genai", "google-genai", "gemini")
    types = _sdk("google.genai.types", "google-genai", "gemini")
    client = genai.Client(api_key=call.key, http_options=types.HttpOptions(base_url=call.url, api_version="v1beta"))
    _genai_clients.append(client)
    config = types.GenerateContentConfig(**call.extra)
    if call.tools:
        declarations = [
            types.FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.parameters)
            for t in call.tools
        ]
        config.tools = [types.Tool(function_declarations=declarations)]
    params = {"model": call.model, "contents": call.prompt, "config": config}
    if call.stream:
        chunks = list(client.models.generate_content_stream(**params))
    else:
        chunks = [client.models.generate_content(**params)]
    return _fold_gemini(chunks)


def _fold_gemini(chunks: Iterable[Any]) -> SdkAnswer:
    text, reasoning, calls, usage = "", "", list[ToolCall](), None
    for chunk in chunks:
        if chunk.usage_metadata is not None:
            usage = SdkUsage(chunk.usage_metadata.prompt_token_count, chunk.usage_metadata.candidates_token_count)
        content = chunk.candidates[0].content if chunk.candidates else None
        for part in (content.parts or []) if content else []:
            if part.function_call is not None:
                calls.append(ToolCall(part.function_call.name or "", _arguments(part.function_call.args)))
            elif part.thought:
                reasoning += part.text or ""
            elif part.text:
                text += part.text
    return SdkAnswer(text, tuple(calls), reasoning, usage)


_DOORS: dict[str, Callable[[_Call], SdkAnswer]] = {
    "chat": _chat,
    "responses": _responses,
    "messages": _messages,
    "gemini": _gemini,
}
