"""editFields: set or change fields of a JSON object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from catalyst.config_types import NodeConfig, json_text
from catalyst.registry import NodeType, Port, ShapeContext
from catalyst.shapes import Schema, closed, merge_objects, of_value


class EditFieldsConfig(NodeConfig):
    """Fields to set; values may be {{ … }} expressions (a lone one keeps its type)."""

    mode: Literal["merge", "replace"] = Field(
        "merge",
        description="merge: update the incoming object; replace: output only these fields.",
    )
    fields: dict[str, Any] = Field(
        min_length=1,
        validation_alias=AliasChoices("fields", "operations"),
        description='Field name to value, e.g. {"summary": "{{ nodes.llm.output.content }}"}; '
        'also a list of {"field", "value"} (the original editor\'s operations), as JSON or text.',
        examples=[{"summary": "{{ nodes.llm.output.content }}"}],
        json_schema_extra=json_text(),
    )

    @field_validator("fields", mode="before")
    @classmethod
    def _accept_operation_list(cls, value: Any) -> Any:
        # The editors' field lists ([{name, value}] or the original's
        # operations [{field, value}]) mean the same as a mapping.
        if isinstance(value, list) and all(
            isinstance(item, dict) and set(item) in ({"name", "value"}, {"field", "value"})
            and isinstance(item.get("name", item.get("field")), str)
            for item in value
        ):
            return {item.get("name", item.get("field")): item["value"] for item in value}
        return value


def output_shape(context: ShapeContext) -> Schema:
    config = context.config
    assert isinstance(config, EditFieldsConfig)
    fields = of_value(config.fields)
    base = context.inputs.get("input")
    if config.mode == "replace" or base is None:
        return fields
    if base.get("type") not in (None, "object"):
        base = closed({"value": base})  # what the runtime does with a non-object
    return merge_objects(base, fields)


NODE_TYPES = (
    NodeType(
        type="editFields",
        category="transform",
        display_name="Edit fields",
        description="Set or modify fields of a JSON object (merge or replace); a value that "
        "is not an object is merged as {\"value\": …}.",
        icon="pencil",
        color="#10b981",
        config_model=EditFieldsConfig,
        template="edit_fields.jinja",
        inputs=(Port("input", "Object", "json", "The object to update (merge mode)."),),
        outputs=(Port("output", "Object", "json", "The edited object."),),
        output_description="the edited object: exactly these fields (replace), or the incoming "
        "object with them (merge)",
        output_schema={"type": "object", "description": "known from the config"},
        output_shape=output_shape,
        example={"mode": "merge", "fields": {"summary": "{{ nodes.llm.output.content }}"}},
    ),
)
