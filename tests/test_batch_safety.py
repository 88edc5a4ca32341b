"""Data safety in batch runs (issue 11): one bad record fails alone, files that
are not ours are never written, duplicate ids are refused before any request,
and a rejected key is never hidden behind an onError fallback. Generated
scripts run as subprocesses against the local Groq-protocol server.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ScriptRun, build, run_script

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"


def groq_workflow(**data: Any) -> dict[str, Any]:
    return {
        "id": "batch", "name": "Batch",
        "input": {"text": {"type": "string", "required": False, "default": ""}},
        "nodes": [{"id": "llm", "type": "groqCompletion", "position": {"x": 0, "y": 0},
                   "data": {"label": "LLM", **data,
                            "config": {"model": MODEL, "prompt": "say {{ input.text }}"}}}],
        "edges": [],
    }


def batch(script: Path, source: Path, target: Path, *args: str,
          server: MockGroqServer) -> ScriptRun:
    return run_script(script, "--batch", str(source), "--output", str(target), *args,
                      server=server, timeout=120)


def result_lines(path: Path) -> dict[Any, dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return {line["id"]: line for line in map(json.loads, text.splitlines())}


def refused(run: ScriptRun) -> str:
    """Exit 2 with one `error: …` line and no traceback."""
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


# -- 1. one bad record fails alone ------------------------------------------------------


def test_hostile_records_fail_alone(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"id": "a", "text": "alpha"}\n'
        + b'{"id": "deep", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
        + b'{"id": "big", "text": ' + b"7" * 50_000 + b"}\n"
        + b'{"id": "bytes", "text": "caf\xe9 \xff"}\n'
        + b'{"id": "z", "text": "omega"}\n'
    )
    target = tmp_path / "out.jsonl"

    run = batch(script, source, target, "--json", server=groq_server)

    assert run.returncode == 1, run.stderr  # some records failed, none crashed the batch
    assert "Traceback" not in run.stderr
    lines = result_lines(target)
    assert lines["a"]["status"] == "ok" and lines["z"]["status"] == "ok"
    assert lines["z"]["outputs"]["llm"]["content"] == "Mock reply to: say omega"
    # A record that cannot be read has no id: its line number stands for it.
    assert lines[2]["status"] == "failed" and "line 2" in lines[2]["error"]
    assert "deep" in lines[2]["error"]
    assert lines[3]["status"] == "failed" and "digits" in lines[3]["error"]
    assert lines[4]["status"] == "failed" and "UTF-8" in lines[4]["error"]
    summary = json.loads(run.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (5, 2, 3)
    assert len(groq_server.chat_requests()) == 2


# -- 2. files that are not ours -----------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"name,score\nada,1\nbob,2",                        # a CSV without a final newline
    b'{"id": "x", "status": "ok", "latency_ms": 1}\nnot ours at all',
    b'{"a": 1}\n{"b": 2}\n{"c": ',                      # JSONL of something else, torn
    b'{"id": "x", "status": "ok", "latency_ms": 1}\n{"id": "y"}\n',
    b"\xff\xfe binary \x00\n\x01",
    b"just text, no newline",
], ids=["csv", "ours-then-text", "other-jsonl", "missing-keys", "binary", "one-line"])
def test_output_that_is_not_ours_is_refused_and_untouched(
    tmp_path: Path, groq_server: MockGroqServer, content: bytes
) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "x", "text": "one"}\n{"id": "y", "text": "two"}\n')
    target = tmp_path / "precious.csv"
    target.write_bytes(content)

    line = refused(batch(script, source, target, server=groq_server))

    assert "precious.csv" in line and "not" in line
    assert target.read_bytes() == content
    assert groq_server.chat_requests() == []


def test_a_torn_last_line_of_our_own_output_is_still_repaired(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "x", "text": "one"}\n{"id": "y", "text": "two"}\n')
    target = tmp_path / "out.jsonl"
    target.write_bytes(b'{"id": "x", "status": "ok", "outputs": {}, "latency_ms": 1}\n'
                       b'{"id": "y", "stat')

    run = batch(script, source, target, server=groq_server)

    assert run.returncode == 0, run.stderr
    assert set(result_lines(target)) == {"x", "y"}
    assert len(groq_server.chat_requests()) == 1  # only y ran again


@pytest.mark.parametrize("how", ["same", "other-path", "symlink", "hardlink"])
def test_output_equal_to_the_input_is_refused(
    tmp_path: Path, groq_server: MockGroqServer, how: str
) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    content = b'{"id": "x", "text": "one"}\n{"id": "y", "text": "two"}'
    source.write_bytes(content)
    target = {"same": source, "other-path": tmp_path / "." / "sub" / ".." / "in.jsonl"}.get(
        how, tmp_path / "alias.jsonl")
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        target.symlink_to(source)
    elif how == "hardlink":
        os.link(source, target)

    line = refused(batch(script, source, target, server=groq_server))

    assert "--batch" in line
    assert source.read_bytes() == content
    assert groq_server.chat_requests() == []


def test_duplicate_ids_are_refused_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "1"}\n{"id": "b", "text": "2"}\n\n'
                      '{"id": "c", "text": "3"}\n{"id": "b", "text": "4"}\n')
    target = tmp_path / "out.jsonl"

    line = refused(batch(script, source, target, server=groq_server))

    assert "'b'" in line and "line 2" in line and "line 5" in line
    assert groq_server.chat_requests() == []
    assert not target.exists()


# -- 3. a rejected key is not a workflow error ------------------------------------------


@pytest.mark.parametrize("on_error", ["fallback", "continue"])
def test_a_rejected_key_fails_the_run_whatever_on_error_says(
    tmp_path: Path, groq_server: MockGroqServer, on_error: str
) -> None:
    script = build(tmp_path, groq_workflow(onError=on_error, fallbackValue="n/a"))
    groq_server.update(api_key="right")

    run = run_script(script, "--input", "text=hi", server=groq_server)

    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "401" in run.stderr and "GROQ_API_KEY" in run.stderr
    assert "n/a" not in run.stdout

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "1"}\n{"id": "b", "text": "2"}\n')
    target = tmp_path / "out.jsonl"
    run = batch(script, source, target, server=groq_server)
    assert run.returncode == 1
    lines = result_lines(target)
    assert {line["status"] for line in lines.values()} == {"failed"}
    assert all("401" in line["error"] for line in lines.values())


def test_a_fallback_is_reported_in_stats_events_and_on_stderr(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    script = build(tmp_path, groq_workflow(onError="fallback", fallbackValue="n/a",
                                           timeout=300, retries=0))
    groq_server.update(latency_ms=3000)

    module = load_script(script)
    events: list[dict[str, Any]] = []
    result = asyncio.run(module.run_workflow({"text": "hi"}, on_event=events.append))
    stats = result["nodes"]["llm"]
    assert stats["status"] == "fallback"
    assert "no answer within 0.3 s" in stats["error"]
    finished = [e for e in events if e["type"] == "node_finished"]
    assert finished[0]["error"] == stats["error"]

    run = run_script(script, "--input", "text=hi", server=groq_server)
    assert run.returncode == 0
    assert run.stdout.strip() == "n/a"
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "'llm'" in warnings[0] and "onError" in warnings[0] and "0.3 s" in warnings[0]

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "1"}\n')
    target = tmp_path / "out.jsonl"
    run = batch(script, source, target, server=groq_server)
    assert run.returncode == 0, run.stderr
    line = result_lines(target)["a"]
    assert line["status"] == "ok"
    assert "no answer within 0.3 s" in line["fallbacks"]["llm"]
    assert "1 used a fallback" in run.stderr


def test_a_forbidden_model_fails_the_run_despite_a_fallback(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow(onError="fallback", fallbackValue="n/a"))
    groq_server.update(fail_models={MODEL: (403, "permission_denied", "model blocked")})

    run = run_script(script, "--input", "text=hi", server=groq_server)

    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "403" in run.stderr and "GROQ_API_KEY" in run.stderr and MODEL in run.stderr
    assert run.stdout == ""
