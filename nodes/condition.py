"""condition: evaluate an expression and take the `true` or the `false` branch."""

from __future__ import annotations

from pydantic import Field

from catalyst.config_types import NodeConfig
from catalyst.registry import NodeType, Port


class ConditionConfig(NodeConfig):
    """A boolean expression over inputs, globals and upstream outputs."""

    expression: str = Field(
        min_length=1,
        description="Jinja expression, braces optional: "
        "nodes.classify.output.content == 'urgent'",
    )


NODE_TYPES = (
    NodeType(
        type="condition",
        category="control",
        display_name="Condition",
        description="Branch on an expression; only the branch taken runs.",
        icon="git-branch",
        color="#f59e0b",
        config_model=ConditionConfig,
        template="condition.jinja",
        inputs=(Port("input", "Value", "any", "Passed on to the branch taken."),),
        outputs=(
            Port("true", "True", "any", "Runs when the expression is true.", field="value",
                 branch=True),
            Port("false", "False", "any", "Runs when the expression is false.", field="value",
                 branch=True),
        ),
        expression_fields=("expression",),
        output_description="{result: bool, branch: 'true' | 'false', value}",
        example={"expression": "{{ 'urgent' in nodes.classify.output.content | lower }}"},
    ),
)
