"""Triggers: how a workflow is started. They do no work; they hand on the inputs.

A scheduledTask's script also runs itself on its schedule (`--schedule`,
templates/schedule.jinja): its cron expression and time zone are checked here,
by parsing only.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from catalyst.config_types import NodeConfig, value_aliases
from catalyst.diagnostics import Diagnostic
from catalyst.registry import NodeCheckContext, NodeType, Port, RuntimePart, ShapeContext
from catalyst.shapes import Schema

# cron's shorthands, as five fields (templates/schedule.jinja has the same table).
CRON_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}  # fmt: skip
CRON_HINT = (
    "five fields: minute hour day-of-month month day-of-week, e.g. 0 0 * * * (daily at "
    "midnight), */15 * * * * (every 15 minutes), 0 9 * * 1-5 (weekdays at 09:00), "
    "0 6 1 * * (the 1st of each month at 06:00); or " + ", ".join(CRON_MACROS)
)
ZONE_EXAMPLES = ("UTC", "Europe/London", "Europe/Paris", "America/New_York",
                 "America/Los_Angeles", "Asia/Tokyo")
# What the generated script needs to run on a schedule.
SCHEDULE_REQUIREMENTS = ("cronsim>=2.8,<3", "tzdata>=2024.1")
# What it needs to serve over HTTP (`serve`, templates/service.jinja).
SERVICE_REQUIREMENTS = ("fastapi>=0.115,<1", "pydantic>=2.7,<3", "uvicorn>=0.30,<1")


class TriggerConfig(NodeConfig):
    """Deployment details for the entry point; the generated script keeps them as data."""

    # Each editor stores its own deployment settings here (cron, topic, …).
    model_config = ConfigDict(extra="allow")


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Paths the served script answers itself (templates/service.jinja has the same list).
SERVICE_PATHS = ("/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc",
                 "/openapi.json")


class HttpEndpointConfig(TriggerConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "POST", json_schema_extra=value_aliases({m.lower(): m for m in _METHODS}),
    )
    path: str = Field("/", pattern=r"^/", description="URL path, e.g. /api/v1/analyze.")
    description: str = Field("", description="What the endpoint is for.")

    @field_validator("path")
    @classmethod
    def _servable(cls, value: str) -> str:
        if value.rstrip("/") in SERVICE_PATHS:
            raise PydanticCustomError(
                "reserved_path", "{path} is answered by the script's `serve` itself",
                {"path": value, "code": "reserved-path",
                 "hint": "choose another path; taken: " + ", ".join(SERVICE_PATHS)},
            )
        if any(char in value for char in "{}?#") or any(c.isspace() for c in value):
            raise PydanticCustomError(
                "path_characters", "the path cannot hold braces, ?, # or spaces",
                {"code": "invalid-path", "hint": "a fixed path such as /api/v1/analyze; "
                 "the request body (or the query string of a GET) carries the inputs"},
            )
        return value


class ScheduledTaskConfig(TriggerConfig):
    # None: not set in the file (the runner's defaults: UTC, enabled).
    schedule: str | None = Field(None, description="Cron expression, e.g. 0 0 * * * (daily).")
    timezone: str | None = Field(None, description="IANA time zone (default UTC).")
    enabled: bool | None = Field(None, description="Whether the schedule runs (default true).")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            reason = cron_problem(value)
            if reason is not None:
                raise PydanticCustomError(
                    "cron_expression", "not a cron expression: {reason}",
                    {"reason": reason, "code": "invalid-cron", "hint": CRON_HINT},
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in time_zones():
            close = difflib.get_close_matches(value, sorted(time_zones()), n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + \
                "an IANA time zone name, e.g. " + ", ".join(ZONE_EXAMPLES)
            if not time_zones():
                hint = "no time zone data on this machine: pip install tzdata"
            raise PydanticCustomError("time_zone", "unknown time zone",
                                     {"code": "unknown-time-zone", "hint": hint})
        return value


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a cron expression, or None. Parses it, nothing more."""
    try:
        from cronsim import CronSim, CronSimError
    except ImportError:
        return "cronsim, which checks cron expressions, is not installed " \
            "(pip install 'catalyst-workflows[schedule]')"
    fields = CRON_MACROS.get(expression.strip().lower(), expression)
    try:
        CronSim(fields, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return str(exc).rstrip(".").lower()
    return None


@cache
def time_zones() -> frozenset[str]:
    """Every IANA zone name this machine knows (system data or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def check_schedule(config: ScheduledTaskConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    """A schedule is read when the script starts, before any input exists: no expressions."""
    problems = []
    for name in ("schedule", "timezone", "enabled"):
        if name in context.written_keys and name not in config.model_fields_set:
            problems.append(Diagnostic(
                "expression-not-allowed", f"{name} must be written out; an expression "
                "cannot stand in for it", context.pointer(name), node_id=context.node_id,
                hint=CRON_HINT if name == "schedule" else None,
            ))
    if config.schedule is None and config.enabled is not False:
        problems.append(Diagnostic(
            "missing-schedule", "no schedule: `--schedule` cannot run this workflow",
            context.config_path, node_id=context.node_id, severity="warning",
            hint="set schedule, " + CRON_HINT,
        ))
    return problems


def _workflow_inputs(context: ShapeContext) -> Schema:
    return context.workflow_inputs


def _trigger(type_name: str, display_name: str, description: str, icon: str,
             config_model: type[TriggerConfig] = TriggerConfig, **extra: Any) -> NodeType:
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
        **extra,
    )


RUNTIME_PARTS = (
    RuntimePart(
        name="schedule",
        template="schedule.jinja",
        dependencies=SCHEDULE_REQUIREMENTS,
        imports=("from datetime import UTC, datetime", "from zoneinfo import ZoneInfo",
                 "from cronsim import CronSim"),
    ),
    RuntimePart(
        name="service",
        template="service.jinja",
        dependencies=SERVICE_REQUIREMENTS,
        imports=(
            "import copy", "import hmac", "import traceback",
            "from typing import Annotated",
            "from fastapi import Depends, FastAPI, HTTPException, Request",
            "from fastapi.exceptions import RequestValidationError",
            "from fastapi.responses import JSONResponse, Response, StreamingResponse",
            "from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer",
            "from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, "
            "StrictInt, StrictStr, WithJsonSchema, create_model",
            "import uvicorn",
        ),
    ),
)

NODE_TYPES = (
    _trigger("httpEndpoint", "HTTP endpoint", "Start the workflow from an HTTP request (the "
             "script's `serve` answers it).", "globe", HttpEndpointConfig,
             shared_runtimes=("service",)),
    _trigger("scheduledTask", "Schedule", "Start the workflow on a schedule (the script's "
             "--schedule runs it at each tick).", "clock", ScheduledTaskConfig,
             check=check_schedule, shared_runtimes=("schedule",)),
    _trigger("webhookReceiver", "Webhook", "Start the workflow from a webhook.", "webhook"),
    _trigger("subworkflowTrigger", "Sub-workflow", "Start the workflow from another workflow.",
             "workflow"),
    _trigger("websocketEndpoint", "WebSocket", "Start the workflow from a WebSocket message.",
             "radio"),
    _trigger("queueConsumer", "Queue consumer", "Start the workflow from a queue message.",
             "inbox"),
)
