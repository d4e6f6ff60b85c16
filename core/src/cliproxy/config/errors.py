"""Configuration errors that say where, what, and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import attrs

__all__ = ["ConfigError", "suggest"]


@attrs.define(auto_exc=True, eq=False, kw_only=True)
class ConfigError(Exception):
    """A problem in a config file, located by file, line and column (1-based).

    ``str(error)`` reads ``config.yaml:3:1: unknown key 'api_keys' -- did you mean
    'api-keys'?``.
    """

    message: str
    file: str = "<config>"
    line: int | None = None
    column: int | None = None
    key: str | None = None
    hint: str | None = None

    @property
    def location(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f" -- {self.hint}"
        return text


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, when one is close enough to be a typo."""
    options = list(choices)
    normalized = {c.replace("_", "-").lower(): c for c in options}
    probe = word.replace("_", "-").lower()
    if probe in normalized:
        return normalized[probe]
    matches = difflib.get_close_matches(probe, list(normalized), n=1, cutoff=0.6)
    return normalized[matches[0]] if matches else None
