"""A config file as an editable document that writes back as it was written.

:class:`ConfigDocument` holds a file's YAML as a ruamel round-trip tree: comments, key
order, quoting and flow style stay where they were, and the indentation is the file's own
(of the usual styles, the one that reproduces the file unchanged). Edits change only the
lines they touch. :func:`write_atomically` replaces the file in one step.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import ScalarString

from cliproxy.config import ConfigError
from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["ConfigDocument", "plain", "same_style", "walk_strings", "write_atomically", "yaml_value"]

log = logging.getLogger("cliproxy.management")

# (mapping indent, sequence indent, sequence dash offset): block styles seen in configs
_STYLES = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (2, 4, 0), (4, 2, 0))


def _yaml(style: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the file did not fold
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


class ConfigDocument:
    """One config file's YAML, for editing (see the module doc)."""

    def __init__(self, data: CommentedMap, file: str, style: tuple[int, int, int]) -> None:
        self.data = data
        self.file = file
        self.style = style
        self._yaml = _yaml(style)

    @classmethod
    def parse(cls, text: str, file: str) -> ConfigDocument:
        """Read ``text``; a :class:`ConfigError` located in it when it is not a YAML mapping."""
        try:
            data = _yaml(_STYLES[0]).load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise ConfigError(
                message=f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}",
                file=file,
                line=None if mark is None else mark.line + 1,
                column=None if mark is None else mark.column + 1,
                hint="check indentation and quoting around this line",
            ) from None
        except YAMLError as exc:
            raise ConfigError(message=f"invalid YAML: {exc}", file=file) from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise ConfigError(message="the config must be a mapping of keys to values", file=file, line=1, column=1)
        return cls(data, file, _style_of(data, text))

    def dump(self) -> str:
        """The document as YAML text."""
        return _dump(self._yaml, self.data)

    def mapping(self, path: tuple[str, ...], *, create: bool = False) -> CommentedMap | None:
        """The mapping at ``path`` (``("routing",)``), made on the way when ``create``;
        None when it is missing; a 409 when something else is in the way."""
        node: Any = self.data
        for depth, key in enumerate(path):
            child = node.get(key)
            if child is None:
                if not create:
                    return None
                child = CommentedMap()
                node[key] = child
            if not isinstance(child, CommentedMap):
                where = ".".join(path[: depth + 1])
                raise GatewayError(
                    status=409,
                    kind=ErrorKind.INVALID_REQUEST,
                    code="not_a_mapping",
                    message=f"'{where}' in {self.file} is not a mapping (key: value lines), so it has no keys to set",
                )
            node = child
        return node


def _style_of(data: Any, text: str) -> tuple[int, int, int]:
    """The indentation style that dumps ``data`` back closest to ``text``."""
    best, best_cost = _STYLES[0], None
    original = text.splitlines()
    for style in _STYLES:
        dumped = _dump(_yaml(style), data)
        if dumped == text:
            return style
        changed = sum(1 for line in difflib.ndiff(original, dumped.splitlines()) if line[:1] in "+-")
        if best_cost is None or changed < best_cost:
            best, best_cost = style, changed
    return best


def same_style(original: Any, text: str) -> str:
    """``text`` written as ``original`` was: a quoted scalar stays quoted."""
    if isinstance(original, ScalarString):
        return type(original)(text)
    return text


def plain(value: Any) -> Any:
    """A YAML value as plain JSON data (mappings, lists, strings, numbers, booleans, null);
    timestamps and other scalars become their text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, float) or value == value else None
    return str(value)


def yaml_value(value: Any) -> Any:
    """JSON data as YAML nodes for the document (mappings and lists in block style)."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[str(k)] = yaml_value(v)
        return node
    if isinstance(value, list):
        return CommentedSeq(yaml_value(v) for v in value)
    return value


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[Any, Any, str, str]]:
    """Every string in ``value``: ``(container, key or index, the string, its path)``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(item, str):
                yield value, key, item, where
            else:
                yield from walk_strings(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if isinstance(item, str):
                yield value, index, item, where
            else:
                yield from walk_strings(item, where)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file at ``path`` (a symlink's target) with ``text`` in one step: a
    temporary file beside it, synced, renamed over it, with the old file's mode.

    A file that cannot be renamed over (a single file bind-mounted into a container) is
    rewritten in place instead, and that is logged: a reader may then see it half-written
    for a moment (the file watcher waits for it to hold still).
    """
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("could not replace %s in one step (%s); rewriting it in place", target, exc.strerror or exc)
            with open(target, "r+b") as handle:
                handle.truncate(0)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.unlink(tmp)
            return
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the directory is synced
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
