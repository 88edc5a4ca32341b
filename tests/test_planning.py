"""Planning: generations, links, sinks, imports, dependencies, secrets and names."""

from __future__ import annotations

import keyword
import sys
from typing import Any

import pytest
from workflow_builders import (
    checked,
    condition_node,
    edge,
    edit_fields_node,
    graph,
    groq_node,
    loaded,
    log_node,
    node,
    prompt_node,
)

from catalyst.planning import Plan, PlannedLink, PlannedNode, plan_workflow
from catalyst.registry import node_types
from catalyst.rendering import render_script
from catalyst.validation import check_workflow

GROQ = node_types()["groqCompletion"]
JINJA2 = "jinja2>=3.1.6,<4"


def plan(document: dict[str, Any]) -> Plan:
    return plan_workflow(checked(document))


def diamond(first: str = "left", second: str = "right") -> dict[str, Any]:
    """prompt -> two completions in parallel -> one log that merges them."""
    return graph(
        prompt_node("prompt"),
        groq_node(first),
        groq_node(second),
        log_node("merge"),
        edges=[edge("prompt", first), edge("prompt", second),
               edge(first, "merge"), edge(second, "merge")],
    )


def generation_ids(result: Plan) -> list[list[str]]:
    return [[n.id for n in layer] for layer in result.generations]


def planned(result: Plan, node_id: str) -> PlannedNode:
    return next(n for n in result.nodes if n.id == node_id)


def links_of(result: Plan, node_id: str) -> dict[str, tuple[PlannedLink, ...]]:
    return dict(planned(result, node_id).links)


# -- order -------------------------------------------------------------------------------------


def test_diamond_middle_nodes_share_a_generation() -> None:
    result = plan(diamond())

    assert generation_ids(result) == [["prompt"], ["left", "right"], ["merge"]]
    assert planned(result, "left").generation == planned(result, "right").generation == 1
    assert [n.id for n in result.nodes] == ["prompt", "left", "right", "merge"]


def test_order_inside_a_generation_follows_the_document() -> None:
    assert generation_ids(plan(diamond("zeta", "alpha")))[1] == ["zeta", "alpha"]


def test_upstream_nodes_come_first_whatever_the_document_order() -> None:
    document = graph(log_node("last"), groq_node("middle"), prompt_node("first"),
                     edges=[edge("first", "middle"), edge("middle", "last")])

    assert generation_ids(plan(document)) == [["first"], ["middle"], ["last"]]


def test_planning_is_deterministic() -> None:
    assert plan(diamond()) == plan(diamond())


def test_expression_reference_orders_without_an_edge() -> None:
    document = graph(log_node("report", message="{{ nodes.llm.output.content }}"),
                     groq_node("llm", prompt="hi"))

    result = plan(document)

    assert generation_ids(result) == [["llm"], ["report"]]
    assert planned(result, "report").after == ("llm",)
    assert planned(result, "report").links == ()


def test_bare_condition_expression_orders_after_the_node_it_reads() -> None:
    document = graph(groq_node("llm", prompt="hi"),
                     condition_node("check", "nodes.llm.output.content == 'yes'"),
                     log_node("yes"), edges=[edge("check", "yes", source_handle="true")])

    result = plan(document)

    assert planned(result, "check").after == ("llm",)
    assert planned(result, "check").generation > planned(result, "llm").generation


def test_plan_refuses_a_workflow_with_errors() -> None:
    with pytest.raises(ValueError, match="errors"):
        plan_workflow(check_workflow(loaded(graph(node("x", "nope", {})))))


# -- links ---------------------------------------------------------------------------------------


def test_links_carry_the_output_field_of_the_source_port() -> None:
    result = plan(diamond())

    assert links_of(result, "left") == {"input": (PlannedLink("prompt", "messages", None),)}
    assert links_of(result, "merge") == {"input": (
        PlannedLink("left", "content", None), PlannedLink("right", "content", None))}


def test_condition_links_carry_their_branch() -> None:
    document = graph(condition_node("check", "{{ 1 > 0 }}"), log_node("yes"), log_node("no"),
                     edit_fields_node("after-no"),
                     edges=[edge("check", "yes", source_handle="true"),
                            edge("check", "no", source_handle="false"),
                            edge("no", "after-no")])

    result = plan(document)

    assert links_of(result, "yes") == {"input": (PlannedLink("check", "value", "true"),)}
    assert links_of(result, "no") == {"input": (PlannedLink("check", "value", "false"),)}
    assert links_of(result, "after-no") == {"input": (PlannedLink("no", None, None),)}


def test_trigger_edges_only_order() -> None:
    document = graph(node("start", "httpEndpoint", {"path": "/go"}), groq_node("llm", prompt="x"),
                     edges=[edge("start", "llm")])

    result = plan(document)

    assert planned(result, "llm").links == ()
    assert planned(result, "llm").after == ("start",)
    assert generation_ids(result) == [["start"], ["llm"]]


# -- sinks ----------------------------------------------------------------------------------------


def test_sinks_are_the_nodes_nothing_consumes() -> None:
    document = graph(
        node("start", "scheduledTask", {}),
        prompt_node("p"), groq_node("a"), log_node("b"), log_node("lonely"),
        edges=[edge("start", "p"), edge("p", "a"), edge("a", "b")],
    )

    result = plan(document)

    assert set(result.sinks) == {"b", "lonely"}
    assert list(result.sinks) == [n.id for n in result.nodes if n.id in result.sinks]


def test_a_lone_trigger_is_no_sink() -> None:
    document = graph(node("start", "webhookReceiver", {}), log_node("work"))

    assert plan(document).sinks == ("work",)


# -- imports and dependencies ----------------------------------------------------------------------


def literal_only() -> dict[str, Any]:
    return graph(groq_node("llm", prompt="Say hi."), log_node("done", message="plain"),
                 edges=[edge("llm", "done")])


def test_workflow_without_expressions_needs_no_jinja2() -> None:
    result = plan(literal_only())

    assert result.uses_expressions is False
    imports = result.imports.standard_library + result.imports.third_party
    assert not [line for line in imports if "jinja2" in line]
    assert result.dependencies == GROQ.requirements()
    assert "jinja2" not in render_script(result)


def test_expressions_bring_jinja2() -> None:
    result = plan(graph(log_node("l", message="{{ input.x }}"), inputs={"x": {}}))

    assert result.uses_expressions is True
    assert "from jinja2.sandbox import ImmutableSandboxedEnvironment" in result.imports.third_party
    assert result.dependencies == (JINJA2,)


def test_imports_are_sorted_deduplicated_and_split() -> None:
    result = plan(diamond())

    standard, third_party = result.imports.standard_library, result.imports.third_party
    for block in (standard, third_party):
        plain = [line for line in block if line.startswith("import ")]
        from_lines = [line for line in block if line.startswith("from ")]
        assert list(block) == plain + from_lines
        assert plain == sorted(set(plain))
        assert from_lines == sorted(set(from_lines))
    assert standard.count("import os") == 1
    assert "import groq" in third_party
    for line in standard:
        assert line.split()[1].split(".")[0] in sys.stdlib_module_names
    for line in third_party:
        assert line.split()[1].split(".")[0] not in sys.stdlib_module_names


def test_from_imports_merge_names_in_order() -> None:
    result = plan(diamond())

    for line in result.imports.standard_library + result.imports.third_party:
        if line.startswith("from "):
            names = line.split(" import ")[1].split(", ")
            assert names == sorted(set(names))


def test_dependencies_are_unique_and_sorted() -> None:
    result = plan(graph(groq_node("a", prompt="{{ input.x }}"), groq_node("b", prompt="y"),
                        inputs={"x": {}}))

    assert result.dependencies == tuple(sorted({*GROQ.requirements(), JINJA2}))


def test_node_types_are_listed_once_each_in_name_order() -> None:
    result = plan(graph(log_node("b"), groq_node("a", prompt="x"), log_node("c"),
                        node("t1", "httpEndpoint", {}), node("t2", "queueConsumer", {})))

    assert [t.type for t in result.node_types] == [
        "groqCompletion", "httpEndpoint", "log", "queueConsumer"]
    assert result.runtime_templates == ("groq_completion.jinja", "triggers.jinja", "log.jinja")


# -- secrets -------------------------------------------------------------------------------------


def test_env_vars_collect_secret_references() -> None:
    document = graph(
        groq_node("a", prompt="x", api_key={"$secret": "TEAM_GROQ_KEY"}),
        groq_node("b", prompt="x", apiKey={"$secret": "OTHER_KEY"}),
        groq_node("c", prompt="x", apiKey={"$secret": "TEAM_GROQ_KEY"}),
        groq_node("d", prompt="x"),
    )

    assert plan(document).env_vars == ("GROQ_API_KEY", "OTHER_KEY", "TEAM_GROQ_KEY")


def test_no_secrets_without_model_calls() -> None:
    assert plan(graph(log_node("l"))).env_vars == ()


# -- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [
    ["a-b", "a_b", "a b", "A-B"],
    ["class", "def", "None", "print", "match"],
    ["1st", "2nd", "_", "__"],
    ["résumé", "resume", "日本", "中国", "🙂"],
])
def test_function_names_are_unique_valid_ascii_identifiers(ids: list[str]) -> None:
    result = plan(graph(*(log_node(i) for i in ids)))

    names = [str(n.function) for n in result.nodes]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isidentifier()
        assert name.isascii()
        assert not keyword.iskeyword(name)
        assert not keyword.issoftkeyword(name)


def test_function_names_stay_readable() -> None:
    result = plan(graph(log_node("a-b"), log_node("a_b"), log_node("résumé"), log_node("1st")))

    assert [str(n.function) for n in result.nodes] == [
        "node_a_b", "node_a_b_2", "node_resume", "node_1st"]


def test_execute_function_is_named_after_the_type() -> None:
    result = plan(graph(node("t", "httpEndpoint", {}), groq_node("g", prompt="x"),
                        edit_fields_node("e")))

    assert {n.id: str(n.execute) for n in result.nodes} == {
        "t": "execute_trigger", "g": "execute_groq_completion", "e": "execute_edit_fields"}
