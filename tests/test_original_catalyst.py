"""Workflows written the way the original Catalyst editor writes them, compiled and run.

`tests/original_catalyst/` holds small files that use only the original editor's
spellings (see docs/ORIGINAL_CATALYST.md): React Flow graphs with `position`,
`data.label`, `data.config` and edges without handles, and project manifests.
Every file there must validate without errors, compile, and run against the
local Groq-protocol server; what each run must print, send and log is written
out below in `EXPECTED`, keyed by file stem (plus `.workflow_id` for manifests).
The corpus files themselves carry no test data, so they stay byte-for-byte what
the editor could have saved; a new file fails `test_every_corpus_file_has_expectations`
until its expectations are added here.

`original_catalyst/invalid/` holds files that must NOT validate (the original's
own fixture, faithful, including its mistake).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, compile_file, run_script
from test_e2e_examples import expected_cost, log_lines
from workflow_builders import (
    Document,
    diagnostics,
    edge,
    graph,
    groq_node,
    node,
    only,
)

from catalyst.compiler import check_file
from catalyst.diagnostics import Diagnostic
from catalyst.loading import document_shape, read_document, workflow_ids
from catalyst.mock_groq import MockGroqServer, MockSettings

pytestmark = pytest.mark.e2e

CORPUS = ROOT / "tests" / "original_catalyst"
MODEL = "openai/gpt-oss-20b"
REPLY = "Mock reply to: "


# -- expectations -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An LLM node's output: the mock's reply to `prompt` (its last user message)."""

    prompt: str
    model: str = MODEL


@dataclass(frozen=True)
class Run:
    """One run of a corpus workflow, with `--json`, and what it must do."""

    inputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # Node id -> output, exactly; a Reply stands for an LLM node's output.
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # The request bodies the server received, exactly and in order.
    requests: tuple[Mapping[str, Any], ...] = ()
    # The JSON lines log nodes wrote to stderr, exactly and in order.
    logs: tuple[Mapping[str, Any], ...] = ()
    exit_code: int = 0
    # For a failing run: words its one-line error must hold.
    error: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expect:
    runs: tuple[Run, ...]
    # Warning codes `validate` must report (errors are never expected here).
    warnings: tuple[str, ...] = ()


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def system(content: str) -> dict[str, str]:
    return {"role": "system", "content": content}


FIVE_NODE_PROMPT = "Say something about {}."
ANALYZE = "Analyze the following text and provide sentiment: {}"

EXPECTED: dict[str, Expect] = {
    # apiKey as the bare variable name, maxTokens -> max_completion_tokens, stream false.
    "groq_bare_api_key": Expect((Run(
        inputs={"topic": "tea"},
        outputs={"groq_1": Reply("Write one sentence about tea.")},
        requests=({"model": MODEL, "messages": [user("Write one sentence about tea.")],
                   "temperature": 0.7, "max_completion_tokens": 256},),
    ),)),
    # apiKey "{{ secrets.GROQ_API_KEY }}" and `system` as the system prompt.
    "groq_secrets_expression": Expect((Run(
        inputs={"question": "Why?"},
        outputs={"groq_1": Reply("Why?")},
        requests=({"model": MODEL, "messages": [system("You answer in one line."), user("Why?")],
                   "max_completion_tokens": 128},),
    ),)),
    # apiKey "{{ env.TEAM_GROQ_KEY }}": the script reads TEAM_GROQ_KEY (see the test
    # below for the run without it); `systemPrompt`, temperature 0, stream true.
    "groq_env_expression": Expect((Run(
        inputs={"question": "Why?"},
        env={"TEAM_GROQ_KEY": "test-key"},
        outputs={"groq_1": Reply("Q: Why?")},
        requests=({"model": MODEL, "messages": [system("Be brief."), user("Q: Why?")],
                   "temperature": 0, "max_completion_tokens": 64, "stream": True},),
    ),)),
    # variables as the JSON text a textarea saves; {{ topic }} in system and template.
    "prompt_template_variables_text": Expect((Run(
        outputs={"groq_1": Reply("Tell me a fact about tea.")},
        requests=({"model": MODEL, "messages": [system("You write about tea only."),
                                                user("Tell me a fact about tea.")],
                   "max_completion_tokens": 200},),
    ),)),
    # Manifest: variables as a JSON value over an input and a global; system, messages,
    # template in that order; model from a global.
    "prompt_template_variables_value.explain": Expect((Run(
        inputs={"topic": "rain"},
        outputs={"node_llm_1": Reply("Explain rain in one line.")},
        requests=({"model": MODEL, "messages": [
            system("Your tone is cheerful."), user("Are you ready?"),
            {"role": "assistant", "content": "Yes."}, user("Explain rain in one line."),
        ], "max_completion_tokens": 300},),
    ),)),
    # `condition` (a bare expression) + `description`; only the branch taken logs.
    "condition_description": Expect((
        Run(inputs={"priority": "high"}, outputs={"log_high": None},
            logs=({"level": "warning", "node": "log_high", "message": "high priority: high"},)),
        Run(inputs={"priority": "low"}, outputs={"log_low": None},
            logs=({"level": "debug", "node": "log_low", "message": "low priority: low"},)),
    )),
    # operations as JSON text (replace mode); the object reaches Groq as JSON text.
    "edit_fields_into_groq": Expect((Run(
        inputs={"name": "Ada"},
        outputs={"groq_1": Reply('{"greeting": "hello Ada", "count": 3}')},
        requests=({"model": MODEL, "messages": [user('{"greeting": "hello Ada", "count": 3}')],
                   "max_completion_tokens": 50},),
    ),)),
    # level critical and warn (-> warning), includeInput; operations as a JSON value.
    "log_levels": Expect((Run(
        inputs={"order": "A1"},
        outputs={"log_warn": {"order": "A1", "checked": True}},
        logs=(
            {"level": "critical", "node": "log_critical", "message": "order A1 failed",
             "input": {"order": "A1", "checked": True}},
            {"level": "warning", "node": "log_warn", "message": "retrying",
             "input": {"order": "A1", "checked": True}},
        ),
    ),)),
    # The five nodes; the condition reads the reply, driven by the input.
    "issue_five_nodes": Expect((
        Run(inputs={"topic": "tea"},
            outputs={"log_1": {"reply": REPLY + FIVE_NODE_PROMPT.format("tea"), "tokens": 15}},
            requests=({"model": MODEL, "messages": [user(FIVE_NODE_PROMPT.format("tea"))],
                       "temperature": 0.7, "max_completion_tokens": 1024},),
            logs=({"level": "critical", "node": "log_1", "message": "tea reply logged",
                   "input": {"reply": REPLY + FIVE_NODE_PROMPT.format("tea"), "tokens": 15}},)),
        Run(inputs={"topic": "coffee"}, outputs={},
            requests=({"model": MODEL, "messages": [user(FIVE_NODE_PROMPT.format("coffee"))],
                       "temperature": 0.7, "max_completion_tokens": 1024},)),
    )),
    # Trigger nodes with the original's fields; an edge from a trigger only orders.
    "triggers_manifest.on_request": Expect((Run(
        outputs={"node_log_1": None},
        logs=({"level": "info", "node": "node_log_1", "message": "hello world", "input": None},),
    ),)),
    "triggers_manifest.nightly": Expect((Run(
        outputs={"node_log_1": None},
        logs=({"level": "debug", "node": "node_log_1", "message": "nightly run"},),
    ),)),
    # The editor's old default model: a warning at validate time, a clear failure at
    # run time naming the replacement.
    "groq_retired_model": Expect(
        (Run(requests=({"model": "llama-3.3-70b-versatile", "messages": [user("Hello")],
                        "max_completion_tokens": 100},),
             exit_code=1, error=("groq_1", "decommissioned", "openai/gpt-oss-120b")),),
        warnings=("model-decommissioned",),
    ),
    # The original's llm-completion fixture, corrected; both branches.
    "llm-completion-corrected.analyze_text": Expect((
        Run(inputs={"text": "a positive day"},
            outputs={"node_log_positive": REPLY + ANALYZE.format("a positive day")},
            requests=({"model": MODEL, "messages": [user(ANALYZE.format("a positive day"))],
                       "temperature": 0.7, "max_completion_tokens": 1000},),
            logs=({"level": "info", "node": "node_log_positive",
                   "message": "Positive sentiment detected"},)),
        Run(inputs={"text": "a sad day"},
            outputs={"node_log_negative": REPLY + ANALYZE.format("a sad day")},
            requests=({"model": MODEL, "messages": [user(ANALYZE.format("a sad day"))],
                       "temperature": 0.7, "max_completion_tokens": 1000},),
            logs=({"level": "warning", "node": "node_log_negative",
                   "message": "Negative sentiment detected"},)),
    )),
}


# -- the corpus ------------------------------------------------------------------


def corpus_targets() -> list[tuple[Path, str | None]]:
    """(file, workflow id or None) for every workflow in the corpus."""
    targets: list[tuple[Path, str | None]] = []
    for path in sorted(CORPUS.glob("*.json")):
        document, _, problems = read_document(path)
        assert not problems, f"{path.name} does not parse: {problems}"
        if document_shape(document) == "manifest":
            targets.extend((path, workflow_id) for workflow_id in workflow_ids(document))
        else:
            targets.append((path, None))
    return targets


def target_name(target: tuple[Path, str | None]) -> str:
    path, workflow_id = target
    return path.stem + (f".{workflow_id}" if workflow_id else "")


TARGETS = corpus_targets()


@pytest.fixture(scope="module")
def corpus_script(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Compile each corpus workflow once for the module (compiling costs more than running)."""
    folder = tmp_path_factory.mktemp("corpus")
    scripts: dict[str, Path] = {}

    def script(target: tuple[Path, str | None]) -> Path:
        name = target_name(target)
        if name not in scripts:
            scripts[name] = folder / f"{name}.py"
            scripts[name].write_text(compile_file(*target).source, encoding="utf-8")
        return scripts[name]

    return script


def test_every_corpus_file_has_expectations() -> None:
    assert sorted(map(target_name, TARGETS)) == sorted(EXPECTED)


def test_corpus_files_use_only_the_original_spellings() -> None:
    """Catalyst's own spellings (`$secret`, `fields`, `expression` on graphs, handles
    the original leaves out) would prove nothing about reading the original's files."""
    for path, _ in TARGETS:
        text = path.read_text(encoding="utf-8")
        for canonical in ('"$secret"', '"fields"', '"max_completion_tokens"', '"system_prompt"',
                          '"include_input"', '"targetHandle"'):
            assert canonical not in text, f"{path.name} uses {canonical}"


def assert_output(node_id: str, actual: Any, expected: Any) -> None:
    if not isinstance(expected, Reply):
        assert actual == expected, node_id
        return
    # Latency varies; everything else follows from the mock's reply and the price table.
    assert set(actual) == {"content", "finish_reason", "model", "provider", "usage", "cost_usd",
                           "latency_ms"}, node_id
    assert actual["content"] == REPLY + expected.prompt
    assert actual["finish_reason"] == "stop"
    assert actual["model"] == expected.model
    usage = actual["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert actual["cost_usd"] == expected_cost(expected.model, usage)


@pytest.mark.parametrize("target", TARGETS, ids=target_name)
def test_corpus_workflow_validates_compiles_and_runs(
    target: tuple[Path, str | None], corpus_script: Callable[..., Path]
) -> None:
    expect = EXPECTED[target_name(target)]
    _checked, found = check_file(*target)
    assert [d for d in found if d.is_error] == []
    assert sorted(d.code for d in found) == sorted(expect.warnings)

    script = corpus_script(target)
    for run in expect.runs:
        arguments = [item for name, value in run.inputs.items()
                     for item in ("--input", f"{name}={value}")]
        with MockGroqServer(MockSettings()) as server:
            result = run_script(script, *arguments, "--json", server=server, env=dict(run.env))
            sent = [request.body for request in server.chat_requests()]
        details = f"{run.inputs}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert result.returncode == run.exit_code, details
        assert sent == list(run.requests), details
        if run.exit_code:
            error = result.stderr.strip()
            assert error.startswith("error: ") and "Traceback" not in error, details
            assert all(word in error for word in run.error), details
            continue
        outputs = json.loads(result.stdout)["outputs"]
        assert sorted(outputs) == sorted(run.outputs), details
        for node_id, expected in run.outputs.items():
            assert_output(node_id, outputs[node_id], expected)
        assert log_lines(result.stderr) == list(run.logs), details


def test_env_expression_reads_the_variable_it_names(corpus_script: Callable[..., Path]) -> None:
    """`{{ env.TEAM_GROQ_KEY }}` means TEAM_GROQ_KEY: GROQ_API_KEY alone does not do."""
    script = corpus_script((CORPUS / "groq_env_expression.json", None))
    with MockGroqServer(MockSettings()) as server:
        result = run_script(script, "--input", "question=Why?", server=server)
        assert server.chat_requests() == []
    assert result.returncode == 2
    assert "TEAM_GROQ_KEY" in result.stderr
    help_text = run_script(script, "--help").stdout
    assert "environment variables:\n  TEAM_GROQ_KEY" in help_text


# -- the original's llm-completion fixture ---------------------------------------------------


FIXTURE = CORPUS / "invalid" / "llm-completion.json"
CORRECTED = CORPUS / "llm-completion-corrected.json"


def test_original_fixture_reads_a_field_its_llm_node_never_returns() -> None:
    """The original's condition reads `output.sentiment`; a completion has no such field."""
    _checked, found = check_file(FIXTURE, "analyze_text")
    (problem,) = [d for d in found if d.is_error]
    assert problem.code == "unknown-output-field"
    assert problem.node_id == "node_condition_1"
    assert problem.path == "/workflows/analyze_text/nodes/node_condition_1/config/expression"
    assert "'sentiment'" in problem.message and "node_claude_1" in problem.message
    assert problem.hint is not None
    assert "content, finish_reason, model, provider, usage, cost_usd, latency_ms" in problem.hint
    # Nothing else in the file is a problem: every other spelling is read.
    assert [d for d in found if not d.is_error] == []


def test_corrected_fixture_differs_only_in_what_the_condition_reads() -> None:
    original = FIXTURE.read_text(encoding="utf-8")
    corrected = original.replace("node_claude_1", "node_llm_1").replace(
        "nodes.node_llm_1.output.sentiment == 'positive'",
        "'positive' in nodes.node_llm_1.output.content | lower",
    )
    assert json.loads(corrected) == json.loads(CORRECTED.read_text(encoding="utf-8"))


def test_corrected_fixture_help_lists_its_secret_and_input(
    corpus_script: Callable[..., Path]
) -> None:
    script = corpus_script((CORRECTED, "analyze_text"))
    help_text = run_script(script, "--help").stdout
    assert "text (string, required): Text to analyze" in help_text
    assert "environment variables:\n  GROQ_API_KEY: Groq API key for LLM calls" in help_text


# -- diagnostics on the original's spellings --------------------------------------------------


def llm_then(downstream: Document, **extra: Any) -> Document:
    """A Groq node `llm` and one node reading it, wired by an edge without handles."""
    return graph(groq_node("llm", apiKey="GROQ_API_KEY", prompt="Hi", maxTokens=50), downstream,
                 edges=[edge("llm", downstream["id"], id="e1")], **extra)


def error(found: list[Diagnostic], code: str) -> Diagnostic:
    problem = only(found, code)
    assert problem.is_error
    return problem


def test_variables_that_are_not_json_text() -> None:
    document = graph(node("prompt", "promptTemplate", {
        "template": "About {{ topic }}", "variables": '{"topic": tea}'}))
    found = diagnostics(document)
    problem = error(found, "invalid-json-text")
    assert problem.node_id == "prompt"
    assert problem.path == "/nodes/0/data/config/variables"
    assert "line 1 column 11" in problem.message
    # The template's {{ topic }} is not blamed for the broken variables.
    assert [d.code for d in found] == ["invalid-json-text"]


FIELDS = "content, finish_reason, model, provider, usage, cost_usd, latency_ms, fallbacks"


@pytest.mark.parametrize(
    ("downstream", "key", "missing", "hint"),
    [
        pytest.param(node("log", "log", {"message": "{{ nodes.llm.output.contnet }}"}),
                     "message", "contnet", f"did you mean 'content'? fields of "
                     f"nodes['llm'].output: {FIELDS}", id="attribute"),
        pytest.param(node("log", "log", {"message": "{{ nodes['llm'].output['contnet'] }}"}),
                     "message", "contnet", "did you mean 'content'?", id="item"),
        pytest.param(node("log", "log", {"message": "{{ nodes.llm.output.sentiment | upper }}"}),
                     "message", "sentiment", FIELDS, id="filter"),
        pytest.param(node("log", "log", {"message": "{{ nodes.llm.output.latency * 2 }}"}),
                     "message", "latency", FIELDS, id="arithmetic"),
        pytest.param(node("check", "condition", {
            "condition": "nodes.llm.output.sentiment == 'positive'",
            "description": "positive?"}), "condition", "sentiment", FIELDS, id="condition"),
        pytest.param(node("log", "log", {"message": "{{ nodes.llm.output.usage.total_tokenz }}"}),
                     "message", "total_tokenz", "did you mean 'total_tokens'? fields of "
                     "nodes['llm'].output.usage: prompt_tokens, completion_tokens, total_tokens",
                     id="nested"),
        pytest.param(node("log", "log", {"message": "{{ nodes.llm.output.content.sentiment }}"}),
                     "message", "sentiment", "fields of nodes['llm'].output.content: none",
                     id="into-a-string"),
        pytest.param(node("edit", "editFields", {"operations": json.dumps(
            [{"field": "reply", "value": "{{ nodes.llm.output.text }}"}])}),
            "operations", "text", FIELDS, id="operations-text"),
    ],
)
def test_unknown_output_field(downstream: Document, key: str, missing: str, hint: str) -> None:
    problem = error(diagnostics(llm_then(downstream)), "unknown-output-field")
    assert problem.node_id == downstream["id"]
    # Pointed at the key as the file spells it (`condition`, `operations`), not ours.
    assert problem.path == f"/nodes/1/data/config/{key}"
    assert f"has no field {missing!r}" in problem.message
    assert problem.hint is not None and hint in problem.hint


def test_a_reply_merged_into_is_kept_as_value_and_its_shape_is_known() -> None:
    """Any output may feed any input: a completion's text merged by editFields
    arrives as {"value": …}, and the checker knows that shape."""
    edit = node("edit", "editFields", {"operations": '[{"field": "a", "value": 1}]',
                                       "mode": "merge"})
    reader = node("show", "log", {"message": "{{ nodes.edit.output.value }} {{ nodes.edit.output.a }}"})
    document = llm_then(edit)
    document["nodes"].append(reader)
    assert [d for d in diagnostics(document) if d.is_error] == []
    document["nodes"][2]["data"]["config"]["message"] = "{{ nodes.edit.output.content }}"
    problem = error(diagnostics(document), "unknown-output-field")
    assert problem.hint is not None and "value, a" in problem.hint


@pytest.mark.parametrize("text", ["Key: {{ secrets.GROQ_API_KEY }}", "{{ env.HOME }} says hi"])
def test_secret_in_a_prompt(text: str) -> None:
    document = graph(groq_node("llm", apiKey="GROQ_API_KEY", prompt=text))
    problem = error(diagnostics(document), "secret-in-expression")
    assert problem.node_id == "llm"
    assert problem.path == "/nodes/0/data/config/prompt"


# Shaped like real keys to the secret check; neither is one.
OPENAI_KEY = "sk-proj-" + "Q7mZ2xL9pR4tV8nB3kW6yH1c"
ANTHROPIC_KEY = "sk-ant-api03-" + "F5gJ8kL2mN6pQ9rS3tU7vW1x"


def with_key_in_label(key: str) -> Document:
    return graph(node("llm", "groqCompletion", {"prompt": "Hi"}, label=f"Groq ({key})"))


def with_key_as_edge_id(key: str) -> Document:
    # And a dangling target, so another problem is about that same edge.
    return graph(groq_node("llm", prompt="Hi"), node("log", "log", {"message": "m"}),
                 edges=[edge("llm", "logg", id=key)])


def with_key_as_object_key(key: str) -> Document:
    return graph(node("edit", "editFields", {"operations": [{"field": key, "value": 1}],
                                             "mode": "replace"}),
                 node("named", "log", {"message": "m", key: True}))


@pytest.mark.parametrize("key", [OPENAI_KEY, ANTHROPIC_KEY], ids=["openai", "anthropic"])
@pytest.mark.parametrize(
    ("build", "paths", "node_id"),
    [
        (with_key_in_label, ["/nodes/0/data/label"], "llm"),
        (with_key_as_edge_id, ["/edges/0/id"], None),
        (with_key_as_object_key, ["/nodes/0/data/config/operations/0/field",
                                  "/nodes/1/data/config"], None),
    ],
    ids=["label", "edge-id", "object-key"],
)
def test_literal_keys_are_errors_that_never_repeat_the_key(
    key: str, build: Callable[[str], Document], paths: list[str], node_id: str | None
) -> None:
    found = diagnostics(build(key))
    secrets = [d for d in found if d.code == "literal-secret"]
    assert sorted(d.path for d in secrets) == sorted(paths)
    assert all(d.is_error for d in secrets)
    if node_id is not None:
        assert [d.node_id for d in secrets] == [node_id]
    provider = "OpenAI" if key is OPENAI_KEY else "Anthropic"
    assert all(f"an {provider} API key" in d.message for d in secrets)
    # Not in any problem, in any field: message, hint, path, node or edge id.
    for problem in found:
        assert key not in json.dumps(problem.to_dict()), problem
        assert key[:20] not in json.dumps(problem.to_dict()), problem


@pytest.mark.parametrize("value", ["{{ input.key }}", "{{ global.KEY_NAME }}",
                                   "{{ 'GROQ_' ~ input.key }}"])
def test_a_secret_field_never_holds_an_expression_over_data(value: str) -> None:
    """Not deferred to run time like other expressions: whoever runs the script
    must not pick which secret it sends."""
    document = graph(node("llm", "groqCompletion", {"apiKey": value, "prompt": "Hi"}),
                     inputs={"key": {"type": "string"}})
    found = diagnostics(document)
    problem = error([d for d in found if d.path.endswith("/apiKey")], "invalid-config")
    assert problem.node_id == "llm"
    assert problem.path == "/nodes/0/data/config/apiKey"
    assert "secret field names an environment variable" in problem.message
