"""Sealed carriers: other providers' opaque values, passed through a client that has no
field for them.

The doors hand such values to the client *sealed* -- :data:`PREFIX` plus the base64url of
a JSON record -- in a field the client echoes back unread: a thinking block's
``signature``, a reasoning item's ``encrypted_content``. The record is the foreign
metadata, keyed by the wire it belongs to (``{"gemini": {"thoughtSignature": ...}}``).
Decoding the client's next request unseals it back where it came from.

**Reasoning.** A reasoning part has such a slot, but each door's slot holds only its own
provider's value. A Responses client's ``encrypted_content`` carries every other wire's
reasoning values (Claude's signatures reach Codex). An Anthropic client's ``signature``
carries those of :data:`REASONING_WIRES`: Gemini's thought signatures, and the Responses
API's encrypted reasoning (``{"openai": {"id", "encrypted_content"}}``), which the Codex
backend -- storing nothing -- needs back to go on from where it stopped. Other wires'
reasoning gets an empty signature there (a chat upstream's ``reasoning_content`` is not
sent back to it: DeepSeek refuses it).

**Tool calls and text.** A Gemini ``thoughtSignature`` must come back on the very part it
was issued with, but the Anthropic door has no slot for it on a ``tool_use`` block, and
the Responses door none on a ``function_call`` item. Such a call is given a *carrier*: a
thinking block (reasoning item) with no text, whose sealed record also names the call's
id (:data:`CALL_KEY`); decoding puts the values back on the tool call with that id. Gemini
also signs plain text parts (typically the last part of an answer, or an empty text part
that only carries the signature). A text part has no id, so its carrier is placed right
after it and says so (:data:`TEXT_KEY`); decoding puts the values back on the text part
just before the carrier (:func:`attach_text`) -- or, when the client left that part out
(an empty text block), on an empty text part in its place. Carriers are made for the
values of :data:`CARRIED_WIRES` only: other wires' values on calls and text (item ids,
citations) need not come back, and a carrier is a block the client sees.

A sealed value is the gateway's own and never reaches an upstream: a body passed through
to an upstream of the door's own wire loses its sealed blocks and items
(``forwarded_body``), and an unsealed value goes back under its wire's name, which only
that wire's upstream encoder reads -- Anthropic gets only the signatures it issued,
Gemini only Gemini's, a Responses upstream only ``openai`` reasoning. Anything that fails
to unseal is ignored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import orjson
from cliproxy.ir import Message, Metadata, Part, TextPart, ToolCallPart, merge_metadata

__all__ = [
    "CALL_KEY",
    "CARRIED_WIRES",
    "PREFIX",
    "REASONING_WIRES",
    "TEXT_KEY",
    "Sealed",
    "attach_text",
    "carried",
    "is_sealed",
    "part_metadata",
    "restore_calls",
    "seal",
    "unseal",
]

PREFIX = "cliproxy.v1:"
"""What every sealed value starts with."""
CALL_KEY = "@call"
"""The record key naming the tool call a carrier belongs to (no wire is named so)."""
TEXT_KEY = "@text"
"""The record key (value ``true``) of a carrier for the text part just before it."""
CARRIED_WIRES = frozenset({"gemini"})
"""Wires whose values the doors carry for parts they cannot otherwise hold (tool calls,
text): Gemini's signatures (and the function-call ids it gives). Values of other wires
stay behind, so what other upstreams receive does not change."""
REASONING_WIRES = CARRIED_WIRES | {"openai"}
"""Wires whose reasoning values an Anthropic client carries sealed in a thinking block's
``signature``: Gemini's thought signatures and the Responses API's encrypted reasoning."""


@attrs.frozen
class Sealed:
    """An unsealed record: the metadata, and the tool call it belongs to (if any), or
    whether it belongs to the text part before it."""

    metadata: dict[str, dict[str, Any]]
    call_id: str | None = None
    text: bool = False

    @property
    def carrier(self) -> bool:
        """Whether the record stands for another part (a tool call or a text part)."""
        return self.call_id is not None or self.text


def seal(metadata: Mapping[str, Mapping[str, Any]], call_id: str | None = None, *, text: bool = False) -> str:
    """``metadata`` (and the id of the call it belongs to, or whether it belongs to the
    text part before it) as one opaque string."""
    record: dict[str, Any] = {wire: dict(values) for wire, values in metadata.items()}
    if call_id is not None:
        record[CALL_KEY] = call_id
    if text:
        record[TEXT_KEY] = True
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(record)).decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def unseal(value: Any) -> Sealed | None:
    """The record sealed in ``value``; None when it is not a well-formed sealed value."""
    if not is_sealed(value):
        return None
    try:
        record = orjson.loads(base64.urlsafe_b64decode(value[len(PREFIX) :]))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    call_id = record.pop(CALL_KEY, None)
    if call_id is not None and not isinstance(call_id, str):
        return None
    text = record.pop(TEXT_KEY, False)
    if text is not True and text is not False:
        return None
    if text and call_id is not None:
        return None
    if not all(isinstance(v, dict) for v in record.values()):
        return None
    return Sealed(record, call_id, text)


def part_metadata(value: Any) -> Metadata:
    """The metadata sealed for a reasoning part; None for a garbled value or a carrier
    (of a tool call or a text part)."""
    record = unseal(value)
    if record is None or record.carrier:
        return None
    return record.metadata or None


def carried(
    metadata: Metadata, door_wires: Collection[str] = (), wires: Collection[str] = CARRIED_WIRES
) -> dict[str, dict[str, Any]] | None:
    """The values of ``wires`` (default :data:`CARRIED_WIRES`) in ``metadata`` that the
    door (speaking ``door_wires``) cannot hold itself; None when there are none."""
    if not metadata:
        return None
    out = {
        wire: dict(values) for wire, values in metadata.items() if wire in wires and wire not in door_wires and values
    }
    return out or None


def attach_text(parts: list[Part], metadata: Metadata) -> None:
    """Put a text carrier's ``metadata`` on the text part ending ``parts`` (the part just
    before the carrier); when the part before is no text part (or already has values of
    those wires, from an earlier carrier), the client left out the empty text part the
    values came with, and an empty one takes its place."""
    if not metadata:
        return
    last = parts[-1] if parts else None
    if isinstance(last, TextPart) and not any(wire in (last.provider_metadata or {}) for wire in metadata):
        parts[-1] = attrs.evolve(last, provider_metadata=merge_metadata(last.provider_metadata, metadata))
    else:
        parts.append(TextPart("", metadata))


def restore_calls(messages: Sequence[Message], carriers: Mapping[str, Metadata]) -> list[Message]:
    """``messages`` with each carrier's metadata put back on the tool call of its id."""
    if not carriers:
        return list(messages)
    return [_restored(m, carriers) if m.role == "assistant" else m for m in messages]


def _restored(message: Message, carriers: Mapping[str, Metadata]) -> Message:
    parts: list[Part] = []
    changed = False
    for part in message.parts:
        if isinstance(part, ToolCallPart) and part.id in carriers:
            part = attrs.evolve(part, provider_metadata=merge_metadata(part.provider_metadata, carriers[part.id]))
            changed = True
        parts.append(part)
    return attrs.evolve(message, parts=parts) if changed else message
