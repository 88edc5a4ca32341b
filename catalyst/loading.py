"""Read a workflow file in either supported shape into the internal model.

Two shapes reach Catalyst (see WORKFLOW_FORMAT.md): the editor graph that a
React Flow canvas saves, and the project manifest that holds several workflows.
Structural problems are collected as diagnostics rather than raised one by one,
so a broken file gets one complete report.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from catalyst.config_types import ENV_NAME
from catalyst.diagnostics import Diagnostic, json_pointer, listing
from catalyst.keys import find_key, looks_like_key
from catalyst.model import (
    INPUT_TYPES,
    Edge,
    InputSpec,
    InputType,
    Node,
    SecretSpec,
    Trigger,
    Workflow,
)

_RUN_SETTING_KEYS = ("timeout", "retries", "onError", "fallbackValue")
# Limits on what a workflow file may be: anything beyond is a mistake or an attack.
MAX_FILE_BYTES = 20_000_000
MAX_DEPTH = 64
MAX_NODES = 5_000
_SURROGATE = re.compile("[\ud800-\udfff]")
# Keys that only say where things sit on the canvas: they never change the code.
_LAYOUT_KEYS = frozenset({
    "position", "positionAbsolute", "selected", "dragging", "measured", "width", "height",
    "zIndex", "resizing", "draggable", "selectable", "sourcePosition", "targetPosition",
})


@dataclass(frozen=True)
class LoadResult:
    workflow: Workflow | None
    diagnostics: list[Diagnostic]


class _Collector:
    """Accumulates diagnostics while reading one document."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, message: str, path: str, **extra: Any) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, path=path, **extra))

    def mapping(self, value: Any, path: str, what: str, **extra: Any) -> dict[str, Any] | None:
        if isinstance(value, Mapping):
            return dict(value)
        self.error("wrong-type", f"{what} must be a JSON object, got {_kind(value)}", path, **extra)
        return None

    def text(self, value: Any, path: str, what: str, **extra: Any) -> str | None:
        if isinstance(value, str) and value:
            return value
        if value is None:
            self.error("missing-field", f"{what} is required", path, **extra)
        else:
            message = f"{what} must be a non-empty string, got {_kind(value)}"
            self.error("wrong-type", message, path, **extra)
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name if value != "" else "an empty string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _lone_surrogates(value: Any, path: str = "") -> Iterator[str]:
    """Pointers to strings (or keys) that JSON escapes turned into lone surrogates."""
    if isinstance(value, str):
        if any("\ud800" <= char <= "\udfff" for char in value):
            yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and any("\ud800" <= char <= "\udfff" for char in key):
                yield path  # the object whose key is broken
            else:
                yield from _lone_surrogates(item, path + json_pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, f"{path}/{index}")


def _within_depth(document: Any) -> bool:
    """Whether nothing is nested deeper than MAX_DEPTH (the fast check: no pointers)."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return True


def _flat_text(document: Any) -> str | None:
    """The document as one JSON text, to rule out lone surrogates and pasted keys
    at C speed before walking it for their pointers (None: not serialisable)."""
    try:
        return json.dumps(document, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _too_deep(document: Any) -> str | None:
    """The pointer of the first value nested deeper than MAX_DEPTH (iteratively: no recursion)."""
    if _within_depth(document):
        return None
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path
        if isinstance(value, Mapping):
            stack.extend((item, path + json_pointer(key), depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}/{i}", depth + 1) for i, item in enumerate(value))
    return None


def content_digest(document: Any) -> str:
    """sha256 of what the document means: where nodes sit on the canvas and key
    order left out, so moving a node does not make its generated script stale."""
    canonical = json.dumps(_without_layout(document), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _without_layout(document: Any) -> Any:
    if not isinstance(document, Mapping):
        return document
    stripped = {k: v for k, v in document.items() if k != "viewport"}
    if isinstance(stripped.get("nodes"), (list, Mapping)):
        stripped["nodes"] = _nodes_without_layout(stripped["nodes"])
    workflows = stripped.get("workflows")
    if isinstance(workflows, Mapping):
        stripped["workflows"] = {key: _without_layout(value) for key, value in workflows.items()}
    return stripped


def _nodes_without_layout(nodes: Any) -> Any:
    def node(entry: Any) -> Any:
        if not isinstance(entry, Mapping):
            return entry
        return {k: v for k, v in entry.items() if k not in _LAYOUT_KEYS}

    if isinstance(nodes, Mapping):
        return {key: node(value) for key, value in nodes.items()}
    return [node(entry) for entry in nodes]


def _pasted_keys(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(pointer, provider) for every string or object key that holds an API key."""
    if isinstance(value, str):
        provider = find_key(value)
        if provider is not None:
            yield path, provider
    elif isinstance(value, Mapping):
        for key, item in value.items():
            provider = find_key(key) if isinstance(key, str) else None
            if provider is not None:
                yield path, provider  # the object holding the key; the key itself is secret
            yield from _pasted_keys(item, path + json_pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pasted_keys(item, f"{path}/{index}")


def document_shape(document: Any) -> str | None:
    """'manifest', 'editor-graph', or None when the document is neither."""
    if not isinstance(document, Mapping):
        return None
    if "schemaVersion" in document or "workflows" in document:
        return "manifest"
    if "nodes" in document:
        return "editor-graph"
    return None


def workflow_ids(document: Any) -> list[str]:
    """The workflow ids a document holds (one, unnamed, for an editor graph)."""
    if document_shape(document) == "manifest":
        workflows = document.get("workflows")
        return sorted(workflows) if isinstance(workflows, Mapping) else []
    return [""]


def read_document(path: Path) -> tuple[Any, bytes, list[Diagnostic]]:
    """Parse a workflow file; a read or JSON error is a diagnostic, not a crash.

    Only regular files are read (a FIFO would block, /dev/zero never ends),
    and at most MAX_FILE_BYTES of them.
    """
    try:
        if not path.is_file():
            what = "is not a regular file" if path.exists() else "does not exist"
            return None, b"", [Diagnostic("unreadable-file", f"cannot read {path}: it {what}")]
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, b"", [Diagnostic("unreadable-file", f"cannot read {path}: {exc.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, b"", [Diagnostic(
            "file-too-large", f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB",
            hint="a workflow file is a few kilobytes; is this the right file?",
        )]
    return parse_document(raw)


def parse_document(raw: bytes) -> tuple[Any, bytes, list[Diagnostic]]:
    """Parse JSON text (UTF-8); every way it can fail is one diagnostic."""
    try:
        return json.loads(raw), raw, []
    except json.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})"
        return None, raw, [Diagnostic("invalid-json", f"not valid JSON{where}: {exc.msg}")]
    except UnicodeDecodeError as exc:
        return None, raw, [Diagnostic(
            "invalid-json", f"not UTF-8 text (byte {exc.start})",
            hint="save the file as UTF-8",
        )]
    except RecursionError:
        return None, raw, [Diagnostic(
            "too-deep", f"nested more than {MAX_DEPTH} levels deep",
            hint=f"workflow files nest at most {MAX_DEPTH} levels",
        )]
    except ValueError as exc:  # e.g. a number with thousands of digits
        return None, raw, [Diagnostic("invalid-json", f"not valid JSON: {exc}")]


def load_workflow(path: Path, workflow_id: str | None = None) -> LoadResult:
    """Load one workflow from a file of either shape."""
    document, raw, problems = read_document(path)
    if problems:
        return LoadResult(None, problems)
    return load_document(document, source_name=path.name, raw=raw, workflow_id=workflow_id)


def load_document(
    document: Any, *, source_name: str, raw: bytes | None = None, workflow_id: str | None = None
) -> LoadResult:
    """Load one workflow from an already parsed document."""
    collector = _Collector()
    deepest = _too_deep(document)
    if deepest is not None:
        collector.error("too-deep", f"nested more than {MAX_DEPTH} levels deep", deepest,
                        hint=f"workflow files nest at most {MAX_DEPTH} levels")
        return LoadResult(None, collector.diagnostics)
    flat = _flat_text(document)
    surrogates = flat is None or _SURROGATE.search(flat) is not None
    for path in _lone_surrogates(document) if surrogates else ():
        collector.error(
            "invalid-text",
            "text holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its "
            "pair), which is not Unicode text",
            path,
            hint="write the character itself, or both halves of its surrogate pair",
        )
    if collector.diagnostics:
        return LoadResult(None, collector.diagnostics)
    pasted = list(_pasted_keys(document)) if flat is None or looks_like_key(flat) else []
    digest = content_digest(document)
    shape = document_shape(document)
    if shape == "manifest":
        workflow = _load_manifest(document, source_name, digest, workflow_id, collector)
    elif shape == "editor-graph":
        if workflow_id:
            collector.error(
                "workflow-not-found",
                f"{source_name} is a single editor graph; it has no workflow {workflow_id!r}",
                "",
                hint="leave out --workflow for editor-graph files",
            )
            return LoadResult(None, collector.diagnostics)
        workflow = _load_graph(cast(Mapping[str, Any], document), "", source_name, digest, {}, (),
                               collector, graph=True)
    else:
        collector.error(
            "unknown-format",
            "not a Catalyst workflow: expected an editor graph (with a `nodes` list) "
            "or a project manifest (with `schemaVersion` and `workflows`)",
            "",
        )
        workflow = None
    # A key in a workflow file leaks with every copy of the file, wherever it sits.
    for path, provider in pasted:
        node = _node_at(workflow, path)
        collector.error(
            "literal-secret",
            f"this value looks like {_article(provider)} {provider} API key; workflow files "
            "must not hold secrets",
            path,
            node_id=node,
            hint="set the key in an environment variable and name it in the secret field: "
            '"apiKey": "GROQ_API_KEY" (or {"$secret": "GROQ_API_KEY"})',
        )
    return LoadResult(workflow, collector.diagnostics)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _node_at(workflow: Workflow | None, pointer: str) -> str | None:
    for node in workflow.nodes if workflow else ():
        if pointer == node.path or pointer.startswith(node.path + "/"):
            return node.id
    return None


def _load_manifest(
    document: Mapping[str, Any],
    source_name: str,
    digest: str,
    workflow_id: str | None,
    collector: _Collector,
) -> Workflow | None:
    version = document.get("schemaVersion")
    if version is not None and version != "1.0.0":
        collector.error(
            "unsupported-schema-version",
            f"schemaVersion {version!r} is not supported",
            "/schemaVersion",
            hint="Catalyst reads project manifests with schemaVersion '1.0.0'",
        )
        return None
    workflows = collector.mapping(document.get("workflows"), "/workflows", "`workflows`")
    if workflows is None:
        return None
    ids = sorted(workflows)
    if not ids:
        collector.error("empty-project", "the project has no workflows", "/workflows")
        return None
    if workflow_id is None:
        if len(ids) > 1:
            collector.error(
                "workflow-choice-required",
                f"{source_name} holds {len(ids)} workflows; choose one",
                "/workflows",
                hint=f"pass --workflow with one of: {listing(ids)}",
            )
            return None
        workflow_id = ids[0]
    if workflow_id not in workflows:
        collector.error(
            "workflow-not-found",
            f"no workflow {workflow_id!r} in {source_name}",
            "/workflows",
            hint=f"workflows in this project: {listing(ids)}",
        )
        return None
    base = json_pointer("workflows", workflow_id)
    entry = collector.mapping(workflows[workflow_id], base, f"workflow {workflow_id!r}")
    if entry is None:
        return None
    raw_globals = document.get("globalVariables") or {}
    globals_ = collector.mapping(raw_globals, "/globalVariables", "`globalVariables`") or {}
    secrets = _load_secrets(document.get("secrets"), collector)
    raw_config = document.get("config") or {}
    project_config = collector.mapping(raw_config, "/config", "`config`") or {}
    entry.setdefault("id", workflow_id)
    workflow = _load_graph(entry, base, source_name, digest, globals_, secrets,
                           collector, graph=False)
    trigger = _load_trigger(entry.get("trigger"), base + "/trigger", collector)
    return replace(workflow, trigger=trigger, project_config=project_config)


def _load_secrets(raw: Any, collector: _Collector) -> tuple[SecretSpec, ...]:
    declared = collector.mapping(raw or {}, "/secrets", "`secrets`") or {}
    specs = []
    for name, value in sorted(declared.items()):
        path = "/secrets" + json_pointer(name)
        spec = collector.mapping(value if value is not None else {}, path, f"secret {name!r}")
        if spec is None:
            continue
        if not ENV_NAME.match(name):
            collector.error("invalid-secret-name", f"secret {name!r} is not an environment "
                            "variable name", path,
                            hint="use letters, digits and _, not starting with a digit")
            continue
        description = spec.get("description")
        specs.append(SecretSpec(name, spec.get("required") is not False,
                                description if isinstance(description, str) else ""))
    return tuple(specs)


def _load_trigger(raw: Any, path: str, collector: _Collector) -> Trigger | None:
    if raw is None:
        return None
    entry = collector.mapping(raw, path, "`trigger`")
    if entry is None:
        return None
    trigger_type = collector.text(entry.get("type"), path + "/type", "the trigger's `type`")
    config = collector.mapping(entry.get("config") or {}, path + "/config",
                               "the trigger's `config`")
    if trigger_type is None or config is None:
        return None
    return Trigger(trigger_type, config, path)


def _load_graph(
    entry: Mapping[str, Any],
    base: str,
    source_name: str,
    digest: str,
    globals_: dict[str, Any],
    secrets: tuple[SecretSpec, ...],
    collector: _Collector,
    *,
    graph: bool,
) -> Workflow:
    nodes = _load_nodes(entry.get("nodes"), base, collector, graph=graph)
    edges = _load_edges(entry.get("edges"), base, collector)
    inputs = _load_inputs(entry.get("input"), base, collector)
    output = entry.get("output")
    output_type = output.get("type", "json") if isinstance(output, Mapping) else "json"
    output_format = output.get("format") if isinstance(output, Mapping) else None
    execution = entry.get("executionConfig")
    workflow_id = entry.get("id")
    name = entry.get("name")
    description = entry.get("description")
    return Workflow(
        id=workflow_id if isinstance(workflow_id, str) else "",
        name=name if isinstance(name, str) and name else Path(source_name).stem,
        description=description if isinstance(description, str) else "",
        inputs=inputs,
        nodes=nodes,
        edges=edges,
        globals=globals_,
        secrets=secrets,
        source_name=source_name,
        source_sha256=digest,
        path=base,
        output_type=str(output_type),
        output_format=output_format if isinstance(output_format, str) else None,
        execution=dict(execution) if isinstance(execution, Mapping) else {},
    )


def _load_nodes(raw: Any, base: str, collector: _Collector, *, graph: bool) -> tuple[Node, ...]:
    where = base + "/nodes"
    if raw is None:
        return ()
    if graph:
        if not isinstance(raw, list):
            collector.error("wrong-type", f"`nodes` must be a list, got {_kind(raw)}", where)
            return ()
        items: list[tuple[str | int, Any]] = list(enumerate(raw))
    else:
        if not isinstance(raw, Mapping):
            collector.error("wrong-type", f"`nodes` must be an object keyed by node id, got "
                            f"{_kind(raw)}", where)
            return ()
        items = list(raw.items())
    if len(items) > MAX_NODES:
        collector.error("too-many-nodes", f"{len(items):,} nodes; Catalyst compiles at most "
                        f"{MAX_NODES:,} per workflow", where,
                        hint="split the workflow into several")
        return ()
    nodes = []
    for key, value in items:
        node = _load_node(key, value, where + json_pointer(key), collector, graph=graph)
        if node is not None:
            nodes.append(node)
    return tuple(nodes)


def _load_node(
    key: str | int, raw: Any, path: str, collector: _Collector, *, graph: bool
) -> Node | None:
    entry = collector.mapping(raw, path, "a node")
    if entry is None:
        return None
    node_id = entry.get("id", key if isinstance(key, str) else None)
    node_id = collector.text(node_id, path + "/id", "the node's `id`")
    node_type = collector.text(entry.get("type"), path + "/type", "the node's `type`",
                               node_id=node_id)
    if node_id is None or node_type is None:
        return None
    if isinstance(key, str) and key != node_id:
        collector.error(
            "id-mismatch",
            f"node is stored under key {key!r} but its `id` is {node_id!r}",
            path + "/id",
            node_id=node_id,
            hint="the key in `nodes` and the node's `id` must be the same",
        )
    if graph:
        data = collector.mapping(entry.get("data", {}), path + "/data", "the node's `data`",
                                 node_id=node_id) or {}
        label = data.get("label")
        config_raw, config_path = data.get("config", {}), path + "/data/config"
        version = data.get("typeVersion", 1)
        settings = {k: data[k] for k in _RUN_SETTING_KEYS if k in data}
    else:
        label = entry.get("name")
        config_raw, config_path = entry.get("config", {}), path + "/config"
        version = entry.get("typeVersion", 1)
        settings = {k: entry[k] for k in _RUN_SETTING_KEYS if k in entry}
    config = collector.mapping(
        config_raw if config_raw is not None else {}, config_path, "the node's config",
        node_id=node_id,
    )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        collector.error("wrong-type", "`typeVersion` must be a positive integer", path,
                        node_id=node_id)
        version = 1
    return Node(
        id=node_id,
        type=node_type,
        label=label if isinstance(label, str) and label else node_id,
        config=config or {},
        path=path,
        config_path=config_path,
        type_version=version,
        settings=settings,
        settings_path=path + "/data" if graph else path,
    )


def _load_edges(raw: Any, base: str, collector: _Collector) -> tuple[Edge, ...]:
    where = base + "/edges"
    if raw is None:
        return ()
    if not isinstance(raw, list):
        collector.error("wrong-type", f"`edges` must be a list, got {_kind(raw)}", where)
        return ()
    edges = []
    for index, value in enumerate(raw):
        path = f"{where}/{index}"
        entry = collector.mapping(value, path, "an edge")
        if entry is None:
            continue
        edge_id = entry.get("id")
        edge_id = edge_id if isinstance(edge_id, str) and edge_id else None
        source = collector.text(entry.get("source"), path + "/source", "the edge's `source`",
                                edge_id=edge_id)
        target = collector.text(entry.get("target"), path + "/target", "the edge's `target`",
                                edge_id=edge_id)
        handles = []
        for key in ("sourceHandle", "targetHandle"):
            handle = entry.get(key)
            if handle is not None and not isinstance(handle, str):
                collector.error("wrong-type", f"`{key}` must be a string or null", f"{path}/{key}",
                                edge_id=edge_id)
                handle = None
            handles.append(handle or None)
        if source is not None and target is not None:
            edges.append(Edge(edge_id, source, target, handles[0], handles[1], path))
    return tuple(edges)


def _load_inputs(raw: Any, base: str, collector: _Collector) -> tuple[InputSpec, ...]:
    where = base + "/input"
    if raw is None:
        return ()
    declared = collector.mapping(raw, where, "`input`")
    if declared is None:
        return ()
    inputs = []
    for name, value in declared.items():
        path = where + json_pointer(name)
        spec = collector.mapping(value, path, f"input {name!r}")
        if spec is None:
            continue
        input_type = spec.get("type", "string")
        if input_type not in INPUT_TYPES:
            collector.error(
                "invalid-input-type",
                f"input {name!r} has type {input_type!r}",
                path + "/type",
                hint=f"use one of: {', '.join(INPUT_TYPES)}",
            )
            continue
        description = spec.get("description")
        inputs.append(
            InputSpec(
                name=name,
                type=cast(InputType, input_type),
                required=bool(spec.get("required", False)) and "default" not in spec,
                description=description if isinstance(description, str) else "",
                default=spec.get("default"),
                has_default="default" in spec,
                path=path,
            )
        )
    return tuple(inputs)
