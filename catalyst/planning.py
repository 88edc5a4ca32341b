"""The plan: a pure, typed description of the script to write.

Planning takes a checked workflow and settles everything rendering needs:
node order and concurrency, resolved ports, Python names, configs, imports and
pip requirements. Templates receive this and nothing rawer.
"""

from __future__ import annotations

import functools
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import networkx as nx
from pydantic import BaseModel

from catalyst import __version__, expressions
from catalyst.branches import BranchTag, branch_tags
from catalyst.identifiers import IdentifierResolver
from catalyst.literals import Code
from catalyst.model import InputSpec, Workflow
from catalyst.provider_uses import ProviderUse, provider_uses
from catalyst.registry import NodeType, RuntimePart, needs_conversion, parts_in_order
from catalyst.registry import node_type as node_type_named
from catalyst.run_settings import DEFAULT_RETRIES, NodePolicy, RunPolicy
from catalyst.validation import CheckedWorkflow

# What the script skeleton and runtime (templates/) use whatever the workflow.
_BASE_IMPORTS = (
    "import argparse",
    "import asyncio",
    "import atexit",
    "import contextlib",
    "import contextvars",
    "import inspect",
    "import json",
    "import math",
    "import os",
    "import random",
    "import re",
    "import signal",
    "import stat",
    "import sys",
    "import time",
    "import unicodedata",
    (
        "from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, "
        "Hashable, Iterator"
    ),
    "from dataclasses import dataclass, field",
    "from typing import Any",
)
# Only when some config holds {{ … }} expressions.
_EXPRESSION_IMPORTS = (
    "import functools",
    "import re",
    "import threading",
    "from jinja2 import StrictUndefined, Undefined",
    "from jinja2.sandbox import ImmutableSandboxedEnvironment",
)
# 3.1.6 fixes the sandbox escape through |attr (CVE-2025-27516).
_EXPRESSION_DEPENDENCY = "jinja2>=3.1.6,<4"
REQUIRES_PYTHON = ">=3.11"
_VERSION = Code(__version__)


@dataclass(frozen=True)
class PlannedLink:
    """An edge as the generated scheduler needs it."""

    source: str
    field: str | None
    branch: str | None
    # The target port's type when the value must be converted on arrival.
    to: str | None = None


# What a config value resolved at run time must be: a JSON Schema subset
# (type, minimum/maximum, enum, const, lengths, pattern, items' type) that the
# generated script checks without pydantic. A field lists its alternatives.
ValueCheck = dict[str, Any]
_KEPT_KEYWORDS = {
    "string": ("enum", "const", "minLength", "maxLength", "pattern"),
    "integer": ("enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    "number": ("enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    "array": ("minItems", "maxItems"),
}


@dataclass(frozen=True)
class PlannedNode:
    id: str
    label: str
    node_type: NodeType
    function: Code
    execute: Code
    config: dict[str, Any]
    has_expressions: bool
    links: tuple[tuple[str, tuple[PlannedLink, ...]], ...]
    # Nodes waited for without taking a value: expression reads, start edges.
    after: tuple[str, ...]
    generation: int
    policy: NodePolicy
    # Fields holding an expression, by name: what their value must be once resolved.
    checks: dict[str, tuple[ValueCheck, ...]]
    # The fan-out branches it belongs to, outer first (catalyst/branches.py).
    branches: tuple[BranchTag, ...] = ()
    # A tool node: the node that calls it (it runs then, never on its own).
    tool_of: str | None = None


@dataclass(frozen=True)
class ImportBlock:
    """Import statements in the order isort/ruff would put them."""

    standard_library: tuple[str, ...]
    third_party: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    workflow: Workflow
    nodes: tuple[PlannedNode, ...]
    generations: tuple[tuple[PlannedNode, ...], ...]
    node_types: tuple[NodeType, ...]
    # Shared runtime code the nodes build on, needed parts first.
    runtime_parts: tuple[RuntimePart, ...]
    imports: ImportBlock
    dependencies: tuple[str, ...]
    env_vars: tuple[str, ...]
    # Every secret the script reads or the project declares: name -> description.
    secrets: tuple[tuple[str, str], ...]
    sinks: tuple[str, ...]
    uses_expressions: bool
    policy: RunPolicy
    # Every model a node may call, on which provider and key (the script's --check).
    provider_uses: tuple[ProviderUse, ...] = ()
    requires_python: str = REQUIRES_PYTHON
    catalyst_version: Code = _VERSION

    @property
    def source_digest(self) -> Code:
        """The first 16 hex digits of the workflow's content sha256 (layout left out)."""
        digest = self.workflow.source_sha256[:16]
        if not all(char in "0123456789abcdef" for char in digest):
            raise ValueError("source digest is not hexadecimal")
        return Code(digest)

    @property
    def rate_limited(self) -> bool:
        return any(node_type.rate_limited for node_type in self.node_types)

    @property
    def default_retries(self) -> int:
        return DEFAULT_RETRIES

    @property
    def inputs(self) -> tuple[InputSpec, ...]:
        return self.workflow.inputs


    @property
    def provider_use_table(self) -> list[dict[str, Any]]:
        """`provider_uses` as the script's PROVIDER_USES table."""
        return [use.to_dict() for use in self.provider_uses]

    @property
    def runtime_part_names(self) -> tuple[str, ...]:
        return tuple(part.name for part in self.runtime_parts)

    @property
    def runtime_templates(self) -> tuple[str, ...]:
        """Each node template once (trigger types share one), in a stable order."""
        return tuple(dict.fromkeys(node_type.template for node_type in self.node_types))


def plan_workflow(checked: CheckedWorkflow) -> Plan:
    """Plan a workflow that checked without errors."""
    if not checked.ok:
        raise ValueError("cannot plan a workflow with errors")
    workflow = checked.workflow
    order = {node.id: index for index, node in enumerate(workflow.nodes)}
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(order)
    # Tool node -> its caller: what a tool reads, its caller waits for.
    tools = {wire.edge.target: wire.edge.source for wire in checked.wires
             if wire.source_port.calls}
    for wire in checked.wires:
        if not wire.source_port.calls:
            graph.add_edge(wire.edge.source, wire.edge.target)
    for node_id, read in checked.references.items():
        graph.add_edges_from((source, tools.get(node_id, node_id)) for source in read)
    generation = {
        node_id: depth
        for depth, layer in enumerate(nx.topological_generations(graph))
        for node_id in layer
    }
    links: dict[str, dict[str, list[PlannedLink]]] = defaultdict(lambda: defaultdict(list))
    after: dict[str, set[str]] = defaultdict(set)
    for node_id, read in checked.references.items():
        after[node_id].update(read)
        if node_id in tools:
            after[tools[node_id]].update(read)
    for wire in checked.wires:
        port = wire.source_port
        if port.calls:
            continue
        if not port.data:
            after[wire.edge.target].add(wire.edge.source)
            continue
        target_type = wire.target_port.type
        links[wire.edge.target][wire.target_port.id].append(
            PlannedLink(wire.edge.source, port.field, port.id if port.branch else None,
                        target_type if needs_conversion(port.type, target_type) else None)
        )
    resolver = IdentifierResolver()
    planned = []
    ordered = sorted(workflow.nodes, key=lambda n: (generation[n.id], order[n.id]))
    fan_outs = [node.id for node in ordered if checked.node_types[node.id].fans_out]
    tags = branch_tags(graph, fan_outs, {node.id: index for index, node in enumerate(ordered)})
    for node in ordered:
        node_type = checked.node_types[node.id]
        config = checked.configs[node.id]
        planned.append(
            PlannedNode(
                id=node.id,
                label=node.label,
                node_type=node_type,
                function=resolver.resolve(node.id, prefix="node_"),
                execute=Code("execute_" + node_type.function_suffix),
                config=config.values,
                has_expressions=config.has_expressions,
                links=tuple((port, tuple(items)) for port, items in links[node.id].items()),
                # Edges already make the node wait for their sources.
                after=tuple(sorted(after[node.id] - _sources(links[node.id]))),
                generation=generation[node.id],
                policy=checked.policy.nodes[node.id],
                checks=_value_checks(node_type, config.values),
                branches=tags.get(node.id, ()),
                tool_of=tools.get(node.id),
            )
        )
    layers: dict[int, list[PlannedNode]] = defaultdict(list)
    for planned_node in planned:
        layers[planned_node.generation].append(planned_node)
    used = {n.node_type.type: n.node_type for n in planned}
    # A workflow-level trigger (a manifest's `trigger`) whose type brings a runtime
    # of its own (a schedule's) needs what a trigger node of its type would: that
    # runtime, its imports and requirements.
    trigger = workflow.trigger and node_type_named(workflow.trigger.type)
    part_names = [name for node in planned for name in node.node_type.runtime_parts(node.config)]
    if trigger and trigger.shared_runtimes:
        used.setdefault(trigger.type, trigger)
        part_names += trigger.runtime_parts(workflow.trigger.config if workflow.trigger else {})
    used_types = sorted(used.items())
    node_types = tuple(node_type for _name, node_type in used_types)
    uses_expressions = any(node.has_expressions for node in planned)
    parts = parts_in_order(part_names)
    sinks = tuple(
        node.id
        for node in planned
        if not node.node_type.is_trigger and graph.out_degree(node.id) == 0
        and node.id not in tools
    )
    env_vars = tuple(sorted({name for n in planned for name in _secret_names(n.config)}))
    return Plan(
        workflow=workflow,
        nodes=tuple(planned),
        generations=tuple(tuple(layers[depth]) for depth in sorted(layers)),
        node_types=node_types,
        runtime_parts=parts,
        imports=_imports(node_types, parts, uses_expressions),
        dependencies=_dependencies(node_types, parts, uses_expressions),
        env_vars=env_vars,
        secrets=_secrets(workflow, env_vars),
        sinks=sinks,
        uses_expressions=uses_expressions,
        policy=checked.policy,
        provider_uses=tuple(use for node in planned
                            for use in provider_uses(node.id, node.node_type, node.config)),
    )


def _value_checks(node_type: NodeType, config: dict[str, Any]) -> dict[str, tuple[ValueCheck, ...]]:
    """For each field that is an expression, what its resolved value must be.

    Only known at run time, these values escaped the check at generate time
    (catalyst/configs.py defers them). Fields that hold expressions for other
    reasons (a condition's, the scope's, text the node converts) are left out;
    secret fields never hold expressions."""
    skipped = {*node_type.expression_fields, *node_type.text_fields, node_type.scope_field}
    schema = _config_schema(node_type.config_model)
    checks: dict[str, tuple[ValueCheck, ...]] = {}
    for name, value in config.items():
        if name in skipped or not isinstance(value, str) or not expressions.is_template(value):
            continue
        rules = _rules(schema["properties"].get(name, {}), schema.get("$defs", {}), {})
        if rules:
            checks[name] = tuple(rules)
    return checks


@functools.cache
def _config_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=False)


def _rules(
    schema: dict[str, Any], definitions: dict[str, Any], inherited: dict[str, Any]
) -> list[ValueCheck] | None:
    """`schema` as alternatives of the subset; None when any value fits."""
    if "$ref" in schema:
        schema = {**definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), **schema}
        schema.pop("$ref")
    keywords = {**inherited, **{key: value for key, value in schema.items()
                                if key in ("enum", "const", "minLength", "maxLength",
                                           "pattern", "minimum", "maximum",
                                           "exclusiveMinimum", "exclusiveMaximum",
                                           "minItems", "maxItems")}}
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if branches:
        rules: list[ValueCheck] = []
        for branch in branches:
            branch_rules = _rules(branch, definitions, keywords)
            if branch_rules is None:
                return None
            rules += branch_rules
        return rules
    kinds = schema.get("type")
    if kinds is None:
        return [keywords] if "enum" in keywords or "const" in keywords else None
    rules = []
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        rule: ValueCheck = {"type": kind}
        if kind == "array":
            # pydantic's max_length on a list is the number of items.
            keywords = {"minItems": keywords.get("minLength"), "maxItems":
                        keywords.get("maxLength"), **keywords}
            item_type = schema.get("items", {}).get("type")
            if isinstance(item_type, str):
                rule["items"] = {"type": item_type}
        rule.update((key, keywords[key]) for key in _KEPT_KEYWORDS.get(kind, ("enum", "const"))
                    if keywords.get(key) is not None)
        rules.append(rule)
    return rules


def _secrets(workflow: Workflow, env_vars: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    described = {spec.name: spec.description for spec in workflow.secrets}
    names = sorted(set(env_vars) | set(described))
    return tuple((name, described.get(name, "")) for name in names)


def _sources(links: dict[str, list[PlannedLink]]) -> set[str]:
    return {link.source for items in links.values() for link in items}


def _imports(
    node_types: tuple[NodeType, ...], parts: tuple[RuntimePart, ...], uses_expressions: bool
) -> ImportBlock:
    statements = list(_BASE_IMPORTS)
    if uses_expressions:
        statements += _EXPRESSION_IMPORTS
    for part in parts:
        statements += part.imports
    for node_type in node_types:
        statements += node_type.imports
    plain: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for statement in statements:
        words = statement.split()
        if words[0] == "import":
            plain[words[1]].add(words[1])
        else:
            names[words[1]].update(name.strip() for name in statement.split(" import ")[1]
                                   .split(","))

    def block(standard: bool) -> tuple[str, ...]:
        def is_standard(module: str) -> bool:
            return module.split(".")[0] in sys.stdlib_module_names

        lines = [f"import {m}" for m in sorted(plain) if is_standard(m) == standard]
        lines += [
            f"from {m} import {', '.join(sorted(names[m]))}"
            for m in sorted(names)
            if is_standard(m) == standard
        ]
        return tuple(lines)

    return ImportBlock(block(True), block(False))


def _dependencies(
    node_types: tuple[NodeType, ...], parts: tuple[RuntimePart, ...], uses_expressions: bool
) -> tuple[str, ...]:
    requirements = {req for node_type in node_types for req in node_type.dependencies}
    requirements.update(req for part in parts for req in part.dependencies)
    if uses_expressions:
        requirements.add(_EXPRESSION_DEPENDENCY)
    return tuple(sorted(requirements))


def _secret_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$secret"} and isinstance(value["$secret"], str):
            return {value["$secret"]}
        return {name for item in value.values() for name in _secret_names(item)}
    if isinstance(value, list):
        return {name for item in value for name in _secret_names(item)}
    return set()
