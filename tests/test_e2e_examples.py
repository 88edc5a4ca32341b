"""Every example's generated script, run as a user runs it, against the local Groq server.

The scripts are executed as subprocesses (or imported as modules, for library
use) and talk to `MockGroqServer` through the real `groq` SDK. Each test checks
what the script printed AND what it sent: model, messages as built from the
templates and inputs, and every sampling parameter exactly as configured.

The mock answers deterministically: "Mock reply to: " + the last user message
(whitespace collapsed, first 200 characters); its token counts come from
`catalyst.mock_groq.replies`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import EXAMPLES, PROVIDER_VARIABLES, ScriptRun, compile_example, run_script

from catalyst.compiler import compile_file
from catalyst.groq_models import chat_model
from catalyst.loading import document_shape, read_document, workflow_ids
from catalyst.local_server.audio import MARKER
from catalyst.mock_groq import MockGroqServer, MockSettings
from catalyst.mock_groq.replies import build_completion

pytestmark = pytest.mark.e2e

REPLY = "Mock reply to: "
USAGE_LINE = re.compile(r"^usage: \d+ tokens \(\d+ in, \d+ out\), about \$\d+\.\d{6}, [\d.]+ ms$")

SUMMARY_SYSTEM = {"role": "system", "content": "You summarise texts in at most three sentences."}
TRIAGE_SYSTEM = {"role": "system", "content": "Answer with one word: urgent or routine."}


# -- helpers ----------------------------------------------------------------------


def mock_usage(body: dict[str, Any]) -> dict[str, int]:
    """The usage the mock reports for this request body."""
    completion = build_completion(body, MockSettings())
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens,
    }


def expected_cost(model: str, usage: dict[str, int]) -> float:
    entry = chat_model(model)
    assert entry is not None and entry.usd_per_million_input is not None
    assert entry.usd_per_million_output is not None
    cost = (
        usage["prompt_tokens"] * entry.usd_per_million_input
        + usage["completion_tokens"] * entry.usd_per_million_output
    )
    return round(cost / 1_000_000, 8)


def bodies(server: MockGroqServer) -> list[Any]:
    return [request.body for request in server.chat_requests()]


def log_lines(stderr: str) -> list[dict[str, Any]]:
    """The structured lines `log` nodes write to stderr."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def assert_ok(run: ScriptRun) -> None:
    details = f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.returncode == 0, details


def assert_one_line_error(run: ScriptRun, exit_code: int) -> str:
    """The script failed with `exit_code` and said why in one line, without a traceback."""
    assert run.returncode == exit_code, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ")
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stdout == ""
    return run.stderr.strip()


@pytest.fixture(scope="module")
def example_script(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Compile each example once for this module: the scripts are only read, so tests
    share them (compiling, black included, costs more than running)."""
    folder = tmp_path_factory.mktemp("scripts")
    scripts: dict[tuple[str, str | None], Path] = {}

    def script(name: str, workflow_id: str | None = None) -> Path:
        if (name, workflow_id) not in scripts:
            path = folder / (Path(name).stem + (f".{workflow_id}" if workflow_id else "") + ".py")
            path.write_text(compile_example(name, workflow_id).source, encoding="utf-8")
            scripts[name, workflow_id] = path
        return scripts[name, workflow_id]

    return script


def load_module(script: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import a generated script as a module, as an application embedding it would."""
    name = f"catalyst_generated_{script.stem.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the module executes.
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def use_server(server: MockGroqServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
    monkeypatch.setenv("GROQ_API_KEY", "test-key")


def variant_of_summarize(tmp_path: Path, model: str) -> Path:
    """summarize.json with another model on its Groq node, compiled to a script."""
    document = json.loads((EXAMPLES / "summarize.json").read_text(encoding="utf-8"))
    (groq_node,) = [n for n in document["nodes"] if n["type"] == "groqCompletion"]
    groq_node["data"]["config"]["model"] = model
    workflow = tmp_path / "summarize_variant.json"
    workflow.write_text(json.dumps(document), encoding="utf-8")
    script = tmp_path / "summarize_variant.py"
    script.write_text(compile_file(workflow).source, encoding="utf-8")
    return script


# Every workflow in examples/ must have an end-to-end run below.
COVERED = {
    "cheapest_answer",
    "draft_review",
    "enrich_order",
    "extract_contact",
    "groq_with_claude_fallback",
    "rag_answer",
    "language_router",
    "order_agent",
    "morning_digest",
    "research_diamond",
    "resilient_classify",
    "second_opinion",
    "streaming_chat",
    "summarize",
    "support_triage.draft_reply",
    "support_triage.triage",
    "vector_search",
    "user_lookup",
    "voice_memo",
}


def test_every_example_is_covered() -> None:
    found = set()
    for path in sorted(EXAMPLES.glob("*.json")):
        document, _, _ = read_document(path)
        if document_shape(document) == "manifest":
            found.update(f"{path.stem}.{wid}" for wid in workflow_ids(document))
        else:
            found.add(path.stem)
    assert found == COVERED, "add an end-to-end test for each new example"


# -- summarize --------------------------------------------------------------------


def test_summarize_streams_tokens_to_stdout(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("summarize.json")
    run = run_script(script, "--input", "text=The quick brown fox.", "--stream", server=groq_server)
    assert_ok(run)
    assert run.stdout == REPLY + "Summarise: The quick brown fox.\n"
    assert USAGE_LINE.match(run.stderr.strip()), run.stderr
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-20b",
            "messages": [
                SUMMARY_SYSTEM,
                {"role": "user", "content": "Summarise: The quick brown fox."},
            ],
            "temperature": 0.2,
            "stream": True,
        }
    ]


def test_summarize_json_reports_outputs_usage_latency_and_nodes(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("summarize.json")
    run = run_script(script, "--input", "text=Groq runs   LPUs.", "--json", server=groq_server)
    assert_ok(run)
    result = json.loads(run.stdout)
    (body,) = bodies(groq_server)
    usage = mock_usage(body)
    cost = expected_cost("openai/gpt-oss-20b", usage)

    assert set(result) == {"outputs", "usage", "latency_ms", "nodes"}
    output = result["outputs"]["groq-1"]
    assert list(result["outputs"]) == ["groq-1"]
    # The mock collapses whitespace when it quotes the message back.
    assert output["content"] == REPLY + "Summarise: Groq runs LPUs."
    assert output["finish_reason"] == "stop"
    assert output["model"] == "openai/gpt-oss-20b"
    assert output["usage"] == usage
    assert output["cost_usd"] == cost
    assert result["usage"] == {**usage, "cost_usd": cost}
    assert isinstance(result["latency_ms"], float) and result["latency_ms"] > 0
    assert list(result["nodes"]) == ["prompt-1", "groq-1"]
    assert result["nodes"]["prompt-1"]["status"] == "ok"
    assert result["nodes"]["groq-1"] == {
        "status": "ok",
        "latency_ms": result["nodes"]["groq-1"]["latency_ms"],
        "usage": usage,
        "cost_usd": cost,
        "model": "openai/gpt-oss-20b",
    }
    assert body["messages"][1] == {"role": "user", "content": "Summarise: Groq runs   LPUs."}
    assert run.stderr == ""


# -- support_triage.json: triage ----------------------------------------------------


def test_triage_escalates_an_urgent_message(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("support_triage.json", "triage")
    message = "URGENT: the checkout page is down"
    run = run_script(
        script,
        "--input",
        f"message={message}",
        "--input",
        "customer=Ada",
        "--json",
        server=groq_server,
    )
    assert_ok(run)
    result = json.loads(run.stdout)
    (body,) = bodies(groq_server)
    assert body == {
        "model": "openai/gpt-oss-20b",
        "messages": [TRIAGE_SYSTEM, {"role": "user", "content": f"Customer Ada writes: {message}"}],
        "temperature": 0,
        "max_completion_tokens": 300,
    }
    # "{{ global.MAX_TOKENS }}" keeps the global's type: an integer, not "300".
    assert type(body["max_completion_tokens"]) is int

    assert result["outputs"] == {
        "record": {
            "queue": "escalations",
            "team": "Support",
            "customer": "Ada",
            "reason": REPLY + f"Customer Ada writes: {message}",
        }
    }
    assert result["nodes"]["file"] == {"status": "skipped"}
    assert result["nodes"]["escalate"]["status"] == "ok"
    assert result["nodes"]["is_urgent"]["status"] == "ok"
    total = mock_usage(body)["total_tokens"]
    (record,) = log_lines(run.stderr)
    assert record == {
        "level": "info",
        "node": "record",
        "message": "triaged message from Ada",
        "data": {"tokens": total},
    }
    assert type(record["data"]["tokens"]) is int


def test_triage_files_a_routine_message(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("support_triage.json", "triage")
    run = run_script(script, "--input", "message=Please update my address", server=groq_server)
    assert_ok(run)
    # Several-field output: printed as JSON keyed by the sink node.
    assert json.loads(run.stdout) == {"record": {"queue": "inbox", "customer": "anonymous"}}
    (body,) = bodies(groq_server)
    assert body["messages"] == [
        TRIAGE_SYSTEM,
        {"role": "user", "content": "Customer anonymous writes: Please update my address"},
    ]
    (record,) = log_lines(run.stderr)
    assert record["message"] == "triaged message from anonymous"
    assert record["data"] == {"tokens": mock_usage(body)["total_tokens"]}
    assert USAGE_LINE.match(run.stderr.splitlines()[-1])


# -- support_triage.json: draft_reply -----------------------------------------------


def test_draft_reply_streams(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("support_triage.json", "draft_reply")
    run = run_script(
        script, "--input", "message=Where is my parcel?", "--stream", server=groq_server
    )
    assert_ok(run)
    assert run.stdout == REPLY + "Reply to: Where is my parcel?\n"
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-120b",
            "messages": [
                {
                    "role": "system",
                    "content": "You are a friendly support agent for the Support team.",
                },
                {"role": "user", "content": "Reply to: Where is my parcel?"},
            ],
            "stream": True,
        }
    ]


# -- research_diamond ---------------------------------------------------------------


def test_research_diamond_runs_the_middle_calls_concurrently(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("research_diamond.json")
    # The server holds each request until both are in flight: sequential calls
    # would leave it with one at a time, whatever the machine's load.
    groq_server.settings = MockSettings(hold_until_in_flight=2)
    run = run_script(
        script,
        "--input",
        "review=Great battery, weak camera.",
        "--input",
        "product=Acme Phone",
        "--json",
        server=groq_server,
    )
    assert_ok(run)
    requests = groq_server.chat_requests()
    assert len(requests) == 2
    assert groq_server.max_in_flight == 2

    shared = [
        {"role": "system", "content": "You analyse product reviews for Acme Phone."},
        {"role": "user", "content": "Review:\nGreat battery, weak camera."},
    ]
    by_model = {request.body["model"]: request.body for request in requests}
    assert by_model == {
        "openai/gpt-oss-20b": {
            "model": "openai/gpt-oss-20b",
            "messages": [*shared, {"role": "user", "content": "Sentiment in one word?"}],
            "temperature": 0,
        },
        "openai/gpt-oss-120b": {
            "model": "openai/gpt-oss-120b",
            "messages": [*shared, {"role": "user", "content": "List the key points."}],
            "max_completion_tokens": 200,
        },
    }
    tokens = sum(mock_usage(body)["total_tokens"] for body in by_model.values())
    result = json.loads(run.stdout)
    assert result["outputs"] == {
        "merge": {
            "product": "Acme Phone",
            "sentiment": REPLY + "Sentiment in one word?",
            "key_points": REPLY + "List the key points.",
            "tokens": tokens,
        }
    }
    assert result["usage"]["total_tokens"] == tokens


# -- draft_review: a parallel node -------------------------------------------------------

DRAFT_PROMPT = [
    {"role": "system", "content": "You review drafts for a newsletter."},
    {"role": "user", "content": "Draft:\nTheir going to the park."},
]


def test_draft_review_fans_out_two_at_a_time_and_goes_on_without_a_failed_branch(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("draft_review.json")
    # Held until two are in flight (the bound is reached whatever the load);
    # the grammar model refuses, so its branch fails and `partial` goes on.
    groq_server.update(hold_until_in_flight=2, latency_ms=200, fail_models={
        "openai/gpt-oss-120b": (400, "invalid_request_error", "the draft is too short")})
    run = run_script(script, "--input", "draft=Their going to the park.", server=groq_server)

    assert_ok(run)
    assert json.loads(run.stdout) == {"report": {
        "tone": REPLY + "Describe the tone in one sentence.",
        "grammar": "unavailable",
        "title": REPLY + "Suggest a title.",
    }}
    assert groq_server.max_in_flight == 2
    sent = sorted((body["model"], body["messages"][-1]["content"]) for body in bodies(groq_server))
    assert sent == [("openai/gpt-oss-120b", "List the grammar mistakes."),
                    ("openai/gpt-oss-20b", "Describe the tone in one sentence."),
                    ("openai/gpt-oss-20b", "Suggest a title.")]
    assert all(body["messages"][:2] == DRAFT_PROMPT for body in bodies(groq_server))
    (warning,) = [line for line in run.stderr.splitlines() if line.startswith("warning")]
    assert warning.startswith("warning: node 'grammar' (Grammar) failed: ")
    assert warning.endswith("; the run went on with the rest of 'fan-out'")


def test_draft_review_fails_when_every_branch_failed(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("draft_review.json")
    refused = (400, "invalid_request_error", "refused")
    groq_server.update(fail_models={"openai/gpt-oss-120b": refused,
                                    "openai/gpt-oss-20b": refused})
    run = run_script(script, "--input", "draft=x", server=groq_server)

    line = assert_one_line_error(run, 1)
    assert line.startswith("error: every branch of node 'fan-out' failed (failureStrategy "
                           "partial); the last: node ")


# -- morning_digest: a scheduledTask -------------------------------------------------------


def test_morning_digest_runs_at_09_00_paris_on_weekdays(
    example_script, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import UTC, datetime, timedelta

    module = load_module(example_script("morning_digest.json"), monkeypatch)
    use_server(groq_server, monkeypatch)
    # A fake wall clock, Friday 28 March 2025 at noon UTC: it moves only as the script naps.
    clock = {"now": datetime(2025, 3, 28, 12, tzinfo=UTC)}

    async def nap(seconds: float) -> None:
        clock["now"] += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(module, "_utc_now", lambda: clock["now"])
    monkeypatch.setattr(module, "_sleep", nap)

    assert module.run_schedule({"topic": "the launch"}, max_runs=2) == 0

    out, err = capsys.readouterr()
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    # Monday and Tuesday at 09:00, summer time since the Sunday.
    assert [run["scheduled_for"] for run in runs] == [
        "2025-03-31T09:00:00+02:00", "2025-04-01T09:00:00+02:00"]
    assert [run["outputs"] for run in runs] == [
        {"record": REPLY + "Three bullet points to start the day on the launch."}] * 2
    assert "next runs: 2025-03-31 09:00 CEST, 2025-04-01 09:00 CEST, 2025-04-02 09:00 CEST" in err
    assert [body["messages"] for body in bodies(groq_server)] == [
        [{"role": "user", "content": "Three bullet points to start the day on the launch."}]] * 2


# -- language_router ----------------------------------------------------------------


def test_language_router_answers_french_in_french(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("language_router.json")
    run = run_script(
        script,
        "--input",
        "question=Quelle heure est-il ?",
        "--input",
        "language=FR",
        "--json",
        server=groq_server,
    )
    assert_ok(run)
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-20b",
            "messages": [
                {"role": "system", "content": "Réponds toujours en français."},
                {"role": "user", "content": "Quelle heure est-il ?"},
            ],
        }
    ]
    result = json.loads(run.stdout)
    assert result["outputs"] == {"done": REPLY + "Quelle heure est-il ?"}
    assert result["nodes"]["answer-en"] == {"status": "skipped"}
    assert result["nodes"]["answer-fr"]["status"] == "ok"
    assert log_lines(run.stderr) == [
        {"level": "info", "node": "done", "message": "answered a FR question"}
    ]


def test_language_router_defaults_to_english(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("language_router.json")
    run = run_script(script, "--input", "question=What time is it?", server=groq_server)
    assert_ok(run)
    assert run.stdout == REPLY + "What time is it?\n"
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-20b",
            "messages": [
                {"role": "system", "content": "Always answer in English."},
                {"role": "user", "content": "What time is it?"},
            ],
        }
    ]
    assert log_lines(run.stderr)[0]["message"] == "answered a en question"


# -- streaming_chat -------------------------------------------------------------------


def test_streaming_chat_sends_few_shot_messages_and_every_parameter(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("streaming_chat.json")
    run = run_script(
        script,
        "--input",
        "question=How fast is Groq?",
        "--input",
        "tone=cheerful",
        "--stream",
        server=groq_server,
    )
    assert_ok(run)
    assert run.stdout == REPLY + "How fast is Groq?\n"
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-20b",
            "messages": [
                {"role": "system", "content": "You are a cheerful assistant. Keep answers short."},
                {"role": "user", "content": "What is Catalyst?"},
                {
                    "role": "assistant",
                    "content": "A compiler from visual AI workflows to Python you own.",
                },
                {"role": "user", "content": "How fast is Groq?"},
            ],
            "temperature": 0.7,
            "top_p": 0.9,
            "seed": 7,
            "stop": ["\n\n\n"],
            "max_completion_tokens": 512,
            "stream": True,
        }
    ]


# -- enrich_order: no model calls ---------------------------------------------------------


def test_enrich_order_needs_no_groq_key_and_reads_stdin(example_script) -> None:
    script = example_script("enrich_order.json")
    order = {"id": 42, "customer": "ada lovelace"}
    # No server and no GROQ_* variables at all (run_script drops them).
    run = run_script(
        script,
        "--inputs-json",
        "-",
        "--input",
        "priority=true",
        "--input",
        "quantity=3",
        stdin=json.dumps({"order": order}),
    )
    assert_ok(run)
    audit = json.loads(run.stdout)["audit"]
    assert audit == {
        "order_id": 42,
        "customer": "Ada Lovelace",
        "handling": "rush",
        "quantity": 3,
        "lines": [],
    }
    # "quantity=3" from the command line is an integer input: it stays an int.
    assert type(audit["quantity"]) is int
    assert log_lines(run.stderr) == [
        {
            "level": "warning",
            "node": "audit",
            "message": "order 42 received",
            "data": {"handling": "rush"},
        }
    ]


@pytest.mark.parametrize(
    ("priority", "handling"),
    [("true", "rush"), ("yes", "rush"), ("false", "standard"), ("0", "standard")],
)
def test_enrich_order_converts_boolean_text(example_script, priority: str, handling: str) -> None:
    script = example_script("enrich_order.json")
    run = run_script(
        script, "--input", 'order={"id": 7}', "--input", f"priority={priority}", "--json"
    )
    assert_ok(run)
    result = json.loads(run.stdout)
    assert result["outputs"]["audit"] == {
        "order_id": 7,
        "customer": "Unknown",
        "handling": handling,
        "quantity": 1,
        "lines": [],
    }
    assert result["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize("value", ["three", "true", "2.5"])
def test_enrich_order_rejects_a_non_integer_quantity(example_script, value: str) -> None:
    script = example_script("enrich_order.json")
    run = run_script(script, "--input", "order={}", "--input", f"quantity={value}")
    assert "input 'quantity' must be integer" in assert_one_line_error(run, 2)


# -- resilient_classify ---------------------------------------------------------------------


CLASSIFY_SYSTEM = {
    "role": "system",
    "content": "Label the ticket: billing, bug, or other. One word.",
}
MISSING_20B = {
    "openai/gpt-oss-20b": (404, "model_not_found", "The model `openai/gpt-oss-20b` does not exist.")
}


def test_resilient_classify_labels_a_ticket(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("resilient_classify.json")
    run = run_script(script, "--input", "ticket=I was Charged twice", "--json", server=groq_server)
    assert_ok(run)
    assert bodies(groq_server) == [
        {
            "model": "openai/gpt-oss-20b",
            "messages": [CLASSIFY_SYSTEM, {"role": "user", "content": "I was Charged twice"}],
            "temperature": 0,
            "max_completion_tokens": 16,
        }
    ]
    assert json.loads(run.stdout)["outputs"] == {
        "label": {"label": "mock reply to: i was charged twice", "model": "openai/gpt-oss-20b"}
    }


def test_resilient_classify_falls_back_to_the_next_model(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("resilient_classify.json")
    groq_server.settings = MockSettings(fail_models=MISSING_20B)
    run = run_script(script, "--input", "ticket=App crashes", "--json", server=groq_server)
    assert_ok(run)
    sent = bodies(groq_server)
    assert [body["model"] for body in sent] == ["openai/gpt-oss-20b", "openai/gpt-oss-120b"]
    assert sent[0]["messages"] == sent[1]["messages"]
    result = json.loads(run.stdout)
    assert result["outputs"]["label"] == {
        "label": "mock reply to: app crashes",
        "model": "openai/gpt-oss-120b",
    }
    (passed_over,) = result["nodes"]["classify"]["fallbacks"]
    assert passed_over["model"] == "openai/gpt-oss-20b"
    assert "404" in passed_over["reason"]


def test_resilient_classify_uses_its_safe_default_when_every_model_fails(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("resilient_classify.json")
    both = {**MISSING_20B, "openai/gpt-oss-120b": (404, "model_not_found", "gone too")}
    groq_server.settings = MockSettings(fail_models=both)
    run = run_script(script, "--input", "ticket=Anything", "--json", server=groq_server)
    assert_ok(run)
    result = json.loads(run.stdout)
    assert result["outputs"] == {"label": {"label": "unclassified", "model": None}}
    assert result["nodes"]["classify"]["status"] == "fallback"
    assert len(bodies(groq_server)) == 2


# -- vector_search: embedded Qdrant, no server ----------------------------------------------


def test_vector_search_loads_then_finds_the_nearest(example_script) -> None:
    script = example_script("vector_search.json")
    run = run_script(script, "--json")
    assert_ok(run)
    result = json.loads(run.stdout)
    hits = result["outputs"]["search"]
    assert list(result["outputs"]) == ["search"]
    assert [hit["payload"] for hit in hits] == [
        {"text": "Green tea is steamed; black tea is oxidised.", "lang": "en"},
        {"text": "Espresso is coffee brewed under pressure.", "lang": "en"},
    ]
    assert hits[0]["score"] == pytest.approx(0.99624, abs=1e-5)
    assert hits[1]["score"] == pytest.approx(0.40181, abs=1e-5)
    # Ids derived from the payloads: the same documents always get the same ids.
    assert hits[0]["id"] == "16694d36-af44-5199-b99c-aeaa36fddd8a"
    assert [result["nodes"][n]["status"] for n in ("load", "search")] == ["ok", "ok"]
    assert run.stderr == ""


def test_vector_search_filters_by_language(example_script) -> None:
    script = example_script("vector_search.json")
    run = run_script(script, "--input", "lang=fr", "--input", "query=[0.9, 0.1, 0, 0.1]")
    assert_ok(run)
    (hit,) = json.loads(run.stdout)["search"]
    assert hit["payload"] == {"text": "Le thé vert est étuvé, le thé noir oxydé.", "lang": "fr"}


def test_vector_search_says_when_the_query_does_not_fit(example_script) -> None:
    script = example_script("vector_search.json")
    run = run_script(script, "--input", "query=[1, 0]")
    assert assert_one_line_error(run, 1) == (
        "error: node 'search' (Nearest documents) failed: collection 'notes' holds vectors of "
        "4 dimensions, not 2: use the embedding model (and dimensions) it was built with"
    )


# -- the script's command line --------------------------------------------------------------


def test_help_lists_inputs_with_descriptions(example_script) -> None:
    script = example_script("support_triage.json", "triage")
    run = run_script(script, "--help")
    assert run.returncode == 0, run.stderr
    assert "Run the workflow 'Triage a message'." in run.stdout
    assert "  message (string, required): The customer's message" in run.stdout
    assert '  customer (string, default "anonymous"): Customer name' in run.stdout


def test_missing_required_input(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("summarize.json")
    run = run_script(script, server=groq_server)
    message = assert_one_line_error(run, 2)
    assert message == "error: missing required input 'text' (--input text=...)"
    assert groq_server.requests == []


def test_unknown_input_names_the_valid_ones(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("support_triage.json", "triage")
    run = run_script(script, "--input", "mesage=hi", server=groq_server)
    message = assert_one_line_error(run, 2)
    assert message == "error: unknown input 'mesage'; this workflow takes: message, customer"
    assert groq_server.requests == []


def test_input_value_from_a_file(
    example_script, groq_server: MockGroqServer, tmp_path: Path
) -> None:
    script = example_script("summarize.json")
    text = tmp_path / "article.txt"
    text.write_text("Line one.\nLine two.\n", encoding="utf-8")
    run = run_script(script, "--input", f"text=@{text}", server=groq_server)
    assert_ok(run)
    (body,) = bodies(groq_server)
    assert body["messages"][1] == {"role": "user", "content": "Summarise: Line one.\nLine two.\n"}
    assert run.stdout == REPLY + "Summarise: Line one. Line two.\n"


def test_input_from_a_missing_file(example_script, tmp_path: Path) -> None:
    script = example_script("summarize.json")
    run = run_script(
        script, "--input", f"text=@{tmp_path / 'nope.txt'}", env={"GROQ_API_KEY": "unused"}
    )
    assert "cannot read" in assert_one_line_error(run, 2)


def test_bad_json_for_an_object_input(example_script) -> None:
    script = example_script("enrich_order.json")
    run = run_script(script, "--input", "order={not json")
    assert "input 'order' must be object" in assert_one_line_error(run, 2)
    run = run_script(script, "--inputs-json", "-", stdin="{not json")
    assert "--inputs-json is not valid JSON" in assert_one_line_error(run, 2)


def test_missing_api_key_stops_before_any_request(
    example_script, groq_server: MockGroqServer
) -> None:
    script = example_script("summarize.json")
    # The server's address is known, but there is no GROQ_API_KEY.
    run = run_script(script, "--input", "text=hi", env={"GROQ_BASE_URL": groq_server.base_url})
    message = assert_one_line_error(run, 2)
    assert "GROQ_API_KEY" in message
    assert groq_server.requests == []


def test_rejected_api_key(example_script, groq_server: MockGroqServer) -> None:
    script = example_script("summarize.json")
    groq_server.settings = MockSettings(api_key="the-right-key")
    run = run_script(script, "--input", "text=hi", server=groq_server)
    message = assert_one_line_error(run, 1)
    assert "GROQ_API_KEY" in message
    assert "401" in message
    # A bad key is not worth a retry.
    assert [request.status for request in groq_server.chat_requests()] == [401]


def test_unknown_model(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = variant_of_summarize(tmp_path, "openai/gpt-oss-9000")
    run = run_script(script, "--input", "text=hi", server=groq_server)
    message = assert_one_line_error(run, 1)
    assert "The model `openai/gpt-oss-9000` does not exist or you do not have access to it." in (
        message
    )
    assert [request.status for request in groq_server.chat_requests()] == [404]


def test_decommissioned_model_names_the_replacement(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = variant_of_summarize(tmp_path, "llama-3.1-8b-instant")
    run = run_script(script, "--input", "text=hi", server=groq_server)
    message = assert_one_line_error(run, 1)
    assert "decommissioned" in message
    assert "openai/gpt-oss-20b" in message
    assert [request.status for request in groq_server.chat_requests()] == [400]


# -- library use: import the script -----------------------------------------------------------


def test_run_workflow_as_a_library(
    example_script, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_module(example_script("support_triage.json", "triage"), monkeypatch)
    use_server(groq_server, monkeypatch)

    result = asyncio.run(module.run_workflow({"message": "urgent: refund me", "customer": "Bo"}))
    assert result["outputs"]["record"]["queue"] == "escalations"
    assert result["outputs"]["record"]["reason"] == REPLY + "Customer Bo writes: urgent: refund me"
    (body,) = bodies(groq_server)
    assert result["usage"]["total_tokens"] == mock_usage(body)["total_tokens"]
    json.dumps(result)


def test_stream_workflow_yields_events_in_order(
    example_script, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_module(example_script("summarize.json"), monkeypatch)
    use_server(groq_server, monkeypatch)

    async def collect() -> list[dict[str, Any]]:
        return [event async for event in module.stream_workflow({"text": "one two three"})]

    events = asyncio.run(collect())
    for event in events:
        json.dumps(event)  # every event is ready to forward as a server-sent event
    milestones = [(e["type"], e.get("node")) for e in events if e["type"] != "token"]
    assert milestones == [
        ("node_started", "prompt-1"),
        ("node_finished", "prompt-1"),
        ("node_started", "groq-1"),
        ("node_finished", "groq-1"),
        ("workflow_finished", None),
    ]
    types = [e["type"] for e in events]
    first_token = types.index("token")
    last_token = len(types) - 1 - types[::-1].index("token")
    assert types[first_token - 1] == "node_started"
    assert set(types[first_token : last_token + 1]) == {"token"}
    assert types[last_token + 1] == "node_finished"

    tokens = [e["text"] for e in events if e["type"] == "token"]
    reply = REPLY + "Summarise: one two three"
    assert len(tokens) > 1 and "".join(tokens) == reply
    (body,) = bodies(groq_server)
    finished = events[last_token + 1]
    assert finished["usage"] == mock_usage(body)
    assert isinstance(finished["latency_ms"], float)
    assert events[-1]["result"]["outputs"]["groq-1"]["content"] == reply


def test_sdk_retries_a_rate_limited_call(
    example_script, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_module(example_script("research_diamond.json"), monkeypatch)
    use_server(groq_server, monkeypatch)
    # Every second request gets a 429 that asks for a 5 ms wait.
    groq_server.settings = MockSettings(rate_limit_every=2, retry_after_ms=5)

    result = asyncio.run(module.run_workflow({"review": "Solid."}))

    merged = result["outputs"]["merge"]
    assert merged["sentiment"] == REPLY + "Sentiment in one word?"
    assert merged["key_points"] == REPLY + "List the key points."
    requests = groq_server.chat_requests()
    assert sorted(request.status or 0 for request in requests) == [200, 200, 429]
    (limited,) = [request for request in requests if request.status == 429]
    (retried,) = [request for request in requests if request.retry_count == 1]
    assert retried.status == 200
    assert retried.body == limited.body


def test_library_runs_in_two_event_loops_cleanly(
    example_script, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_module(example_script("summarize.json"), monkeypatch)
    use_server(groq_server, monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for text in ("first", "second"):
            result = asyncio.run(module.run_workflow({"text": text}))
            assert result["outputs"]["groq-1"]["content"] == REPLY + f"Summarise: {text}"
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


# -- second_opinion: OpenAI and Anthropic at once -----------------------------------------


def test_second_opinion_asks_gpt_and_claude_concurrently(
    example_script, groq_server: MockGroqServer
) -> None:
    # Both requests must be in flight together before either is answered.
    groq_server.settings = MockSettings(hold_until_in_flight=2)
    run = run_script(example_script("second_opinion.json"), "--input", "question=Why tea?",
                     "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    side_by_side = result["outputs"]["compare"]
    assert side_by_side["gpt"] == REPLY + "Why tea?"
    assert side_by_side["claude"] == REPLY + "Why tea?"
    assert side_by_side["claude_stop_reason"] == "end_turn"
    assert side_by_side["tokens"] == result["usage"]["total_tokens"]
    assert groq_server.max_in_flight == 2
    by_path = {request.path: request.body for request in groq_server.chat_requests()}
    assert by_path["/v1/chat/completions"]["model"] == "gpt-5.4-mini"
    assert by_path["/v1/chat/completions"]["max_completion_tokens"] == 300
    claude = by_path["/v1/messages"]
    assert claude["model"] == "claude-sonnet-4-6"
    assert claude["system"] == "Answer in at most three sentences."
    assert claude["max_tokens"] == 300


# -- groq_with_claude_fallback ----------------------------------------------------------------


def test_groq_with_claude_fallback_answers_on_groq_when_it_is_up(
    example_script, groq_server: MockGroqServer
) -> None:
    run = run_script(example_script("groq_with_claude_fallback.json"), "--input",
                     "text=Where is my order?", server=groq_server)

    assert run.returncode == 0, run.stderr
    assert "groq/openai/gpt-oss-20b labelled it " + REPLY + "Where is my order?" in run.stderr
    assert [r.path for r in groq_server.chat_requests()] == ["/openai/v1/chat/completions"]


def test_groq_with_claude_fallback_answers_on_claude_when_groq_is_down(
    example_script, groq_server: MockGroqServer
) -> None:
    down = (503, "service_unavailable", "Groq is over capacity")
    groq_server.settings = MockSettings(
        fail_models={"openai/gpt-oss-20b": down, "openai/gpt-oss-120b": down})

    run = run_script(example_script("groq_with_claude_fallback.json"), "--input",
                     "text=Where is my order?", "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)["nodes"]["classify"]
    assert output["model"] == "claude-haiku-4-5"
    assert [(item["provider"], item["model"]) for item in output["fallbacks"]] == [
        ("groq", "openai/gpt-oss-20b"), ("groq", "openai/gpt-oss-120b")]
    assert all("503" in item["reason"] for item in output["fallbacks"])
    assert "anthropic/claude-haiku-4-5 labelled it" in run.stderr


# -- cheapest_answer: llmRouter ----------------------------------------------------------------


def test_cheapest_answer_routes_to_the_cheapest_model_and_logs_why(
    example_script, groq_server: MockGroqServer
) -> None:
    run = run_script(example_script("cheapest_answer.json"), "--input", "question=Why tea?",
                     "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    # gpt-oss-120b on Groq: US$0.15 / 0.60 per million, the cheapest of the three.
    assert json.loads(run.stdout)["nodes"]["router"]["model"] == "openai/gpt-oss-120b"
    assert "groq/openai/gpt-oss-120b: cost: cheapest of 3 models" in run.stderr
    (request,) = groq_server.chat_requests()
    assert request.body["max_completion_tokens"] == 200


# -- rag_answer: embeddings, Qdrant in memory, Claude ------------------------------------------


def test_rag_answer_cites_the_nearest_documents(example_script, groq_server: MockGroqServer) -> None:
    run = run_script(example_script("rag_answer.json"), "--input",
                     "question=How is green tea made?", "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)["outputs"]["result"]
    texts = [hit["payload"]["text"] for hit in result["sources"]]
    assert len(texts) == 3
    assert any(text.startswith("Green tea is made") for text in texts)
    assert not any("Cycling" in text for text in texts)
    scores = [hit["score"] for hit in result["sources"]]
    assert scores == sorted(scores, reverse=True)
    embedded = [request.body["input"] for request in groq_server.embedding_requests()]
    assert sorted(len(batch) for batch in embedded) == [1, 5]
    (answer,) = groq_server.chat_requests()
    assert answer.path == "/v1/messages"
    assert "Cite them like [1]" in answer.body["system"]
    sources = "".join(f"[{n}] {text}\n" for n, text in enumerate(texts, 1))
    assert answer.body["messages"][-1]["content"] == (
        f"Sources:\n{sources}\nQuestion: How is green tea made?")
    assert result["answer"].startswith(REPLY + "Sources:")


def test_rag_answer_runs_with_no_keys_and_no_servers(tmp_path: Path) -> None:
    """The README's promise: `catalyst run` on a fresh machine, nothing started by hand."""
    environment = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    completed = subprocess.run(
        [sys.executable, "-m", "catalyst.cli", "run", str(EXAMPLES / "rag_answer.json"),
         "--input", "question=How is green tea made?", "--json"],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
        cwd=tmp_path,
    )

    assert completed.returncode == 0, completed.stderr
    assert "OPENAI_API_KEY is not set" in completed.stderr
    assert "ANTHROPIC_API_KEY is not set" in completed.stderr
    result = json.loads(completed.stdout)["outputs"]["result"]
    assert len(result["sources"]) == 3
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
# -- user_lookup: PostgreSQL ------------------------------------------------------------


def test_user_lookup_against_postgresql(example_script, database: str) -> None:
    """The example as a user runs it: its connection string from DATABASE_URL, the id from
    the command line, the row from a real PostgreSQL (the session's, started by conftest)."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text, email text, "
                     "created_at timestamptz)")
        conn.execute("INSERT INTO users VALUES (1, 'Ada', 'ada@example.com', "
                     "'2024-05-01 09:30:00+00'), (2, 'Grace', NULL, NULL)")
    script = example_script("user_lookup.json")
    found = run_script(script, "--input", "userId=1", env={"DATABASE_URL": database})
    assert_ok(found)
    assert json.loads(found.stdout) == {"report": {
        "rows": [{"id": 1, "name": "Ada", "email": "ada@example.com",
                  "created_at": "2024-05-01T09:30:00+00:00"}],
        "rowcount": 1,
        "columns": ["id", "name", "email", "created_at"],
    }}
    assert log_lines(found.stderr) == [
        {"level": "info", "node": "report", "message": "user 1: Ada", "data": {"rowcount": 1}}
    ]
    missing = run_script(script, "--input", "userId=3", "--json", env={"DATABASE_URL": database})
    assert_ok(missing)
    assert json.loads(missing.stdout)["outputs"]["report"]["rows"] == []
    assert log_lines(missing.stderr)[0]["message"] == "user 3: not found"
    for run in (found, missing):
        assert database.split("@")[0] not in run.stdout + run.stderr  # user:password never shown


def test_user_lookup_refuses_a_non_integer_id_before_connecting(example_script) -> None:
    script = example_script("user_lookup.json")
    run = run_script(script, "--input", "userId=1; DROP TABLE users",
                     env={"DATABASE_URL": "postgresql://app:Sup3rSecret@127.0.0.1:1/app"})
    message = assert_one_line_error(run, 2)
    assert "userId" in message
    assert "Sup3rSecret" not in message


def test_user_lookup_without_database_url(example_script, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    run = run_script(example_script("user_lookup.json"), "--input", "userId=1")
    assert "DATABASE_URL" in assert_one_line_error(run, 2)


# -- order_agent: a Groq model calling two tool nodes ---------------------------------------


def test_order_agent_calls_its_tools_in_parallel_and_answers(
    example_script, groq_server: MockGroqServer
) -> None:
    question = ('Where is order 7 and when will it arrive? [call lookup_order {"order_id": 7}] '
                '[call delivery_estimate {"carrier": "UPS"}]')
    run = run_script(example_script("order_agent.json"), "--input", f"question={question}",
                     "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    calls = result["nodes"]["agent"]["tool_calls"]
    assert calls == [
        {"name": "lookup_order", "arguments": {"order_id": 7},
         "result": {"order_id": 7, "status": "shipped", "carrier": "UPS"}},
        {"name": "delivery_estimate", "arguments": {"carrier": "UPS"},
         "result": {"carrier": "UPS", "days": 2}},
    ]
    first, second = groq_server.chat_requests()
    assert [tool["function"]["name"] for tool in first.body["tools"]] == [
        "lookup_order", "delivery_estimate"]
    assert first.body["parallel_tool_calls"] is True
    assert [m["role"] for m in second.body["messages"]] == [
        "system", "user", "assistant", "tool", "tool"]
    (logged,) = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    # The answer (the local server quotes the tool results back).
    assert 'lookup_order: {"order_id": 7, "status": "shipped"' in logged["message"]


def test_order_agent_refuses_a_carrier_its_tool_does_not_know(
    example_script, groq_server: MockGroqServer
) -> None:
    question = ('When? [call delivery_estimate {"carrier": "FedEx"}] [then] '
                '[call delivery_estimate {"carrier": "Pigeon"}]')
    run = run_script(example_script("order_agent.json"), "--input", f"question={question}",
                     server=groq_server)

    assert run.returncode == 1
    assert "the model called 'delivery_estimate' wrongly again" in run.stderr
    assert "'Pigeon' is not one of ['UPS', 'DHL', 'Post']" in run.stderr


# -- extract_contact: a json_schema reply ------------------------------------------------------


def test_extract_contact_output_is_the_schemas_object(
    example_script, groq_server: MockGroqServer
) -> None:
    run = run_script(example_script("extract_contact.json"), "--input",
                     "text=Hi, Ann here (ann@example.com), the invoice is wrong.", "--json",
                     server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    # The local server answers with the smallest object the schema allows.
    assert result["outputs"]["record"] == {"to": "mock <mock>", "queue": "billing"}
    (request,) = groq_server.chat_requests()
    assert request.body["response_format"]["json_schema"]["name"] == "contact"
    assert result["nodes"]["extract"]["usage"]["total_tokens"] > 0


# -- voice_memo: transcribe, summarise, speak ----------------------------------------------------


def test_voice_memo_transcribes_summarises_and_speaks(
    example_script, groq_server: MockGroqServer, tmp_path: Path
) -> None:
    said = "The garden needs water. Buy seeds on Friday."
    memo, out = tmp_path / "memo.wav", tmp_path / "summary.wav"
    with wave.open(str(memo), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16_000)
        # The local server transcribes the text behind its marker (local_server/audio.py).
        writer.writeframes((MARKER + said.encode() + b"\x00").ljust(3 * 16_000 * 2, b"\x00"))

    run = run_script(example_script("voice_memo.json"), "--input", f"audio={memo}",
                     "--input", f"out={out}", "--json", server=groq_server)

    assert_ok(run)
    result = json.loads(run.stdout)
    output = result["outputs"]["result"]
    summary = REPLY + said
    assert output["transcript"] == said and output["memo_seconds"] == 3.0
    assert output["summary"] == summary
    (chat,) = groq_server.chat_requests()
    assert chat.body == {
        "model": "openai/gpt-oss-20b",
        "messages": [
            {"role": "system", "content": "Summarise the voice memo you are given in at most "
             "two short sentences, for reading aloud."},
            {"role": "user", "content": said},
        ],
        "temperature": 0.2,
        "max_completion_tokens": 300,
    }
    transcription, *speech = groq_server.audio_requests()
    assert transcription.path == "/openai/v1/audio/transcriptions"
    assert transcription.body == {"model": "whisper-large-v3-turbo", "language": "en",
                                  "response_format": "verbose_json",
                                  "file": {"filename": "memo.wav",
                                           "bytes": memo.stat().st_size}}
    assert [request.body["voice"] for request in speech] == ["hannah"] * len(speech)
    spoken = re.findall(re.escape(MARKER) + rb"(.*?)\x00", out.read_bytes(), re.DOTALL)
    assert b" ".join(spoken).decode() == summary
    audio = output["audio"]
    with wave.open(str(out)) as reader:
        assert audio["duration_s"] == round(reader.getnframes() / reader.getframerate(), 3)
    assert audio["path"] == str(out) and audio["characters"] == len(summary)
    assert audio["cost_usd"] == round(len(summary) * 22 / 1e6, 8)
    assert {node: stats["status"] for node, stats in result["nodes"].items()} == {
        "transcribe": "ok", "summarise": "ok", "speak": "ok", "result": "ok"}
