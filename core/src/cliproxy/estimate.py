"""Token estimates for when an upstream cannot count (about four characters a token)."""

from __future__ import annotations

import math

import orjson

from cliproxy.ir import (
    FilePart,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["estimate_body_tokens", "estimate_request_tokens", "estimate_tokens"]

IMAGE_TOKENS = 765  # what OpenAI charges a high-detail 512px-tiled image; a fair middle
PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``, estimated at four characters (or one CJK character) per token."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / 4)
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)
    return math.ceil((len(text) - wide) / 4) + wide


def estimate_request_tokens(request: Request) -> int:
    """Input tokens of ``request``: messages, tool definitions and images."""
    total = 0
    for message in request.messages:
        total += PER_MESSAGE
        for part in message.parts:
            if isinstance(part, TextPart | ReasoningPart):
                total += estimate_tokens(part.text)
            elif isinstance(part, FilePart):
                total += IMAGE_TOKENS
            elif isinstance(part, ToolCallPart):
                total += estimate_tokens(part.name) + estimate_tokens(part.arguments)
            elif isinstance(part, ToolResultPart):
                total += sum(estimate_tokens(p.text) if isinstance(p, TextPart) else IMAGE_TOKENS for p in part.content)
    for tool in request.tools:
        if isinstance(tool, Tool):
            total += estimate_tokens(tool.name) + estimate_tokens(tool.description or "")
            total += estimate_tokens(orjson.dumps(dict(tool.parameters)).decode())
    return total


_BINARY_AFTER = 2048  # characters of a string without a space after which it reads as encoded data


def estimate_body_tokens(body: object) -> int:
    """Input tokens of a request body in any wire format, without decoding it: the text of
    its strings, an image (or other encoded data: a long string without spaces, or a
    ``data:`` URL) at :data:`IMAGE_TOKENS`. Cheaper than decoding the request, and as
    rough as :func:`estimate_request_tokens`."""
    total = 0
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > _BINARY_AFTER and (item.startswith("data:") or " " not in item[:_BINARY_AFTER]):
                total += IMAGE_TOKENS
            else:
                total += estimate_tokens(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total
