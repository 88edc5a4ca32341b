"""Triggers: how a workflow is started. They do no work; they hand on the inputs."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from catalyst.config_types import NodeConfig, value_aliases
from catalyst.registry import NodeType, Port, ShapeContext
from catalyst.shapes import Schema


class TriggerConfig(NodeConfig):
    """Deployment details for the entry point; the generated script keeps them as data."""

    # Each editor stores its own deployment settings here (cron, topic, …).
    model_config = ConfigDict(extra="allow")


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class HttpEndpointConfig(TriggerConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "POST", json_schema_extra=value_aliases({m.lower(): m for m in _METHODS}),
    )
    path: str = Field("/", pattern=r"^/", description="URL path, e.g. /api/v1/analyze.")
    description: str = Field("", description="What the endpoint is for.")


class ScheduledTaskConfig(TriggerConfig):
    # None: not set in the file (the runner's defaults: UTC, enabled).
    schedule: str | None = Field(None, description="Cron expression, e.g. 0 0 * * * (daily).")
    timezone: str | None = Field(None, description="IANA time zone (default UTC).")
    enabled: bool | None = Field(None, description="Whether the schedule runs (default true).")


def _workflow_inputs(context: ShapeContext) -> Schema:
    return context.workflow_inputs


def _trigger(type_name: str, display_name: str, description: str, icon: str,
             config_model: type[TriggerConfig] = TriggerConfig) -> NodeType:
    return NodeType(
        type=type_name,
        category="trigger",
        display_name=display_name,
        description=description,
        icon=icon,
        color="#0ea5e9",
        config_model=config_model,
        template="triggers.jinja",
        outputs=(Port("output", "Start", "any", "Starts what it is wired to.", data=False),),
        is_trigger=True,
        output_description="the workflow inputs",
        output_schema={"type": "object", "description": "the workflow inputs"},
        output_shape=_workflow_inputs,
    )


NODE_TYPES = (
    _trigger("httpEndpoint", "HTTP endpoint", "Start the workflow from an HTTP request.",
             "globe", HttpEndpointConfig),
    _trigger("scheduledTask", "Schedule", "Start the workflow on a schedule.", "clock",
             ScheduledTaskConfig),
    _trigger("webhookReceiver", "Webhook", "Start the workflow from a webhook.", "webhook"),
    _trigger("subworkflowTrigger", "Sub-workflow", "Start the workflow from another workflow.",
             "workflow"),
    _trigger("websocketEndpoint", "WebSocket", "Start the workflow from a WebSocket message.",
             "radio"),
    _trigger("queueConsumer", "Queue consumer", "Start the workflow from a queue message.",
             "inbox"),
)
