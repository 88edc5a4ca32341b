"""Literal values in qdrant node configs: are they vectors, points, ids, filters?

Checked when a workflow is validated; the generated script applies the same rules
(nodes/qdrant.jinja) to values only known at run time. Template strings (`{{ … }}`)
stand for values not known yet and pass.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from catalyst import expressions

FILTER_KEYS = frozenset({"must", "should", "must_not", "min_should"})
# Point ids: unsigned 64-bit integers or UUIDs (Qdrant's own rule).
MAX_POINT_ID = 2**64 - 1


def is_template(value: Any) -> bool:
    return isinstance(value, str) and expressions.is_template(value)


def is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)) or is_template(value)


def vectors_in(value: Any, what: str) -> tuple[list[list[Any]] | None, str | None]:
    """The vectors a literal value holds (expressions inside count as numbers), or why not.

    The same rules as the generated script's `_qdrant_vectors` (nodes/qdrant.jinja)."""
    if is_template(value):
        return None, None  # known at run time
    if isinstance(value, dict):
        if "embeddings" in value:
            value = value["embeddings"]
        elif "embedding" in value:
            value = [value["embedding"]]
        else:
            return None, f"{what} is an object without `embeddings` or `embedding`"
        if is_template(value):
            return None, None
    # A list of anything but lists is one vector (its bad items are named below).
    single = isinstance(value, list) and not any(isinstance(item, list) for item in value)
    vectors = [value] if single else value
    if not isinstance(vectors, list) or not value:
        return None, f"{what} holds no vector"
    for index, vector in enumerate(vectors):
        where = what if single else f"{what}[{index}]"
        if is_template(vector):
            continue
        if not isinstance(vector, list) or not vector:
            return None, f"{where} is not a list of numbers"
        bad = next((i for i, item in enumerate(vector) if not is_number(item)), None)
        if bad is not None:
            return None, f"{where}[{bad}] is not a finite number"
    sizes = {len(v) for v in vectors if isinstance(v, list)}
    if len(sizes) > 1:
        return None, f"{what} mixes vectors of {', '.join(map(str, sorted(sizes)))} dimensions"
    return vectors, None


def id_problem(value: Any) -> str | None:
    """Why a literal point id is not one Qdrant takes (None: fine or known at run time)."""
    if is_template(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return None if 0 <= value <= MAX_POINT_ID else f"{value} is not an unsigned 64-bit integer"
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            return f"{value[:40]!r} is not a UUID"
        return None
    return f"{type(value).__name__} is neither an integer nor a UUID"


def points_problem(points: Sequence[Any]) -> str | None:
    if not points:
        return "points is empty"
    sizes: set[int] = set()
    for index, point in enumerate(points):
        if is_template(point):
            continue
        if not isinstance(point, dict):
            return f"points[{index}] is not an object"
        unknown = sorted(set(point) - {"id", "vector", "payload"})
        if unknown:
            return f"points[{index}] has unknown key {unknown[0]!r} (keys: id, vector, payload)"
        if "vector" not in point:
            return f"points[{index}] has no vector"
        found, reason = vectors_in(point["vector"], f"points[{index}].vector")
        if reason is not None:
            return reason
        if found is not None and len(found) != 1:
            return f"points[{index}].vector holds {len(found)} vectors"
        if found is not None and not is_template(found[0]):
            sizes.add(len(found[0]))
        if "id" in point and id_problem(point["id"]):
            return f"points[{index}].id: {id_problem(point['id'])}"
        payload = point.get("payload")
        if payload is not None and not isinstance(payload, dict) and not is_template(payload):
            return f"points[{index}].payload is not an object"
    if len(sizes) > 1:
        return f"points mix vectors of {', '.join(map(str, sorted(sizes)))} dimensions"
    return None


def filter_problem(value: Mapping[str, Any]) -> str | None:
    """Why a literal filter is neither Qdrant's filter JSON nor the shorthand (or None)."""
    keys = set(value)
    if not keys:
        return None
    if keys <= FILTER_KEYS:
        return _qdrant_filter_problem(value)
    if keys & FILTER_KEYS:
        return (f"mixes Qdrant's {', '.join(sorted(keys & FILTER_KEYS))} with payload fields "
                f"({', '.join(sorted(keys - FILTER_KEYS))})")
    for key, item in value.items():
        if is_template(item) or isinstance(item, (str, int)):
            continue
        if isinstance(item, list) and item and all(
            is_template(v) or (isinstance(v, (str, int)) and not isinstance(v, bool))
            for v in item
        ):
            continue
        return (f"{key!r}: the shorthand matches a text, integer or boolean, or a list of "
                "texts or integers; other conditions need Qdrant's form")
    return None


@functools.cache
def _filter_model() -> Callable[[Any], Any] | None:
    """qdrant-client's Filter validator, when qdrant-client is installed."""
    try:
        # Optional (and a second to import): only a filter in Qdrant's form needs it.
        from qdrant_client.http.models import Filter
    except ImportError:
        return None
    validate: Callable[[Any], Any] = Filter.model_validate
    return validate


def _qdrant_filter_problem(value: Mapping[str, Any]) -> str | None:
    validate = _filter_model()
    if validate is None:
        return None  # checked when the script runs, where qdrant-client is installed
    try:
        validate(dict(value))
    except ValueError as exc:
        found: list[tuple[list[Any], str]] = []
        for error in getattr(exc, "errors", list)():
            path, rest = _data_path(value, error.get("loc", ()))
            # Each condition is a union: where an expression stands anywhere in one, its
            # branches' complaints say nothing until the expression has a value.
            if any(True for _ in expressions.template_strings(_at(value, path[:2]))):
                continue
            if error.get("type") in ("missing", "extra_forbidden") and rest:
                path = [*path, rest[-1]]
            found.append((path, error.get("msg", "invalid")))
        if found:
            # The deepest complaint is the most specific one.
            path, message = max(found, key=lambda item: len(item[0]))
            return f"{_dotted(path)}: {message}" if path else message
    return None


def _data_path(value: Any, loc: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The parts of a pydantic location that exist in the data, and the field names
    after them (union branch names such as `FieldCondition` are neither)."""
    path: list[Any] = []
    rest: list[Any] = []
    current = value
    for part in loc:
        present = (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        )
        if present and not rest:
            path.append(part)
            current = current[part]
        elif isinstance(part, str) and part.isidentifier() and part.islower():
            rest.append(part)
    return path, rest


def _at(value: Any, path: Sequence[Any]) -> Any:
    for part in path:
        value = value[part]
    return value


def _dotted(path: Sequence[Any]) -> str:
    """`must[0].match.value`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
