"""Validation: one test per diagnostic code, each pinned to node, edge and JSON pointer."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_builders import (
    FAKE_GROQ_KEY,
    as_manifest,
    as_manifest_workflow,
    checked,
    condition_node,
    diagnostics,
    edge,
    edit_fields_node,
    graph,
    groq_node,
    load,
    log_node,
    manifest,
    node,
    only,
    prompt_node,
)

from catalyst import validation
from catalyst.config_types import NodeConfig
from catalyst.diagnostics import Diagnostic
from catalyst.groq_models import chat_model_ids
from catalyst.loading import load_workflow
from catalyst.planning import plan_workflow
from catalyst.registry import NodeType, Port, node_types

KNOWN_TYPES = sorted(node_types())



def codes(found: list[Diagnostic]) -> list[str]:
    return sorted(d.code for d in found)


# -- node types -----------------------------------------------------------------------------


def test_unknown_node_type_lists_known_types_and_suggests_a_close_one() -> None:
    found = diagnostics(graph(log_node("a"), node("x", "promptTemplat", {})))

    problem = only(found, "unknown-node-type")
    assert (problem.node_id, problem.path) == ("x", "/nodes/1/type")
    assert problem.hint is not None
    assert "did you mean 'promptTemplate'" in problem.hint
    assert all(name in problem.hint for name in KNOWN_TYPES)


def test_editor_type_not_implemented_yet_is_unsupported() -> None:
    found = diagnostics(graph(log_node("a"), node("fetch", "httpRequest", {"url": "x"})))

    problem = only(found, "unsupported-node-type")
    assert (problem.node_id, problem.path) == ("fetch", "/nodes/1/type")
    assert "httpRequest" in problem.message
    assert problem.hint is not None
    assert "groqCompletion" in problem.hint


def test_duplicate_node_id() -> None:
    found = diagnostics(graph(log_node("a"), log_node("a")))

    problem = only(found, "duplicate-node-id")
    assert (problem.node_id, problem.path) == ("a", "/nodes/1/id")
    assert problem.hint is not None
    assert "/nodes/0" in problem.hint


def test_duplicate_node_is_not_checked_against_the_first_nodes_type() -> None:
    found = diagnostics(graph(prompt_node("a"), log_node("a", level="info")))

    assert codes(found) == ["duplicate-node-id"]


# -- edges and ports -----------------------------------------------------------------------


def test_dangling_edge_names_the_missing_node_and_lists_nodes() -> None:
    found = diagnostics(graph(log_node("first"), edges=[edge("first", "frist-x", id="e1")]))

    problem = only(found, "dangling-edge")
    assert (problem.edge_id, problem.node_id, problem.path) == ("e1", None, "/edges/0/target")
    assert "frist-x" in problem.message
    assert problem.hint is not None
    assert "first" in problem.hint


def test_dangling_edge_without_id_is_named_by_its_ends() -> None:
    found = diagnostics(graph(log_node("a"), edges=[edge("ghost", "a")]))

    problem = only(found, "dangling-edge")
    assert (problem.edge_id, problem.path) == ("ghost->a", "/edges/0/source")


def test_unknown_handle_lists_the_nodes_ports() -> None:
    document = graph(prompt_node("p"), groq_node("g", prompt="x"),
                     edges=[edge("p", "g", id="e1", source_handle="out", target_handle="input")])

    problem = only(diagnostics(document), "unknown-handle")

    assert (problem.node_id, problem.edge_id, problem.path) == ("p", "e1", "/edges/0/sourceHandle")
    assert problem.hint == "output ports of promptTemplate: output"


def test_unknown_target_handle_points_at_target_handle() -> None:
    document = graph(condition_node("c"), log_node("l"),
                     edges=[edge("c", "l", id="e1", source_handle="true", target_handle="in")])

    problem = only(diagnostics(document), "unknown-handle")

    assert (problem.node_id, problem.path) == ("l", "/edges/0/targetHandle")
    assert problem.hint is not None
    assert "input" in problem.hint


def test_edge_without_handle_from_a_condition_is_ambiguous() -> None:
    document = graph(condition_node("c"), log_node("l"), edges=[edge("c", "l", id="e1")])

    problem = only(diagnostics(document), "ambiguous-handle")

    assert (problem.node_id, problem.edge_id, problem.path) == ("c", "e1", "/edges/0/sourceHandle")
    assert problem.hint is not None
    assert "true, false" in problem.hint


def test_edge_into_a_trigger_has_no_port() -> None:
    document = graph(log_node("l"), node("start", "httpEndpoint", {}),
                     edges=[edge("l", "start", id="e1")])

    problem = only(diagnostics(document), "no-such-port")

    assert (problem.node_id, problem.edge_id, problem.path) == (
        "start", "e1", "/edges/0/targetHandle")


def test_any_output_may_feed_any_input() -> None:
    # As in the original editor: an object into a messages port is converted, not refused.
    document = graph(edit_fields_node("e"), groq_node("g", prompt="x"),
                     edges=[edge("e", "g", id="e1")])

    assert diagnostics(document) == []


def test_lossy_conversion_is_a_warning_naming_edge_and_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No shipped node type takes text today (embeddings will); define one for the test.
    class ReaderConfig(NodeConfig):
        pass

    reader = NodeType(
        type="reader", category="utility", display_name="Reader", description="Takes text.",
        icon="x", color="#000000", config_model=ReaderConfig, template="log.jinja",
        inputs=(Port("input", "Text", "text"),),
    )
    catalog = {**node_types(), "reader": reader}
    monkeypatch.setattr(validation, "node_types", lambda: catalog)
    document = graph(prompt_node("p"), node("r", "reader", {}),
                     edges=[edge("p", "r", id="e1")])

    problem = only(diagnostics(document), "lossy-conversion")

    assert problem.severity == "warning"
    assert (problem.node_id, problem.edge_id, problem.path) == ("r", "e1", "/edges/0")
    assert "messages" in problem.message and "text" in problem.message
    assert "roles are dropped" in problem.message


def test_required_input_port_without_edge_is_missing_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No shipped node type has a required input today; define one for the test.
    class SinkConfig(NodeConfig):
        pass

    sink = NodeType(
        type="sink", category="utility", display_name="Sink", description="Needs input.",
        icon="x", color="#000000", config_model=SinkConfig, template="log.jinja",
        inputs=(Port("input", "Value", "json", required=True),),
    )
    catalog = {**node_types(), "sink": sink}
    monkeypatch.setattr(validation, "node_types", lambda: catalog)

    problem = only(diagnostics(graph(log_node("a"), node("s", "sink", {}))), "missing-input")

    assert (problem.node_id, problem.path) == ("s", "/nodes/1")
    assert "'input'" in problem.message
    assert problem.hint is not None
    assert "json" in problem.hint


# -- config ---------------------------------------------------------------------------------


def test_missing_required_config_field() -> None:
    problem = only(diagnostics(graph(node("p", "promptTemplate", {}))), "missing-config")

    assert (problem.node_id, problem.path) == ("p", "/nodes/0/data/config")
    assert "template" in problem.message and "messages" in problem.message
    assert problem.hint is not None
    assert "messages" in problem.hint


def test_unknown_config_field_lists_valid_fields() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", temprature=0.5)))

    problem = only(found, "unknown-config-field")
    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/temprature")
    assert problem.hint is not None
    for field in ("model", "prompt", "temperature", "max_completion_tokens", "stream"):
        assert field in problem.hint


def test_out_of_range_temperature() -> None:
    problem = only(diagnostics(graph(groq_node("g", prompt="x", temperature=5))), "out-of-range")

    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/temperature")
    assert problem.hint == "allowed range: 0 to 2"


def test_out_of_range_lower_bound_only() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", max_completion_tokens=0)))

    problem = only(found, "out-of-range")
    assert problem.path == "/nodes/0/data/config/max_completion_tokens"
    assert problem.hint == "allowed range: at least 1"


def test_out_of_range_through_an_alias_still_names_the_range() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", maxTokens=0, topP=3)))

    hints = {d.path.rsplit("/", 1)[1]: d.hint for d in found if d.code == "out-of-range"}
    assert hints == {"maxTokens": "allowed range: at least 1", "topP": "allowed range: 0 to 1"}


def test_model_token_limit_is_out_of_range() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", max_completion_tokens=10**6)))

    problem = only(found, "out-of-range")
    assert problem.path == "/nodes/0/data/config/max_completion_tokens"
    assert problem.hint == "use at most 65536"


def test_model_token_limit_points_at_the_key_as_written() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", maxTokens=10**6)))

    assert only(found, "out-of-range").path == "/nodes/0/data/config/maxTokens"


def test_invalid_config_literal_lists_the_options() -> None:
    problem = only(diagnostics(graph(log_node("l", level="loud"))), "invalid-config")

    assert (problem.node_id, problem.path) == ("l", "/nodes/0/data/config/level")
    assert problem.hint is not None
    for level in ("debug", "info", "warning", "error"):
        assert repr(level) in problem.hint


def test_invalid_config_wrong_type_in_nested_field() -> None:
    document = graph(node("p", "promptTemplate", {"messages": [{"role": "bot", "content": "x"}]}))

    problem = only(diagnostics(document), "invalid-config")

    assert (problem.node_id, problem.path) == ("p", "/nodes/0/data/config/messages/0/role")
    assert problem.hint is not None
    assert "'user'" in problem.hint


def test_expression_in_a_typed_field_is_not_a_type_error() -> None:
    document = graph(groq_node("g", prompt="x", temperature="{{ input.t }}"),
                     inputs={"t": {"type": "number", "default": 0.3}})

    result = checked(document)

    assert result.diagnostics == []
    assert result.configs["g"].values["temperature"] == "{{ input.t }}"


def test_max_tokens_alias_is_normalised() -> None:
    result = checked(graph(groq_node("g", prompt="x", maxTokens=100)))

    values = result.configs["g"].values
    assert values["max_completion_tokens"] == 100
    assert "maxTokens" not in values


def test_expression_in_a_required_field_is_planned_or_reported() -> None:
    document = graph(node("p", "promptTemplate", {"messages": "{{ input.m }}"}),
                     inputs={"m": {"type": "array", "required": True}})
    result = validation.check_workflow(load(document).workflow)  # type: ignore[arg-type]

    if result.ok:
        plan_workflow(result)
    else:
        assert result.diagnostics[0].path == "/nodes/0/data/config/messages"


# -- graph ----------------------------------------------------------------------------------


def test_cycle_message_shows_the_whole_loop() -> None:
    document = graph(
        log_node("a"), log_node("b"), log_node("c"),
        edges=[edge("a", "b", id="e1"), edge("b", "c", id="e2"), edge("c", "a", id="e3")],
    )

    problem = only(diagnostics(document), "cycle")

    assert (problem.node_id, problem.path) == ("a", "/edges")
    assert "a [edge e1] -> b [edge e2] -> c [edge e3] -> a" in problem.message


def test_cycle_through_an_expression_reference() -> None:
    document = graph(log_node("a", message="{{ nodes.b.output }}"), log_node("b"),
                     edges=[edge("a", "b", id="e1")])

    problem = only(diagnostics(document), "cycle")

    assert "a [edge e1] -> b [expression] -> a" in problem.message


def test_workflow_with_only_a_trigger_is_empty() -> None:
    problem = only(diagnostics(graph(node("start", "httpEndpoint", {}))), "empty-workflow")

    assert (problem.node_id, problem.path) == (None, "/nodes")


def test_manifest_empty_workflow_points_into_the_workflow() -> None:
    document = manifest({"w": {"nodes": {}, "edges": []}})

    assert only(diagnostics(document), "empty-workflow").path == "/workflows/w/nodes"


# -- secrets --------------------------------------------------------------------------------


def test_literal_secret_in_config_is_refused_without_repeating_it() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", system_prompt=FAKE_GROQ_KEY)))

    problem = only(found, "literal-secret")
    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/system_prompt")
    assert problem.hint is not None
    assert '{"$secret": "GROQ_API_KEY"}' in problem.hint
    assert FAKE_GROQ_KEY not in problem.message
    assert FAKE_GROQ_KEY not in problem.hint


def test_literal_secret_as_api_key_is_not_echoed_by_any_diagnostic() -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", apiKey=FAKE_GROQ_KEY)))

    assert only(found, "literal-secret").path == "/nodes/0/data/config/apiKey"
    assert not [d for d in found if FAKE_GROQ_KEY in f"{d.message} {d.hint}"]


def test_literal_secret_in_globals_and_input_defaults() -> None:
    document = as_manifest(
        graph(log_node("a"), inputs={"key": {"type": "string", "default": FAKE_GROQ_KEY}}),
        "w", global_variables={"KEY": FAKE_GROQ_KEY},
    )

    paths = sorted(d.path for d in diagnostics(document) if d.code == "literal-secret")

    assert paths == ["/globalVariables/KEY", "/workflows/w/input/key/default"]


@pytest.mark.parametrize("config", [
    {"prompt": "x", "model": FAKE_GROQ_KEY},
    {"prompt": "{{ " + FAKE_GROQ_KEY + " }}"},
])
def test_no_diagnostic_echoes_a_pasted_key(config: dict[str, str]) -> None:
    found = diagnostics(graph(groq_node("g", **config)))

    assert "literal-secret" in codes(found)
    assert [d.code for d in found if FAKE_GROQ_KEY in f"{d.message} {d.hint}"] == []


# -- expressions ----------------------------------------------------------------------------


def test_expression_syntax_error_points_at_the_field() -> None:
    problem = only(diagnostics(graph(groq_node("g", prompt="Hi {{ input.text "),
                                     inputs={"text": {}})), "expression-syntax")

    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/prompt")
    assert problem.hint is not None
    assert "{{ input.text }}" in problem.hint


def test_expression_field_must_hold_one_expression() -> None:
    document = graph(condition_node("c", "{{ input.a }} and {{ input.b }}"),
                     inputs={"a": {}, "b": {}})

    problem = only(diagnostics(document), "expression-syntax")

    assert (problem.node_id, problem.path) == ("c", "/nodes/0/data/config/expression")


def test_unknown_name_in_expression() -> None:
    problem = only(diagnostics(graph(log_node("l", message="{{ inptu.text }}"))),
                   "unknown-reference")

    assert (problem.node_id, problem.path) == ("l", "/nodes/0/data/config/message")
    assert "'inptu'" in problem.message


def test_unknown_input_suggests_a_declared_one() -> None:
    document = graph(node("p", "promptTemplate", {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "{{ input.txt }}"}]}),
        inputs={"text": {}, "tone": {}})

    problem = only(diagnostics(document), "unknown-input")

    assert (problem.node_id, problem.path) == ("p", "/nodes/0/data/config/messages/1/content")
    assert problem.hint is not None
    assert "did you mean 'text'" in problem.hint
    assert "text, tone" in problem.hint


def test_unknown_global_lists_the_projects_globals() -> None:
    document = as_manifest(graph(log_node("l", message="{{ global.TEAMS }}")), "w",
                           global_variables={"TEAM": "Support", "MAX": 3})

    problem = only(diagnostics(document), "unknown-global")

    assert (problem.node_id, problem.path) == ("l", "/workflows/w/nodes/l/config/message")
    assert problem.hint is not None
    assert "did you mean 'TEAM'" in problem.hint
    assert "MAX, TEAM" in problem.hint


def test_unknown_node_reference_lists_nodes() -> None:
    document = graph(log_node("summary"), log_node("l", data={"x": "{{ nodes.sumary.output }}"}))

    problem = only(diagnostics(document), "unknown-node-reference")

    assert (problem.node_id, problem.path) == ("l", "/nodes/1/data/config/data/x")
    assert problem.hint is not None
    assert "did you mean 'summary'" in problem.hint


def test_hyphenated_node_id_needs_brackets() -> None:
    document = graph(prompt_node("prompt-1"), log_node("l", message="{{ nodes.prompt-1.output }}"))

    problem = only(diagnostics(document), "unknown-node-reference")

    assert problem.node_id == "l"
    assert problem.hint is not None
    assert "nodes['prompt-1']" in problem.hint


def test_reading_nodes_without_naming_one() -> None:
    problem = only(diagnostics(graph(log_node("l", message="{{ nodes }}"))),
                   "unknown-node-reference")

    assert problem.hint is not None
    assert "nodes['<id>']" in problem.hint


def test_self_reference() -> None:
    problem = only(diagnostics(graph(log_node("l", message="{{ nodes.l.output }}"))),
                   "self-reference")

    assert (problem.node_id, problem.path) == ("l", "/nodes/0/data/config/message")


@pytest.mark.parametrize(("expression", "code"), [
    ("nodes.nope.output == 1", "unknown-node-reference"),
    ("input.missing", "unknown-input"),
    ("1 ==", "expression-syntax"),
    ("", "expression-syntax"),
])
def test_bare_expression_field_is_checked(expression: str, code: str) -> None:
    found = diagnostics(graph(condition_node("c", expression), log_node("l"),
                              edges=[edge("c", "l", source_handle="true")]))

    assert only(found, code).path == "/nodes/0/data/config/expression"


# -- models ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "replacement"), [
    ("llama-3.1-70b-versatile", "openai/gpt-oss-120b"),
    ("mixtral-8x7b-32768", "openai/gpt-oss-20b"),
])
def test_decommissioned_model_is_a_warning_naming_the_replacement(
    model: str, replacement: str
) -> None:
    found = diagnostics(graph(groq_node("g", prompt="x", model=model)))

    problem = only(found, "model-decommissioned")
    assert problem.severity == "warning"
    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/model")
    assert problem.hint is not None
    assert replacement in problem.hint
    assert not [d for d in found if d.is_error]


def test_unknown_model_is_a_warning_listing_current_models() -> None:
    problem = only(diagnostics(graph(groq_node("g", prompt="x", model="gpt-9"))), "unknown-model")

    assert problem.severity == "warning"
    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config/model")
    assert problem.hint is not None
    assert all(model in problem.hint for model in chat_model_ids())


def test_model_from_an_expression_is_not_unknown() -> None:
    document = as_manifest(graph(groq_node("g", prompt="x", model="{{ global.MODEL }}")),
                           global_variables={"MODEL": "openai/gpt-oss-20b"})

    assert checked(document).diagnostics == []


def test_completion_without_anything_to_send_is_missing_prompt() -> None:
    problem = only(diagnostics(graph(groq_node("g"))), "missing-prompt")

    assert (problem.node_id, problem.path) == ("g", "/nodes/0/data/config")


def test_completion_fed_by_an_edge_needs_no_prompt() -> None:
    document = graph(prompt_node("p"), groq_node("g"), edges=[edge("p", "g")])

    assert checked(document).diagnostics == []


# -- loading problems -----------------------------------------------------------------------


def test_id_mismatch_in_manifest() -> None:
    document = manifest({"w": {"nodes": {"a": {"id": "b", "type": "log", "config": {}}}}})

    problem = only(diagnostics(document), "id-mismatch")

    assert (problem.node_id, problem.path) == ("b", "/workflows/w/nodes/a/id")


def test_workflow_choice_required() -> None:
    document = manifest({"one": as_manifest_workflow(graph(log_node("a")), "one"),
                         "two": as_manifest_workflow(graph(log_node("b")), "two")})

    problem = only(diagnostics(document), "workflow-choice-required")

    assert problem.path == "/workflows"
    assert problem.hint == "pass --workflow with one of: one, two"


def test_workflow_not_found() -> None:
    document = as_manifest(graph(log_node("a")), "one")

    problem = only(diagnostics(document, "three"), "workflow-not-found")

    assert problem.path == "/workflows"
    assert problem.hint is not None
    assert "one" in problem.hint


def test_invalid_input_type_lists_the_types() -> None:
    found = diagnostics(graph(log_node("a"), inputs={"n": {"type": "int"}}))

    problem = only(found, "invalid-input-type")
    assert problem.path == "/input/n/type"
    assert problem.hint == "use one of: string, number, integer, boolean, object, array"


def test_wrong_type_for_node_data() -> None:
    found = diagnostics(graph(log_node("ok"), {"id": "a", "type": "log", "data": "label"}))

    problem = only(found, "wrong-type")
    assert (problem.node_id, problem.path) == ("a", "/nodes/1/data")


def test_missing_node_type_is_a_missing_field() -> None:
    found = diagnostics(graph(log_node("ok"), {"id": "a", "data": {}}))

    problem = only(found, "missing-field")
    assert (problem.node_id, problem.path) == ("a", "/nodes/1/type")


def test_invalid_json_file(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text("{", encoding="utf-8")

    assert only(list(load_workflow(path).diagnostics), "invalid-json").path == ""


# -- one pass ---------------------------------------------------------------------------------


def test_every_problem_is_reported_in_one_pass() -> None:
    document = graph(
        node("x", "promptTemplat", {}),
        groq_node("g", prompt="{{ input.nope }}", temperature=5),
        log_node("l"),
        edges=[edge("l", "ghost", id="e1")],
    )

    found = diagnostics(document)

    assert codes(found) == ["dangling-edge", "out-of-range", "unknown-input", "unknown-node-type"]
    assert {d.node_id for d in found} == {"x", "g", None}


def test_a_clean_workflow_has_no_diagnostics() -> None:
    document = graph(
        node("start", "httpEndpoint", {"method": "POST", "path": "/run"}),
        prompt_node("p", "{{ input.text }}"),
        groq_node("g", temperature=0.2),
        condition_node("c", "{{ nodes.g.output.content == 'yes' }}"),
        edit_fields_node("yes", {"answer": "{{ nodes.g.output.content }}"}, mode="replace"),
        log_node("no", level="warning"),
        edges=[edge("start", "p"), edge("p", "g"), edge("g", "c"),
               edge("c", "yes", source_handle="true"), edge("c", "no", source_handle="false")],
        inputs={"text": {"type": "string", "required": True}},
    )

    assert checked(document).diagnostics == []

