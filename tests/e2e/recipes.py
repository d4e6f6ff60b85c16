"""The client recipes of ``docs/clients.md``, read from the page itself.

The suite configures each CLI with exactly what the page tells users to write: the code
block after an ``<!-- e2e:<name> -->`` comment. The documented gateway address, key and
model names are placeholders the suite replaces with the test gateway's.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["DOC", "DOC_KEY", "DOC_URL", "Recipes", "load_recipes"]

DOC = Path(__file__).parents[2] / "docs" / "clients.md"
DOC_URL = "http://127.0.0.1:8317"
DOC_KEY = "sk-team"

_BLOCK = re.compile(r"<!--\s*e2e:(?P<name>[\w-]+)\s*-->\s*\n```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S)


@attrs.frozen
class Recipes:
    """The documented settings, by client."""

    claude_env: Mapping[str, str]
    codex_config: str
    codex_env: Mapping[str, str]
    gemini_settings: Mapping[str, Any]
    gemini_env: Mapping[str, str]

    def codex_config_for(self, url: str, model: str) -> str:
        """The documented ``config.toml`` for a gateway at ``url``, asking for ``model``."""
        documented_model = re.search(r'^model = "([^"]+)"$', self.codex_config, re.M)
        assert documented_model is not None, f"{DOC}: the codex-config block sets no `model = ...`"
        text = self.codex_config.replace(DOC_URL, url)
        return text.replace(documented_model[0], f'model = "{model}"')


def _exports(name: str, body: str) -> dict[str, str]:
    """``export NAME=value`` lines of a bash block (other lines are the command to run)."""
    env = {}
    for line in body.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep:
                    raise ValueError(f"{DOC}: block e2e:{name}: `export {word}` sets no value")
                env[key] = value
    if not env:
        raise ValueError(f"{DOC}: block e2e:{name} exports nothing")
    return env


def load_recipes(path: Path = DOC) -> Recipes:
    blocks = {match["name"]: match["body"] for match in _BLOCK.finditer(path.read_text())}
    wanted = ("claude-code-env", "codex-config", "codex-env", "gemini-cli-settings", "gemini-cli-env")
    missing = [name for name in wanted if name not in blocks]
    if missing:
        raise ValueError(f"{path}: no code block after <!-- e2e:{missing[0]} --> (the suite reads its recipes there)")
    return Recipes(
        claude_env=_exports("claude-code-env", blocks["claude-code-env"]),
        codex_config=blocks["codex-config"],
        codex_env=_exports("codex-env", blocks["codex-env"]),
        gemini_settings=json.loads(blocks["gemini-cli-settings"]),
        gemini_env=_exports("gemini-cli-env", blocks["gemini-cli-env"]),
    )
