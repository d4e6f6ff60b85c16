"""Typed, located access to one mapping of a YAML config file.

Plugins read their config blocks through :class:`ConfigNode`: every accessor checks the
value's type, expands ``${ENV_VAR}`` references in strings, and raises a
:class:`ConfigError` that names file, line, column and key. :meth:`ConfigNode.done`
rejects keys nobody read, suggesting the closest known key.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from cliproxy.config.errors import ConfigError, suggest

__all__ = ["ConfigNode", "expand_env"]

T = TypeVar("T")
_MISSING: Any = object()
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str, where: ConfigNode, key: str | int) -> str:
    """Replace ``${NAME}`` and ``${NAME:-default}`` with environment values."""
    if "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise where.error(
            key,
            f"environment variable {name} is not set",
            hint=f"export {name}=... before starting, or write ${{{name}:-default}}",
        )

    return _ENV.sub(replace, value)


def _position(container: Any, key: str | int) -> tuple[int | None, int | None]:
    lc = getattr(container, "lc", None)
    if lc is None:
        return None, None
    try:
        line, col = lc.item(key) if isinstance(key, int) else lc.key(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        line, col = getattr(lc, "line", None), getattr(lc, "col", None)
    return (None if line is None else line + 1), (None if col is None else col + 1)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class ConfigNode:
    """One YAML mapping with its location; accessors read and check keys.

    Args:
        data: The mapping (a ruamel ``CommentedMap`` keeps line numbers; a plain dict works
            too, without them).
        file: The file it came from, for messages.
        path: Where the mapping sits in the file (``claude-api-key[0]``), for messages.
    """

    __slots__ = ("_data", "_read", "file", "path")

    def __init__(self, data: Mapping[str, Any] | list[Any], file: str = "<config>", path: str = "") -> None:
        # A list is wrapped only to point at one of its items (``error(index, ...)``).
        self._data: Any = data
        self.file = file
        self.path = path
        self._read: set[str] = set()

    # -- locating ------------------------------------------------------------------------

    def qualified(self, key: str | int | None) -> str:
        if key is None:
            return self.path or "(top level)"
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | int | None, message: str, *, hint: str | None = None) -> ConfigError:
        """A :class:`ConfigError` located at ``key`` (or at this mapping when None)."""
        line, col = _position(self._data, key) if key is not None else _position(self._data, 0)
        if key is None:
            lc = getattr(self._data, "lc", None)
            line = None if lc is None else lc.line + 1
            col = None if lc is None else lc.col + 1
        return ConfigError(message=message, file=self.file, line=line, column=col, key=self.qualified(key), hint=hint)

    def location(self, key: str | int | None = None) -> str:
        """``file:line:column`` of ``key``, for log messages."""
        return self.error(key, "").location

    # -- access --------------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def same_content(self, other: ConfigNode) -> bool:
        """Whether ``other`` holds the same keys and values, in the same order."""
        return bool(self._data == other._data)

    def keys(self) -> list[str]:
        return [str(k) for k in self._data]

    def raw(self, key: str, default: Any = None) -> Any:
        """The value as parsed, unchecked (strings not env-expanded)."""
        self._read.add(key)
        return self._data.get(key, default)

    def _get(self, key: str, default: Any, required: bool, kind: str) -> Any:
        self._read.add(key)
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key '{self.qualified(key)}'", hint=f"add '{key}: <{kind}>'")
            return default
        return self._data[key]

    def _list_value(self, key: str, required: bool) -> Any:
        """The value of a key that holds a list, None when absent. In a YAML file, a key
        written with nothing after it (``models:``), which is how a file cut short often
        ends, is an error rather than an empty list: ``key: []`` says "none" on purpose.
        (In a mapping built in code, None stands for "not set", as in Python.)"""
        if key in self._data and self._data[key] is None and hasattr(self._data, "lc"):
            self._read.add(key)
            raise self.error(
                key,
                f"'{self.qualified(key)}' has no value (nothing follows '{key}:')",
                hint=f"list its entries under it, write '{key}: []' for none, or remove the line "
                "(a config file cut short ends like this)",
            )
        return self._get(key, None, required, "list")

    def raw_list(self, key: str, *, required: bool = False) -> list[Any] | None:
        """A list as parsed (items unchecked), None when absent; a key with no value or
        a value that is not a list is a located error."""
        value = self._list_value(key, required)
        if value is not None and not isinstance(value, list):
            raise self.error(key, f"'{self.qualified(key)}' must be a list, not {_type_name(value)}")
        return value

    def str(
        self,
        key: builtins.str,
        default: Any = None,
        *,
        required: builtins.bool = False,
        choices: tuple[builtins.str, ...] = (),
    ) -> Any:
        """A string (``${ENV}`` expanded); numbers are accepted and turned into text."""
        value = self._get(key, default, required, "text")
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"'{self.qualified(key)}' must be a string, not {_type_name(value)}")
        text = expand_env(str(value), self, key)
        if choices and text not in choices:
            close = suggest(text, choices)
            hint = f"did you mean '{close}'?" if close else "use one of: " + ", ".join(choices)
            raise self.error(
                key, f"'{self.qualified(key)}' is '{text}', which is not one of {', '.join(choices)}", hint=hint
            )
        return text

    def int(
        self,
        key: builtins.str,
        default: Any = None,
        *,
        required: builtins.bool = False,
        minimum: builtins.int | None = None,
    ) -> Any:
        value = self._get(key, default, required, "number")
        if value is default:
            return value
        if isinstance(value, str):
            value = expand_env(value, self, key)
            try:
                value = int(value)
            except ValueError:
                raise self.error(key, f"'{self.qualified(key)}' must be a whole number, not '{value}'") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"'{self.qualified(key)}' must be a whole number, not {_type_name(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"'{self.qualified(key)}' must be at least {minimum}, not {value}")
        return value

    def float(
        self,
        key: builtins.str,
        default: Any = None,
        *,
        required: builtins.bool = False,
        minimum: builtins.float | None = None,
    ) -> Any:
        value = self._get(key, default, required, "number")
        if value is default:
            return value
        if isinstance(value, str):
            value = expand_env(value, self, key)
            try:
                value = float(value)
            except ValueError:
                raise self.error(key, f"'{self.qualified(key)}' must be a number, not '{value}'") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"'{self.qualified(key)}' must be a number, not {_type_name(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"'{self.qualified(key)}' must be at least {minimum}, not {value}")
        return float(value)

    def bool(self, key: builtins.str, default: Any = None, *, required: builtins.bool = False) -> Any:
        value = self._get(key, default, required, "true|false")
        if value is default:
            return value
        if isinstance(value, str):
            lowered = expand_env(value, self, key).strip().lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
        if not isinstance(value, bool):
            raise self.error(key, f"'{self.qualified(key)}' must be true or false, not {_type_name(value)}")
        return value

    def str_list(self, key: builtins.str, *, required: builtins.bool = False) -> tuple[builtins.str, ...]:
        """A list of strings; a single string is accepted as a one-item list."""
        value = self._list_value(key, required)
        if value is None:
            return ()
        if isinstance(value, str):
            return (expand_env(value, self, key),)
        if not isinstance(value, list):
            raise self.error(key, f"'{self.qualified(key)}' must be a list of strings, not {_type_name(value)}")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise ConfigNode(value, self.file, self.qualified(key)).error(
                    i, f"'{self.qualified(key)}[{i}]' must be a string, not {_type_name(item)}"
                )
            out.append(expand_env(str(item), ConfigNode(value, self.file, self.qualified(key)), i))
        return tuple(out)

    def str_map(self, key: builtins.str) -> dict[builtins.str, builtins.str]:
        """A mapping of strings to strings (HTTP headers)."""
        node = self.node(key)
        if node is None:
            return {}
        out = {}
        for name in node.keys():
            out[name] = node.str(name)
        return out

    def node(self, key: builtins.str, *, required: builtins.bool = False) -> ConfigNode | None:
        """A nested mapping, as its own node."""
        value = self._get(key, None, required, "mapping")
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.error(
                key, f"'{self.qualified(key)}' must be a mapping (key: value lines), not {_type_name(value)}"
            )
        return ConfigNode(value, self.file, self.qualified(key))

    def nodes(self, key: builtins.str, *, required: builtins.bool = False) -> list[ConfigNode]:
        """A list of mappings (provider entries), each as its own node."""
        value = self._list_value(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(
                key,
                f"'{self.qualified(key)}' must be a list of entries (lines starting with '- '), not {_type_name(value)}",
            )
        return list(ConfigNode.items_of(value, self.file, self.qualified(key)))

    @staticmethod
    def items_of(value: list[Any], file: builtins.str, path: builtins.str) -> Iterator[ConfigNode]:
        """Each mapping of a YAML list, as a node; anything else is an error."""
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                line, col = _position(value, i)
                raise ConfigError(
                    message=f"'{path}[{i}]' must be a mapping (key: value lines), not {_type_name(item)}",
                    file=file,
                    line=line,
                    column=col,
                    key=f"{path}[{i}]",
                )
            yield ConfigNode(item, file, f"{path}[{i}]")

    def done(self, *, known: tuple[builtins.str, ...] = ()) -> None:
        """Reject keys that were never read, suggesting the closest read key."""
        valid = self._read | set(known)
        for key in self._data:
            if key in valid:
                continue
            close = suggest(str(key), valid)
            raise self.error(
                str(key),
                f"unknown key '{self.qualified(str(key))}'",
                hint=f"did you mean '{close}'?" if close else "valid keys here: " + ", ".join(sorted(valid)),
            )
