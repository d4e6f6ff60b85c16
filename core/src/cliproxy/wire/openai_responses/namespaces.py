"""Namespace tools: Codex's groups of function tools, flattened for every other wire.

Codex declares some tools in groups, ``{"type": "namespace", "name": "multi_agent_v1",
"description": ..., "tools": [{"type": "function", "name": "spawn_agent", ...}, ...]}``,
and expects a call to one back as a ``function_call`` item naming both, ``"namespace":
"multi_agent_v1", "name": "spawn_agent"``; it sends such items back in later turns'
``input`` too. Only the Responses wire has namespaces.

In the IR a member is a plain :class:`~cliproxy.ir.Tool` under its flat name: Codex's own
flat form ``<namespace>__<name>`` when every wire accepts it, else a stable stand-in --
the disallowed characters replaced, cut short with a hash of the pair so it stays unique.
What every wire accepts: letters, digits, ``_`` and ``-``, a letter or ``_`` first, at most
64 characters (OpenAI Chat and Anthropic take ``[a-zA-Z0-9_-]{1,64}``, Gemini wants a
letter or underscore first, Kiro 64 characters). The member's own spec and its group ride
in ``provider_metadata["openai-responses"]`` (``{"group": ..., "member": ...}``), so a
Responses upstream gets the group back whole; a call keeps ``{"namespace": ..., "name":
...}`` there. A call an upstream makes under the flat name is split again for the
Responses client by :func:`member_of`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.ir import Metadata, Tool, metadata_for
from cliproxy.wire.openai_responses.common import WIRE

__all__ = [
    "MAX_NAME",
    "call_metadata",
    "flat_name",
    "flat_names",
    "grouped_tools",
    "hashed_name",
    "member_of",
    "member_tool",
    "members",
    "namespace_of",
]

MAX_NAME = 64
"""The longest tool name every wire accepts."""
SEPARATOR = "__"
"""What Codex puts between a namespace and a tool name in a flat name."""

_ACCEPTED = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_REFUSED = re.compile(r"[^A-Za-z0-9_-]")
_HASHED = 8


def flat_name(namespace: str, name: str) -> str:
    """The name a namespace member goes by on wires without namespaces, unless another
    tool of the request has it already (see :func:`flat_names`): Codex's flat form when
    every wire accepts it, else :func:`hashed_name`."""
    flat = namespace.rstrip("_") + SEPARATOR + name.lstrip("_")
    if len(flat) <= MAX_NAME and _ACCEPTED.fullmatch(flat):
        return flat
    return hashed_name(namespace, name)


def hashed_name(namespace: str, name: str) -> str:
    """A name every wire accepts that stands for this one pair: the flat form cleaned and
    cut, and a hash of the pair."""
    cleaned = _REFUSED.sub("_", namespace + SEPARATOR + name)
    if not _ACCEPTED.match(cleaned):  # a digit or "-" first
        cleaned = "_" + cleaned
    digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:_HASHED]
    return f"{cleaned[: MAX_NAME - _HASHED - 1]}_{digest}"


def flat_names(tools: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) -> flat name for the namespace members of a Responses body's
    ``tools``. A flat name some other tool has (``a__b`` + ``c`` and ``a`` + ``b__c``, or
    a plain tool of that name) goes to the first; the others get :func:`hashed_name`.
    Deterministic: the history's calls, and the calls an upstream makes, map back the
    same way on every turn."""
    names: dict[tuple[str, str], str] = {}
    if not isinstance(tools, list) or not any(isinstance(t, dict) and t.get("type") == "namespace" for t in tools):
        return names
    taken = {
        t["name"]
        for t in tools
        if isinstance(t, dict) and t.get("type") != "namespace" and isinstance(t.get("name"), str)
    }
    for group in tools:
        if not isinstance(group, dict) or group.get("type") != "namespace" or not isinstance(group.get("name"), str):
            continue
        for member in group.get("tools") or ():
            if not isinstance(member, dict) or not isinstance(member.get("name"), str):
                continue
            pair = (group["name"], member["name"])
            if pair in names:
                continue
            flat = flat_name(*pair)
            if flat in taken:
                flat = hashed_name(*pair)
            taken.add(flat)
            names[pair] = flat
    return names


def member_tool(namespace: Mapping[str, Any], member: Mapping[str, Any], tool: Tool, flat: str) -> Tool:
    """``tool`` (a member decoded as a function tool) under its ``flat`` name, with what a
    Responses upstream needs to group it again."""
    group = {k: v for k, v in namespace.items() if k != "tools"}
    return Tool(
        name=flat,
        description=tool.description,
        parameters=tool.parameters,
        strict=tool.strict,
        provider_metadata={WIRE: {"group": group, "member": dict(member)}},
    )


def call_metadata(namespace: str, name: str) -> Metadata:
    """The metadata of a call to a namespace member (its IR name is the flat one)."""
    return {WIRE: {"namespace": namespace, "name": name}}


def members(tools: Any) -> dict[str, tuple[str, str]]:
    """Flat name -> (namespace, name) for the members of a Responses body's ``tools``:
    :func:`flat_names` the other way round."""
    return {flat: pair for pair, flat in flat_names(tools).items()}


def member_of(name: str, metadata: Metadata, table: Mapping[str, tuple[str, str]]) -> tuple[str | None, str]:
    """(namespace, name) for a call a Responses client gets: the pair a Responses
    upstream gave, else the member the flat name stands for, else (None, ``name``)."""
    own = metadata_for(metadata, WIRE)
    namespace, member = own.get("namespace"), own.get("name")
    if isinstance(namespace, str) and isinstance(member, str):
        return namespace, member
    if name in table:
        return table[name]
    return None, name


def grouped_tools(tools: Iterable[dict[str, Any] | tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[Any]:
    """Encoded tools with namespace members (given as ``(group, member)`` pairs) gathered
    back into their groups, each group where its first member stood."""
    out: list[Any] = []
    groups: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if isinstance(tool, dict):
            out.append(tool)
            continue
        group, member = tool
        key = str(group.get("name") or "")
        if key not in groups:
            groups[key] = {**group, "tools": []}
            out.append(groups[key])
        groups[key]["tools"].append(dict(member))
    return out


def namespace_of(tool: Tool) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(group, member spec) of a namespace member, None for any other tool."""
    own = metadata_for(tool.provider_metadata, WIRE)
    group, member = own.get("group"), own.get("member")
    if isinstance(group, Mapping) and isinstance(member, Mapping):
        return group, member
    return None
