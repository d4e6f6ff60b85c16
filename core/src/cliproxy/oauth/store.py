"""Token files in ``auth-dir``: names, and writing them (atomically, mode 0600 in a
0700 directory, through :func:`cliproxy.write_token_file`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cliproxy.tokens import write_token_file

__all__ = ["save_token_file", "token_file_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


def token_file_name(prefix: str, label: str | None) -> str:
    """``<prefix>-<label>.json`` with the label reduced to safe characters (an e-mail
    stays readable); a random label when there is none."""
    clean = _UNSAFE.sub("_", label or "").strip("._-")
    return f"{prefix}-{clean or secrets.token_hex(4)}.json"


def save_token_file(auth_dir: str | Path, name: str, content: Mapping[str, Any]) -> Path:
    """Write ``content`` as ``auth_dir/name``; the path written.

    ``name`` must be a plain file name (no directory part).
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"token file name {name!r} must be a plain file name")
    path = Path(auth_dir).expanduser() / name
    write_token_file(path, content)
    return path
