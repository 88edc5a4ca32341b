"""Node types: what each kind of node is, and where its definition lives.

A node type is one Python module in `catalyst.nodes` (the repository's
`nodes/` folder) exporting `NODE_TYPES`, plus the Jinja template it names. The
compiler only ever talks to `NodeType`; adding a node type adds two files and
touches nothing here.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel

from catalyst.config_types import key_aliases
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.identifiers import snake_case
from catalyst.shapes import Schema

PortType = Literal["text", "messages", "json", "any"]
PORT_TYPES: tuple[PortType, ...] = ("text", "messages", "json", "any")


@dataclass(frozen=True)
class Port:
    """A handle on a node that edges attach to."""

    id: str
    name: str
    type: PortType
    description: str = ""
    # Input ports only: an edge must feed it.
    required: bool = False
    # Output ports only: the key of the node's output this port carries
    # (None: the whole output).
    field: str | None = None
    # Output ports only: live only when the node's output selects this branch
    # (`output["branch"] == port id`); see the condition node.
    branch: bool = False
    # Output ports only: False for a port that only orders (a trigger's
    # "start" edge): the target waits for it but receives no value.
    data: bool = True
    # Output ports only: its targets are tools the node calls while it runs
    # (a chat node's `tools`), not nodes that run after it.
    calls: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.description:
            data["description"] = self.description
        if self.required:
            data["required"] = True
        if self.branch:
            data["branch"] = True
        if not self.data:
            data["ordersOnly"] = True
        if self.calls:
            data["calls"] = True
        return data

    def accepts(self) -> dict[str, dict[str, Any]]:
        """For an input port: how a value of each port type is converted on arrival."""
        accepted: dict[str, dict[str, Any]] = {}
        for source in PORT_TYPES:
            rule = conversion(source, self.type)
            accepted[source] = {"conversion": rule.description, "lossy": rule.lossy}
        return accepted


@dataclass(frozen=True)
class Conversion:
    """How a value of one port type arrives at a port of another type.

    As in the original editor, any output may feed any input; the generated
    runtime converts the value (`to_port_type` in templates/runtime.jinja).
    A conversion that drops information is a warning, never a refusal.
    """

    description: str
    lossy: bool = False


_AS_IS = Conversion("passed as it is")
CONVERSIONS: Mapping[tuple[PortType, PortType], Conversion] = {
    ("text", "messages"): Conversion("the text as one user message"),
    ("json", "messages"): Conversion(
        "its `messages` if it has them, else the value as JSON text in one user message"
    ),
    ("any", "messages"): Conversion(
        "messages as they are; text as one user message; an object's `messages`, else the "
        "value as JSON text in one user message"
    ),
    ("messages", "text"): Conversion(
        "the message contents joined by blank lines (roles are dropped)", lossy=True
    ),
    ("json", "text"): Conversion("the value as JSON text (text stays text)"),
    ("any", "text"): Conversion("text as it is; anything else as JSON text"),
}


def conversion(source: PortType, target: PortType) -> Conversion:
    """What happens to a `source` value arriving at a `target` port."""
    if source == target or target in ("any", "json"):
        return _AS_IS
    return CONVERSIONS.get((source, target), _AS_IS)


def needs_conversion(source: PortType, target: PortType) -> bool:
    return target in ("text", "messages") and source != target


@dataclass(frozen=True)
class NodeCheckContext:
    """What a node type's own semantic check may look at, beyond its config."""

    node_id: str
    config_path: str
    connected_inputs: frozenset[str]
    # Field name -> the key the file used for it (an alias such as maxTokens).
    written_keys: Mapping[str, str] = field(default_factory=dict)

    def pointer(self, field_name: str) -> str:
        """JSON pointer of a config field, spelt as in the file."""
        return self.config_path + json_pointer(self.written_keys.get(field_name, field_name))


NodeCheck = Callable[[Any, NodeCheckContext], Sequence[Diagnostic]]


@dataclass(frozen=True)
class ShapeContext:
    """What decides the shape of one node's output: its config and what flows in."""

    config: BaseModel
    # Input port id -> the shape of the value arriving there.
    inputs: Mapping[str, Schema]
    # The workflow's inputs, as an object shape (what triggers hand on).
    workflow_inputs: Schema


@dataclass(frozen=True)
class ImpliedEdge:
    """An edge a node's config implies (condition `trueTarget`): drawn or not, it exists."""

    source_handle: str
    target: str
    field: str


@dataclass(frozen=True)
class NodeType:
    """Everything Catalyst knows about one kind of node."""

    type: str
    category: str
    display_name: str
    description: str
    icon: str
    color: str
    config_model: builtins.type[BaseModel]
    template: str
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    supports_streaming: bool = False
    # pip requirement specifiers the generated script needs for this type.
    dependencies: tuple[str, ...] = ()
    # Import statements its runtime code uses, one per entry.
    imports: tuple[str, ...] = ()
    # Config fields holding one expression (braces optional).
    expression_fields: tuple[str, ...] = ()
    # Config fields the node sends as text: an expression there may give any
    # value, which the node turns into text, so its type is not checked at run time.
    text_fields: tuple[str, ...] = ()
    # Describes the workflow's entry point; never does work of its own.
    is_trigger: bool = False
    # Calls a rate-limited API: the script gets --rpm / --tpm budgets.
    rate_limited: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)
    output_description: str = ""
    check: NodeCheck | None = None
    # Runtime parts (see RuntimePart) its code builds on, such as the chat
    # runtime every LLM provider shares; each goes into a script once.
    shared_runtimes: tuple[str, ...] = ()
    # More parts one node needs by its config (the providers its fallback
    # models name): config values -> part names.
    runtime_parts_for: Callable[[Mapping[str, Any]], Sequence[str]] | None = None
    # Constants the template writes into the script (e.g. a model table),
    # passed to its `runtime(plan, data)` macro.
    template_data: Callable[[], Mapping[str, Any]] | None = None
    # The shape of the output (JSON Schema), published in the catalog;
    # `output_shape` refines it for one node from its config and inputs.
    output_schema: Schema = field(default_factory=dict)
    output_shape: Callable[[ShapeContext], Schema] | None = None
    # A config field (an object) whose keys become names in the node's other
    # expressions: a promptTemplate's `variables`.
    scope_field: str | None = None
    implied_edges: Callable[[Any], Sequence[ImpliedEdge]] | None = None
    # Its outgoing edges start branches (catalyst/branches.py): every node is
    # tagged with the branches it belongs to, and the runtime bounds and
    # isolates them as the node says when it runs (NodeContext.fan_out). Given
    # the config: whether a failed branch may let the run go on, the nodes of
    # the branch then giving {"error": …} as their output.
    fans_out: Callable[[Any], bool] | None = None

    def runtime_parts(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """The runtime parts one node of this type needs, by name."""
        extra = self.runtime_parts_for(config) if self.runtime_parts_for else ()
        return tuple(dict.fromkeys((*self.shared_runtimes, *extra)))

    def requirements(self, config: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """pip requirements a script with one such node needs (its runtime
        parts' included), for `config` or the type's defaults."""
        parts = parts_in_order(self.runtime_parts(config or {}))
        found = {*self.dependencies, *(req for part in parts for req in part.dependencies)}
        return tuple(sorted(found))

    @property
    def function_suffix(self) -> str:
        """`groqCompletion` -> `groq_completion`, as in `execute_groq_completion`."""
        return "trigger" if self.is_trigger else snake_case(self.type)

    def input_port(self, port_id: str) -> Port | None:
        return next((p for p in self.inputs if p.id == port_id), None)

    def output_port(self, port_id: str) -> Port | None:
        return next((p for p in self.outputs if p.id == port_id), None)

    def shape_of_output(self, context: ShapeContext) -> Schema:
        return self.output_shape(context) if self.output_shape else self.output_schema

    def catalog_entry(self) -> dict[str, Any]:
        """What the editor needs to draw the palette entry and the config form."""
        return {
            "type": self.type,
            "category": self.category,
            "displayName": self.display_name,
            "description": self.description,
            "icon": self.icon,
            "color": self.color,
            "inputs": [{**port.to_dict(), "accepts": port.accepts()} for port in self.inputs],
            "outputs": [port.to_dict() for port in self.outputs],
            "configSchema": config_schema(self.config_model),
            "supportsStreaming": self.supports_streaming,
            "isTrigger": self.is_trigger,
            "dependencies": list(self.requirements()),
            "output": self.output_description,
            "outputSchema": dict(self.output_schema),
            "example": dict(self.example),
        }


@dataclass(frozen=True)
class RuntimePart:
    """Runtime code several node types share, written into a script once when
    any of its nodes needs it: the chat runtime, one provider's adapter.

    Defined in `catalyst.nodes` modules (`RUNTIME_PARTS`) beside the node
    types; its template defines `runtime(plan, data)` like a node type's.
    """

    name: str
    # None: a part that only brings requirements (no code of its own).
    template: str | None
    # Parts it builds on: written before it.
    needs: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    template_data: Callable[[], Mapping[str, Any]] | None = None


def config_schema(model: builtins.type[BaseModel]) -> dict[str, Any]:
    """The config's JSON Schema, each property listing the other spellings it accepts:
    `x-aliases` (keys), `x-value-aliases` (option values), `x-json-text`."""
    schema = model.model_json_schema(by_alias=True)
    properties = schema.get("properties", {})
    for name, info in model.model_fields.items():
        aliases = key_aliases(name, info)
        if aliases and name in properties:
            properties[name]["x-aliases"] = aliases
    return schema


# Types the Catalyst editor knows (WORKFLOW_FORMAT.md) that have no definition
# here yet: naming one is a clear "not implemented" error, not "unknown type".
PLANNED_TYPES: frozenset[str] = frozenset(
    {
        "azureOpenaiCompletion",
        "agenticToolCall", "redisOperation",
        "httpRequest", "webhookSend", "switch", "loop", "aggregate", "retry", "delay",
        "earlyReturn", "jsonTransform", "mapArray", "filterArray", "validate", "rateLimit",
    }
)  # fmt: skip


@cache
def _node_modules() -> tuple[ModuleType, ...]:
    package = importlib.import_module("catalyst.nodes")
    return tuple(
        importlib.import_module(f"catalyst.nodes.{module_info.name}")
        for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
    )


@cache
def node_types() -> Mapping[str, NodeType]:
    """Every node type defined in `catalyst.nodes`, by type name."""
    found: dict[str, NodeType] = {}
    for module in _node_modules():
        for node_type in getattr(module, "NODE_TYPES", ()):
            if node_type.type in found:
                raise RuntimeError(f"node type {node_type.type!r} is defined twice")
            found[node_type.type] = node_type
    return dict(sorted(found.items()))


def node_type(name: str) -> NodeType | None:
    return node_types().get(name)


@cache
def runtime_parts() -> Mapping[str, RuntimePart]:
    """Every runtime part defined in `catalyst.nodes`, by name."""
    found: dict[str, RuntimePart] = {}
    for module in _node_modules():
        for part in getattr(module, "RUNTIME_PARTS", ()):
            if part.name in found:
                raise RuntimeError(f"runtime part {part.name!r} is defined twice")
            found[part.name] = part
    return dict(sorted(found.items()))


def parts_in_order(names: Sequence[str]) -> tuple[RuntimePart, ...]:
    """The named parts and the parts they need, each once, needed parts first;
    otherwise in the order asked (stable: same workflow, same script)."""
    parts = runtime_parts()
    ordered: dict[str, RuntimePart] = {}

    def add(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise RuntimeError(f"runtime parts need each other: {' -> '.join((*path, name))}")
        part = parts.get(name)
        if part is None:
            raise RuntimeError(f"no runtime part named {name!r}")
        for needed in part.needs:
            add(needed, (*path, name))
        ordered[name] = part

    for name in names:
        add(name, ())
    return tuple(ordered.values())
