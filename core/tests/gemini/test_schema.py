"""Tool schemas cleaned to the subset Gemini accepts: properties over generated JSON Schemas,
and the conversions that matter one by one."""

from __future__ import annotations

from typing import Any

from cliproxy.wire.gemini.schema import (
    ALLOWED_KEYWORDS,
    GEMINI_TYPES,
    clean_schema,
    function_parameters,
    to_json_schema,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# -- a generator of JSON Schemas as tools in the wild write them ------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False),
    st.text(max_size=5),
)
_types = st.sampled_from(["string", "number", "integer", "boolean", "object", "array", "null", "STRING", "OBJECT"])


def _decorate(schema: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    extras = st.fixed_dictionaries(
        {},
        optional={
            "description": st.text(max_size=10),
            "title": st.text(max_size=5),
            "default": _scalars,
            "examples": st.lists(_scalars, max_size=2),
            "$schema": st.just("http://json-schema.org/draft-07/schema#"),
            "$id": st.just("urn:x"),
            "format": st.sampled_from(["email", "uri", "date-time", "int64", "float", "uuid", "enum"]),
            "pattern": st.just("^[a-z]+$"),
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(3, 9),
            "minimum": st.integers(-3, 0),
            "exclusiveMinimum": st.integers(-3, 0),
            "exclusiveMaximum": st.floats(1, 5),
            "multipleOf": st.integers(1, 3),
            "minItems": st.integers(0, 2),
            "maxItems": st.just(5.0),
            "uniqueItems": st.booleans(),
            "deprecated": st.booleans(),
            "readOnly": st.booleans(),
            "nullable": st.booleans(),
            "const": _scalars,
            "enum": st.lists(_scalars, min_size=1, max_size=3),
            "additionalProperties": st.one_of(st.booleans(), st.just({"type": "string"})),
            "patternProperties": st.just({"^x": {"type": "string"}}),
            "propertyNames": st.just({"pattern": "^[a-z]+$"}),
            "if": st.just({"type": "string"}),
            "not": st.just({"type": "null"}),
        },
    )
    return st.tuples(schema, extras).map(lambda pair: {**pair[1], **pair[0]})


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    return _decorate(
        st.one_of(
            st.builds(lambda t: {"type": t}, _types),
            st.builds(lambda ts: {"type": ts}, st.lists(_types, min_size=1, max_size=3, unique=True)),
            st.just({}),
            st.just({"$ref": "#/$defs/Item"}),
            st.just({"$ref": "#/definitions/Node"}),
            st.just({"$ref": "#/$defs/Missing"}),
        )
    )


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return _decorate(
        st.one_of(
            st.builds(
                lambda props, req: {"type": "object", "properties": props, "required": req},
                st.dictionaries(_names, children, max_size=4),
                st.lists(_names, max_size=3),
            ),
            st.builds(lambda item: {"type": "array", "items": item}, children),
            st.builds(
                lambda items: {"type": "array", "items": items},
                st.lists(children, min_size=1, max_size=2),
            ),
            st.builds(lambda items: {"prefixItems": items}, st.lists(children, min_size=1, max_size=2)),
            st.builds(lambda vs: {"anyOf": vs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(
                lambda vs: {"oneOf": [*vs, {"type": "null"}]},
                st.lists(children, min_size=1, max_size=2),
            ),
            st.builds(lambda vs: {"allOf": vs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda props: {"properties": props}, st.dictionaries(_names, children, max_size=3)),
        )
    )


_schemas = st.recursive(_leaf(), _extend, max_leaves=8)
_roots = st.builds(
    lambda body, item, node: {
        **body,
        "$defs": {"Item": item},
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/definitions/Node"}, "v": node},
            }
        },
    },
    _schemas,
    _schemas,
    _schemas,
)


def _check(node: Any, path: str = "$") -> None:
    """Every schema node uses only keywords Gemini accepts, with values of the right kind."""
    assert isinstance(node, dict), path
    unknown = set(node) - ALLOWED_KEYWORDS
    assert not unknown, f"{path}: {unknown}"
    if "type" in node:
        assert node["type"] in GEMINI_TYPES, f"{path}.type = {node['type']!r}"
    if "enum" in node:
        assert node["enum"] and all(isinstance(v, str) for v in node["enum"]), path
        assert node.get("type") in ("STRING", "INTEGER", "NUMBER"), path
    if "format" in node:
        allowed = {
            "STRING": {"date-time"},
            "NUMBER": {"float", "double", "enum"},
            "INTEGER": {"int32", "int64", "enum"},
        }
        assert node["format"] in allowed.get(node.get("type"), set()), f"{path}.format"
    if "nullable" in node:
        assert node["nullable"] is True
    for key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
        if key in node:
            assert isinstance(node[key], int) and not isinstance(node[key], bool) and node[key] >= 0
    for key in ("minimum", "maximum"):
        if key in node:
            assert isinstance(node[key], int | float) and not isinstance(node[key], bool)
    for key in ("description", "title"):
        if key in node:
            assert isinstance(node[key], str)
    if "properties" in node:
        assert node.get("type") == "OBJECT" and node["properties"], path
        for name, sub in node["properties"].items():
            _check(sub, f"{path}.properties.{name}")
    if "required" in node:
        assert set(node["required"]) <= set(node.get("properties", {})), path
    if "propertyOrdering" in node:
        assert set(node["propertyOrdering"]) <= set(node.get("properties", {})), path
    if "items" in node:
        assert node.get("type") == "ARRAY"
        _check(node["items"], path + ".items")
    if node.get("type") == "ARRAY":
        assert "items" in node, f"{path}: an array must say what it holds"
    if "anyOf" in node:
        assert len(node["anyOf"]) >= 2, path
        for i, sub in enumerate(node["anyOf"]):
            _check(sub, f"{path}.anyOf[{i}]")


@settings(max_examples=60, deadline=None)
@given(_roots)
def test_cleaned_schemas_use_only_what_gemini_accepts(schema: dict[str, Any]) -> None:
    _check(clean_schema(schema))


@settings(max_examples=40, deadline=None)
@given(_roots)
def test_cleaning_is_idempotent(schema: dict[str, Any]) -> None:
    once = clean_schema(schema)
    assert clean_schema(once) == once


@settings(max_examples=40, deadline=None)
@given(_roots)
def test_function_parameters_are_an_object_with_properties_or_nothing(
    schema: dict[str, Any],
) -> None:
    params = function_parameters(schema)
    if params is not None:
        _check(params)
        assert params["type"] == "OBJECT" and params["properties"]
        assert "nullable" not in params


@settings(max_examples=40, deadline=None)
@given(_roots)
def test_cleaned_schemas_survive_the_trip_through_json_schema(schema: dict[str, Any]) -> None:
    """A Gemini client's schema goes to the IR as JSON Schema and back to Gemini unchanged."""
    once = clean_schema(schema)
    assert clean_schema(to_json_schema(once)) == once


# -- the conversions, one by one ---------------------------------------------------------------


def test_references_are_resolved_inline_and_definitions_dropped() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"item": {"$ref": "#/$defs/Item", "description": "the item"}},
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
                "required": ["sku"],
            }
        },
    }
    assert clean_schema(schema) == {
        "type": "OBJECT",
        "properties": {
            "item": {
                "type": "OBJECT",
                "properties": {"sku": {"type": "STRING"}},
                "required": ["sku"],
                "description": "the item",
            }
        },
    }


def test_recursive_references_stop_instead_of_looping() -> None:
    schema = {
        "$ref": "#/definitions/Node",
        "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}},
    }
    cleaned = clean_schema(schema)
    child = cleaned["properties"]["child"]
    assert child["type"] == "OBJECT" and "recursive" in child["description"]


def test_nullable_types_and_unions_flatten() -> None:
    assert clean_schema({"type": ["string", "null"]}) == {"type": "STRING", "nullable": True}
    assert clean_schema({"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "n"}) == {
        "type": "INTEGER",
        "description": "n",
        "nullable": True,
    }
    assert clean_schema({"type": ["string", "integer"]}) == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert clean_schema({"oneOf": [{"type": "string"}, {"type": "boolean"}]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "BOOLEAN"}]
    }


def test_all_of_is_merged() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "number"}}, "required": ["b"]},
        ]
    }
    assert clean_schema(schema) == {
        "type": "OBJECT",
        "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}},
        "required": ["a", "b"],
    }


def test_const_enums_and_numbers() -> None:
    assert clean_schema({"const": "fixed"}) == {"type": "STRING", "enum": ["fixed"]}
    assert clean_schema({"type": "integer", "enum": [1, 2]}) == {
        "type": "INTEGER",
        "format": "enum",
        "enum": ["1", "2"],
    }
    assert clean_schema({"enum": ["a", None]}) == {
        "type": "STRING",
        "enum": ["a"],
        "nullable": True,
    }
    mixed = clean_schema({"enum": ["a", 1]})
    assert "enum" not in mixed and "one of" in mixed["description"]


def test_unsupported_keywords_are_dropped_and_their_meaning_kept_in_the_description() -> None:
    cleaned = clean_schema(
        {
            "type": "string",
            "format": "email",
            "pattern": "^a",
            "default": "x",
            "examples": ["a"],
            "description": "Mail",
            "minLength": 1,
        }
    )
    assert cleaned == {
        "type": "STRING",
        "minLength": 1,
        "description": 'Mail (format: email; pattern: ^a; default: "x")',
    }
    bounded = clean_schema({"type": "integer", "exclusiveMinimum": 0})
    assert bounded["minimum"] == 0 and "greater than 0" in bounded["description"]
    free = clean_schema({"type": "object", "additionalProperties": {"type": "string"}})
    assert free == {"type": "OBJECT", "description": "(an object with any keys)"}


def test_required_keeps_only_declared_properties() -> None:
    cleaned = clean_schema({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]})
    assert cleaned["required"] == ["a"]
    assert "required" not in clean_schema({"type": "object", "properties": {"a": {}}, "required": ["ghost"]})


def test_arrays_always_say_what_they_hold() -> None:
    assert clean_schema({"type": "array"}) == {"type": "ARRAY", "items": {"type": "STRING"}}
    assert clean_schema({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}) == {
        "type": "ARRAY",
        "items": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
    }


def test_functions_without_arguments_declare_no_parameters() -> None:
    assert function_parameters({"type": "object", "properties": {}}) is None
    assert function_parameters({}) is None
    union = function_parameters(
        {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "required": ["a", "b"],
                },
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            ]
        }
    )
    assert union == {
        "type": "OBJECT",
        "properties": {"a": {"type": "STRING"}, "b": {"type": "STRING"}},
        "required": ["a"],
    }


def test_gemini_dialect_becomes_json_schema() -> None:
    gemini = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER", "format": "enum", "enum": ["1", "2"], "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": "1"},
        },
        "required": ["n"],
        "propertyOrdering": ["n", "tags"],
    }
    assert to_json_schema(gemini) == {
        "type": "object",
        "properties": {
            "n": {"type": ["integer", "null"], "enum": [1, 2]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["n"],
    }
