"""Production checks: a generated script's `--check` (keys, models, one 1-token
call per provider, nothing of the workflow run) and `catalyst models` (the
model table, `--live` against each provider's GET /models)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import build, provider_env, run_script

from catalyst import provider_models
from catalyst.cli import main
from catalyst.mock_groq import MockGroqServer, MockSettings
from catalyst.provider_models import ChatModel

pytestmark = pytest.mark.e2e

PROMPT = "Classify: {{ input.text }}"


def workflow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"id": "health", "name": "Health",
            "input": {"text": {"type": "string", "required": True}},
            "nodes": list(nodes), "edges": []}


def llm(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0},
            "data": {"label": node_id, "config": {"prompt": PROMPT, **config}}}


def check(script: Path, server: MockGroqServer, *args: str,
          env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """--check --json: exit code, report, stderr; the table form must agree on the verdict."""
    run = run_script(script, "--check", "--json", *args, server=server, env=env)
    report: dict[str, Any] = json.loads(run.stdout)
    assert report["exit_code"] == run.returncode
    return run.returncode, report, run.stderr


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(row["node"], row["model"]): row["status"] for row in report["models"]}


def no_workflow_calls(server: MockGroqServer) -> None:
    """Only the check's own requests: model lists and 1-token calls, never the prompt."""
    for request in server.chat_requests():
        body = request.body
        assert body.get("max_completion_tokens", body.get("max_tokens")) == 1, body
        assert "Classify" not in json.dumps(body)


# -- --check -----------------------------------------------------------------------


def test_healthy_providers_pass_with_a_table_and_json(
    tmp_path: Path, groq_server: MockGroqServer, write_script: Any
) -> None:
    script = write_script("groq_with_claude_fallback.json")

    table = run_script(script, "--check", server=groq_server)
    assert table.returncode == 0, table.stdout + table.stderr
    assert table.stdout.rstrip().endswith("healthy (exit 0)")
    assert "openai/gpt-oss-20b" in table.stdout and "claude-haiku-4-5" in table.stdout

    groq_server.reset()
    code, report, _ = check(script, groq_server)
    assert code == 0 and report["status"] == "healthy" and report["problems"] == []
    providers = {found["provider"]: found for found in report["providers"]}
    assert set(providers) == {"groq", "anthropic"}
    for found in providers.values():
        assert found["key"] == "accepted" and found["status"] == "ok"
        assert found["models_listed"] > 0 and found["test_call_ms"] > 0
    assert providers["groq"]["test_model"] == "openai/gpt-oss-20b"
    assert set(statuses(report).values()) == {"ok"}
    # One models list and one test call per provider; nothing of the workflow.
    paths = sorted(request.path for request in groq_server.requests)
    assert paths == ["/openai/v1/chat/completions", "/openai/v1/models", "/v1/messages",
                     "/v1/models"]
    no_workflow_calls(groq_server)


def test_a_rejected_key_is_unusable_and_never_printed(
    tmp_path: Path, write_script: Any
) -> None:
    script = write_script("summarize.json")
    wrong = "wrong-key-0123456789-do-not-print"
    with MockGroqServer(MockSettings(api_key="the-right-key")) as server:
        table = run_script(script, "--check", server=server, env={"GROQ_API_KEY": wrong})
        code, report, stderr = check(script, server, env={"GROQ_API_KEY": wrong})

    assert table.returncode == 2 and code == 2 and report["status"] == "unusable"
    assert "rejected" in table.stdout and "unusable (exit 2)" in table.stdout
    (groq,) = report["providers"]
    assert groq["key"] == "rejected" and groq["test_model"] is None
    assert any("GROQ_API_KEY" in problem and "401" in problem for problem in report["problems"])
    for text in (table.stdout, table.stderr, json.dumps(report), stderr):
        assert wrong not in text


def test_a_key_echoed_in_an_error_is_cut_out(tmp_path: Path) -> None:
    # Some providers repeat the key they refused: the check never prints it.
    key = "test-key-that-a-provider-echoes-123"
    message = f"Incorrect API key provided: {key}."
    settings = MockSettings(fail_models={"openai/gpt-oss-20b": (401, "invalid_api_key", message)})
    script = build(tmp_path, workflow(llm("llm", "groqCompletion", model="openai/gpt-oss-20b")))
    with MockGroqServer(settings) as server:
        run = run_script(script, "--check", server=server, env={"GROQ_API_KEY": key})
    assert run.returncode == 2
    assert "Incorrect API key provided: ***" in run.stdout
    assert key not in run.stdout + run.stderr


def test_a_retired_model_is_named_with_its_replacement(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    alone = build(tmp_path, workflow(llm("old", "groqCompletion", model="llama-3.1-8b-instant")),
                  "alone")
    code, report, _ = check(alone, groq_server)
    assert code == 2 and report["status"] == "unusable"
    (row,) = report["models"]
    assert row["status"] == "retired" and row["replacement"] == "openai/gpt-oss-20b"
    assert any("llama-3.1-8b-instant" in p and "'openai/gpt-oss-20b'" in p
               for p in report["problems"])
    table = run_script(alone, "--check", server=groq_server)
    assert "retired -> openai/gpt-oss-20b" in table.stdout

    # With a current fallback the node still answers: degraded, not unusable.
    groq_server.reset()
    covered = build(tmp_path, workflow(llm("old", "groqCompletion", model="llama-3.1-8b-instant",
                                           fallbackModels=["openai/gpt-oss-120b"])), "covered")
    code, report, _ = check(covered, groq_server)
    assert code == 1 and report["status"] == "degraded"
    assert statuses(report) == {("old", "llama-3.1-8b-instant"): "retired",
                                ("old", "openai/gpt-oss-120b"): "ok"}
    assert "node 'old': 1 of its 2 models can answer" in report["problems"]
    # The test call went to the model that answers, never to the retired one.
    assert [r.body["model"] for r in groq_server.chat_requests()] == ["openai/gpt-oss-120b"]


def test_a_model_the_provider_does_not_list_degrades_when_a_fallback_answers(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("llm", "groqCompletion", model="acme/unheard-of-1",
                                          fallbackModels=["openai/gpt-oss-20b"])))
    code, report, _ = check(script, groq_server)
    assert code == 1
    assert statuses(report)[("llm", "acme/unheard-of-1")] == "missing"


def test_openai_and_anthropic_nodes_each_get_their_own_check(
    tmp_path: Path, groq_server: MockGroqServer, write_script: Any
) -> None:
    script = write_script("second_opinion.json")
    code, report, _ = check(script, groq_server)

    assert code == 0, report
    assert {found["provider"]: found["test_model"] for found in report["providers"]} == {
        "openai": "gpt-5.4-mini", "anthropic": "claude-sonnet-4-6"}
    requests = {(r.method, r.path): r for r in groq_server.requests}
    assert set(requests) == {("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                             ("POST", "/v1/messages")}
    assert len([r for r in groq_server.requests if r.path == "/v1/models"]) == 2
    assert requests["POST", "/v1/chat/completions"].body["max_completion_tokens"] == 1
    assert requests["POST", "/v1/messages"].body["max_tokens"] == 1


def test_a_router_s_candidates_on_three_providers_are_all_checked(
    groq_server: MockGroqServer, write_script: Any
) -> None:
    code, report, _ = check(write_script("cheapest_answer.json"), groq_server)
    assert code == 0, report
    assert [(row["role"], row["provider"], row["status"]) for row in report["models"]] == [
        ("candidate", "openai", "ok"), ("candidate", "groq", "ok"),
        ("candidate", "anthropic", "ok"), ("fallback", "anthropic", "ok")]
    # One test call per provider, not per model.
    assert len(groq_server.chat_requests()) == 3
    no_workflow_calls(groq_server)


def test_embeddings_are_checked_with_a_tiny_embedding(
    groq_server: MockGroqServer, write_script: Any
) -> None:
    code, report, _ = check(write_script("rag_answer.json"), groq_server)
    assert code == 0, report
    embedded = groq_server.embedding_requests()
    assert len(embedded) == 1 and embedded[0].body["model"] == "text-embedding-3-small"
    assert embedded[0].body["input"] == ["health check"]


def test_a_missing_key_variable_is_unusable(
    groq_server: MockGroqServer, write_script: Any
) -> None:
    code, report, _ = check(write_script("second_opinion.json"), groq_server,
                            env={"ANTHROPIC_API_KEY": ""})
    assert code == 2
    assert any("ANTHROPIC_API_KEY is not set" in p for p in report["problems"])
    assert {f["provider"]: f["key"] for f in report["providers"]}["anthropic"] == "missing"


def test_a_rate_limited_provider_is_degraded(write_script: Any) -> None:
    # The models list works; the test call meets a 429 and is not retried.
    with MockGroqServer(MockSettings(rate_limit_every=1, retry_after_s=30)) as server:
        code, report, _ = check(write_script("summarize.json"), server)
        assert len(server.chat_requests()) == 1
    assert code == 1
    assert any("429" in problem for problem in report["problems"])


def test_a_slow_test_call_is_degraded(write_script: Any, load_script: Any) -> None:
    module = load_script(write_script("summarize.json"))
    module.CHECK_SLOW_MS = 0.0

    report = module.asyncio.run(module.run_check())

    assert report["exit_code"] == 1
    assert any("slow" in problem for problem in report["problems"])


def test_a_model_set_at_run_time_is_listed_but_not_checked(
    groq_server: MockGroqServer, write_script: Any
) -> None:
    code, report, _ = check(write_script("support_triage.json", "triage"), groq_server)
    assert code == 0
    (row,) = report["models"]
    assert row["model"] is None and row["status"] == "not checked"


def test_a_script_without_provider_calls_has_nothing_to_check(write_script: Any) -> None:
    script = write_script("enrich_order.json")
    run = run_script(script, "--check")
    assert run.returncode == 0 and "nothing to check" in run.stdout
    as_json = run_script(script, "--check", "--json")
    assert json.loads(as_json.stdout)["status"] == "nothing to check"


def test_check_runs_nothing_else(write_script: Any) -> None:
    run = run_script(write_script("summarize.json"), "--check", "--batch", "in.jsonl",
                     "--output", "out.jsonl")
    assert run.returncode == 2 and "--check runs nothing" in run.stderr


# -- catalyst models ---------------------------------------------------------------


def models_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["models", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_models_lists_the_table_with_retirements(capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = models_json(capsys)
    assert code == 0 and "live" not in payload
    rows = {(row["provider"], row["id"]): row for row in payload["models"]}
    current = rows["groq", "openai/gpt-oss-20b"]
    assert current["status"] == "current" and current["context_window"] == 131_072
    assert current["usd_per_million_input"] == 0.075 and current["requests_per_minute"] > 0
    retired = rows["groq", "llama-3.1-8b-instant"]
    assert retired["status"] == "retired" and retired["replacement"] == "openai/gpt-oss-20b"
    assert rows["voyage", "voyage-4-lite"]["kind"] == "embeddings"

    assert main(["models", "--provider", "anthropic"]) == 0
    table = capsys.readouterr().out
    assert "claude-sonnet-4-6" in table and "gpt-oss" not in table
    assert "retired 2026-01-05 -> claude-opus-4-8" in table


def test_models_refuses_an_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--provider", "acme"]) == 2
    assert "unknown provider 'acme'" in capsys.readouterr().err


def test_models_live_merges_what_the_api_lists(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    groq_server: MockGroqServer,
) -> None:
    for name, value in provider_env(groq_server).items():
        monkeypatch.setenv(name, value)
    # The table drifts from the API: it forgot one model and names one the API dropped.
    kept = tuple(m for m in provider_models.CHAT_MODELS if m.id != "qwen/qwen3.8-27b")
    gone = ChatModel("groq", "acme/dropped-model", 8_192, 1_024, 1.0, 2.0, None, None, "Acme")
    monkeypatch.setattr(provider_models, "CHAT_MODELS", (*kept, gone))

    code, payload = models_json(capsys, "--live", "--provider", "groq")

    assert code == 0
    rows = {row["id"]: row for row in payload["models"]}
    assert rows["openai/gpt-oss-20b"]["live"] == "listed"
    assert rows["acme/dropped-model"]["live"] == "not listed"
    assert rows["qwen/qwen3.8-27b"]["status"] == "unknown to Catalyst"
    (live,) = payload["live"]
    assert live["status"] == "listed"
    assert live["unknown_to_catalyst"] == ["qwen/qwen3.8-27b"]
    assert live["not_listed"] == ["acme/dropped-model"]
    assert [r.path for r in groq_server.requests] == ["/openai/v1/models"]


def test_models_live_names_the_missing_key_and_hides_a_rejected_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["models", "--live", "--provider", "anthropic"]) == 0
    assert "ANTHROPIC_API_KEY is not set" in capsys.readouterr().err

    secret = "bad-key-do-not-print-0123456789"
    with MockGroqServer(MockSettings(api_key="good")) as server:
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        code, payload = models_json(capsys, "--live", "--provider", "openai")
    assert code == 1
    (live,) = payload["live"]
    assert live["status"] == "error" and "401" in live["message"]
    assert secret not in json.dumps(payload)
