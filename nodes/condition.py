"""condition: evaluate an expression and take the `true` or the `false` branch."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from catalyst.config_types import NodeConfig
from catalyst.registry import ImpliedEdge, NodeType, Port, ShapeContext
from catalyst.shapes import BOOLEAN, NULL, STRING, Schema, closed


class ConditionConfig(NodeConfig):
    """A boolean expression over inputs, globals and upstream outputs."""

    expression: str = Field(
        min_length=1,
        validation_alias=AliasChoices("expression", "condition"),
        description="Jinja expression, braces optional: "
        "nodes.classify.output.content == 'urgent'",
    )
    description: str = Field("", description="What the condition means, for readers.")
    true_target: str | None = Field(
        None, validation_alias=AliasChoices("true_target", "trueTarget"),
        description="Node to run when true (the same as an edge from the `true` handle).",
    )
    false_target: str | None = Field(
        None, validation_alias=AliasChoices("false_target", "falseTarget"),
        description="Node to run when false (the same as an edge from the `false` handle).",
    )


def implied_edges(config: ConditionConfig) -> list[ImpliedEdge]:
    edges = []
    if config.true_target:
        edges.append(ImpliedEdge("true", config.true_target, "true_target"))
    if config.false_target:
        edges.append(ImpliedEdge("false", config.false_target, "false_target"))
    return edges


def output_shape(context: ShapeContext) -> Schema:
    value = context.inputs.get("input", NULL)
    return closed({"result": BOOLEAN, "branch": STRING, "value": value})


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
        output_schema=closed({"result": BOOLEAN, "branch": STRING, "value": {}}),
        output_shape=output_shape,
        implied_edges=implied_edges,
        example={"expression": "{{ 'urgent' in nodes.classify.output.content | lower }}"},
    ),
)
