"""cliproxy-echo: a provider that answers locally, for demos, tests and as a model plugin.

It echoes the last user message back, streams it word by word, thinks out loud when the
request asks for reasoning, and calls a tool when told to::

    echo:
      - prefix: demo          # optional: reach it as demo/<model>
        models: [echo-1]      # default: echo-1
        delay-ms: 20          # pause between streamed words (default 0)

Say ``call get_weather {"city": "Paris"}`` with a ``get_weather`` tool in the request and
it answers with that tool call; send the tool's result and it reports it back.

Everything a provider plugin needs is here: a ``register_providers`` hook that registers
one object, a :class:`cliproxy.Provider` subclass that reads its config block into
credentials, and an async ``send`` that answers a call.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

import attrs
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    DirectResponse,
    Host,
    InitChoice,
    ModelEntry,
    Provider,
    credential_id,
    hookimpl,
    ir,
)

__all__ = ["EchoProvider", "EchoSettings", "reply_for"]

DEFAULT_MODELS = (ModelEntry("echo-1"),)
_CALL = re.compile(r"\bcall\s+([A-Za-z_][\w.-]*)\s*(\{.*\})?", re.DOTALL)


@attrs.frozen
class EchoSettings:
    delay: float = 0.0


def _last(messages: Sequence[ir.Message], role: str) -> ir.Message | None:
    for message in reversed(messages):
        if message.role == role:
            return message
    return None


def reply_for(request: ir.Request) -> list[ir.Part]:
    """The parts the echo model answers ``request`` with."""
    parts: list[ir.Part] = []
    last = request.messages[-1] if request.messages else None
    if request.reasoning is not None and not request.reasoning.disabled:
        topic = (_last(request.messages, "user") or ir.Message("user", [])).text
        parts.append(
            ir.ReasoningPart(
                f"The user said {len(topic.split())} words; I will repeat them.", {"echo": {"signature": "echo-sig"}}
            )
        )
    if last is not None and last.role == "tool":
        results = [p for p in last.parts if isinstance(p, ir.ToolResultPart)]
        summary = "; ".join(f"{r.name or r.call_id} returned {r.text}" for r in results)
        parts.append(ir.TextPart(f"Tool result: {summary}"))
        return parts
    text = (_last(request.messages, "user") or ir.Message("user", [])).text
    tools = {t.name for t in request.function_tools}
    match = _CALL.search(text)
    if match and match.group(1) in tools:
        arguments = match.group(2) or "{}"
        try:
            arguments = json.dumps(json.loads(arguments))
        except ValueError:
            arguments = json.dumps({"input": arguments})
        parts.append(ir.ToolCallPart(f"call_echo_{abs(hash(text)) % 10**8}", match.group(1), arguments))
        return parts
    parts.append(ir.TextPart(text or "(nothing to echo)"))
    return parts


def _usage(request: ir.Request, parts: Iterable[ir.Part]) -> ir.Usage:
    def words(text: str) -> int:
        return len(text.split())

    prompt = sum(words(m.text) for m in request.messages)
    output = 0
    for part in parts:
        if isinstance(part, ir.TextPart | ir.ReasoningPart):
            output += words(part.text)
        elif isinstance(part, ir.ToolCallPart):
            output += words(part.arguments) + 1
    return ir.Usage(input_tokens=prompt, output_tokens=output, estimated=True)


class EchoProvider(Provider):
    """Answers every call locally; see the module docstring."""

    name = "echo"
    config_keys = ("echo",)
    wire = "ir"

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials = []
        for i, entry in enumerate(node.nodes(key)):
            prefix = entry.str("prefix") or None
            models = tuple(ModelEntry(m) for m in entry.str_list("models")) or DEFAULT_MODELS
            delay = entry.int("delay-ms", 0, minimum=0) / 1000.0
            entry.done()
            credentials.append(
                Credential(
                    id=credential_id("echo", str(i), prefix),
                    provider=self.name,
                    label=f"echo #{i}",
                    prefix=prefix,
                    models=models,
                    any_model=prefix is not None,
                    settings=EchoSettings(delay),
                    source=entry.location(),
                )
            )
        return credentials

    async def send(self, call: Call) -> DirectResponse:
        request = call.request
        parts = reply_for(request)
        finish = ir.Finish(
            ir.FinishReason.TOOL_CALLS if any(isinstance(p, ir.ToolCallPart) for p in parts) else ir.FinishReason.STOP,
            "echo",
        )
        response = ir.Response(
            id=f"echo-{id(call):x}", model=call.model, parts=parts, finish=finish, usage=_usage(request, parts)
        )
        if not call.stream:
            return DirectResponse(response=response)
        return DirectResponse(events=self._stream(response, call.credential.settings.delay))

    async def _stream(self, response: ir.Response, delay: float) -> AsyncIterator[ir.StreamEvent]:
        """Replay the response, splitting text into words with ``delay`` between them."""
        for event in ir.response_events(response):
            if isinstance(event, ir.TextDelta | ir.ReasoningDelta):
                words = re.findall(r"\S+\s*", event.text) or [event.text]
                for word in words:
                    if delay:
                        await asyncio.sleep(delay)
                    yield attrs.evolve(event, text=word)
            else:
                yield event


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    register(EchoProvider())


@hookimpl
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    register(
        InitChoice(
            "echo",
            "The offline demo provider (echoes what it is sent)",
            "# The offline demo provider (cliproxy-echo): echoes the last user message.\necho:\n  - models: [echo-1]\n",
            "echo-1",
        )
    )
