"""How nodes run: timeouts, retries and what happens when a node fails.

The editor stores these beside each node (`timeout`, `retries`, `onError`,
`fallbackValue`) and once per workflow (`executionConfig`). Times are in
milliseconds in the file and seconds in the generated script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalyst.configs import model_diagnostics
from catalyst.diagnostics import Diagnostic
from catalyst.model import Node, Workflow

# The groq SDK's own default; a node without settings behaves like a plain SDK call.
DEFAULT_RETRIES = 2


class RunSettings(BaseModel):
    """Per-node settings."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timeout: int | None = Field(None, ge=1, le=3_600_000, description="Milliseconds per attempt.")
    retries: int | None = Field(None, ge=0, le=10, description="Retries after the first try.")
    on_error: Literal["throw", "continue", "fallback"] = Field(
        "throw", alias="onError",
        description="throw: fail the run; continue: go on with {error}; fallback: use "
        "fallbackValue.",
    )
    fallback_value: Any = Field(None, alias="fallbackValue")

    @model_validator(mode="after")
    def _fallback_needs_value(self) -> RunSettings:
        if self.on_error == "fallback" and "fallback_value" not in self.model_fields_set:
            raise ValueError("onError 'fallback' needs a fallbackValue")
        return self


class ExecutionConfig(BaseModel):
    """Workflow-wide defaults."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timeout: int | None = Field(None, ge=1, description="Milliseconds for the whole run.")
    retries: int | None = Field(None, ge=0, le=10, description="Default retries per node.")
    retry_delay: int = Field(500, ge=0, le=600_000, alias="retryDelay",
                             description="Milliseconds before the first node-level retry.")
    retry_backoff: Literal["linear", "exponential"] = Field("exponential", alias="retryBackoff")


@dataclass(frozen=True)
class NodePolicy:
    """What the generated Step carries for one node."""

    timeout_s: float | None
    retries: int
    on_error: str
    fallback: Any


@dataclass(frozen=True)
class RunPolicy:
    timeout_s: float | None
    retry_delay_s: float
    retry_backoff: str
    nodes: dict[str, NodePolicy]


def check_run_settings(workflow: Workflow, problems: list[Diagnostic]) -> RunPolicy:
    execution, found = model_diagnostics(
        ExecutionConfig, workflow.execution, workflow.path + "/executionConfig", None,
        "executionConfig",
    )
    problems.extend(found)
    defaults = execution if isinstance(execution, ExecutionConfig) else ExecutionConfig()
    nodes = {node.id: _node_policy(node, defaults, problems) for node in workflow.nodes}
    return RunPolicy(
        timeout_s=_seconds(defaults.timeout),
        retry_delay_s=defaults.retry_delay / 1000,
        retry_backoff=defaults.retry_backoff,
        nodes=nodes,
    )


def _node_policy(node: Node, defaults: ExecutionConfig, problems: list[Diagnostic]) -> NodePolicy:
    settings, found = model_diagnostics(RunSettings, node.settings, node.settings_path, node.id,
                                        f"node {node.id!r}")
    problems.extend(found)
    if not isinstance(settings, RunSettings):
        settings = RunSettings()
    retries = settings.retries if settings.retries is not None else defaults.retries
    return NodePolicy(
        timeout_s=_seconds(settings.timeout),
        retries=DEFAULT_RETRIES if retries is None else retries,
        on_error=settings.on_error,
        fallback=settings.fallback_value,
    )


def _seconds(milliseconds: int | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000
