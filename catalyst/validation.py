"""Check a loaded workflow and report every problem in one pass.

Besides the diagnostics, checking yields what planning needs and should not
work out again: each node's type and normalised config, each edge's resolved
ports, and the nodes each node reads through expressions.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from catalyst import expressions
from catalyst.configs import NormalisedConfig, keys_as_written, normalise_config
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.model import Edge, Node, Workflow
from catalyst.registry import (
    PLANNED_TYPES,
    NodeCheckContext,
    NodeType,
    Port,
    node_types,
    ports_compatible,
)
from catalyst.run_settings import RunPolicy, check_run_settings

_GROQ_KEY = re.compile(r"gsk_[A-Za-z0-9]{8,}")


@dataclass(frozen=True)
class Wire:
    """An edge whose ends resolved to real ports."""

    edge: Edge
    source_port: Port
    target_port: Port


@dataclass(frozen=True)
class CheckedWorkflow:
    workflow: Workflow
    diagnostics: list[Diagnostic]
    node_types: dict[str, NodeType]
    configs: dict[str, NormalisedConfig]
    wires: list[Wire]
    references: dict[str, frozenset[str]]
    policy: RunPolicy

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def check_workflow(workflow: Workflow) -> CheckedWorkflow:
    """Every problem with the workflow, and what planning needs when there are none."""
    problems: list[Diagnostic] = []
    types = _check_nodes(workflow, problems)
    wires = _check_edges(workflow, types, problems)
    connected: dict[str, set[str]] = defaultdict(set)
    for wire in wires:
        connected[wire.edge.target].add(wire.target_port.id)
    _check_required_ports(workflow, types, connected, problems)
    configs: dict[str, NormalisedConfig] = {}
    references: dict[str, frozenset[str]] = {}
    checked_ids: set[str] = set()
    for node in workflow.nodes:
        node_type = types.get(node.id)
        if node_type is None or node.id in checked_ids:
            continue  # unknown type, or a duplicate id (reported already)
        checked_ids.add(node.id)
        normalised = normalise_config(node, node_type, problems)
        references[node.id] = _check_expressions(workflow, node, node_type, problems)
        if normalised is not None:
            configs[node.id] = normalised
            if node_type.check is not None:
                context = NodeCheckContext(node.id, node.config_path,
                                           frozenset(connected[node.id]),
                                           keys_as_written(node_type.config_model, node.config))
                problems.extend(node_type.check(normalised.model, context))
    policy = check_run_settings(workflow, problems)
    _check_secrets(workflow, problems)
    _check_cycles(workflow, wires, references, problems)
    return CheckedWorkflow(workflow, problems, types, configs, wires, references, policy)


def _close(word: str, options: list[str]) -> str:
    matches = difflib.get_close_matches(word, options, n=1)
    return f"did you mean {matches[0]!r}? " if matches else ""


def _check_nodes(workflow: Workflow, problems: list[Diagnostic]) -> dict[str, NodeType]:
    known = node_types()
    types: dict[str, NodeType] = {}
    seen: dict[str, str] = {}
    for node in workflow.nodes:
        if node.id in seen:
            problems.append(Diagnostic(
                "duplicate-node-id", f"node id {node.id!r} is used more than once",
                node.path + "/id", node_id=node.id,
                hint=f"first used at {seen[node.id]}; give every node its own id",
            ))
            continue
        seen[node.id] = node.path
        node_type = known.get(node.type)
        if node_type is not None:
            types[node.id] = node_type
        elif node.type in PLANNED_TYPES:
            problems.append(Diagnostic(
                "unsupported-node-type",
                f"node type {node.type!r} is not implemented in Catalyst yet",
                node.path + "/type", node_id=node.id,
                hint=f"node types available now: {', '.join(sorted(known))}",
            ))
        else:
            problems.append(Diagnostic(
                "unknown-node-type", f"unknown node type {node.type!r}",
                node.path + "/type", node_id=node.id,
                hint=_close(node.type, list(known))
                + f"known node types: {', '.join(sorted(known))}",
            ))
    if not any(not t.is_trigger for t in types.values()) and not problems:
        problems.append(Diagnostic(
            "empty-workflow", "the workflow has no nodes that do any work",
            workflow.path + "/nodes",
            hint="add at least one node, e.g. a groqCompletion",
        ))
    return types


def _check_edges(
    workflow: Workflow, types: dict[str, NodeType], problems: list[Diagnostic]
) -> list[Wire]:
    ids = [node.id for node in workflow.nodes]
    wires: list[Wire] = []
    for edge in workflow.edges:
        ends: list[Port | None] = []
        for end, handle, node_id in (
            ("source", edge.source_handle, edge.source),
            ("target", edge.target_handle, edge.target),
        ):
            if node_id not in ids:
                problems.append(Diagnostic(
                    "dangling-edge", f"edge {end} {node_id!r} is not a node in this workflow",
                    f"{edge.path}/{end}", edge_id=edge.label,
                    hint=_close(node_id, ids) + f"nodes: {', '.join(ids)}",
                ))
                ends.append(None)
                continue
            node_type = types.get(node_id)
            ends.append(None if node_type is None else
                        _resolve_handle(edge, end, handle, node_id, node_type, problems))
        source_port, target_port = ends
        if source_port is None or target_port is None:
            continue
        if source_port.data and not ports_compatible(source_port.type, target_port.type):
            problems.append(Diagnostic(
                "incompatible-ports",
                f"{edge.source}.{source_port.id} gives {source_port.type} but "
                f"{edge.target}.{target_port.id} takes {target_port.type}",
                edge.path, edge_id=edge.label, node_id=edge.target,
                hint=f"connect a port that gives {target_port.type}, or put a node between "
                "them that converts it",
            ))
            continue
        wires.append(Wire(edge, source_port, target_port))
    return wires


def _resolve_handle(
    edge: Edge, end: str, handle: str | None, node_id: str, node_type: NodeType,
    problems: list[Diagnostic],
) -> Port | None:
    ports = node_type.outputs if end == "source" else node_type.inputs
    key = "sourceHandle" if end == "source" else "targetHandle"
    valid = ", ".join(port.id for port in ports) or "none"
    direction = "output" if end == "source" else "input"
    if handle is None:
        if len(ports) == 1:
            return ports[0]
        problems.append(Diagnostic(
            "ambiguous-handle" if ports else "no-such-port",
            f"{node_type.type} node {node_id!r} has {len(ports)} {direction} ports; "
            f"the edge does not say which",
            f"{edge.path}/{key}", edge_id=edge.label, node_id=node_id,
            hint=f"set {key} to one of: {valid}",
        ))
        return None
    port = next((p for p in ports if p.id == handle), None)
    if port is None:
        problems.append(Diagnostic(
            "unknown-handle",
            f"{node_type.type} node {node_id!r} has no {direction} port {handle!r}",
            f"{edge.path}/{key}", edge_id=edge.label, node_id=node_id,
            hint=f"{direction} ports of {node_type.type}: {valid}",
        ))
    return port


def _check_required_ports(
    workflow: Workflow, types: dict[str, NodeType], connected: Mapping[str, set[str]],
    problems: list[Diagnostic],
) -> None:
    for node in workflow.nodes:
        node_type = types.get(node.id)
        for port in node_type.inputs if node_type else ():
            if port.required and port.id not in connected.get(node.id, set()):
                problems.append(Diagnostic(
                    "missing-input", f"input port {port.id!r} ({port.type}) needs an edge",
                    node.path, node_id=node.id,
                    hint=f"connect a node that gives {port.type} to {port.id!r}",
                ))


def _check_expressions(
    workflow: Workflow, node: Node, node_type: NodeType, problems: list[Diagnostic]
) -> frozenset[str]:
    """Report unparsable expressions and unknown names; return the nodes read."""
    inputs = [spec.name for spec in workflow.inputs]
    ids = [n.id for n in workflow.nodes]
    read: set[str] = set()
    config = dict(node.config)
    for name in node_type.expression_fields:
        if isinstance(config.get(name), str):
            # Braces are optional in expression fields; check what will run.
            config[name] = expressions.as_expression(config[name])
    for path, source in expressions.template_strings(config):
        pointer = node.config_path + json_pointer(*path)
        analysis = expressions.analyse(source)

        def report(code: str, message: str, hint: str, pointer: str = pointer) -> None:
            problems.append(Diagnostic(code, message, pointer, node_id=node.id, hint=hint))

        if analysis.syntax_error is not None:
            report("expression-syntax", f"cannot parse {source!r}: {analysis.syntax_error}",
                   "expressions use Jinja syntax: {{ input.text }}, {{ nodes['id'].output }}")
            continue
        if path and path[0] in node_type.expression_fields and \
                expressions.single_expression(source) is None:
            report("expression-syntax", f"{path[0]!r} must be a single expression",
                   "write one expression, e.g. {{ nodes['classify'].output.content == 'yes' }}")
        for name in analysis.unknown_names:
            report("unknown-reference", f"unknown name {name!r} in {source!r}",
                   "expressions can read input.<name>, global.<name> and nodes['<id>'].output")
        for ref in analysis.references:
            if ref.root == "input" and ref.key is not None and ref.key not in inputs:
                report("unknown-input", f"{source!r} reads input {ref.key!r}, which the "
                       "workflow does not declare",
                       _close(ref.key, inputs) + f"declared inputs: {', '.join(inputs) or 'none'}")
            elif ref.root == "global" and ref.key is not None and ref.key not in workflow.globals:
                names = sorted(workflow.globals)
                report("unknown-global", f"{source!r} reads global {ref.key!r}, which the "
                       "project does not define",
                       _close(ref.key, names) + f"globals: {', '.join(names) or 'none'}")
            elif ref.root == "nodes":
                if ref.key is None:
                    report("unknown-node-reference", f"{source!r} reads `nodes` without "
                           "naming a node", "name the node: nodes['<id>'].output")
                elif ref.key == node.id:
                    report("self-reference", f"{source!r} reads this node's own output",
                           "a node can only read nodes that run before it")
                elif ref.key not in ids:
                    hyphenated = [i for i in ids if i.startswith(ref.key + "-")]
                    hint = (f"write nodes[{hyphenated[0]!r}]: ids with '-' need brackets"
                            if hyphenated else _close(ref.key, ids) + f"nodes: {', '.join(ids)}")
                    report("unknown-node-reference",
                           f"{source!r} reads node {ref.key!r}, which does not exist", hint)
                else:
                    read.add(ref.key)
    return frozenset(read)


def _strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[
    tuple[tuple[str | int, ...], str]
]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _check_secrets(workflow: Workflow, problems: list[Diagnostic]) -> None:
    """A literal key in a workflow file leaks with every copy of it: refuse it."""
    places: list[tuple[str, str | None, Any]] = [
        (workflow.path.rsplit("/workflows", 1)[0] + "/globalVariables", None, workflow.globals)
    ]
    places += [(node.config_path, node.id, node.config) for node in workflow.nodes]
    places += [(spec.path + "/default", None, spec.default) for spec in workflow.inputs]
    for base, node_id, value in places:
        for path, text in _strings(value):
            if _GROQ_KEY.search(text):
                problems.append(Diagnostic(
                    "literal-secret", "this value looks like a Groq API key (gsk_…); "
                    "workflow files must not hold secrets",
                    base + json_pointer(*path), node_id=node_id,
                    hint='set the key in an environment variable and refer to it: '
                    '{"$secret": "GROQ_API_KEY"}',
                ))


def _check_cycles(
    workflow: Workflow, wires: list[Wire], references: Mapping[str, frozenset[str]],
    problems: list[Diagnostic],
) -> None:
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    graph.add_nodes_from(node.id for node in workflow.nodes)
    for wire in wires:
        graph.add_edge(wire.edge.source, wire.edge.target, key=f"edge {wire.edge.label}")
    for node_id, read in references.items():
        for source in read:
            graph.add_edge(source, node_id, key="expression")
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycle = nx.find_cycle(graph.subgraph(component), source=start)
        steps = " -> ".join(f"{src} [{key}]" for src, _dst, key in cycle)
        problems.append(Diagnostic(
            "cycle", f"the workflow loops: {steps} -> {cycle[0][0]}",
            workflow.path + "/edges", node_id=start,
            hint="remove one of these edges or expression references; a workflow must be a DAG",
        ))

