"""`catalyst upgrade`: rewrite a workflow file to canonical spellings and current models.

What changes is exactly what validation already understands in another form:
a config key spelt another way (`maxTokens` -> `max_completion_tokens`), an
option value spelt another way (`warn` -> `warning`), a secret named in another
spelling (`"GROQ_API_KEY"` -> `{"$secret": "GROQ_API_KEY"}`), JSON typed into a
textarea (`"{\"topic\": \"tea\"}"` -> `{"topic": "tea"}`), a field list written
as operations, and a retired model id (-> its replacement, per the model
table). The rewrite goes through `catalyst.json_edits`, so ids, positions,
unknown UI keys, key order and formatting stay byte for byte as they were.

A workflow with errors is not rewritten: the errors are reported instead, so
an upgrade never guesses at a config it does not understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from catalyst import expressions, provider_models
from catalyst.config_types import is_json_text_field
from catalyst.configs import field_name
from catalyst.diagnostics import Diagnostic, errors_in, json_pointer
from catalyst.json_edits import Edit, JsonDocument, RenameKey, ReplaceValue
from catalyst.loading import load_document, workflow_ids
from catalyst.validation import CheckedWorkflow, check_workflow

# Config fields holding model ids, whatever the node type.
_MODEL_FIELDS = ("model",)
_MODEL_LIST_FIELDS = ("fallback_models", "models")
_MODEL_ENTRY_FIELDS = ("fallback_model",)


@dataclass(frozen=True)
class Change:
    """One rewrite, said the way a reviewer reads it."""

    pointer: str
    description: str


@dataclass(frozen=True)
class Upgrade:
    text: str
    changes: tuple[Change, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not errors_in(self.diagnostics)


def upgrade_text(text: str, document: Any, source_name: str) -> Upgrade:
    """The upgraded text of a workflow file (every workflow of a manifest)."""
    diagnostics: list[Diagnostic] = []
    edits: list[Edit] = []
    changes: list[Change] = []
    for workflow_id in workflow_ids(document):
        loaded = load_document(document, source_name=source_name,
                               workflow_id=workflow_id or None)
        diagnostics += loaded.diagnostics
        if loaded.workflow is None:
            continue
        checked = check_workflow(loaded.workflow)
        diagnostics += checked.diagnostics
        if checked.ok and not errors_in(loaded.diagnostics):
            for edit, change in _edits(checked):
                edits.append(edit)
                changes.append(change)
    # Warnings describe the file before the upgrade (a retired model it is
    # about to replace): only errors stop it, and only they are reported.
    errors = tuple(errors_in(diagnostics))
    if errors:
        return Upgrade(text, (), errors)
    return Upgrade(JsonDocument(text).apply(edits), tuple(changes), ())


def _edits(checked: CheckedWorkflow) -> Iterator[tuple[Edit, Change]]:
    for node in checked.workflow.nodes:
        node_type = checked.node_types.get(node.id)
        normalised = checked.configs.get(node.id)
        if node_type is None or normalised is None:
            continue
        model = node_type.config_model
        for key, written in node.config.items():
            name = field_name(model, key)
            pointer = node.config_path + json_pointer(key)
            if name not in model.model_fields:
                continue
            if name != key and name not in node.config:
                yield RenameKey(pointer, name), Change(pointer, f"{key} -> {name}")
            json_text = is_json_text_field(model.model_fields[name]) and \
                expressions.single_expression(str(written)) is None
            if name in node_type.expression_fields or (_deferred(written) and not json_text):
                continue
            canonical = _current_models(name, _canonical(normalised.model, name))
            if canonical == written and type(canonical) is type(written):
                continue
            if isinstance(canonical, float) and isinstance(written, int) and canonical == written:
                continue  # 1 and 1.0 are the same number; keep what was written
            yield ReplaceValue(pointer, canonical), Change(pointer, _what(key, written,
                                                                         canonical))


def _deferred(value: Any) -> bool:
    # A value with expressions is evaluated when the script runs: leave it.
    return isinstance(value, str) and expressions.is_template(value) and \
        not _is_secret_expression(value)


def _canonical(model: BaseModel, name: str) -> Any:
    """The field's value as the model holds it, without defaults the file did not set."""
    return _dumped(getattr(model, name))


def _dumped(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, list):
        return [_dumped(item) for item in value]
    if isinstance(value, dict):
        return {key: _dumped(item) for key, item in value.items()}
    return value


def _is_secret_expression(value: str) -> bool:
    return any(root in value for root in ("secrets.", "env.", "secrets[", "env["))


def _current_models(name: str, value: Any) -> Any:
    if name in _MODEL_FIELDS and isinstance(value, str):
        return _replacement(value)
    if name in _MODEL_LIST_FIELDS and isinstance(value, list):
        return [_current_entry(item) for item in value]
    if name in _MODEL_ENTRY_FIELDS:
        return _current_entry(value)
    return value


def _current_entry(item: Any) -> Any:
    """A model id, or {"provider", "model"} (a fallback, a router candidate)."""
    if isinstance(item, str):
        return _replacement(item)
    if isinstance(item, dict) and isinstance(item.get("model"), str):
        retired = provider_models.retired_model(str(item.get("provider")), item["model"])
        return {**item, "model": retired.replacement} if retired is not None else item
    return item


def retired_model(model_id: str) -> provider_models.RetiredModel | None:
    return provider_models.retired_anywhere(model_id)


def _replacement(model_id: str) -> str:
    retired = retired_model(model_id)
    return retired.replacement if retired is not None else model_id


def _what(key: str, old: Any, new: Any) -> str:
    if isinstance(old, str) and isinstance(new, str):
        if retired_model(old) is not None:
            return f"{key}: retired model {old!r} -> {new!r}"
        return f"{key}: {old!r} -> {new!r}"
    if isinstance(old, str):
        return f"{key}: JSON text -> JSON value" if not isinstance(new, dict) or \
            set(new) != {"$secret"} else f"{key}: secret name -> {{\"$secret\": …}}"
    return f"{key}: rewritten in canonical form"
