"""Triggers: how a workflow is started. They do no work; they hand on the inputs."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from catalyst.config_types import NodeConfig
from catalyst.registry import NodeType, Port


class TriggerConfig(NodeConfig):
    """Deployment details for the entry point; the generated script keeps them as data."""

    # Each editor stores its own deployment settings here (cron, topic, …).
    model_config = ConfigDict(extra="allow")


class HttpEndpointConfig(TriggerConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field("POST")
    path: str = Field("/", pattern=r"^/", description="URL path, e.g. /api/v1/analyze.")


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
    )


NODE_TYPES = (
    _trigger("httpEndpoint", "HTTP endpoint", "Start the workflow from an HTTP request.",
             "globe", HttpEndpointConfig),
    _trigger("scheduledTask", "Schedule", "Start the workflow on a schedule.", "clock"),
    _trigger("webhookReceiver", "Webhook", "Start the workflow from a webhook.", "webhook"),
    _trigger("subworkflowTrigger", "Sub-workflow", "Start the workflow from another workflow.",
             "workflow"),
    _trigger("websocketEndpoint", "WebSocket", "Start the workflow from a WebSocket message.",
             "radio"),
    _trigger("queueConsumer", "Queue consumer", "Start the workflow from a queue message.",
             "inbox"),
)
