"""``env-file:``: secrets kept beside the config, out of it.

``env-file: cliproxy.env`` (a path relative to the config file) names a file of
``NAME=value`` lines -- what ``cliproxy init`` writes for the API keys typed into it.
Before the rest of the config is read, each variable it sets goes into the process
environment unless the environment has it already (what the shell exports wins), so
``${NAME}`` references in the config find it. Blank lines and ``#`` comments are skipped;
``export NAME=value`` and quoted values are read as a shell would read them. A file that
others may read is loaded with a warning: it holds secrets, keep it mode 0600.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

from cliproxy.config.nodes import ConfigNode

__all__ = ["MAX_ENV_FILE_BYTES", "load_env_file"]

log = logging.getLogger("cliproxy.config")

MAX_ENV_FILE_BYTES = 1024 * 1024
"""An env file larger than this is refused (it is a list of keys, not data)."""

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def load_env_file(root: ConfigNode) -> None:
    """Apply ``root``'s ``env-file`` (if any) to the process environment."""
    name = root.str("env-file")
    if not name:
        return
    base = Path(root.file).parent if not root.file.startswith("<") else Path.cwd()
    path = (base / Path(name).expanduser()).resolve()
    try:
        info = path.stat()
        if info.st_size > MAX_ENV_FILE_BYTES:
            raise root.error("env-file", f"{path} is {info.st_size} bytes; an env file holds NAME=value lines")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise root.error(
            "env-file",
            f"env-file {path} does not exist",
            hint="create it with NAME=value lines (cliproxy init writes one), or remove the env-file key",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise root.error("env-file", f"env-file {path} cannot be read: {exc}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("env-file %s can be read by other users; it holds secrets: chmod 600 it", path)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise root.error(
                "env-file", f"{path}, line {number}: not a NAME=value line", hint="write NAME=value, one per line"
            )
        os.environ.setdefault(match.group(1), _unquote(match.group(2).strip()))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
