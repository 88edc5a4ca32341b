"""editFields: set or change fields of a JSON object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from catalyst.config_types import NodeConfig
from catalyst.registry import NodeType, Port


class EditFieldsConfig(NodeConfig):
    """Fields to set; values may be {{ … }} expressions (a lone one keeps its type)."""

    mode: Literal["merge", "replace"] = Field(
        "merge",
        description="merge: update the incoming object; replace: output only these fields.",
    )
    fields: dict[str, Any] = Field(
        min_length=1,
        description='Field name to value, e.g. {"summary": "{{ nodes.llm.output.content }}"}.',
    )

    @field_validator("fields", mode="before")
    @classmethod
    def _accept_name_value_list(cls, value: Any) -> Any:
        # The editor's field list ([{name, value}, …]) means the same as a mapping.
        if isinstance(value, list) and all(
            isinstance(item, dict) and set(item) == {"name", "value"} for item in value
        ):
            return {item["name"]: item["value"] for item in value}
        return value


NODE_TYPES = (
    NodeType(
        type="editFields",
        category="transform",
        display_name="Edit fields",
        description="Set or modify fields of a JSON object (merge or replace).",
        icon="pencil",
        color="#10b981",
        config_model=EditFieldsConfig,
        template="edit_fields.jinja",
        inputs=(Port("input", "Object", "json", "The object to update (merge mode)."),),
        outputs=(Port("output", "Object", "json", "The edited object."),),
        output_description="the edited object",
        example={"mode": "merge", "fields": {"summary": "{{ nodes.llm.output.content }}"}},
    ),
)
