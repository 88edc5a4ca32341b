"""Config building blocks that several node types share.

Workflows come from two editors that spell things differently (see
ORIGINAL_CATALYST.md). A node type declares, field by field, what else it
accepts, and everything else (validation, the catalog, `catalyst upgrade`)
reads those declarations from here:

- other key spellings: pydantic's `validation_alias=AliasChoices(canonical, …)`;
- other option values: `value_aliases({"warn": "warning"})` in the field's
  `json_schema_extra`, mapped before validation;
- JSON text: `json_text()` marks a field the original editor saved from a
  textarea, so it may hold the JSON value or the text the user typed
  (decoded once, before validation, by `catalyst.configs`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

VALUE_ALIASES = "x-value-aliases"
JSON_TEXT = "x-json-text"
ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
# `{{ secrets.NAME }}` / `{{ env.NAME }}`: how the original editor's expressions name a secret.
_SECRET_EXPRESSION = re.compile(
    r"\A\{\{\s*(?:secrets|env)\s*(?:\.\s*(?P<attr>\w+)|\[\s*(?P<q>['\"])(?P<item>\w+)(?P=q)\s*\])"
    r"\s*\}\}\Z"
)


def value_aliases(aliases: Mapping[str, str]) -> dict[str, Any]:
    """`json_schema_extra` for a field whose options other editors spell differently."""
    return {VALUE_ALIASES: dict(aliases)}


def json_text() -> dict[str, Any]:
    """`json_schema_extra` for a field that may arrive as JSON text (a textarea's value)."""
    return {JSON_TEXT: True}


def _extra(field: FieldInfo) -> Mapping[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, Mapping) else {}


def field_value_aliases(field: FieldInfo) -> Mapping[str, str]:
    aliases = _extra(field).get(VALUE_ALIASES)
    return aliases if isinstance(aliases, Mapping) else {}


def is_json_text_field(field: FieldInfo) -> bool:
    return bool(_extra(field).get(JSON_TEXT))


def key_aliases(field_name: str, field: FieldInfo) -> list[str]:
    """Other keys a file may use for this field (the canonical name excluded)."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
    spelled = [field.alias, *choices]
    return list(dict.fromkeys(c for c in spelled if isinstance(c, str) and c != field_name))


def decode_json_text(text: str) -> Any:
    """The JSON value a textarea's text holds; PydanticCustomError when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PydanticCustomError(
            "json_text",
            "not valid JSON ({reason}, line {line} column {column})",
            {"reason": exc.msg, "line": exc.lineno, "column": exc.colno},
        ) from None


class NodeConfig(BaseModel):
    """Base for node config models: unknown keys are errors, aliases accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _other_spellings(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        aliases = field_value_aliases(field)
        if isinstance(value, str) and value in aliases:
            return aliases[value]
        return value


def secret_name(value: Any) -> str | None:
    """The environment variable a secret field's value names, in any accepted spelling."""
    if isinstance(value, Mapping) and set(value) == {"$secret"}:
        name = value["$secret"]
    elif isinstance(value, str):
        match = _SECRET_EXPRESSION.match(value.strip())
        name = (match["attr"] or match["item"]) if match else value
    else:
        return None
    return name if isinstance(name, str) and ENV_NAME.match(name) else None


class SecretRef(BaseModel):
    """Names the environment variable that holds a secret.

    Accepted spellings (all mean the same): `{"$secret": "GROQ_API_KEY"}`, the
    bare name `"GROQ_API_KEY"` (what the original editor's secret fields
    store), `"{{ secrets.GROQ_API_KEY }}"` and `"{{ env.GROQ_API_KEY }}"`.
    Never an expression over inputs: whoever runs a script must not choose
    which secret it sends. Config never holds the secret itself; the
    generated script reads the variable when it runs.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    env: str = Field(
        alias="$secret",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the secret.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_any_spelling(cls, value: Any) -> Any:
        if isinstance(value, SecretRef) or (isinstance(value, Mapping) and "env" in value):
            return value
        name = secret_name(value)
        if name is not None:
            return {"$secret": name}
        raise PydanticCustomError(
            "secret_reference",
            "a secret field names an environment variable (e.g. GROQ_API_KEY, "
            '{"$secret": "GROQ_API_KEY"} or {{ secrets.GROQ_API_KEY }}); '
            "it cannot be an expression or hold the key itself",
        )

    @model_serializer
    def _as_reference(self) -> dict[str, Any]:
        return {"$secret": self.env}


def secret_field(env: str, description: str, *aliases: str) -> Any:
    """A config field naming the environment variable that holds a key."""
    return Field(
        default_factory=lambda: SecretRef(env=env),
        validation_alias=AliasChoices(*aliases) if aliases else None,
        description=description,
        json_schema_extra={"x-secret": True},
    )


def is_secret_field(field: FieldInfo) -> bool:
    return bool(_extra(field).get("x-secret"))


class Message(BaseModel):
    """One chat message. Its content may hold `{{ … }}` expressions."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="Message text; may use {{ … }} expressions.")
