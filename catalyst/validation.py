"""Check a loaded workflow and report every problem in one pass.

Besides the diagnostics, checking yields what planning needs and should not
work out again: each node's type and normalised config, each edge's resolved
ports, and the nodes each node reads through expressions.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from catalyst import expressions
from catalyst.branches import branches_of
from catalyst.config_types import is_secret_field
from catalyst.configs import (
    NormalisedConfig,
    PreparedConfig,
    field_name,
    keys_as_written,
    model_diagnostics,
    normalise_config,
    prepare_config,
)
from catalyst.diagnostics import Diagnostic, json_pointer, listing
from catalyst.model import Edge, Node, Workflow
from catalyst.registry import (
    PLANNED_TYPES,
    NodeCheckContext,
    NodeType,
    Port,
    ShapeContext,
    conversion,
    needs_conversion,
    node_types,
)
from catalyst.run_settings import RunPolicy, check_run_settings
from catalyst.shapes import (
    STRING,
    Schema,
    any_of,
    array,
    closed,
    member,
    of_value,
    walk,
)

# Names that only ever name a secret: `{{ secrets.X }}` is a whole secret field.
_SECRET_ROOTS = ("secrets", "env")
_INPUT_SHAPES: dict[str, Schema] = {
    "string": STRING, "number": {"type": "number"}, "integer": {"type": "integer"},
    "boolean": {"type": "boolean"}, "object": {"type": "object"}, "array": {"type": "array"},
}
_MESSAGES = array(closed({"role": STRING, "content": STRING}))


@dataclass(frozen=True)
class _OutputRead:
    """One `nodes.x.output…` in a config string, to check once output shapes are known."""

    node: Node
    pointer: str
    source: str
    path: expressions.OutputPath


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
    prepared: dict[str, PreparedConfig] = {}
    configs: dict[str, NormalisedConfig] = {}
    nodes: list[Node] = []
    for node in workflow.nodes:
        node_type = types.get(node.id)
        if node_type is None or node.id in prepared:
            continue  # unknown type, or a duplicate id (reported already)
        nodes.append(node)
        prepared[node.id] = prepare_config(node, node_type, problems)
        normalised = normalise_config(node, node_type, prepared[node.id], problems)
        if normalised is not None:
            configs[node.id] = normalised
    implied = _implied_edges(nodes, types, configs)
    edges = workflow.edges + implied
    wires = _check_edges(workflow, edges, types, problems)
    tools = _check_tools(wires, types, {(e.source, e.target) for e in implied}, problems)
    connected: dict[str, set[str]] = defaultdict(set)
    for wire in wires:
        if not wire.source_port.calls:
            connected[wire.edge.target].add(wire.target_port.id)
    _check_required_ports(workflow, types, connected, problems)
    references: dict[str, frozenset[str]] = {}
    reads: list[_OutputRead] = []
    for node in nodes:
        node_type = types[node.id]
        references[node.id] = _check_expressions(workflow, node, node_type, prepared[node.id],
                                                 problems, reads, tool=node.id in tools)
        normalised = configs.get(node.id)
        if normalised is not None and node_type.check is not None:
            context = NodeCheckContext(node.id, node.config_path,
                                       frozenset(connected[node.id]),
                                       keys_as_written(node_type.config_model, node.config))
            problems.extend(node_type.check(normalised.model, context))
    policy = check_run_settings(workflow, problems)
    _check_trigger(workflow, problems)
    _check_tool_reads(tools, references, problems, workflow)
    acyclic = _check_cycles(workflow, wires, references, problems, tools)
    if acyclic:
        shapes = output_shapes(workflow, types, configs, wires, references, policy)
        _check_output_reads(types, shapes, reads, problems)
    return CheckedWorkflow(workflow, problems, types, configs, wires, references, policy)


def _close(word: str, options: list[str]) -> str:
    if len(options) > 200:
        # Comparing with thousands of ids per diagnostic would be quadratic.
        options = [option for option in options if option[:1] == word[:1]][:200]
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
                hint=f"node types available now: {listing(sorted(known), limit=len(known))}",
            ))
        else:
            problems.append(Diagnostic(
                "unknown-node-type", f"unknown node type {node.type!r}",
                node.path + "/type", node_id=node.id,
                hint=_close(node.type, list(known))
                + f"known node types: {listing(sorted(known), limit=len(known))}",
            ))
    if not any(not t.is_trigger for t in types.values()) and not problems:
        problems.append(Diagnostic(
            "empty-workflow", "the workflow has no nodes that do any work",
            workflow.path + "/nodes",
            hint="add at least one node, e.g. a groqCompletion",
        ))
    return types


def _implied_edges(
    nodes: list[Node], types: dict[str, NodeType], configs: dict[str, NormalisedConfig]
) -> tuple[Edge, ...]:
    """Edges a node's config implies (condition trueTarget), unless drawn as well."""
    implied: list[Edge] = []
    for node in nodes:
        node_type, config = types[node.id], configs.get(node.id)
        if node_type.implied_edges is None or config is None:
            continue
        written = keys_as_written(node_type.config_model, node.config)
        for item in node_type.implied_edges(config.model):
            pointer = node.config_path + json_pointer(written.get(item.field, item.field))
            implied.append(Edge(None, node.id, item.target, item.source_handle, None, pointer))
    return tuple(implied)


def _check_edges(
    workflow: Workflow, edges: tuple[Edge, ...], types: dict[str, NodeType],
    problems: list[Diagnostic],
) -> list[Wire]:
    ids = [node.id for node in workflow.nodes]
    wires: list[Wire] = []
    drawn = {(e.source, e.source_handle, e.target) for e in edges if e.id is not None}
    for edge in edges:
        if edge.id is None and (edge.source, edge.source_handle, edge.target) in drawn:
            continue  # an implied edge the editor drew too
        ends: list[Port | None] = []
        for end, handle, node_id in (
            ("source", edge.source_handle, edge.source),
            ("target", edge.target_handle, edge.target),
        ):
            if node_id not in ids:
                problems.append(Diagnostic(
                    "dangling-edge", f"edge {end} {node_id!r} is not a node in this workflow",
                    f"{edge.path}/{end}", edge_id=edge.label,
                    hint=_close(node_id, ids) + f"nodes: {listing(ids)}",
                ))
                ends.append(None)
                continue
            node_type = types.get(node_id)
            ends.append(None if node_type is None else
                        _resolve_handle(edge, end, handle, node_id, node_type, problems))
        source_port, target_port = ends
        if source_port is None or target_port is None:
            continue
        rule = conversion(source_port.type, target_port.type)
        if source_port.data and rule.lossy:
            problems.append(Diagnostic(
                "lossy-conversion",
                f"{edge.source}.{source_port.id} gives {source_port.type} but "
                f"{edge.target}.{target_port.id} takes {target_port.type}: {rule.description}",
                edge.path, edge_id=edge.label, node_id=edge.target, severity="warning",
                hint=f"connect a port that gives {target_port.type} to keep everything",
            ))
        wires.append(Wire(edge, source_port, target_port))
    return wires


def _resolve_handle(
    edge: Edge, end: str, handle: str | None, node_id: str, node_type: NodeType,
    problems: list[Diagnostic],
) -> Port | None:
    ports = node_type.outputs if end == "source" else node_type.inputs
    key = "sourceHandle" if end == "source" else "targetHandle"
    valid = listing(port.id for port in ports) or "none"
    direction = "output" if end == "source" else "input"
    if handle is None:
        # A tools handle is never the default: an edge to a tool names it.
        plain = [port for port in ports if not port.calls]
        if len(plain) == 1:
            return plain[0]
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
    workflow: Workflow, node: Node, node_type: NodeType, prepared: PreparedConfig,
    problems: list[Diagnostic], reads: list[_OutputRead], *, tool: bool = False,
) -> frozenset[str]:
    """Report unparsable expressions and unknown names; return the nodes read.
    A tool node's expressions may also read the call: `tool.args`, `tool.name`."""
    inputs = [spec.name for spec in workflow.inputs]
    ids = [n.id for n in workflow.nodes]
    read: set[str] = set()
    model = node_type.config_model
    local: frozenset[str] = frozenset()
    # When the scope field is there but unreadable (JSON text that does not parse,
    # reported already), its names are unknown: saying each is undefined would
    # blame the templates for the scope's mistake.
    scope_unreadable = False
    if node_type.scope_field is not None:
        written = keys_as_written(model, prepared.values).get(node_type.scope_field)
        scope = prepared.values.get(written) if written else None
        if isinstance(scope, dict):
            local = frozenset(name for name in scope if isinstance(name, str))
        scope_unreadable = scope is not None and not isinstance(scope, dict)
    for path, source in expressions.template_strings(prepared.values):
        field = model.model_fields.get(field_name(model, str(path[0]))) if path else None
        if field is not None and is_secret_field(field):
            continue  # a secret's name, checked by its model: never evaluated
        shown = path[:1] if path and path[0] in prepared.text_fields else path
        pointer = node.config_path + json_pointer(*shown)
        in_scope = local if path and field_name(model, str(path[0])) != node_type.scope_field \
            else frozenset()
        if tool:
            in_scope |= {"tool"}
        analysis = expressions.analyse(source, in_scope)

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
            if name == "tool":
                report("tool-outside-tool", f"{source!r} reads `tool`, the arguments of a "
                       "tool call, in a node no model calls as a tool",
                       "wire the node to a chat node's `tools` handle and define it in that "
                       "node's `tools`, or read input.<name> instead")
                continue
            if name in _SECRET_ROOTS:
                report("secret-in-expression", f"{source!r} reads `{name}`: secrets only name "
                       "the key of a secret field, they never go into text",
                       'set the secret field itself, e.g. "apiKey": "{{ secrets.GROQ_API_KEY }}"')
                continue
            if scope_unreadable:
                continue
            known = [*sorted(local), "input", "global", "nodes"]
            closest = f"did you mean 'input.{name}'? " if name in inputs else _close(name, known)
            scope = listing(sorted(local)) if local else (
                f"the keys of {node_type.scope_field}" if node_type.scope_field else "")
            report("unknown-reference", f"unknown name {name!r} in {source!r}",
                   closest + "expressions can read input.<name>, global.<name>, "
                   "nodes['<id>'].output" + (f" and {scope}" if scope else ""))
        for ref in analysis.references:
            if ref.root == "input" and ref.key is not None and ref.key not in inputs:
                report("unknown-input", f"{source!r} reads input {ref.key!r}, which the "
                       "workflow does not declare",
                       _close(ref.key, inputs) + f"declared inputs: {listing(inputs) or 'none'}")
            elif ref.root == "global" and ref.key is not None and ref.key not in workflow.globals:
                names = sorted(workflow.globals)
                report("unknown-global", f"{source!r} reads global {ref.key!r}, which the "
                       "project does not define",
                       _close(ref.key, names) + f"globals: {listing(names) or 'none'}")
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
                            if hyphenated else _close(ref.key, ids) + f"nodes: {listing(ids)}")
                    report("unknown-node-reference",
                           f"{source!r} reads node {ref.key!r}, which does not exist", hint)
                else:
                    read.add(ref.key)
        reads.extend(_OutputRead(node, pointer, source, output_path)
                     for output_path in analysis.output_paths
                     if output_path.node in read and output_path.node != node.id)
    return frozenset(read)


def output_shapes(
    workflow: Workflow, types: Mapping[str, NodeType], configs: Mapping[str, NormalisedConfig],
    wires: list[Wire], references: Mapping[str, frozenset[str]], policy: RunPolicy,
) -> dict[str, Schema]:
    """The shape of every node's output, worked out in dependency order."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    order = {node.id: index for index, node in enumerate(workflow.nodes)}
    graph.add_nodes_from(order)
    incoming: dict[str, list[Wire]] = defaultdict(list)
    for wire in wires:
        graph.add_edge(wire.edge.source, wire.edge.target)
        incoming[wire.edge.target].append(wire)
    for node_id, read in references.items():
        graph.add_edges_from((source, node_id) for source in read)
    workflow_inputs = closed({spec.name: _INPUT_SHAPES.get(spec.type, {})
                              for spec in workflow.inputs})
    # Nodes of a branch whose failure the run may go on without give {"error": …} then.
    tolerated: set[str] = set()
    for fan_out, fan_out_type in types.items():
        fan_out_config = configs.get(fan_out)
        if fan_out_type.fans_out is not None and fan_out_config is not None \
                and fan_out_type.fans_out(fan_out_config.model):
            tolerated.update(branches_of(graph, fan_out))
    shapes: dict[str, Schema] = {}
    for node_id in nx.lexicographical_topological_sort(graph, key=order.__getitem__):
        node_type, config = types.get(node_id), configs.get(node_id)
        if node_type is None or config is None:
            shapes[node_id] = {}
            continue
        arriving: dict[str, Schema] = {}
        for wire in incoming[node_id]:
            if not wire.source_port.data:
                continue
            shape = member(shapes[wire.edge.source], wire.source_port.field)
            if needs_conversion(wire.source_port.type, wire.target_port.type):
                shape = _MESSAGES if wire.target_port.type == "messages" else STRING
            port = wire.target_port.id
            arriving[port] = any_of(arriving[port], shape) if port in arriving else shape
        shape = node_type.shape_of_output(ShapeContext(config.model, arriving, workflow_inputs))
        node_policy = policy.nodes.get(node_id)
        if node_policy is not None and node_policy.on_error == "continue":
            shape = any_of(shape, closed({"error": STRING}))
        elif node_policy is not None and node_policy.on_error == "fallback":
            shape = any_of(shape, of_value(node_policy.fallback))
        if node_id in tolerated:
            shape = any_of(shape, closed({"error": STRING}))
        shapes[node_id] = shape
    return shapes


def _check_output_reads(
    types: Mapping[str, NodeType], shapes: Mapping[str, Schema], reads: list[_OutputRead],
    problems: list[Diagnostic],
) -> None:
    for item in reads:
        path, node_type = item.path, types.get(item.path.node)
        if node_type is None:
            continue
        target = f"nodes[{path.node!r}]"
        if path.attribute is not None and path.attribute != "output":
            problems.append(Diagnostic(
                "unknown-output-field",
                f"{item.source!r} reads {target}.{path.attribute}; a node offers only `output`",
                item.pointer, node_id=item.node.id,
                hint=f"write {target}.output" + (f".{path.attribute}"
                                                 if path.attribute != "output" else ""),
            ))
            continue
        found = walk(shapes.get(path.node, {}), path.keys)
        if found.missing is None:
            continue
        missing = path.keys[found.missing]
        where = target + ".output" + "".join(
            f".{key}" if isinstance(key, str) else f"[{key}]" for key in path.keys[:found.missing]
        )
        available = list(found.available)
        problems.append(Diagnostic(
            "unknown-output-field",
            f"{item.source!r} reads {where}.{missing}, but {path.node!r} ({node_type.type}) "
            f"has no field {missing!r} there",
            item.pointer, node_id=item.node.id,
            hint=_close(str(missing), available)
            + f"fields of {where}: {listing(available) or 'none'}",
        ))


def _check_trigger(workflow: Workflow, problems: list[Diagnostic]) -> None:
    trigger = workflow.trigger
    if trigger is None:
        return
    node_type = node_types().get(trigger.type)
    triggers = sorted(name for name, t in node_types().items() if t.is_trigger)
    if node_type is None or not node_type.is_trigger:
        problems.append(Diagnostic(
            "unknown-trigger", f"{trigger.type!r} is not a trigger type", trigger.path + "/type",
            hint=_close(trigger.type, triggers) + f"trigger types: {listing(triggers)}",
        ))
        return
    _model, found = model_diagnostics(node_type.config_model, trigger.config,
                                      trigger.path + "/config", None, f"trigger {trigger.type}")
    problems.extend(found)


def _check_tools(
    wires: list[Wire], types: Mapping[str, NodeType], implied: set[tuple[str, str]],
    problems: list[Diagnostic],
) -> dict[str, str]:
    """Tool node -> the node that calls it. A tool is called, never scheduled:
    only the edge from its caller's `tools` handle may reach it, nothing may
    follow it, and its caller's config must define it (name, parameters);
    `implied` holds the (caller, tool) pairs configs define."""
    tools: dict[str, str] = {}
    for wire in wires:
        if not wire.source_port.calls:
            continue
        caller, tool = wire.edge.source, wire.edge.target
        if (caller, tool) not in implied:
            # Still a tool for its expressions: one mistake, one report.
            tools.setdefault(tool, caller)
            problems.append(Diagnostic(
                "undefined-tool", f"node {tool!r} is wired as a tool of {caller!r}, which does "
                "not define it", wire.edge.path, node_id=caller, edge_id=wire.edge.label,
                hint=f'add it to {caller!r}\'s tools: {{"name": …, "description": …, '
                f'"parameters": {{…JSON Schema…}}, "node": {tool!r}}}',
            ))
        elif tool in tools and tools[tool] != caller:
            problems.append(Diagnostic(
                "shared-tool", f"node {tool!r} is a tool of both {tools[tool]!r} and {caller!r}",
                wire.edge.path, node_id=tool,
                hint="give each caller its own tool node (copy the node)",
            ))
        elif types.get(tool) is not None and types[tool].is_trigger:
            problems.append(Diagnostic(
                "trigger-as-tool", f"trigger node {tool!r} cannot be a tool", wire.edge.path,
                node_id=tool, hint="use a node that does work (editFields, postgresQuery, …)",
            ))
        else:
            tools[tool] = caller
    for wire in wires:
        if wire.source_port.calls:
            continue
        for end, node_id in (("into", wire.edge.target), ("out of", wire.edge.source)):
            if node_id in tools:
                problems.append(Diagnostic(
                    "tool-wired", f"edge {wire.edge.label} goes {end} tool node {node_id!r}: "
                    "a tool runs when the model calls it, with the call's arguments as its "
                    "input, and its result goes back to the model", wire.edge.path,
                    node_id=node_id, edge_id=wire.edge.label,
                    hint=f"remove the edge; read the arguments as {{{{ tool.args.<name> }}}} "
                    f"in {node_id!r}'s config, or use {node_id!r}'s output through "
                    f"{tools[node_id]!r}'s reply",
                ))
    return tools


def _check_tool_reads(
    tools: Mapping[str, str], references: Mapping[str, frozenset[str]],
    problems: list[Diagnostic], workflow: Workflow,
) -> None:
    """No node reads a tool's output: a tool may run many times, or never."""
    for node_id, read in references.items():
        for tool in sorted(read & set(tools)):
            problems.append(Diagnostic(
                "tool-output-read", f"node {node_id!r} reads the output of tool node {tool!r}",
                next(n.path for n in workflow.nodes if n.id == node_id), node_id=node_id,
                hint=f"read {tools[tool]!r}'s reply instead: the model sees the tool's result",
            ))


def _check_cycles(
    workflow: Workflow, wires: list[Wire], references: Mapping[str, frozenset[str]],
    problems: list[Diagnostic], tools: Mapping[str, str] | None = None,
) -> bool:
    """Report every loop; whether there were none."""
    acyclic = True
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    graph.add_nodes_from(node.id for node in workflow.nodes)
    for wire in wires:
        graph.add_edge(wire.edge.source, wire.edge.target, key=f"edge {wire.edge.label}")
    for node_id, read in references.items():
        for source in read:
            graph.add_edge(source, node_id, key="expression")
    for tool, caller in (tools or {}).items():
        # What a tool reads must be done before the node that calls it starts.
        for source in references.get(tool, ()):
            graph.add_edge(source, caller, key=f"read by its tool {tool}")
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        acyclic = False
        cycle = nx.find_cycle(graph.subgraph(component), source=start)
        steps = " -> ".join(f"{src} [{key}]" for src, _dst, key in cycle)
        problems.append(Diagnostic(
            "cycle", f"the workflow loops: {steps} -> {cycle[0][0]}",
            workflow.path + "/edges", node_id=start,
            hint="remove one of these edges or expression references; a workflow must be a DAG",
        ))
    return acyclic
