"""Every config field the original Catalyst editor wrote, for all fourteen of its node types.

The table is ORIGINAL_CATALYST.md's, as data. A node type Catalyst implements
must accept each of its fields (by name or alias); the types still to come
are listed so that their definitions are held to the same table the day they
land.
"""

from __future__ import annotations

import pytest

from catalyst.config_types import key_aliases
from catalyst.registry import node_types

ORIGINAL_FIELDS: dict[str, tuple[str, ...]] = {
    "httpEndpoint": ("path", "method", "description"),
    "scheduledTask": ("schedule", "timezone", "enabled"),
    "groqCompletion": ("apiKey", "model", "prompt", "temperature", "maxTokens", "stream"),
    "openaiCompletion": ("apiKey", "model", "prompt", "temperature", "maxTokens", "stream"),
    "anthropicCompletion": ("apiKey", "model", "system", "prompt", "temperature", "maxTokens",
                            "stream", "messages"),
    "embeddingGenerate": ("provider", "apiKey", "model", "text"),
    "promptTemplate": ("template", "variables", "system", "messages"),
    "llmRouter": ("routingStrategy", "models", "fallbackModel"),
    "qdrantSearch": ("url", "apiKey", "collection", "queryVector", "limit", "scoreThreshold"),
    "postgresQuery": ("connectionString", "query", "params", "timeout"),
    "condition": ("condition", "description", "expression", "trueTarget", "falseTarget"),
    "parallel": ("maxConcurrency", "failureStrategy"),
    "editFields": ("operations", "mode"),
    "log": ("message", "level", "includeInput"),
}
# Option values the original offered, per field.
ORIGINAL_OPTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("log", "level"): ("debug", "info", "warning", "warn", "error", "critical"),
    ("httpEndpoint", "method"): ("POST", "GET", "PUT", "DELETE", "PATCH"),
    ("editFields", "mode"): ("merge", "replace"),
}


def accepted_keys(type_name: str) -> set[str]:
    model = node_types()[type_name].config_model
    keys = set(model.model_fields)
    for name, field in model.model_fields.items():
        keys.update(key_aliases(name, field))
    return keys


@pytest.mark.parametrize("type_name", sorted(ORIGINAL_FIELDS))
def test_every_original_field_is_accepted(type_name: str) -> None:
    if type_name not in node_types():
        pytest.skip(f"{type_name} is not implemented yet; its definition must pass this test")
    missing = set(ORIGINAL_FIELDS[type_name]) - accepted_keys(type_name)
    assert not missing, f"{type_name} does not read the original's {sorted(missing)}"


@pytest.mark.parametrize(("type_name", "field"), sorted(ORIGINAL_OPTIONS))
def test_every_original_option_validates(type_name: str, field: str) -> None:
    model = node_types()[type_name].config_model
    for option in ORIGINAL_OPTIONS[type_name, field]:
        base = {"fields": {"a": 1}} if type_name == "editFields" else {}
        model.model_validate({**base, field: option})
