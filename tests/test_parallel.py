"""The parallel node: what a branch is, how many run at once, what a failed one does.

Branch membership is checked on the graph (catalyst.branches) and on the plan;
the runtime semantics on generated scripts, run for real: branches fail through
expressions that divide by an input (`10 // input.div_a` with div_a=0), and
concurrency is measured where it matters, at the local Groq server
(`max_in_flight`, with `hold_until_in_flight` as a barrier so the bound is
reached whatever the machine's load) and in the run's events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import networkx as nx
import pytest
from conftest import build, run_script
from workflow_builders import checked, diagnostics, edge, graph, log_node, node, only

from catalyst.branches import branch_tags, branches_of
from catalyst.mock_groq import MockGroqServer
from catalyst.planning import plan_workflow

MODEL = "openai/gpt-oss-20b"
BIG = "openai/gpt-oss-120b"
Loader = Callable[[Path], ModuleType]
INPUTS = {"div_a": {"type": "integer", "default": 1}, "div_b": {"type": "integer", "default": 1},
          "text": {"type": "string", "default": "hi"}}


def parallel(node_id: str = "par", **config: Any) -> dict[str, Any]:
    return node(node_id, "parallel", config, label=node_id.title())


def divide(node_id: str, divisor: str) -> dict[str, Any]:
    """Gives {"v": 10 // input.<divisor>}: fails when that input is 0."""
    return node(node_id, "editFields",
                {"mode": "replace", "fields": {"v": f"{{{{ 10 // input.{divisor} }}}}"}},
                label=node_id.title())


def llm(node_id: str, model: str = MODEL) -> dict[str, Any]:
    return node(node_id, "groqCompletion", {"model": model, "prompt": node_id},
                label=node_id.title())


def join(node_id: str, *reads: str) -> dict[str, Any]:
    fields = {read: f"{{{{ nodes[{read!r}].output }}}}" for read in reads}
    return node(node_id, "editFields", {"mode": "replace", "fields": fields},
                label=node_id.title())


def edges(*pairs: str) -> list[dict[str, Any]]:
    """"a>b" pairs as edges."""
    return [edge(*pair.split(">"), id=f"e{index}") for index, pair in enumerate(pairs)]


def two_branches(**config: Any) -> dict[str, Any]:
    """par -> a -> a2 -> j and par -> b -> j: branch a fails when div_a is 0, b when div_b is."""
    return graph(parallel(**config), divide("a", "div_a"), log_node("a2", "a2"),
                 divide("b", "div_b"), join("j", "a2", "b"),
                 edges=edges("par>a", "a>a2", "a2>j", "par>b", "b>j"), inputs=INPUTS)


def run(module: ModuleType, **inputs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    result = asyncio.run(module.run_workflow(inputs, on_event=events.append))
    return result, events


def failing_run(module: ModuleType, **inputs: Any) -> tuple[str, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    with pytest.raises(module.WorkflowError) as raised:
        asyncio.run(module.run_workflow(inputs, on_event=events.append))
    return str(raised.value), events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def most_in_flight(events: list[dict[str, Any]]) -> int:
    """The most nodes started and not yet finished at any one time, from the events."""
    running = most = 0
    for event in events:
        if event["type"] == "node_started":
            running += 1
            most = max(most, running)
        elif event["type"] == "node_finished" and event.get("latency_ms") is not None:
            running -= 1
    return most


# -- what a branch is ------------------------------------------------------------------


def digraph(*pairs: str) -> nx.DiGraph[str]:
    built: nx.DiGraph[str] = nx.DiGraph()
    built.add_edges_from(tuple(pair.split(">")) for pair in pairs)
    return built


def test_a_branch_is_a_target_and_what_only_it_reaches_up_to_the_join() -> None:
    found = branches_of(digraph("p>a", "a>a2", "a2>j", "p>b", "b>j", "j>after"), "p")

    # The join, and what comes after it, belong to no branch.
    assert found == {"a": "a", "a2": "a", "b": "b"}


def test_a_node_reading_two_branches_is_a_join_even_without_an_edge() -> None:
    # x hangs off a but also reads b (an expression is a dependency too).
    found = branches_of(digraph("p>a", "p>b", "a>x", "b>x"), "p")

    assert found == {"a": "a", "b": "b"}


def test_a_node_also_fed_from_outside_the_fan_out_stays_in_its_branch() -> None:
    found = branches_of(digraph("src>p", "p>a", "a>x", "src>x", "p>b"), "p")

    assert found == {"a": "a", "x": "a", "b": "b"}


def test_a_target_that_another_branch_also_reaches_is_a_branch_of_its_own() -> None:
    found = branches_of(digraph("p>a", "p>b", "a>b", "b>c"), "p")

    assert found == {"a": "a", "b": "b", "c": "b"}


def test_nested_fan_outs_tag_the_outer_branch_first() -> None:
    graph_ = digraph("p>q", "q>q1", "q>q2", "q1>jq", "q2>jq", "p>b", "jq>j", "b>j")
    order = {name: index for index, name in enumerate(["p", "q", "b", "q1", "q2", "jq", "j"])}

    tags = branch_tags(graph_, ["q", "p"], order)

    assert tags == {
        "q": (("p", "q"),), "q1": (("p", "q"), ("q", "q1")), "q2": (("p", "q"), ("q", "q2")),
        "jq": (("p", "q"),), "b": (("p", "b"),),
    }


def test_the_plan_carries_branch_tags_to_the_steps() -> None:
    plan = plan_workflow(checked(two_branches()))

    assert {n.id: n.branches for n in plan.nodes} == {
        "par": (), "a": (("par", "a"),), "a2": (("par", "a"),), "b": (("par", "b"),), "j": (),
    }


# -- validation ------------------------------------------------------------------------


def test_an_unknown_failure_strategy_lists_the_valid_ones() -> None:
    found = diagnostics(graph(parallel(failureStrategy="fail_fast"), log_node("a"),
                              edges=edges("par>a")))

    problem = only(found, "invalid-config")
    assert (problem.node_id, problem.path) == ("par", "/nodes/0/data/config/failureStrategy")
    assert problem.hint == "use one of: 'fail_all', 'continue' or 'partial'"


@pytest.mark.parametrize("bound", [0, -2])
def test_max_concurrency_below_one_is_out_of_range(bound: int) -> None:
    found = diagnostics(graph(parallel(maxConcurrency=bound), log_node("a"),
                              edges=edges("par>a")))

    problem = only(found, "out-of-range")
    assert (problem.node_id, problem.path) == ("par", "/nodes/0/data/config/maxConcurrency")
    assert problem.hint == "allowed range: at least 1"


def test_max_concurrency_must_be_a_whole_number() -> None:
    found = diagnostics(graph(parallel(maxConcurrency="many"), log_node("a"),
                              edges=edges("par>a")))

    problem = only(found, "invalid-config")
    assert problem.path == "/nodes/0/data/config/maxConcurrency"


def test_a_failure_strategy_cannot_be_an_expression() -> None:
    found = diagnostics(graph(parallel(failureStrategy="{{ input.text }}"), log_node("a"),
                              edges=edges("par>a"), inputs=INPUTS))

    problem = only(found, "expression-not-allowed")
    assert (problem.node_id, problem.path) == ("par", "/nodes/0/data/config/failureStrategy")
    assert problem.hint == "use one of: fail_all, continue, partial"


def test_an_unknown_parallel_field_lists_the_valid_ones() -> None:
    problem = only(diagnostics(graph(parallel(concurrency=2), log_node("a"),
                                     edges=edges("par>a"))), "unknown-config-field")
    assert problem.hint == "valid fields: max_concurrency, failure_strategy"


def test_a_branch_may_give_an_error_only_when_the_run_can_go_on_without_it() -> None:
    reads_error = join("j", "a2", "b")
    reads_error["data"]["config"]["fields"]["why"] = "{{ nodes.b.output.error }}"

    def build_graph(strategy: str) -> dict[str, Any]:
        return graph(parallel(failureStrategy=strategy), divide("a", "div_a"),
                     log_node("a2", "a2"), divide("b", "div_b"), reads_error,
                     edges=edges("par>a", "a>a2", "a2>j", "par>b", "b>j"), inputs=INPUTS)

    assert not [d for d in diagnostics(build_graph("continue")) if d.is_error]
    problem = only(diagnostics(build_graph("fail_all")), "unknown-output-field")
    assert problem.path == "/nodes/4/data/config/fields/why"


# -- failure strategies ------------------------------------------------------------------


def test_fail_all_is_the_default_and_fails_the_run(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, two_branches()))

    error, events = failing_run(module, div_a=0)

    assert error.startswith("node 'a' (A) failed: cannot evaluate")
    assert "integer division or modulo by zero" in error
    (failed,) = of_type(events, "branch_failed")
    assert failed | {"error": ""} == {"type": "branch_failed", "node": "par", "branch": "a",
                                      "failure_strategy": "fail_all", "error": ""}
    assert of_type(events, "workflow_failed")
    assert "j" not in {event.get("node") for event in events}


def test_fail_all_cancels_the_branches_still_running(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    document = graph(parallel(), divide("a", "div_a"), llm("slow"), join("j", "a", "slow"),
                     edges=edges("par>a", "par>slow", "a>j", "slow>j"), inputs=INPUTS)
    module = load_script(build(tmp_path, document))
    groq_server.update(latency_ms=20_000)

    async def fail_once_the_call_is_out() -> tuple[str, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        run_task = asyncio.ensure_future(module.run_workflow(
            {"div_a": 0}, on_event=events.append))
        await asyncio.sleep(0)
        with pytest.raises(module.WorkflowError) as raised:
            await asyncio.wait_for(run_task, 10)
        return str(raised.value), events

    error, events = asyncio.run(fail_once_the_call_is_out())

    assert "node 'a' (A) failed" in error
    assert "slow" in {e["node"] for e in of_type(events, "node_started")}
    # Cancelled, not waited for: it never finished.
    assert "slow" not in {e["node"] for e in of_type(events, "node_finished")}


def test_continue_goes_on_and_the_failed_branch_gives_its_error(
    tmp_path: Path, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, two_branches(failureStrategy="continue")))

    result, events = run(module, div_a=0)

    error = result["nodes"]["a"]["error"]
    assert error.startswith("node 'a' (A) failed: cannot evaluate")
    # The join receives the error from the failed branch and the other's value.
    assert result["outputs"] == {"j": {"a2": {"error": error}, "b": {"v": 10}}}
    assert result["nodes"]["a"] == {"status": "failed", "latency_ms": result["nodes"]["a"][
        "latency_ms"], "error": error, "branch_of": "par"}
    # The rest of the failed branch does not run: it gives the branch's error.
    assert result["nodes"]["a2"] == {"status": "cancelled", "error": error, "branch_of": "par"}
    assert result["nodes"]["b"]["status"] == "ok"
    assert [(e["node"], e["branch"], e["failure_strategy"]) for e in
            of_type(events, "branch_failed")] == [("par", "a", "continue")]
    assert [e["node"] for e in of_type(events, "node_failed")] == ["a"]
    assert "a2" not in {e["node"] for e in of_type(events, "node_started")}


def test_continue_with_every_branch_failed_still_goes_on(
    tmp_path: Path, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, two_branches(failureStrategy="continue")))

    result, events = run(module, div_a=0, div_b=0)

    assert set(result["outputs"]["j"]) == {"a2", "b"}
    assert all("error" in value for value in result["outputs"]["j"].values())
    assert len(of_type(events, "branch_failed")) == 2


def test_partial_goes_on_while_a_branch_succeeds(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, two_branches(failureStrategy="partial")))

    result, events = run(module, div_b=0)

    assert result["outputs"]["j"]["a2"] == {"v": 10}
    assert "error" in result["outputs"]["j"]["b"]
    assert [e["branch"] for e in of_type(events, "branch_failed")] == ["b"]


def test_partial_fails_when_every_branch_failed(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, two_branches(failureStrategy="partial")))

    error, events = failing_run(module, div_a=0, div_b=0)

    assert error.startswith("every branch of node 'par' failed (failureStrategy partial); "
                            "the last: node ")
    assert len(of_type(events, "branch_failed")) == 2
    assert of_type(events, "workflow_failed")[0]["error"] == error


def test_a_node_own_on_error_comes_before_the_branch(tmp_path: Path, load_script: Loader) -> None:
    document = two_branches()
    document["nodes"][1]["data"].update(onError="fallback", fallbackValue={"v": 0})
    module = load_script(build(tmp_path, document))

    result, events = run(module, div_a=0)

    assert result["outputs"]["j"]["a2"] == {"v": 0}
    assert not of_type(events, "branch_failed")


def test_the_cli_warns_once_per_failed_branch(tmp_path: Path) -> None:
    script = build(tmp_path, two_branches(failureStrategy="continue"))

    completed = run_script(script, "--input", "div_a=0")

    assert completed.returncode == 0, completed.stderr
    warnings = [line for line in completed.stderr.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: node 'a' (A) failed: cannot evaluate")
    assert warnings[0].endswith("; the run went on with the rest of 'par'")


def test_fail_all_exits_1_with_one_line(tmp_path: Path) -> None:
    completed = run_script(build(tmp_path, two_branches()), "--input", "div_b=0")

    assert completed.returncode == 1
    assert completed.stderr.startswith("error: node 'b' (B) failed: cannot evaluate")
    assert completed.stderr.count("\n") == 1


# -- nested fan-outs ---------------------------------------------------------------------


def nested(inner: str, outer: str, server: MockGroqServer) -> dict[str, Any]:
    """par -> [q -> (q1, slow: model calls; q1's is refused) -> jq] and [b] -> j."""
    # Both calls are held until both are out, then q1's is refused (400).
    server.update(hold_until_in_flight=2,
                  fail_models={BIG: (400, "invalid_request_error", "refused")})
    return graph(
        parallel(failureStrategy=outer), parallel("q", failureStrategy=inner),
        llm("q1", BIG), llm("slow"), join("jq", "q1", "slow"), divide("b", "div_b"),
        join("j", "jq", "b"),
        edges=edges("par>q", "q>q1", "q>slow", "q1>jq", "slow>jq", "par>b", "jq>j", "b>j"),
        inputs=INPUTS)


def test_an_inner_fail_all_fails_the_outer_branch_only(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, nested("fail_all", "continue", groq_server)))
    groq_server.update(latency_ms=20_000)  # the slow call is still in flight when q1 fails

    result, events = run(module)

    error = result["nodes"]["q1"]["error"]
    assert [(e["node"], e["branch"]) for e in of_type(events, "branch_failed")] == [
        ("q", "q1"), ("par", "q")]
    # The inner fan-out's other branch was cancelled in flight, its join never ran…
    assert result["nodes"]["slow"] == {"status": "cancelled", "latency_ms": result["nodes"][
        "slow"]["latency_ms"], "error": error, "branch_of": "par"}
    assert result["nodes"]["jq"]["status"] == "cancelled"
    # …and the outer fan-out went on without that branch.
    assert result["outputs"]["j"] == {"jq": {"error": error}, "b": {"v": 10}}


def test_an_inner_continue_keeps_the_outer_branch_alive(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, nested("continue", "fail_all", groq_server)))

    result, events = run(module)

    assert [(e["node"], e["branch"]) for e in of_type(events, "branch_failed")] == [("q", "q1")]
    assert result["nodes"]["slow"]["status"] == "ok"
    jq = result["outputs"]["j"]["jq"]
    assert "error" in jq["q1"] and jq["slow"]["content"].startswith("Mock reply to: ")


# -- maxConcurrency ----------------------------------------------------------------------


def fan_of_calls(count: int, **config: Any) -> dict[str, Any]:
    names = [f"c{index}" for index in range(count)]
    return graph(parallel(**config), *(llm(name) for name in names), join("j", *names),
                 edges=edges(*(f"par>{name}" for name in names), *(f"{n}>j" for n in names)),
                 inputs=INPUTS)


def test_max_concurrency_bounds_the_branches_running_at_once(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_of_calls(5, maxConcurrency=2)))
    # Held until two are in flight: the bound is reached, whatever the load.
    groq_server.update(hold_until_in_flight=2, latency_ms=20)

    result, events = run(module)

    assert len(groq_server.chat_requests()) == 5
    assert groq_server.max_in_flight == 2
    assert most_in_flight([e for e in events if e.get("node", "").startswith("c")]) == 2
    assert len(result["outputs"]["j"]) == 5


def test_without_a_bound_every_branch_runs_at_once(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_of_calls(4)))
    groq_server.update(hold_until_in_flight=4)

    run(module)

    assert groq_server.max_in_flight == 4


def test_max_concurrency_may_come_from_an_input(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    document = fan_of_calls(3, maxConcurrency="{{ input.workers }}")
    document["input"] = {**INPUTS, "workers": {"type": "integer", "default": 1}}
    module = load_script(build(tmp_path, document))
    groq_server.update(latency_ms=20)

    run(module)
    assert groq_server.max_in_flight == 1
    error, _ = failing_run(module, workers=0)
    assert error == ("node 'par' (Par) failed: max_concurrency is int 0; allowed: integer at "
                     "least 1 or null")


def test_nested_limits_nest_an_inner_fan_out_is_one_outer_branch(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    # par (max 1) -> [qa (max 2) -> a1, a2] and [qb (max 2) -> b1, b2]: one outer
    # branch at a time, each running its two calls at once: 2 in flight, never 4.
    document = graph(
        parallel(maxConcurrency=1), parallel("qa", maxConcurrency=2),
        parallel("qb", maxConcurrency=2), *(llm(name) for name in ("a1", "a2", "b1", "b2")),
        join("j", "a1", "a2", "b1", "b2"),
        edges=edges("par>qa", "par>qb", "qa>a1", "qa>a2", "qb>b1", "qb>b2",
                    "a1>j", "a2>j", "b1>j", "b2>j"),
        inputs=INPUTS)
    module = load_script(build(tmp_path, document))
    groq_server.update(hold_until_in_flight=2, latency_ms=20)

    _, events = run(module)

    assert groq_server.max_in_flight == 2
    started = [e["node"] for e in of_type(events, "node_started") if e["node"] in
               ("a1", "a2", "b1", "b2")]
    # One outer branch's calls, then the other's.
    assert {started[0][0], started[1][0]} in ({"a"}, {"b"})
