"""parallel: fan out to the branches its outgoing edges start, bounded and isolated.

A branch is a direct target of the node plus every node reached from the
parallel node only through it (catalyst/branches.py): a join, where branches
meet, belongs to none. The runtime bounds how many branches run a node at once
and decides what a failed branch does (templates/runtime.jinja, FanOut).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import AliasChoices, Field

from catalyst.config_types import NodeConfig
from catalyst.diagnostics import Diagnostic
from catalyst.registry import NodeCheckContext, NodeType, Port, ShapeContext
from catalyst.shapes import NULL, Schema

STRATEGIES = ("fail_all", "continue", "partial")


class ParallelConfig(NodeConfig):
    """How the branches run; each receives the node's input."""

    max_concurrency: int | None = Field(
        None, ge=1, validation_alias=AliasChoices("max_concurrency", "maxConcurrency"),
        description="At most this many branches running a node at once (default: no bound).",
    )
    failure_strategy: Literal["fail_all", "continue", "partial"] = Field(
        "fail_all", validation_alias=AliasChoices("failure_strategy", "failureStrategy"),
        description="fail_all: a failed branch fails the run; continue: the others go on and "
        'the failed branch gives {"error": …}; partial: as continue, unless every branch failed.',
    )


def check(config: ParallelConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    # An expression here would only be known at run time, but the shapes the
    # checker gives branch outputs ({"error": …} or not) depend on it now.
    if "failure_strategy" in context.written_keys and \
            "failure_strategy" not in config.model_fields_set:
        return [Diagnostic(
            "expression-not-allowed",
            "failure_strategy must be written out; an expression cannot choose it",
            context.pointer("failure_strategy"), node_id=context.node_id,
            hint=f"use one of: {', '.join(STRATEGIES)}",
        )]
    return []


def branch_errors(config: ParallelConfig) -> bool:
    """Whether a failed branch lets the run go on (its nodes then give {"error": …})."""
    return config.failure_strategy != "fail_all"


def output_shape(context: ShapeContext) -> Schema:
    return context.inputs.get("input", NULL)


NODE_TYPES = (
    NodeType(
        type="parallel",
        category="control",
        display_name="Parallel",
        description="Run the branches its outgoing edges start concurrently, at most "
        "maxConcurrency at once; failureStrategy says what a failed branch does.",
        icon="split",
        color="#f59e0b",
        config_model=ParallelConfig,
        template="parallel.jinja",
        inputs=(Port("input", "Value", "any", "Handed on to every branch."),),
        outputs=(Port("output", "Branches", "any",
                      "Each edge from here starts a branch; each receives the input."),),
        output_description="its input, unchanged (every branch receives it)",
        output_schema={"description": "its input, unchanged (every branch receives it)"},
        output_shape=output_shape,
        check=check,
        fans_out=branch_errors,
        example={"max_concurrency": 2, "failure_strategy": "continue"},
    ),
)
