"""The shapes of node outputs, as JSON Schema, so references can be checked.

Each node type says what its output looks like (`NodeType.output_schema`,
refined per node by `output_shape` when the config decides it, as in
editFields). The checker walks `{{ nodes.x.output.a.b }}` through that shape:
a key missing from a closed object is an error; an open shape (a JSON reply,
an upstream value nobody can know) lets any key through rather than guess.

Only the part of JSON Schema that describes shapes is used: `type`,
`properties`, `additionalProperties: false` (closed), `items`, `anyOf`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalyst import expressions

Schema = Mapping[str, Any]

OPEN: Schema = {}
STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}

# The Python values behind each JSON type: what a key on a non-object reaches at run
# time (Jinja's `x.key` and `x['key']` fall back to each other, so methods count).
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,),
    "null": (type(None),), "array": (list,),
}


def closed(properties: Mapping[str, Schema], *, description: str = "") -> Schema:
    """An object with exactly these keys."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def array(items: Schema = OPEN) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return any_of(schema, NULL)


def any_of(*schemas: Schema) -> Schema:
    """One of several shapes; open as soon as one of them is."""
    flat: list[Schema] = []
    for schema in schemas:
        if not schema:
            return OPEN
        flat.extend(schema["anyOf"] if set(schema) == {"anyOf"} else [schema])
    unique = list({repr(s): s for s in flat}.values())
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def of_value(value: Any) -> Schema:
    """The shape of a config value as the script will see it (expressions unknown)."""
    if isinstance(value, str):
        return OPEN if expressions.is_template(value) else STRING
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if value is None:
        return NULL
    if isinstance(value, Mapping):
        return closed({str(key): of_value(item) for key, item in value.items()})
    if isinstance(value, Sequence):
        return array(any_of(*(of_value(item) for item in value)) if value else OPEN)
    return OPEN


def member(schema: Schema, key: str | None) -> Schema:
    """The shape of `value[key]` (the whole value for None): what a port carries."""
    if key is None:
        return schema
    return walk(schema, (key,)).shape


def merge_objects(base: Schema, extra: Schema) -> Schema:
    """`{**base, **extra}` for two object shapes; open when base is not a closed object."""
    if base.get("additionalProperties") is not False or "properties" not in base:
        return OPEN
    properties = {**base["properties"], **extra.get("properties", {})}
    return closed(properties)


@dataclass(frozen=True)
class Walk:
    """Where a path through a shape ended.

    `missing` is the index of the first key the shape does not have (None
    when the path is fine or leaves what the shape knows); `available` are the
    keys that exist at that point.
    """

    shape: Schema
    missing: int | None = None
    available: tuple[str, ...] = ()


def walk(schema: Schema, keys: Sequence[str | int]) -> Walk:
    for index, key in enumerate(keys):
        if "anyOf" in schema:
            return _walk_any(schema["anyOf"], keys, index)
        kind = schema.get("type")
        properties = schema.get("properties")
        if kind == "object" and isinstance(properties, Mapping):
            if isinstance(key, str) and key in properties:
                schema = properties[key]
                continue
            if schema.get("additionalProperties") is False and isinstance(key, str):
                return Walk(OPEN, index, tuple(properties))
            return Walk(OPEN)
        if kind == "array" and isinstance(key, int):
            schema = schema.get("items", OPEN)
            continue
        # A key into a string, number, boolean, null or list: a method (`.upper`) is
        # there; anything else is undefined at run time (a string's index may be too,
        # but its length is not known here).
        python_types = _PYTHON_TYPES.get(kind) if isinstance(kind, str) else None
        if python_types is not None and (
            (isinstance(key, str) and not any(hasattr(t, key) for t in python_types))
            or (isinstance(key, int) and kind not in ("string", "array"))
        ):
            return Walk(OPEN, index, ())
        # An open shape, or a method of a string or list (`.upper()`): not ours to judge.
        return Walk(OPEN)
    return Walk(schema)


def _walk_any(branches: Sequence[Schema], keys: Sequence[str | int], index: int) -> Walk:
    results = [walk(branch, keys[index:]) for branch in branches]
    if any(result.missing is None for result in results):
        found = [r.shape for r in results if r.missing is None]
        return Walk(any_of(*found))
    deepest = max(result.missing or 0 for result in results)
    available = sorted({key for r in results if r.missing == deepest for key in r.available})
    return Walk(OPEN, index + deepest, tuple(available))
