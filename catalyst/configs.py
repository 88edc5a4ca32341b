"""Validate a node's config against its pydantic model and normalise it.

Errors map to the node and the JSON pointer of the field. A field holding a
`{{ … }}` expression is only known at run time, so a type error on it is not an
error here; its raw text is kept and the generated script evaluates it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from catalyst import expressions
from catalyst.config_types import (
    SecretRef,
    decode_json_text,
    is_json_text_field,
    is_secret_field,
)
from catalyst.diagnostics import Diagnostic, json_pointer, listing
from catalyst.keys import looks_like_key
from catalyst.model import Node
from catalyst.registry import NodeType


@dataclass(frozen=True)
class NormalisedConfig:
    """A node's config as the generated script receives it."""

    model: BaseModel
    values: dict[str, Any]

    @property
    def has_expressions(self) -> bool:
        return any(True for _ in expressions.template_strings(self.values))


@dataclass(frozen=True)
class PreparedConfig:
    """A node's config as written, with the other spellings' encodings undone.

    Expression fields have their braces, JSON-text fields hold their value
    (`text_fields` names those that arrived as text: a pointer into their
    value does not exist in the file, so problems point at the field).
    """

    values: dict[str, Any]
    text_fields: frozenset[str]
    ok: bool


def prepare_config(node: Node, node_type: NodeType, problems: list[Diagnostic]) -> PreparedConfig:
    raw = dict(node.config)
    model_class = node_type.config_model
    text_fields: set[str] = set()
    ok = True
    for key, value in node.config.items():
        name = field_name(model_class, key)
        field = model_class.model_fields.get(name)
        if not isinstance(value, str) or field is None:
            continue
        if name in node_type.expression_fields:
            raw[key] = expressions.as_expression(value)
        elif is_json_text_field(field) and expressions.single_expression(value) is None:
            try:
                raw[key] = decode_json_text(value)
            except PydanticCustomError as exc:
                ok = False
                problems.append(Diagnostic(
                    "invalid-json-text", f"{key}: the text is {exc.message()}",
                    node.config_path + json_pointer(key), node_id=node.id,
                    hint=f"write {key} as JSON (e.g. {_json_example(field)}), as text or as a "
                    "value",
                ))
                continue
            text_fields.add(key)
    return PreparedConfig(raw, frozenset(text_fields), ok)


def _json_example(field: FieldInfo) -> str:
    examples = field.examples or []
    return json.dumps(examples[0], ensure_ascii=False) if examples else '{"name": "value"}'


def normalise_config(
    node: Node, node_type: NodeType, prepared: PreparedConfig, problems: list[Diagnostic]
) -> NormalisedConfig | None:
    if not prepared.ok:
        return None
    raw = dict(prepared.values)
    model_class = node_type.config_model
    try:
        return _normalised(model_class, raw, deferred=set())
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
    deferred: set[str] = set()
    reported: set[tuple[str, str]] = set()
    for error in errors:
        path = _data_path(raw, error["loc"])
        value = _lookup(raw, path)
        field = model_class.model_fields.get(field_name(model_class, str(path[0]))) if path \
            else None
        secret = field is not None and is_secret_field(field)
        if isinstance(value, str) and expressions.is_template(value) and path and not secret:
            # Checked when the script runs, once the expression has a value.
            deferred.add(str(path[0]))
            continue
        if path and str(path[0]) in prepared.text_fields:
            path = path[:1]
        pointer = node.config_path + json_pointer(*path)
        if (pointer, error["type"]) in reported:
            continue  # one report per field, however many union branches failed
        reported.add((pointer, error["type"]))
        problems.append(_diagnostic(node.id, model_class, node_type.type, error, path, pointer,
                                    value))
    if len(reported):
        return None
    try:
        return _normalised(model_class, raw, deferred)
    except ValidationError:
        # A required field holds an expression whose value is not known until
        # run time, and without it the rest cannot be checked: refuse clearly.
        for key in sorted(deferred):
            problems.append(Diagnostic(
                "expression-not-allowed",
                f"{key!r} must be written out here; an expression cannot stand in for it",
                node.config_path + json_pointer(key), node_id=node.id,
                hint="put expressions inside the field's values instead",
            ))
        return None


def _normalised(
    model_class: type[BaseModel], raw: dict[str, Any], deferred: set[str]
) -> NormalisedConfig:
    static = {key: value for key, value in raw.items() if key not in deferred}
    model = model_class.model_validate(static)
    values = model.model_dump(exclude_none=True)
    for key in deferred:
        values[field_name(model_class, key)] = raw[key]
    ordered = {name: values[name] for name in model_class.model_fields if name in values}
    ordered.update((key, value) for key, value in values.items() if key not in ordered)
    return NormalisedConfig(model, ordered)


def keys_as_written(model_class: type[BaseModel], raw: dict[str, Any]) -> dict[str, str]:
    """Field name -> the key the file used for it."""
    return {field_name(model_class, key): key for key in raw}


def field_name(model_class: type[BaseModel], key: str) -> str:
    for name, field in model_class.model_fields.items():
        alias = field.validation_alias
        if key in (name, field.alias) or (
            isinstance(alias, AliasChoices) and key in alias.choices
        ):
            return name
    return key


def _data_path(raw: Any, loc: Sequence[int | str]) -> tuple[str | int, ...]:
    """The part of pydantic's location that names real keys in the data.

    Union branches add their type names to `loc`; those are not in the file.
    """
    path: list[str | int] = []
    current = raw
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            current = current[part]
        else:
            if isinstance(current, dict) and isinstance(part, str) and not path:
                path.append(part)  # a missing or unknown top-level field
            break
        path.append(part)
    return tuple(path)


def _lookup(raw: Any, path: Sequence[str | int]) -> Any:
    current = raw
    for part in path:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int):
            current = current[part]
        else:
            return None
    return current


def _fields_hint(model_class: type[BaseModel]) -> str:
    return "valid fields: " + listing(model_class.model_fields, limit=40)


def _shown(value: Any) -> str:
    # Echo small, harmless values only: the input could be a pasted secret.
    if isinstance(value, (int, float, bool)) or value is None:
        return f" (got {value!r})"
    if isinstance(value, str) and len(value) <= 40 and not looks_like_key(value):
        return f" (got {value!r})"
    return ""


def model_diagnostics(
    model_class: type[BaseModel], raw: Any, base: str, node_id: str | None, owner: str
) -> tuple[BaseModel | None, list[Diagnostic]]:
    """Validate plain data (no expressions) against a model; problems pinned under `base`."""
    try:
        return model_class.model_validate(raw), []
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
    problems: list[Diagnostic] = []
    for error in errors:
        path = _data_path(raw, error["loc"])
        pointer = base + json_pointer(*path)
        problems.append(
            _diagnostic(node_id, model_class, owner, error, path, pointer, _lookup(raw, path))
        )
    return None, problems


def _diagnostic(
    node_id: str | None,
    model_class: type[BaseModel],
    owner: str,
    error: Any,
    path: tuple[str | int, ...],
    pointer: str,
    value: Any,
) -> Diagnostic:
    kind: str = error["type"]
    field = ".".join(str(part) for part in path) or "config"
    if kind == "extra_forbidden":
        return Diagnostic("unknown-config-field", f"{owner} has no field {field!r}", pointer,
                          node_id=node_id, hint=_fields_hint(model_class))
    if kind.startswith("missing_"):
        return Diagnostic("missing-config", error["msg"], pointer, node_id=node_id,
                          hint=_fields_hint(model_class))
    if kind == "missing":
        description = ""
        top = model_class.model_fields.get(str(path[0])) if path else None
        if top is not None and top.description:
            description = f" ({top.description})"
        return Diagnostic("missing-config", f"field {field!r} is required{description}",
                          pointer, node_id=node_id, hint=_fields_hint(model_class))
    context = error.get("ctx") or {}
    # A validator's own error may say how to fix it.
    hint = context.get("hint")
    if kind == "literal_error" and "expected" in context:
        hint = f"use one of: {context['expected']}"
    elif kind in ("secret_reference", "model_type") and "ecret" in error["msg"]:
        name = _default_secret(model_class, path)
        hint = f'put it in an environment variable and name that here: "{name}" or ' \
            f'{{"$secret": "{name}"}}'
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        hint = "allowed range: " + _range(model_class, path)
    code = context.get("code") or ("out-of-range" if "than" in kind else "invalid-config")
    text = error["msg"].replace(" or instance of SecretRef", "")
    # What a secret field holds by mistake is likely the secret itself: never repeat it.
    shown = "" if kind == "secret_reference" else _shown(value)
    message = f"{field}: {text[0].lower()}{text[1:]}{shown}"
    return Diagnostic(code, message, pointer, node_id=node_id, hint=hint)


def _default_secret(model_class: type[BaseModel], path: tuple[str | int, ...]) -> str:
    """The variable a secret field reads by default (GROQ_API_KEY when it has none)."""
    field = model_class.model_fields.get(field_name(model_class, str(path[0]))) if path \
        else None
    default = field.get_default(call_default_factory=True) if field is not None else None
    return str(default.env) if isinstance(default, SecretRef) else "GROQ_API_KEY"


def _range(model_class: type[BaseModel], path: tuple[str | int, ...]) -> str:
    name = field_name(model_class, str(path[0])) if path else ""
    field = model_class.model_fields.get(name)
    low = high = None
    for item in field.metadata if field else ():
        for bound, words in (("ge", "at least"), ("gt", "above")):
            if getattr(item, bound, None) is not None:
                low = f"{words} {getattr(item, bound)}"
        for bound, words in (("le", "at most"), ("lt", "below")):
            if getattr(item, bound, None) is not None:
                high = f"{words} {getattr(item, bound)}"
    if low is not None and high is not None:
        return f"{low.removeprefix('at least ')} to {high.removeprefix('at most ')}" \
            if low.startswith("at least") and high.startswith("at most") else f"{low}, {high}"
    return low or high or "see the field's description"
