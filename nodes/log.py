"""log: one structured log line on stderr."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from catalyst.config_types import NodeConfig, value_aliases
from catalyst.registry import NodeType, Port, ShapeContext
from catalyst.shapes import NULL, Schema


class LogConfig(NodeConfig):
    """What to log; message and data may use {{ … }} expressions."""

    level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="Severity.",
        json_schema_extra=value_aliases({"warn": "warning", "fatal": "critical"}),
    )
    message: str = Field("", description="Log message; may use {{ … }} expressions.")
    data: Any = Field(None, description="Extra JSON data to log; may use expressions.")
    include_input: bool = Field(
        False, validation_alias=AliasChoices("include_input", "includeInput"),
        description="Also log the value that came in on `input`.",
    )


def output_shape(context: ShapeContext) -> Schema:
    return context.inputs.get("input", NULL)


NODE_TYPES = (
    NodeType(
        type="log",
        category="utility",
        display_name="Log",
        description="Write a structured JSON log line (level, message, data) to stderr.",
        icon="scroll-text",
        color="#64748b",
        config_model=LogConfig,
        template="log.jinja",
        inputs=(Port("input", "Value", "any", "Passed through unchanged."),),
        outputs=(Port("output", "Value", "any", "The input, unchanged."),),
        imports=("import json", "import sys"),
        text_fields=("message",),
        output_description="its input, unchanged",
        output_schema={"description": "its input, unchanged"},
        output_shape=output_shape,
        example={"level": "info", "message": "summary ready",
                 "data": {"tokens": "{{ nodes.llm.output.usage.total_tokens }}"}},
    ),
)
