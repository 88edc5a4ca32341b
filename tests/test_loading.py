"""Loading: both input shapes normalise into one model, and problems become diagnostics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from workflow_builders import (
    as_manifest,
    as_manifest_workflow,
    diagnostics,
    edge,
    graph,
    groq_node,
    load,
    loaded,
    log_node,
    manifest,
    node,
    only,
    prompt_node,
    write_json,
)

from catalyst.loading import load_document, load_workflow
from catalyst.model import Edge, Node, Workflow
from catalyst.planning import plan_workflow
from catalyst.rendering import render_script
from catalyst.validation import check_workflow

UI_KEYS = {"selected": True, "dragging": False, "measured": {"width": 180, "height": 60},
           "width": 180, "height": 60, "zIndex": 3, "positionAbsolute": {"x": 1, "y": 2}}


def summarize_graph() -> dict[str, Any]:
    """A two-node workflow with an input, a label, a typeVersion and run settings."""
    return graph(
        prompt_node("prompt-1", "Summarise: {{ input.text }}", label="Build prompt"),
        node("groq-1", "groqCompletion", {"model": "openai/gpt-oss-20b", "temperature": 0.2},
             label="Groq", typeVersion=2, timeout=30000),
        edges=[edge("prompt-1", "groq-1", id="e1", source_handle="output",
                    target_handle="input")],
        inputs={"text": {"type": "string", "required": True, "description": "Text"}},
        id="summarize",
        name="Summarize text",
        description="Three sentences.",
    )


# -- the editor graph ----------------------------------------------------------------


def test_editor_graph_reads_config_and_label_from_data() -> None:
    workflow = loaded(summarize_graph())

    prompt, groq = workflow.nodes
    assert (prompt.id, prompt.type, prompt.label) == ("prompt-1", "promptTemplate", "Build prompt")
    assert prompt.config == {"messages": [{"role": "user", "content": "Summarise: {{ input.text }}"}]}
    assert groq.config == {"model": "openai/gpt-oss-20b", "temperature": 0.2}
    assert groq.type_version == 2
    assert groq.settings == {"timeout": 30000}
    assert (workflow.id, workflow.name, workflow.description) == (
        "summarize", "Summarize text", "Three sentences.")


def test_editor_graph_ignores_ui_keys_and_viewport() -> None:
    document = summarize_graph()
    for item in document["nodes"]:
        item.update(UI_KEYS)
    document["viewport"] = {"x": 10, "y": -4, "zoom": 0.5}
    plain = loaded(summarize_graph())

    workflow = loaded(document)

    assert workflow.nodes == plain.nodes
    assert workflow.edges == plain.edges


def test_label_defaults_to_node_id_and_name_to_file_stem() -> None:
    workflow = loaded(graph(node("lonely", "log", {})))

    assert workflow.nodes[0].label == "lonely"
    assert workflow.name == "test"


def test_edges_without_id_or_handles_load_with_none() -> None:
    document = graph(
        log_node("a"), log_node("b"), log_node("c"),
        edges=[edge("a", "b"), edge("b", "c", id=None, source_handle=None, target_handle=None)],
    )

    first, second = loaded(document).edges

    assert first == Edge(None, "a", "b", None, None, "/edges/0")
    assert second == Edge(None, "b", "c", None, None, "/edges/1")
    assert first.label == "a->b"


def test_edge_without_target_is_a_missing_field() -> None:
    document = graph(log_node("a"), edges=[{"id": "e1", "source": "a"}])

    problem = only(load(document).diagnostics, "missing-field")

    assert problem.path == "/edges/0/target"
    assert problem.edge_id == "e1"


def test_type_version_defaults_to_one() -> None:
    assert loaded(graph(log_node("a"))).nodes[0].type_version == 1


# -- the project manifest ---------------------------------------------------------------


def test_manifest_reads_nodes_keyed_by_id_with_config_and_name() -> None:
    document = manifest(
        {"triage": {
            "id": "triage", "name": "Triage",
            "nodes": {"classify": {"id": "classify", "type": "groqCompletion",
                                   "name": "Classify urgency", "position": {"x": 1, "y": 2},
                                   "config": {"prompt": "hi"}, "retries": 2}},
            "edges": [],
        }},
        global_variables={"TEAM": "Support"},
        secrets={"GROQ_API_KEY": {"required": True}},
    )

    workflow = loaded(document)

    (classify,) = workflow.nodes
    assert (classify.id, classify.type, classify.label) == (
        "classify", "groqCompletion", "Classify urgency")
    assert classify.config == {"prompt": "hi"}
    assert classify.settings == {"retries": 2}
    assert workflow.globals == {"TEAM": "Support"}
    assert [secret.name for secret in workflow.secrets] == ["GROQ_API_KEY"]
    assert workflow.path == "/workflows/triage"


def test_manifest_node_id_may_come_from_its_key() -> None:
    document = manifest({"w": {"nodes": {"only": {"type": "log", "config": {}}}}})

    assert loaded(document).nodes[0].id == "only"


def two_workflow_manifest() -> dict[str, Any]:
    one = as_manifest_workflow(graph(log_node("a")), "zeta")
    two = as_manifest_workflow(graph(log_node("b")), "alpha")
    return manifest({"zeta": one, "alpha": two})


def test_manifest_with_several_workflows_needs_a_choice_and_lists_them() -> None:
    result = load(two_workflow_manifest())

    assert result.workflow is None
    problem = only(result.diagnostics, "workflow-choice-required")
    assert problem.path == "/workflows"
    assert problem.hint is not None
    assert "alpha, zeta" in problem.hint


def test_manifest_with_unknown_workflow_choice_lists_the_ids() -> None:
    result = load(two_workflow_manifest(), workflow_id="beta")

    assert result.workflow is None
    problem = only(result.diagnostics, "workflow-not-found")
    assert "'beta'" in problem.message
    assert problem.hint is not None
    assert "alpha, zeta" in problem.hint


def test_manifest_choice_selects_the_workflow() -> None:
    workflow = loaded(two_workflow_manifest(), workflow_id="alpha")

    assert workflow.id == "alpha"
    assert [n.id for n in workflow.nodes] == ["b"]


def test_single_workflow_manifest_needs_no_choice() -> None:
    workflow = loaded(as_manifest(graph(log_node("a")), "solo"))

    assert workflow.id == "solo"


def test_editor_graph_refuses_a_workflow_choice() -> None:
    result = load(graph(log_node("a")), workflow_id="anything")

    assert result.workflow is None
    assert only(result.diagnostics, "workflow-not-found").hint is not None


def test_unsupported_manifest_schema_version() -> None:
    document = as_manifest(graph(log_node("a")))
    document["schemaVersion"] = "2.0.0"

    problem = only(load(document).diagnostics, "unsupported-schema-version")

    assert problem.path == "/schemaVersion"


def test_manifest_without_workflows_is_an_empty_project() -> None:
    assert only(load(manifest({})).diagnostics, "empty-project").path == "/workflows"


def test_manifest_nodes_as_a_list_is_a_wrong_type() -> None:
    document = manifest({"w": {"nodes": [{"id": "a", "type": "log"}]}})

    assert only(load(document).diagnostics, "wrong-type").path == "/workflows/w/nodes"


# -- files and formats ------------------------------------------------------------------


def test_invalid_json_is_a_diagnostic_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"nodes": [\n  {"id": "a",, }\n]}', encoding="utf-8")

    result = load_workflow(path)

    assert result.workflow is None
    problem = only(result.diagnostics, "invalid-json")
    assert "line 2" in problem.message


def test_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    result = load_workflow(tmp_path / "nope.json")

    assert result.workflow is None
    assert only(result.diagnostics, "unreadable-file").message


@pytest.mark.parametrize("document", [{"name": "no nodes"}, [], "text", 3, None])
def test_unknown_format(document: Any) -> None:
    result = load(document)

    assert result.workflow is None
    assert only(result.diagnostics, "unknown-format").path == ""


def test_load_workflow_reads_both_shapes_from_files(tmp_path: Path) -> None:
    graph_file = write_json(tmp_path / "graph.json", summarize_graph())
    manifest_file = write_json(tmp_path / "project.json", as_manifest(summarize_graph()))

    from_graph = load_workflow(graph_file)
    from_manifest = load_workflow(manifest_file)

    assert from_graph.diagnostics == from_manifest.diagnostics == []
    assert from_graph.workflow is not None
    assert from_graph.workflow.source_name == "graph.json"
    assert len(from_graph.workflow.source_sha256) == 64


# -- JSON pointers ------------------------------------------------------------------------


def test_editor_graph_pointers() -> None:
    workflow = loaded(summarize_graph())

    groq = workflow.nodes[1]
    assert (groq.path, groq.config_path) == ("/nodes/1", "/nodes/1/data/config")
    assert workflow.edges[0].path == "/edges/0"
    assert workflow.inputs[0].path == "/input/text"


def test_manifest_pointers() -> None:
    workflow = loaded(as_manifest(summarize_graph(), "sum"))

    groq = workflow.node("groq-1")
    assert groq is not None
    assert (groq.path, groq.config_path) == (
        "/workflows/sum/nodes/groq-1", "/workflows/sum/nodes/groq-1/config")
    assert workflow.edges[0].path == "/workflows/sum/edges/0"
    assert workflow.inputs[0].path == "/workflows/sum/input/text"


def test_manifest_pointers_escape_slash_and_tilde() -> None:
    document = as_manifest(graph(log_node("a/b~c")), "w/1")

    (item,) = loaded(document, "w/1").nodes

    assert item.config_path == "/workflows/w~11/nodes/a~1b~0c/config"


def test_config_diagnostics_point_into_either_shape() -> None:
    document = graph(groq_node("llm", prompt="hi", temperature=5))

    in_graph = only(diagnostics(document), "out-of-range")
    in_manifest = only(diagnostics(as_manifest(document, "w")), "out-of-range")

    assert in_graph.path == "/nodes/0/data/config/temperature"
    assert in_manifest.path == "/workflows/w/nodes/llm/config/temperature"
    assert in_graph.node_id == in_manifest.node_id == "llm"


# -- nothing after loading knows the shape --------------------------------------------------


def _without_paths(item: Node | Edge) -> Node | Edge:
    # Every `*path` field is a pointer into the file, so it may differ by shape.
    pointers = {f.name: "" for f in dataclasses.fields(item) if f.name.endswith("path")}
    return dataclasses.replace(item, **pointers)


def _shapeless(workflow: Workflow) -> Any:
    return (
        [_without_paths(n) for n in workflow.nodes],
        [_without_paths(e) for e in workflow.edges],
        [dataclasses.replace(spec, path="") for spec in workflow.inputs],
        (workflow.id, workflow.name, workflow.description, workflow.output_type),
    )


def test_both_shapes_load_into_the_same_model() -> None:
    document = summarize_graph()

    from_graph = loaded(document)
    from_manifest = loaded(as_manifest(document, "summarize"))

    assert _shapeless(from_graph) == _shapeless(from_manifest)


def test_both_shapes_render_the_same_script() -> None:
    document = summarize_graph()
    scripts = []
    for shaped in (document, as_manifest(document, "summarize")):
        workflow = dataclasses.replace(loaded(shaped), source_sha256="0" * 64)
        checked = check_workflow(workflow)
        assert checked.ok
        scripts.append(render_script(plan_workflow(checked)))

    assert scripts[0] == scripts[1]


def test_both_shapes_report_the_same_problems_apart_from_paths() -> None:
    document = graph(
        groq_node("llm", prompt="{{ input.missing }}", temperature=9),
        node("odd", "noSuchType", {}),
        edges=[edge("llm", "ghost", id="e1")],
    )

    def summary(found: list[Any]) -> list[tuple[str, str | None, str | None]]:
        return sorted((d.code, d.node_id, d.edge_id) for d in found)

    assert summary(diagnostics(document)) == summary(diagnostics(as_manifest(document)))


def test_inputs_load_with_defaults_and_requiredness() -> None:
    document = graph(log_node("a"), inputs={
        "text": {"type": "string", "required": True, "description": "The text"},
        "count": {"type": "integer", "required": True, "default": 3},
        "loose": {},
    })

    text, count, loose = loaded(document).inputs

    assert (text.name, text.type, text.required, text.description) == (
        "text", "string", True, "The text")
    assert (count.required, count.default, count.has_default) == (False, 3, True)
    assert (loose.type, loose.required, loose.has_default) == ("string", False, False)


def test_document_order_is_kept(tmp_path: Path) -> None:
    ids = ["zeta", "alpha", "mid"]
    document = graph(*(log_node(i) for i in ids))
    path = tmp_path / "order.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    result = load_workflow(path)

    assert result.workflow is not None
    assert [n.id for n in result.workflow.nodes] == ids


def test_lone_surrogate_is_refused_at_its_field() -> None:
    document = json.loads(
        '{"nodes": [{"id": "a", "type": "log", "data": {"config": {"message": "x\\ud800"}}}]}'
    )

    result = load_document(document, source_name="s.json")

    assert result.workflow is None
    assert [(d.code, d.path) for d in result.diagnostics] == [
        ("invalid-text", "/nodes/0/data/config/message")
    ]
