"""Content parts: the pieces a message or a response is made of.

Each part may carry ``provider_metadata``: opaque values keyed by the wire format that
issued them (``{"anthropic": {"signature": "..."}}``, ``{"gemini": {"thoughtSignature":
"..."}}``). Translators copy them back unchanged when they encode for the same wire, and
leave them out for any other wire -- a Claude thinking signature means nothing to Gemini,
and sending it there is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "FilePart",
    "Metadata",
    "Part",
    "ReasoningPart",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
    "merge_metadata",
    "metadata_for",
]


def _content(value: Iterable[TextPart | FilePart]) -> tuple[TextPart | FilePart, ...]:
    return tuple(value)


Metadata = Mapping[str, Mapping[str, Any]] | None
"""Provider metadata: ``{wire_name: {key: value}}``, or None."""


@attrs.frozen
class TextPart:
    """Plain text."""

    text: str
    provider_metadata: Metadata = None


@attrs.frozen
class FilePart:
    """An image or other file, inline (base64 ``data``) or by ``url``.

    ``media_type`` is the IANA type (``image/png``); ``image/*`` when only the family is
    known (an image URL without extension).
    """

    media_type: str
    data: str | None = None
    url: str | None = None
    filename: str | None = None
    provider_metadata: Metadata = None

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@attrs.frozen
class ToolCallPart:
    """The model asks for a tool: ``arguments`` is the JSON text of the arguments object."""

    id: str
    name: str
    arguments: str = "{}"
    provider_metadata: Metadata = None


@attrs.frozen
class ToolResultPart:
    """The result of a tool call, sent back by the client.

    ``name`` is the tool's name when the client's wire carries it (Gemini needs it; the
    translators fill it from the matching tool call when they can).
    """

    call_id: str
    content: tuple[TextPart | FilePart, ...] = attrs.field(default=(), converter=_content)
    is_error: bool = False
    name: str | None = None
    provider_metadata: Metadata = None

    @property
    def text(self) -> str:
        """The text content joined, ignoring files."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@attrs.frozen
class ReasoningPart:
    """The model's reasoning ("thinking").

    Signatures and redacted (encrypted) reasoning are opaque and provider specific, so they
    live in ``provider_metadata``: ``{"anthropic": {"signature": s}}``,
    ``{"anthropic": {"redacted_data": d}}``, ``{"gemini": {"thoughtSignature": s}}``,
    ``{"openai": {"encrypted_content": e, "id": "rs_..."}}``.
    """

    text: str
    provider_metadata: Metadata = None


Part = TextPart | FilePart | ToolCallPart | ToolResultPart | ReasoningPart


def metadata_for(metadata: Metadata, wire: str) -> Mapping[str, Any]:
    """The metadata a part carries for one wire format (empty when none)."""
    if not metadata:
        return {}
    return metadata.get(wire) or {}


def merge_metadata(left: Metadata, right: Metadata) -> Metadata:
    """Combine two metadata maps, ``right`` winning key by key inside each wire."""
    if not left:
        return right
    if not right:
        return left
    merged = {wire: dict(values) for wire, values in left.items()}
    for wire, values in right.items():
        merged.setdefault(wire, {}).update(values)
    return merged
