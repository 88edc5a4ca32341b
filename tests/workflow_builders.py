"""Small builders for workflow documents, in both input shapes, shared by the unit tests.

Tests describe a workflow as an editor graph (the React Flow shape) and, where
the shape matters, convert it to a project manifest with `as_manifest`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from catalyst.diagnostics import Diagnostic
from catalyst.loading import LoadResult, load_document
from catalyst.model import Workflow
from catalyst.validation import CheckedWorkflow, check_workflow

Document = dict[str, Any]

# Marks a key that the built JSON should leave out entirely (as opposed to null).
OMIT: Any = object()

# Looks like a Groq key to the secret check; it is not a real one.
FAKE_GROQ_KEY = "gsk_" + "Xq7Lm2Rt9Vb4Nc8Kd3Wf6Hj1Pz5Ys0Ua"


def node(node_id: str, node_type: str, config: Mapping[str, Any] | None = None, *,
         label: str | None = None, **data: Any) -> Document:
    """An editor-graph node; `data` adds keys beside `label` and `config`."""
    node_data: Document = {"config": dict(config or {}), **data}
    if label is not None:
        node_data["label"] = label
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": node_data}


def edge(source: str, target: str, *, id: Any = OMIT, source_handle: Any = OMIT,
         target_handle: Any = OMIT) -> Document:
    """An editor-graph edge; handles and id are left out unless given (None gives null)."""
    built: Document = {"source": source, "target": target}
    for key, value in (("id", id), ("sourceHandle", source_handle),
                       ("targetHandle", target_handle)):
        if value is not OMIT:
            built[key] = value
    return built


def graph(*nodes: Document, edges: Iterable[Document] = (),
          inputs: Mapping[str, Any] | None = None, **extra: Any) -> Document:
    """An editor graph document (the shape a React Flow canvas saves)."""
    document: Document = {"nodes": list(nodes), "edges": list(edges)}
    if inputs is not None:
        document["input"] = dict(inputs)
    document.update(extra)
    return document


def as_manifest_workflow(graph_document: Mapping[str, Any], workflow_id: str) -> Document:
    """The same workflow as a manifest entry: nodes keyed by id, config at node.config."""
    nodes: Document = {}
    for item in graph_document["nodes"]:
        data = item.get("data", {})
        entry: Document = {"id": item["id"], "type": item["type"], "position": {"x": 0, "y": 0},
                           "config": data.get("config", {})}
        if "label" in data:
            entry["name"] = data["label"]
        entry.update({k: v for k, v in data.items() if k not in ("label", "config")})
        nodes[item["id"]] = entry
    workflow: Document = {"id": workflow_id, "nodes": nodes,
                          "edges": list(graph_document.get("edges", []))}
    for key in ("name", "description", "input", "output", "executionConfig"):
        if key in graph_document:
            workflow[key] = graph_document[key]
    return workflow


def manifest(workflows: Mapping[str, Document], *, global_variables: Mapping[str, Any] | None
             = None, secrets: Mapping[str, Any] | None = None) -> Document:
    """A project manifest (schemaVersion 1.0.0) holding the given workflow entries."""
    document: Document = {
        "schemaVersion": "1.0.0",
        "projectType": "workflow",
        "metadata": {"projectName": "Tests"},
        "workflows": dict(workflows),
    }
    if global_variables is not None:
        document["globalVariables"] = dict(global_variables)
    if secrets is not None:
        document["secrets"] = dict(secrets)
    return document


def as_manifest(graph_document: Mapping[str, Any], workflow_id: str = "main", *,
                global_variables: Mapping[str, Any] | None = None) -> Document:
    """A one-workflow manifest holding the same workflow as an editor graph."""
    return manifest({workflow_id: as_manifest_workflow(graph_document, workflow_id)},
                    global_variables=global_variables)


# -- nodes of the real types ---------------------------------------------------------


def prompt_node(node_id: str = "prompt", content: str = "Hello", **data: Any) -> Document:
    return node(node_id, "promptTemplate",
                {"messages": [{"role": "user", "content": content}]}, **data)


def groq_node(node_id: str = "llm", **config: Any) -> Document:
    config.setdefault("model", "openai/gpt-oss-20b")
    return node(node_id, "groqCompletion", config)


def log_node(node_id: str = "log", message: str = "done", **config: Any) -> Document:
    return node(node_id, "log", {"message": message, **config})


def condition_node(node_id: str = "check", expression: str = "true") -> Document:
    return node(node_id, "condition", {"expression": expression})


def edit_fields_node(node_id: str = "edit", fields: Mapping[str, Any] | None = None,
                     mode: str = "merge") -> Document:
    return node(node_id, "editFields", {"mode": mode, "fields": dict(fields or {"a": 1})})


# -- running the front end -------------------------------------------------------------


def load(document: Any, workflow_id: str | None = None) -> LoadResult:
    return load_document(document, source_name="test.json", workflow_id=workflow_id)


def loaded(document: Any, workflow_id: str | None = None) -> Workflow:
    """The workflow, asserting it loaded without problems."""
    result = load(document, workflow_id)
    assert result.diagnostics == []
    assert result.workflow is not None
    return result.workflow


def diagnostics(document: Any, workflow_id: str | None = None) -> list[Diagnostic]:
    """Every problem loading and checking finds."""
    result = load(document, workflow_id)
    if result.workflow is None:
        return list(result.diagnostics)
    return list(result.diagnostics) + check_workflow(result.workflow).diagnostics


def checked(document: Any, workflow_id: str | None = None) -> CheckedWorkflow:
    """The checked workflow, asserting it has no errors."""
    result = check_workflow(loaded(document, workflow_id))
    assert [d for d in result.diagnostics if d.is_error] == []
    return result


def only(found: list[Diagnostic], code: str) -> Diagnostic:
    """The one diagnostic with this code."""
    matching = [d for d in found if d.code == code]
    assert len(matching) == 1, f"expected one {code!r}, got {found}"
    return matching[0]


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
