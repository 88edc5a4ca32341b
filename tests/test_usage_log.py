"""The usage log (`--usage-log FILE` of generated scripts) and `catalyst usage`:
one JSON line per provider call — fallback attempts and embeddings requests
too — whose totals add up to the run's and the batch's own, and a file that
is only ever appended to, never through a symlink."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import build, run_script
from test_batch import batch, groq_workflow, read_output, write_records

from catalyst.cli import main
from catalyst.mock_groq import MockGroqServer, MockSettings

pytestmark = pytest.mark.e2e

PRIMARY, FALLBACK = "openai/gpt-oss-20b", "openai/gpt-oss-120b"
# The primary model is gone: every record pays one failed attempt, then falls back.
GONE = MockSettings(fail_models={PRIMARY: (404, "model_not_found", "The model is gone.")})
NO_PACING = ("--rpm", "100000")


def fallback_workflow() -> dict[str, Any]:
    document = groq_workflow()
    config = document["nodes"][0]["data"]["config"]
    config["fallbackModels"] = [FALLBACK]
    # Every record tries the primary first (its breaker never opens).
    config["circuitBreaker"] = {"failures": 1000}
    return document


def read_log(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_batch_log_adds_up_to_the_batch_totals_fallback_attempts_included(
    tmp_path: Path,
) -> None:
    script = build(tmp_path, fallback_workflow())
    source = write_records(tmp_path / "in.jsonl", 24)
    target, log = tmp_path / "out.jsonl", tmp_path / "usage.jsonl"

    with MockGroqServer(GONE) as server:
        run = batch(script, source, target, "--concurrency", "8", "--usage-log", str(log),
                    "--json", *NO_PACING, server=server)
        chat_requests = len(server.chat_requests())

    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["ok"] == 24 and summary["fallbacks"] == 0
    lines = read_log(log)
    # One line per provider call, concurrent ones too: none torn, none lost.
    assert len(lines) == chat_requests == 48
    failed = [line for line in lines if line["status"] == "error"]
    answered = [line for line in lines if line["status"] == "ok"]
    assert len(failed) == len(answered) == 24
    for line in failed:
        assert line["model"] == PRIMARY and line["tokens_in"] == line["tokens_out"] == 0
        assert line["error"] == {"kind": "unavailable", "http_status": 404,
                                 "code": "model_not_found"}
    assert {line["model"] for line in answered} == {FALLBACK}
    usage = summary["usage"]
    assert sum(line["tokens_in"] for line in lines) == usage["prompt_tokens"]
    assert sum(line["tokens_out"] for line in lines) == usage["completion_tokens"]
    assert sum(line["cost_usd"] or 0 for line in lines) == pytest.approx(usage["cost_usd"])
    # Each record's calls carry its id and one run id of their own.
    assert Counter(line["record"] for line in lines) == {f"r{i}": 2 for i in range(24)}
    runs = {line["record"]: line["run"] for line in failed}
    assert all(line["run"] == runs[line["record"]] for line in answered)
    assert len(set(runs.values())) == 24
    for line in lines:
        assert line["workflow"] == "batch" and line["node"] == "llm"
        assert line["provider"] == "groq" and line["latency_ms"] >= 0
        assert line["time"].endswith("Z") and line["time"][10] == "T"
    # The log says what was called, never what was said, nor with which key.
    text = log.read_text()
    assert "record 1" not in text and "Mock reply" not in text and "test-key" not in text

    # `catalyst usage` agrees with the batch's own totals.
    assert main(["usage", str(log), "--json"]) == 0


def test_catalyst_usage_totals_by_model_node_and_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    script = build(tmp_path, fallback_workflow())
    source = write_records(tmp_path / "in.jsonl", 6)
    target, log = tmp_path / "out.jsonl", tmp_path / "usage.jsonl"
    with MockGroqServer(GONE) as server:
        run = batch(script, source, target, "--usage-log", str(log), "--json", *NO_PACING,
                    server=server)
    summary = json.loads(run.stdout)
    # A torn last line (a killed run) and a stray edit: counted, not fatal.
    with log.open("a") as file:
        file.write('{"time": "2026-11-05T10:00:00Z", "tokens_in": "many"}\n{"time": "20')

    assert main(["usage", str(log), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["malformed"] == 2 and report["lines"] == 14
    assert report["malformed_lines"] == [13, 14]
    assert "2 of 14 line(s) are not usage lines" in captured.err
    total = report["total"]
    assert total["calls"] == 12 and total["errors"] == 6
    assert total["tokens_in"] == summary["usage"]["prompt_tokens"]
    assert total["tokens_out"] == summary["usage"]["completion_tokens"]
    assert total["cost_usd"] == pytest.approx(summary["usage"]["cost_usd"])
    by_model = {row["model"]: row for row in report["by_model"]}
    assert by_model[PRIMARY]["calls"] == by_model[PRIMARY]["errors"] == 6
    assert by_model[PRIMARY]["tokens_in"] == 0 and by_model[FALLBACK]["errors"] == 0
    (node,) = report["by_node"]
    assert (node["workflow"], node["node"], node["calls"]) == ("batch", "llm", 12)
    (day,) = report["by_day"]
    assert day["calls"] == 12 and day["mean_latency_ms"] > 0

    assert main(["usage", str(log)]) == 0
    table = capsys.readouterr().out
    assert "by model" in table and "by node" in table and "by day (UTC)" in table
    assert "total: 12 call(s), 6 error(s)" in table


def test_the_log_is_appended_to_and_counts_a_run_like_its_json(
    tmp_path: Path, groq_server: MockGroqServer, write_script: Any
) -> None:
    script = write_script("groq_with_claude_fallback.json")
    log = tmp_path / "usage.jsonl"
    log.write_text("")  # exists: appended to, never truncated
    results = []
    for text in ("first", "second"):
        run = run_script(script, "--input", f"text={text}", "--json", "--usage-log", str(log),
                         server=groq_server)
        assert run.returncode == 0, run.stderr
        results.append(json.loads(run.stdout))
    lines = read_log(log)
    assert len(lines) == 2 and lines[0]["run"] != lines[1]["run"]
    for line, result in zip(lines, results, strict=True):
        assert "record" not in line
        assert line["tokens_in"] == result["usage"]["prompt_tokens"]
        assert line["cost_usd"] == pytest.approx(result["usage"]["cost_usd"])


def test_fallbacks_to_another_provider_are_logged_under_it(tmp_path: Path,
                                                             write_script: Any) -> None:
    script = write_script("groq_with_claude_fallback.json")
    log = tmp_path / "usage.jsonl"
    busy = (503, "overloaded", "busy")
    settings = MockSettings(fail_models=dict.fromkeys((PRIMARY, FALLBACK), busy), retry_after_ms=1)
    with MockGroqServer(settings) as server:
        run = run_script(script, "--input", "text=hi", "--usage-log", str(log), server=server)
    assert run.returncode == 0, run.stderr
    lines = read_log(log)
    assert [(line["provider"], line["status"]) for line in lines] == [
        ("groq", "error"), ("groq", "error"), ("anthropic", "ok")]
    assert lines[0]["error"]["kind"] == "overloaded" and lines[0]["error"]["http_status"] == 503
    assert lines[2]["model"].startswith("claude-haiku-4-5") and lines[2]["tokens_out"] > 0


def test_embeddings_requests_are_logged(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, {
        "id": "embed", "name": "Embed", "input": {"text": {"type": "string"}},
        "nodes": [{"id": "vectors", "type": "embeddingGenerate", "position": {"x": 0, "y": 0},
                   "data": {"label": "Vectors", "config": {
                       "provider": "openai", "model": "text-embedding-3-small",
                       "text": "{{ input.text }}"}}}],
        "edges": []})
    log = tmp_path / "usage.jsonl"
    run = run_script(script, "--input", "text=a few words to embed", "--json", "--usage-log",
                     str(log), server=groq_server)
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)["outputs"]["vectors"]
    (line,) = read_log(log)
    assert (line["provider"], line["model"], line["status"]) == (
        "openai", "text-embedding-3-small", "ok")
    assert line["tokens_in"] == output["usage"]["total_tokens"] > 0 and line["tokens_out"] == 0
    assert line["cost_usd"] == pytest.approx(output["cost_usd"])


def test_the_log_is_never_written_through_a_symlink_or_into_a_non_file(
    tmp_path: Path, groq_server: MockGroqServer, write_script: Any
) -> None:
    script = write_script("summarize.json")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    link = tmp_path / "usage.jsonl"
    link.symlink_to(precious)
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "nowhere.jsonl")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, why in ((link, "symbolic link"), (dangling, "symbolic link"),
                      (tmp_path, "cannot write"), (fifo, "cannot write")):
        run = run_script(script, "--input", "text=hi", "--usage-log", str(path),
                         server=groq_server, timeout=20)
        assert run.returncode == 2, (path, run.stderr)
        assert why in run.stderr and "Traceback" not in run.stderr
    assert precious.read_text() == "keep me\n"
    assert not (tmp_path / "nowhere.jsonl").exists()
    assert groq_server.chat_requests() == []  # refused before any call


def test_catalyst_usage_refuses_what_is_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["usage", str(tmp_path / "missing.jsonl")]) == 2
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["usage", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_dask_batch_logs_every_call_once_through_the_client(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    script = build(tmp_path, fallback_workflow())
    source = write_records(tmp_path / "in.jsonl", 16)
    target, log = tmp_path / "out.jsonl", tmp_path / "usage.jsonl"
    with MockGroqServer(GONE) as server:
        run = batch(script, source, target, "--dask", "local", "--dask-workers", "2",
                    "--usage-log", str(log), "--json", "--rpm", "1000000", "--tpm",
                    "1000000000", server=server, timeout=180)
        calls = len(server.chat_requests())
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert {line["id"] for line in read_output(target)} == {f"r{i}" for i in range(16)}
    lines = read_log(log)
    assert len(lines) == calls == 32
    assert Counter(line["record"] for line in lines) == {f"r{i}": 2 for i in range(16)}
    assert sum(line["tokens_in"] for line in lines) == summary["usage"]["prompt_tokens"]
