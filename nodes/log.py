"""log: one structured log line on stderr."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from catalyst.config_types import NodeConfig
from catalyst.registry import NodeType, Port


class LogConfig(NodeConfig):
    """What to log; message and data may use {{ … }} expressions."""

    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Severity.")
    message: str = Field("", description="Log message; may use {{ … }} expressions.")
    data: Any = Field(None, description="Extra JSON data to log; may use expressions.")


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
        output_description="its input, unchanged",
        example={"level": "info", "message": "summary ready",
                 "data": {"tokens": "{{ nodes.llm.output.usage.total_tokens }}"}},
    ),
)
