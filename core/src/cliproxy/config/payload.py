"""Payload rules: set or remove fields of the bodies sent upstream, by model.

::

    payload:
      default:                      # set where the body has no value yet
        - models: ["gpt-5*"]        # globs, matched against the model asked for and the
          params:                   #   upstream model name
            reasoning.effort: high
      override:                     # set always
        - models: ["*"]
          wire: gemini              # optional: only bodies in this upstream wire
          door: anthropic           # optional: only requests that came in through this door
          params:
            generationConfig.temperature: 0.2
      filter:                       # remove
        - models: ["claude-*"]
          params: [top_p, thinking.budget_tokens]

Rules apply to the body after it was translated for its upstream -- or to the client's
own body when it passes through -- so one rule serves every door. A path is field names
joined with dots (``generationConfig.thinkingConfig.thinkingBudget``); a name that is a
number indexes a list (``messages.0.content``). ``default`` creates the objects on the way
that are missing; a path that runs into a value that is not an object changes nothing.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cliproxy.config.nodes import ConfigNode

__all__ = ["PayloadRules", "Rule", "read_payload_rules"]

_KINDS = ("default", "override", "filter")


@attrs.frozen
class Rule:
    """One rule: which requests it matches, and the paths it sets or removes."""

    kind: str
    models: tuple[str, ...]
    params: tuple[tuple[tuple[str, ...], Any], ...]  # (path, value); value None for filter
    wire: str | None = None
    door: str | None = None

    def matches(self, model: str, asked: str, wire: str, door: str) -> bool:
        if self.wire is not None and self.wire != wire:
            return False
        if self.door is not None and self.door != door:
            return False
        return any(fnmatch.fnmatchcase(model, glob) or fnmatch.fnmatchcase(asked, glob) for glob in self.models)


@attrs.frozen
class PayloadRules:
    """The rules of a config, in the order they apply: defaults, overrides, filters."""

    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def apply(self, body: dict[str, Any], *, model: str, asked: str, wire: str, door: str) -> dict[str, Any]:
        """``body`` with the matching rules applied (a copy where a rule changes it)."""
        copied = False
        for rule in self.rules:
            if not rule.matches(model, asked, wire, door):
                continue
            for path, value in rule.params:
                if not copied:
                    body = copy.deepcopy(body)
                    copied = True
                if rule.kind == "filter":
                    _remove(body, path)
                else:
                    _set(body, path, value, only_if_absent=rule.kind == "default")
        return body


def _step(container: Any, name: str) -> tuple[bool, Any]:
    if isinstance(container, dict):
        return (name in container, container.get(name))
    if isinstance(container, list) and name.isdigit() and int(name) < len(container):
        return True, container[int(name)]
    return False, None


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any, *, only_if_absent: bool) -> None:
    node: Any = body
    for name in path[:-1]:
        found, child = _step(node, name)
        if not found:
            if not isinstance(node, dict):
                return
            child = node[name] = {}
        if not isinstance(child, (dict, list)):
            return
        node = child
    last = path[-1]
    if isinstance(node, dict):
        if only_if_absent and node.get(last) is not None:
            return
        node[last] = copy.deepcopy(value)
    elif (
        isinstance(node, list)
        and last.isdigit()
        and int(last) < len(node)
        and not (only_if_absent and node[int(last)] is not None)
    ):
        node[int(last)] = copy.deepcopy(value)


def _remove(body: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = body
    for name in path[:-1]:
        found, node = _step(node, name)
        if not found:
            return
    last = path[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


def _path(where: ConfigNode, key: str | int, text: Any) -> tuple[str, ...]:
    if not isinstance(text, str) or not text.strip():
        raise where.error(key, "a payload path must be a non-empty string such as 'reasoning.effort'")
    parts = tuple(text.strip().split("."))
    if any(not part for part in parts):
        raise where.error(
            key, f"'{text}' is not a path: names joined with single dots", hint="e.g. 'thinking.budget_tokens'"
        )
    return parts


def read_payload_rules(root: ConfigNode) -> PayloadRules:
    """The ``payload`` block of the config (located errors for anything malformed)."""
    block = root.node("payload")
    if block is None:
        return PayloadRules()
    rules: list[Rule] = []
    for kind in _KINDS:
        for entry in block.nodes(kind):
            models = entry.str_list("models", required=True)
            wire = entry.str("wire") or None
            door = entry.str("door") or None
            raw = entry.raw("params")
            if kind == "filter":
                paths = _filter_params(entry, raw)
                params = tuple((path, None) for path in paths)
            else:
                params = _set_params(entry, raw)
            entry.done()
            rules.append(Rule(kind, models, params, wire, door))
    block.done()
    return PayloadRules(tuple(rules))


def _filter_params(entry: ConfigNode, raw: Any) -> Iterable[tuple[str, ...]]:
    if not isinstance(raw, list) or not raw:
        raise entry.error("params", "a filter rule's 'params' is a list of paths to remove", hint="e.g. [top_p]")
    return [_path(entry, "params", item) for item in raw]


def _set_params(entry: ConfigNode, raw: Any) -> tuple[tuple[tuple[str, ...], Any], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise entry.error(
            "params", "a default or override rule's 'params' maps paths to values", hint="e.g. {reasoning.effort: high}"
        )
    return tuple((_path(entry, "params", key), _plain(value)) for key, value in raw.items())


def _plain(value: Any) -> Any:
    """A YAML value as plain JSON-able Python (ruamel's commented maps and sequences)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
