"""Tool calling, structured output and reasoning, through the real groq and
openai SDKs against the local server (whose replies a prompt can script:
`[call NAME {args}]`, `[then]`, `[bad schema once]`; catalyst/local_server/scripted.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import build, run_script
from workflow_builders import diagnostics

from catalyst.mock_groq import MockGroqServer, MockSettings

REPLY = "Mock reply to: "
ORDER = {"type": "object", "properties": {"order_id": {"type": "integer"}},
         "required": ["order_id"], "additionalProperties": False}
CARRIER = {"type": "object", "properties": {"carrier": {"type": "string"}},
           "required": ["carrier"]}


def workflow(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"id": "wf", "name": "wf", "input": {"q": {"type": "string", "required": True}},
            "nodes": list(nodes), "edges": edges or []}


def node(node_id: str, node_type: str, config: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config, **data}}


def agent(*tools: dict[str, Any], node_type: str = "groqCompletion", **config: Any
          ) -> dict[str, Any]:
    return node("agent", node_type, {"prompt": "{{ input.q }}", "tools": list(tools), **config},
                retries=0)


def lookup_tool(**extra: Any) -> dict[str, Any]:
    return {"name": "lookup_order", "description": "An order by number", "parameters": ORDER,
            "node": "lookup", **extra}


LOOKUP = node("lookup", "editFields", {"mode": "replace", "fields": {
    "order_id": "{{ tool.args.order_id }}", "status": "shipped"}})
ESTIMATE = node("eta", "editFields", {"fields": {"days": 3}})
ESTIMATE_TOOL = {"name": "eta", "parameters": CARRIER, "node": "eta"}


def run_json(script: Path, server: MockGroqServer, question: str,
             *args: str) -> tuple[int, dict[str, Any] | None, str]:
    run = run_script(script, "--input", f"q={question}", "--json", *args, server=server)
    result = json.loads(run.stdout) if run.returncode == 0 else None
    return run.returncode, result, run.stderr


# -- tools ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_two_tool_agent_that_needs_two_rounds(
    tmp_path: Path, groq_server: MockGroqServer, stream: bool
) -> None:
    script = build(tmp_path, workflow(agent(lookup_tool(), ESTIMATE_TOOL, stream=stream),
                                      LOOKUP, ESTIMATE), name=f"agent{stream}")
    question = 'Where is 7? [call lookup_order {"order_id": 7}] [then] [call eta {"carrier": "UPS"}]'

    code, result, stderr = run_json(script, groq_server, question)

    assert code == 0, stderr
    assert result is not None
    output = result["outputs"]["agent"]
    assert output["content"] == (REPLY + 'Where is 7? | lookup_order: {"order_id": 7, '
                                 '"status": "shipped"} | eta: {"carrier": "UPS", "days": 3}')
    assert output["tool_calls"] == [
        {"name": "lookup_order", "arguments": {"order_id": 7},
         "result": {"order_id": 7, "status": "shipped"}},
        {"name": "eta", "arguments": {"carrier": "UPS"}, "result": {"carrier": "UPS", "days": 3}},
    ]
    requests = groq_server.chat_requests()
    assert len(requests) == 3
    # Usage adds up over the three rounds.
    usage = output["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert result["nodes"]["agent"]["usage"] == usage
    second = requests[1].body["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["content"] is None
    (call,) = second[-2]["tool_calls"]
    assert call["function"] == {"name": "lookup_order", "arguments": '{"order_id":7}'}
    assert second[-1] == {"role": "tool", "tool_call_id": call["id"],
                          "content": '{"order_id": 7, "status": "shipped"}'}
    assert requests[0].body["tools"][0]["function"]["parameters"] == ORDER
    assert result["nodes"]["lookup"] == {"status": "ok", "calls": 1,
                                         "latency_ms": result["nodes"]["lookup"]["latency_ms"]}


def test_tool_events_come_in_order(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Any
) -> None:
    module = load_script(build(tmp_path, workflow(agent(lookup_tool()), LOOKUP)))

    async def events() -> list[dict[str, Any]]:
        return [event async for event in module.stream_workflow(
            {"q": 'x [call lookup_order {"order_id": 2}]'})]

    kinds = [(e["type"], e.get("tool")) for e in asyncio.run(events())
             if e["type"] in ("tool_call", "tool_result", "node_finished")]
    assert kinds == [("tool_call", "lookup_order"), ("tool_result", "lookup_order"),
                     ("node_finished", None)]


def test_parallel_tool_calls_run_at_once(tmp_path: Path, groq_server: MockGroqServer) -> None:
    # Each tool is a model call; the server holds requests until two are in flight.
    tools = [{"name": f"ask_{n}", "parameters": {"type": "object"}, "node": f"ask_{n}"}
             for n in ("a", "b")]
    asks = [node(f"ask_{n}", "groqCompletion", {"prompt": f"sub-question {n}"})
            for n in ("a", "b")]
    script = build(tmp_path, workflow(agent(*tools, parallelToolCalls=True), *asks))
    groq_server.settings = MockSettings(hold_until_in_flight=2)

    code, result, stderr = run_json(script, groq_server, "q [call ask_a {}] [call ask_b {}]")

    assert code == 0, stderr
    assert result is not None
    assert groq_server.max_in_flight == 2
    assert [call["name"] for call in result["outputs"]["agent"]["tool_calls"]] == [
        "ask_a", "ask_b"]
    assert groq_server.chat_requests()[0].body["parallel_tool_calls"] is True
    # The tools' own model calls count in the run's totals.
    tool_tokens = sum(result["nodes"][f"ask_{n}"]["usage"]["total_tokens"] for n in "ab")
    assert tool_tokens > 0
    assert result["usage"]["total_tokens"] == (
        tool_tokens + result["nodes"]["agent"]["usage"]["total_tokens"])


def test_a_tool_that_fails_gives_the_model_its_error(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    divide = node("lookup", "editFields", {"fields": {"share": "{{ 10 // tool.args.order_id }}"}},
                  retries=0)
    script = build(tmp_path, workflow(agent(lookup_tool()), divide))

    code, result, stderr = run_json(script, groq_server, 'q [call lookup_order {"order_id": 0}]')

    assert code == 0, stderr
    assert result is not None
    (call,) = result["outputs"]["agent"]["tool_calls"]
    assert "by zero" in call["error"]
    assert "lookup_order: {\"error\": " in result["outputs"]["agent"]["content"]
    assert result["nodes"]["lookup"]["status"] == "failed"


def test_max_iterations_reached_fails_clearly(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(agent(lookup_tool(), maxIterations=2), LOOKUP))
    rounds = " [then] ".join('[call lookup_order {"order_id": 1}]' for _ in range(3))

    code, _result, stderr = run_json(script, groq_server, "q " + rounds)

    assert code == 1
    assert "no final answer after 2 rounds of tool calls (maxIterations)" in stderr
    assert len(groq_server.chat_requests()) == 3


def test_a_malformed_call_is_reported_once_then_fails_the_node(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Any
) -> None:
    script = build(tmp_path, workflow(agent(lookup_tool()), LOOKUP))
    module = load_script(script)

    async def run(question: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
        events: list[dict[str, Any]] = []
        try:
            result = await module.run_workflow({"q": question}, on_event=events.append)
        except module.WorkflowError as exc:
            return None, events, str(exc)
        return result, events, ""

    # Not JSON, then right: the model hears why and tries again.
    result, events, _ = asyncio.run(run(
        'q [call lookup_order {oops] [then] [call lookup_order {"order_id": 5}]'))
    assert result is not None
    (rejected,) = [e for e in events if e["type"] == "tool_rejected"]
    assert "its arguments are not JSON" in rejected["reason"]
    retry = groq_server.chat_requests()[1].body["messages"][-1]
    assert retry["role"] == "tool" and retry["content"].startswith("error: its arguments")
    # Against the schema twice: the node fails without running the tool.
    result, events, error = asyncio.run(run(
        'q [call lookup_order {"order_id": "five"}] [then] [call lookup_order {"id": 5}]'))
    assert result is None
    assert "the model called 'lookup_order' wrongly again" in error
    assert "its arguments do not match its parameters:" in error
    assert "'id' was unexpected" in error
    assert not [e for e in events if e["type"] == "tool_call"]


@pytest.mark.parametrize("provider_config", [{}, {"provider": "together",
                                                  "model": "vendor/tool-model"}])
def test_tools_work_on_openai_compatible_hosts(
    tmp_path: Path, groq_server: MockGroqServer, provider_config: dict[str, Any]
) -> None:
    script = build(tmp_path, workflow(
        agent(lookup_tool(), node_type="openaiCompletion", stream=True, **provider_config),
        LOOKUP), name="openai" + str(bool(provider_config)))

    code, result, stderr = run_json(script, groq_server, 'q [call lookup_order {"order_id": 3}]')

    assert code == 0, stderr
    assert result is not None
    assert result["outputs"]["agent"]["tool_calls"][0]["result"]["order_id"] == 3


@pytest.mark.parametrize(
    ("document", "code", "path"),
    [
        (workflow(agent(), LOOKUP, edges=[{"id": "t", "source": "agent", "sourceHandle": "tools",
                                           "target": "lookup"}]),
         "undefined-tool", "/edges/0"),
        (workflow(agent(lookup_tool()), LOOKUP, node("after", "log", {"message": "x"}),
                  edges=[{"id": "e", "source": "lookup", "target": "after"}]),
         "tool-wired", "/edges/0"),
        (workflow(agent(lookup_tool()), LOOKUP,
                  node("reader", "log", {"message": "{{ nodes.lookup.output.status }}"})),
         "tool-output-read", "/nodes/2"),
        (workflow(agent(lookup_tool(), node_type="anthropicCompletion"), LOOKUP),
         "unsupported-setting", "/nodes/0/data/config/tools"),
        (workflow(agent(lookup_tool(), lookup_tool()), LOOKUP),
         "duplicate-tool", "/nodes/0/data/config/tools/1/name"),
        (workflow(agent(lookup_tool(), toolChoice={"name": "nope"}), LOOKUP),
         "unknown-tool", "/nodes/0/data/config/toolChoice"),
        (workflow(agent(lookup_tool(parameters={"type": "object", "properties": 3})), LOOKUP),
         "invalid-config", "/nodes/0/data/config/tools/0/parameters"),
        (workflow(node("solo", "log", {"message": "{{ tool.args.x }}"})),
         "tool-outside-tool", "/nodes/0/data/config/message"),
        (workflow(agent(lookup_tool(), model="groq/compound"), LOOKUP),
         "unsupported-setting", "/nodes/0/data/config/tools"),
    ],
)
def test_tool_wiring_errors(document: dict[str, Any], code: str, path: str) -> None:
    found = [p for p in diagnostics(document) if p.severity == "error"]

    assert (code, path) in [(p.code, p.path) for p in found], found
    assert all(p.hint for p in found if p.code != "invalid-config")
    if code != "invalid-config":  # then the tool's definition is unreadable: both say so
        assert len(found) == 1, found


# -- structured output ----------------------------------------------------------------------

CONTACT = {"type": "object", "properties": {"name": {"type": "string"},
                                            "urgent": {"type": "boolean"}},
           "required": ["name", "urgent"], "additionalProperties": False}


def extractor(response_format: Any, **config: Any) -> dict[str, Any]:
    return node("extract", "groqCompletion", {"model": "openai/gpt-oss-20b",
                                              "prompt": "{{ input.q }}",
                                              "responseFormat": response_format, **config},
                retries=0)


def test_a_schema_reply_that_fails_is_retried_once_with_the_error(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(extractor({"type": "json_schema",
                                                 "json_schema": {"schema": CONTACT}})))

    code, result, stderr = run_json(script, groq_server, "Ann needs help [bad schema once]")

    assert code == 0, stderr
    assert result is not None
    # The output is the object; usage and model stay in the node's stats.
    assert result["outputs"]["extract"] == {"name": "mock", "urgent": False}
    stats = result["nodes"]["extract"]
    assert stats["model"] == "openai/gpt-oss-20b" and stats["usage"]["total_tokens"] > 0
    first, second = groq_server.chat_requests()
    assert first.body["response_format"]["json_schema"]["strict"] is True
    correction = second.body["messages"][-1]["content"]
    assert correction.startswith("Your reply does not match the schema: Additional properties "
                                 "are not allowed ('unexpected' was unexpected).")


def test_a_reply_that_is_never_right_fails_clearly(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(extractor("json_object")))
    groq_server.settings = MockSettings(reply="not JSON at all")

    code, _result, stderr = run_json(script, groq_server, "x")

    assert code == 1
    assert "the reply is not JSON (Expecting value at character 0), again after one retry" \
        in stderr
    assert len(groq_server.chat_requests()) == 2


def test_the_schema_is_the_outputs_shape(tmp_path: Path) -> None:
    reader = node("use", "log", {"message": "{{ nodes.extract.output.nmae }}"})
    found = diagnostics(workflow(extractor({"type": "json_schema", "schema": CONTACT}), reader))

    (problem,) = found
    assert problem.code == "unknown-output-field"
    assert "did you mean 'name'?" in (problem.hint or "")


@pytest.mark.parametrize(
    ("config", "path", "words"),
    [({"responseFormat": {"type": "json_schema", "schema": {"type": "objekt"}}},
      "responseFormat", "not a valid JSON Schema"),
     ({"responseFormat": {"type": "json_schema"}}, "responseFormat", "json_schema goes with"),
     ({"model": "qwen/qwen3.8-27b", "responseFormat": {"type": "json_schema", "schema": CONTACT}},
      "responseFormat", "use json_object, or a model that does: openai/gpt-oss-120b"),
     ({"responseFormat": "yaml"}, "responseFormat", "json_object")],
)
def test_response_format_errors(config: dict[str, Any], path: str, words: str) -> None:
    settings = {"responseFormat": "json_object", **config}
    document = workflow(node("extract", "groqCompletion", {"prompt": "x", **settings}))
    found = [p for p in diagnostics(document) if p.severity == "error"]

    (problem,) = found
    assert problem.path == f"/nodes/0/data/config/{path}"
    assert words in problem.message + (problem.hint or "")


# -- reasoning -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_comes_apart_from_the_content(
    tmp_path: Path, groq_server: MockGroqServer, stream: bool
) -> None:
    script = build(tmp_path, workflow(node("think", "groqCompletion", {
        "model": "openai/gpt-oss-120b", "prompt": "{{ input.q }}", "includeReasoning": True,
        "reasoningEffort": "high", "stream": stream})), name=f"think{stream}")

    code, result, stderr = run_json(script, groq_server, "Why is the sky blue?")

    assert code == 0, stderr
    assert result is not None
    output = result["outputs"]["think"]
    assert output["content"] == REPLY + "Why is the sky blue?"
    assert output["reasoning"] == "Thinking about: Why is the sky blue?"
    body = groq_server.chat_requests()[0].body
    assert (body["include_reasoning"], body["reasoning_effort"]) == (True, "high")


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [({"model": "openai/gpt-oss-20b", "reasoningEffort": "xhigh"}, "reasoningEffort",
      "use one of low, medium, high"),
     ({"model": "openai/gpt-oss-20b", "reasoningFormat": "parsed"}, "reasoningFormat",
      "include_reasoning"),
     ({"model": "qwen/qwen3.8-27b", "reasoningFormat": "parsed", "includeReasoning": True},
      "includeReasoning", "keep one"),
     ({"model": "groq/compound", "reasoningEffort": "low"}, "reasoningEffort", "does not reason")],
)
def test_reasoning_settings_are_checked_per_model(
    config: dict[str, Any], field: str, words: str
) -> None:
    found = [p for p in diagnostics(workflow(node("think", "groqCompletion",
                                                  {"prompt": "x", **config})))
             if p.severity == "error"]

    (problem,) = found
    assert problem.path == f"/nodes/0/data/config/{field}"
    assert words in problem.message + (problem.hint or "")
