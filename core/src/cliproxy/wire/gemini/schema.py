"""Tool and response schemas between JSON Schema and Gemini's ``Schema``.

Gemini's ``FunctionDeclaration.parameters`` and ``responseSchema`` take a closed subset of
OpenAPI 3.0: one unknown keyword (``additionalProperties``, ``$ref``, ``exclusiveMinimum``,
``const``...) and the whole request is rejected with 400. :func:`clean_schema` turns any
JSON Schema into that subset -- references resolved inline, ``allOf`` merged, type arrays
and ``anyOf [X, null]`` flattened to ``nullable``, ``const`` to ``enum``, enum values to
strings, ``required`` limited to declared properties, formats limited to those Gemini
knows -- and keeps the meaning of what it had to drop as a hint in the description. The
keywords it emits per type follow google-genai's ``Schema.from_json_schema``.

:func:`to_json_schema` goes the other way, for schemas a Gemini client sent in Gemini's own
dialect (upper-case types, ``nullable``), so other providers get standard JSON Schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = [
    "ALLOWED_KEYWORDS",
    "GEMINI_TYPES",
    "clean_schema",
    "function_parameters",
    "to_json_schema",
]

GEMINI_TYPES = ("STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT")

_COMMON = ("type", "nullable", "description", "title", "anyOf")
_PER_TYPE: Mapping[str | None, tuple[str, ...]] = {
    "STRING": ("enum", "format", "minLength", "maxLength"),
    "NUMBER": ("enum", "format", "minimum", "maximum"),
    "INTEGER": ("enum", "format", "minimum", "maximum"),
    "BOOLEAN": (),
    "ARRAY": ("items", "minItems", "maxItems"),
    "OBJECT": ("properties", "required", "minProperties", "maxProperties", "propertyOrdering"),
    None: (),
}
ALLOWED_KEYWORDS = frozenset(_COMMON).union(*_PER_TYPE.values())
"""Every keyword :func:`clean_schema` may emit."""

_FORMATS = {
    "STRING": frozenset({"date-time"}),  # "enum" is implied by an enum
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
_JSON_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
MAX_DEPTH = 32
MAX_NODES = 5000


def _gemini_type(value: Any) -> str | None:
    """``"string"``/``"STRING"`` -> ``"STRING"``; ``"null"`` and unknown types -> None."""
    if not isinstance(value, str):
        return None
    return _JSON_TYPES.get(value.lower())


def _is_null_schema(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    if isinstance(kind, str) and kind.lower() == "null":
        return True
    return "const" in schema and schema["const"] is None and len(schema) <= 2


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _show(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


class _Cleaner:
    """One cleaning run: knows the root's definitions and the references being expanded.

    A reference is expanded at most once on any path from the root (a recursive structure
    ends in a marker), and a run emits at most :data:`MAX_NODES` nodes, so a schema whose
    definitions refer to each other many times over cannot blow up.
    """

    def __init__(self, root: Any) -> None:
        self.defs: dict[str, Any] = {}
        if isinstance(root, Mapping):
            for key in ("definitions", "$defs", "defs"):
                table = root.get(key)
                if isinstance(table, Mapping):
                    self.defs.update(table)
        self.visiting: list[str] = []
        self.nodes = 0

    # -- references and allOf ------------------------------------------------------------

    def _target(self, ref: str) -> Any:
        for prefix in ("#/$defs/", "#/definitions/", "#/defs/"):
            if ref.startswith(prefix):
                return self.defs.get(ref[len(prefix) :].replace("~1", "/").replace("~0", "~"))
        return None

    def _flatten(self, schema: Mapping[str, Any], refs: list[str]) -> dict[str, Any] | None:
        """``schema`` with ``$ref`` resolved and ``allOf`` merged in (the references used
        are appended to ``refs``); None when a reference leads back to itself."""
        out = dict(schema)
        ref = out.pop("$ref", None)
        if isinstance(ref, str):
            if ref in self.visiting or ref in refs:
                return None
            target = self._target(ref)
            if isinstance(target, Mapping):
                refs.append(ref)
                resolved = self._flatten(target, refs)
                if resolved is None:
                    return None
                # Keywords beside $ref (a description, nullable) refine the target.
                out = {**resolved, **out}
        parts = out.pop("allOf", None)
        if isinstance(parts, list):
            for part in parts:
                if not isinstance(part, Mapping):
                    continue
                flat = self._flatten(part, refs)
                if flat is not None:
                    out = _merge(out, flat)
        return out

    # -- nodes ---------------------------------------------------------------------------

    def node(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            return {}  # ``true``, ``{}``: any value
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            return {"description": "(nested too deeply to describe)"}
        refs: list[str] = []
        flat = self._flatten(schema, refs)
        if flat is None:
            name = str(schema.get("$ref", "")).rsplit("/", 1)[-1]
            return {
                "type": "OBJECT",
                "description": f"(recursive {name} structure)".replace("  ", " "),
            }
        self.visiting.extend(refs)
        try:
            return self._node(flat, depth)
        finally:
            if refs:
                del self.visiting[-len(refs) :]

    def _node(self, flat: Mapping[str, Any], depth: int) -> dict[str, Any]:
        hints: list[str] = []
        types, nullable = self._types(flat)
        nullable = nullable or flat.get("nullable") is True
        variants = _variants(flat)
        if variants is not None:
            out = self._union(flat, variants, depth)
        elif len(types) > 1:
            branches = [self._typed(flat, kind, depth, []) for kind in types]
            for branch in branches:
                if branch.pop("nullable", False):
                    nullable = True
            out = {"anyOf": branches}
        else:
            out = self._typed(flat, types[0] if types else _infer_type(flat), depth, hints)
        if out.pop("nullable", False):
            nullable = True
        description = flat.get("description")
        if isinstance(description, str) and description:
            out["description"] = description
        if "default" in flat and flat["default"] is not None:
            hints.append(f"default: {_show(flat['default'])}")
        if hints:
            text = out.get("description", "")
            out["description"] = (f"{text} " if text else "") + "(" + "; ".join(hints) + ")"
        title = flat.get("title")
        if isinstance(title, str) and title:
            out["title"] = title
        if nullable:
            out["nullable"] = True
        return out

    def _types(self, schema: Mapping[str, Any]) -> tuple[list[str], bool]:
        raw = schema.get("type")
        values = raw if isinstance(raw, list) else [raw] if raw is not None else []
        kinds: list[str] = []
        has_null = False
        for value in values:
            if isinstance(value, str) and value.lower() == "null":
                has_null = True
                continue
            kind = _gemini_type(value)
            if kind is not None and kind not in kinds:
                kinds.append(kind)
        return kinds, has_null

    def _union(self, schema: Mapping[str, Any], variants: list[Any], depth: int) -> dict[str, Any]:
        cleaned: list[dict[str, Any]] = []
        nullable = False
        for variant in variants:
            if _is_null_schema(variant):
                nullable = True
                continue
            node = self.node(variant, depth + 1)
            if node.pop("nullable", False):
                nullable = True
            if node not in cleaned:
                cleaned.append(node)
        if not cleaned:
            out: dict[str, Any] = {}
        elif len(cleaned) == 1:
            out = cleaned[0]
        else:
            out = {"anyOf": cleaned}
        if nullable:
            out["nullable"] = True
        return out

    def _typed(self, schema: Mapping[str, Any], kind: str | None, depth: int, hints: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {} if kind is None else {"type": kind}
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt:
            if fmt in _FORMATS.get(kind or "", ()):
                out["format"] = fmt
            elif fmt != "enum":
                hints.append(f"format: {fmt}")
        enum = schema.get("enum")
        if "const" in schema:
            enum = [schema["const"]]
        if isinstance(enum, list) and enum:
            self._enum(out, kind, enum, hints)
        if out.get("format") == "enum" and "enum" not in out:
            del out["format"]
        if kind == "STRING":
            _copy_count(schema, out, "minLength", "maxLength")
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and pattern:
                hints.append(f"pattern: {pattern}")
        elif kind in ("NUMBER", "INTEGER"):
            self._bounds(schema, out, hints)
        elif kind == "ARRAY":
            out["items"] = self._items(schema, depth)
            _copy_count(schema, out, "minItems", "maxItems")
            if schema.get("uniqueItems") is True:
                hints.append("items must be unique")
        elif kind == "OBJECT":
            self._object(schema, out, depth, hints)
        return out

    def _enum(self, out: dict[str, Any], kind: str | None, values: list[Any], hints: list[str]) -> None:
        present = [v for v in values if v is not None]
        if len(present) < len(values):
            out["nullable"] = True
        if not present:
            return
        if all(isinstance(v, str) for v in present):
            if kind in (None, "STRING"):
                out["type"] = "STRING"
                out["enum"] = present
                return
            if kind in ("NUMBER", "INTEGER") and all(_is_number_text(v) for v in present):
                out["format"] = "enum"  # already in Gemini's own dialect
                out["enum"] = present
                return
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        if numeric and kind in (None, "NUMBER", "INTEGER"):
            # Gemini enums are strings; numbers are written as strings with format "enum".
            out["type"] = kind or ("INTEGER" if all(isinstance(v, int) for v in present) else "NUMBER")
            out["format"] = "enum"
            out["enum"] = [_show(v) for v in present]
            return
        if kind == "STRING":
            out["enum"] = [v if isinstance(v, str) else _show(v) for v in present]
            return
        hints.append("one of: " + ", ".join(_show(v) for v in present))

    def _bounds(self, schema: Mapping[str, Any], out: dict[str, Any], hints: list[str]) -> None:
        for key in ("minimum", "maximum"):
            value = _number(schema.get(key))
            if value is not None:
                out[key] = value
        for key, bound, word in (
            ("exclusiveMinimum", "minimum", "greater"),
            ("exclusiveMaximum", "maximum", "less"),
        ):
            value = _number(schema.get(key))
            if value is not None:
                out.setdefault(bound, value)
                hints.append(f"must be {word} than {_show(value)}")
        step = _number(schema.get("multipleOf"))
        if step is not None:
            hints.append(f"a multiple of {_show(step)}")

    def _items(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, None
        if isinstance(items, Mapping):
            return self.node(items, depth + 1)
        if isinstance(prefix, list) and prefix:
            return self._union({}, prefix, depth)
        # Gemini needs to know what an array holds; an untyped array is taken as strings.
        return {"type": "STRING"}

    def _object(self, schema: Mapping[str, Any], out: dict[str, Any], depth: int, hints: list[str]) -> None:
        props = schema.get("properties")
        properties: dict[str, Any] = {}
        if isinstance(props, Mapping):
            for name, sub in props.items():
                if isinstance(name, str):
                    properties[name] = self.node(sub, depth + 1)
        if properties:
            out["properties"] = properties
            required = schema.get("required")
            if isinstance(required, list):
                names = [n for n in dict.fromkeys(required) if isinstance(n, str) and n in properties]
                if names:
                    out["required"] = names
            order = schema.get("propertyOrdering")
            if isinstance(order, list):
                names = [n for n in dict.fromkeys(order) if isinstance(n, str) and n in properties]
                if names:
                    out["propertyOrdering"] = names
        _copy_count(schema, out, "minProperties", "maxProperties")
        extra = schema.get("additionalProperties")
        if not properties and (extra is True or isinstance(extra, Mapping)):
            hints.append("an object with any keys")


def _variants(schema: Mapping[str, Any]) -> list[Any] | None:
    found: list[Any] = []
    for key in ("anyOf", "oneOf"):
        value = schema.get(key)
        if isinstance(value, list):
            found.extend(value)
    return found if found else None


def _infer_type(schema: Mapping[str, Any]) -> str | None:
    if isinstance(schema.get("properties"), Mapping) or "additionalProperties" in schema:
        return "OBJECT"
    if "items" in schema or "prefixItems" in schema:
        return "ARRAY"
    values = schema.get("enum")
    if "const" in schema:
        values = [schema["const"]]
    if isinstance(values, list) and values:
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, str) for v in present):
            return "STRING"
        if present and all(isinstance(v, bool) for v in present):
            return "BOOLEAN"
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            return "INTEGER"
        if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            return "NUMBER"
    if any(k in schema for k in ("minLength", "maxLength", "pattern")):
        return "STRING"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "NUMBER"
    return None


def _copy_count(source: Mapping[str, Any], out: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value = _count(source.get(key))
        if value is not None:
            out[key] = value


def _merge(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """``allOf`` merging: properties and required are unions, other keywords keep the first."""
    out = dict(left)
    for key, value in right.items():
        if key == "properties" and isinstance(value, Mapping):
            merged = dict(out.get("properties") or {}) if isinstance(out.get("properties"), Mapping) else {}
            for name, sub in value.items():
                merged.setdefault(name, sub)
            out["properties"] = merged
        elif key == "required" and isinstance(value, list):
            existing = found if isinstance(found := out.get("required"), list) else []
            out["required"] = list(dict.fromkeys([*existing, *value]))
        else:
            out.setdefault(key, value)
    return out


def clean_schema(schema: Any) -> dict[str, Any]:
    """Any JSON Schema as a Gemini ``Schema`` (only :data:`ALLOWED_KEYWORDS`, upper-case types)."""
    return _Cleaner(schema).node(schema)


def function_parameters(schema: Any) -> dict[str, Any] | None:
    """A tool's parameter schema for ``FunctionDeclaration.parameters``: an ``OBJECT`` with
    properties, or None for a function that takes no arguments (Gemini rejects an object
    schema whose properties are empty)."""
    cleaned = clean_schema(schema)
    cleaned.pop("nullable", None)
    if cleaned.get("type") != "OBJECT" and isinstance(cleaned.get("anyOf"), list):
        cleaned = _union_of_objects(cleaned)
    if cleaned.get("type") != "OBJECT" or not cleaned.get("properties"):
        return None
    return cleaned


def _union_of_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """A top-level ``anyOf`` of objects as one object: every variant's properties, with only
    those required that every variant requires."""
    variants = [v for v in schema["anyOf"] if isinstance(v, Mapping) and v.get("type") == "OBJECT"]
    if not variants:
        return schema
    properties: dict[str, Any] = {}
    required: set[str] | None = None
    for variant in variants:
        for name, sub in (variant.get("properties") or {}).items():
            properties.setdefault(name, sub)
        names = set(variant.get("required") or ())
        required = names if required is None else required & names
    out: dict[str, Any] = {"type": "OBJECT"}
    if "description" in schema:
        out["description"] = schema["description"]
    if properties:
        out["properties"] = properties
        if required:
            out["required"] = [n for n in properties if n in required]
    return out


# -- Gemini dialect -> JSON Schema ---------------------------------------------------------------

_JSON_OUT = {v: k for k, v in _JSON_TYPES.items()}
_PASS_KEYS = (
    "title",
    "description",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
)


def to_json_schema(schema: Any) -> Any:
    """A schema in Gemini's dialect (``"type": "OBJECT"``, ``nullable``, string enums with
    ``format: enum``) as standard JSON Schema. JSON Schema input comes back equivalent."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    raw_type = schema.get("type")
    kind = raw_type.upper() if isinstance(raw_type, str) else None
    json_type: Any = _JSON_OUT.get(kind) if kind else raw_type if isinstance(raw_type, list) else None
    if kind == "NULL":
        json_type = "null"
    if schema.get("nullable") is True and isinstance(json_type, str) and json_type != "null":
        json_type = [json_type, "null"]
    if json_type is not None:
        out["type"] = json_type
    for key in _PASS_KEYS:
        if key in schema:
            value = schema[key]
            if key in (
                "minItems",
                "maxItems",
                "minProperties",
                "maxProperties",
                "minLength",
                "maxLength",
            ):
                value = _count(value) if _count(value) is not None else value
            out[key] = value
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt != "enum":
        out["format"] = fmt
    enum = schema.get("enum")
    if isinstance(enum, list):
        if kind in ("INTEGER", "NUMBER"):
            out["enum"] = [_parse_number(v) for v in enum]
        else:
            out["enum"] = list(enum)
    if isinstance(schema.get("properties"), Mapping):
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list):
            out[key] = [to_json_schema(v) for v in schema[key]]
    if schema.get("nullable") is True and "type" not in out:
        if isinstance(out.get("anyOf"), list):
            out["anyOf"].append({"type": "null"})
        else:
            out["nullable"] = True  # untyped: keep Gemini's word (JSON Schema ignores it)
    if "example" in schema:
        out["examples"] = [schema["example"]]
    for key in (
        "additionalProperties",
        "$defs",
        "definitions",
        "$ref",
        "const",
        "examples",
        "prefixItems",
    ):
        if key in schema:
            value = schema[key]
            if key in ("$defs", "definitions") and isinstance(value, Mapping):
                value = {k: to_json_schema(v) for k, v in value.items()}
            elif key == "additionalProperties" and isinstance(value, Mapping):
                value = to_json_schema(value)
            out[key] = value
    return out


def _parse_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value
