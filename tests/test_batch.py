"""Batch mode of generated scripts (--batch IN.jsonl --output OUT.jsonl), run as
subprocesses against the local Groq-protocol server: result lines, summaries,
exit codes, resuming, crashes, Ctrl-C and injected faults at volume.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import ScriptRun, build, run_script

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"
# A client-side budget high enough that the limiter does not pace the run.
NO_PACING = ("--rpm", "100000")



def groq_workflow() -> dict[str, Any]:
    return {
        "id": "batch", "name": "Batch",
        "input": {"text": {"type": "string", "required": True}},
        "nodes": [{"id": "llm", "type": "groqCompletion", "position": {"x": 0, "y": 0},
                   "data": {"label": "LLM",
                            "config": {"model": MODEL, "prompt": "{{ input.text }}"}}}],
        "edges": [],
    }


def write_records(path: Path, count: int, start: int = 0) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": f"record {i}"}) + "\n"
                            for i in range(start, start + count)))
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    """Every result line; the file must end on a whole line."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"torn last line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def ids_of(lines: list[dict[str, Any]]) -> Counter[Any]:
    return Counter(line["id"] for line in lines)


def requested_texts(server: MockGroqServer, since: int = 0) -> list[str]:
    return [request.body["messages"][-1]["content"]
            for request in server.chat_requests()[since:]]


def batch(script: Path, source: Path, target: Path, *args: str,
          server: MockGroqServer | None, env: dict[str, str] | None = None,
          timeout: float = 120) -> ScriptRun:
    return run_script(script, "--batch", str(source), "--output", str(target), *args,
                      server=server, env=env, timeout=timeout)


def start_batch(script: Path, source: Path, target: Path, server: MockGroqServer,
                *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    environment.update(GROQ_BASE_URL=server.base_url, GROQ_API_KEY="test-key")
    return subprocess.Popen(
        [sys.executable, str(script), "--batch", str(source), "--output", str(target), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )


def wait_for_lines(process: subprocess.Popen[str], target: Path, count: int,
                   within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if target.exists() and target.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the batch ended before writing {count} lines: {process.returncode}")
        time.sleep(0.005)
    process.kill()
    pytest.fail(f"fewer than {count} result lines after {within} s")


# -- a small batch --------------------------------------------------------------------


def test_small_batch_lines_summary_and_exit_code(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "text": "alpha"}\n'
        '{"text": "second"}\n'          # no id: its line number
        "this is not JSON\n"            # a failed record, not a crash
        "\n"                            # blank lines are skipped
        '{"id": "d", "text": "delta"}\n'
        "[1, 2]\n"                      # JSON, but not an object
    )
    target = tmp_path / "out.jsonl"

    run = batch(script, source, target, "--json", server=groq_server)

    assert run.returncode == 1, run.stderr  # a record failed
    lines = {line["id"]: line for line in read_output(target)}
    assert ids_of(read_output(target)) == {"a": 1, 2: 1, 3: 1, "d": 1, 6: 1}
    for record_id, text in (("a", "alpha"), (2, "second"), ("d", "delta")):
        line = lines[record_id]
        assert line["status"] == "ok"
        assert line["outputs"]["llm"]["content"] == f"Mock reply to: {text}"
        assert line["usage"]["total_tokens"] > 0
        assert line["usage"]["cost_usd"] > 0
        assert line["latency_ms"] >= 0
    assert lines[3]["status"] == "failed"
    assert "line 3 is not JSON" in lines[3]["error"]
    assert lines[6]["status"] == "failed"
    assert "line 6 is not a JSON object" in lines[6]["error"]
    for record_id in (3, 6):
        assert "outputs" not in lines[record_id]
        assert "latency_ms" in lines[record_id]
    assert len(groq_server.chat_requests()) == 3

    summary = json.loads(run.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (5, 3, 2)
    ok_lines = [line for line in lines.values() if line["status"] == "ok"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert summary["usage"][key] == sum(line["usage"][key] for line in ok_lines)
    assert summary["usage"]["cost_usd"] == pytest.approx(
        sum(line["usage"]["cost_usd"] for line in ok_lines), abs=1e-8)
    latencies = sorted(line["latency_ms"] for line in lines.values())
    assert summary["latency_ms"]["p50"] in latencies
    assert summary["latency_ms"]["p95"] == latencies[-1]
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]


def test_batch_without_failures_exits_zero(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 3)
    target = tmp_path / "out.jsonl"

    run = batch(script, source, target, server=groq_server)

    assert run.returncode == 0, run.stderr
    assert [line["status"] for line in read_output(target)] == ["ok"] * 3
    assert "3 record(s): 3 ok, 0 failed" in run.stderr
    assert re.search(r"\d+ tokens \(\d+ in, \d+ out\), about \$\d+\.\d{6}", run.stderr)


def test_batch_without_groq_needs_no_api_key(tmp_path: Path) -> None:
    script = build(tmp_path, {
        "id": "reshape", "name": "Reshape",
        "input": {"a": {"type": "integer", "required": True},
                  "name": {"type": "string", "required": True}},
        "nodes": [{"id": "shape", "type": "editFields", "position": {"x": 0, "y": 0},
                   "data": {"label": "Shape", "config": {"mode": "replace", "fields": {
                       "double": "{{ input.a * 2 }}",
                       "greeting": "Hello {{ input.name | upper }}"}}}}],
        "edges": [],
    })
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "x", "a": 2, "name": "Ada"}\n{"id": "y", "a": 5, "name": "Bo"}\n')
    target = tmp_path / "out.jsonl"

    run = batch(script, source, target, "--json", server=None)  # no GROQ_* at all

    assert run.returncode == 0, run.stderr
    lines = {line["id"]: line for line in read_output(target)}
    assert lines["x"]["outputs"] == {"shape": {"double": 4, "greeting": "Hello ADA"}}
    assert lines["y"]["outputs"] == {"shape": {"double": 10, "greeting": "Hello BO"}}
    summary = json.loads(run.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (2, 2, 0)
    assert summary["usage"]["total_tokens"] == 0


# -- resuming -------------------------------------------------------------------------


def test_rerun_resumes_only_what_is_missing(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 6)
    target = tmp_path / "out.jsonl"
    assert batch(script, source, target, server=groq_server).returncode == 0
    first = target.read_text()
    assert len(groq_server.chat_requests()) == 6

    # Everything is there: nothing new happens.
    again = batch(script, source, target, "--json", server=groq_server)
    assert again.returncode == 0, again.stderr
    assert target.read_text() == first
    assert len(groq_server.chat_requests()) == 6
    assert json.loads(again.stdout)["records"] == 0

    # Two results lost: exactly those two run again.
    kept = [line for line in first.splitlines(keepends=True)
            if json.loads(line)["id"] not in ("r1", "r4")]
    target.write_text("".join(kept))
    resumed = batch(script, source, target, server=groq_server)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(requested_texts(groq_server, since=6)) == ["record 1", "record 4"]
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(6)}
    assert all(line["status"] == "ok" for line in lines)


def test_torn_last_line_is_repaired_and_redone(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 5)
    target = tmp_path / "out.jsonl"
    # An earlier run finished r0..r2 and was killed while writing r3's line.
    done = [{"id": f"r{i}", "status": "ok", "outputs": {"llm": {"content": "earlier"}},
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
             "latency_ms": 1.0} for i in range(4)]
    whole = [json.dumps(line) + "\n" for line in done]
    target.write_text("".join(whole[:3]) + whole[3][: len(whole[3]) // 2])

    run = batch(script, source, target, server=groq_server)

    assert run.returncode == 0, run.stderr
    assert sorted(requested_texts(groq_server)) == ["record 3", "record 4"]
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(5)}
    assert [line["outputs"]["llm"]["content"] for line in lines[:3]] == ["earlier"] * 3
    redone = {line["id"]: line for line in lines[3:]}
    assert redone["r3"]["outputs"]["llm"]["content"] == "Mock reply to: record 3"


# -- at volume, under faults, killed and interrupted ----------------------------------


@pytest.mark.slow
def test_thousand_records_under_injected_faults(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 1000)
    target = tmp_path / "out.jsonl"
    groq_server.update(rate_limit_share=0.2, server_error_share=0.05, retry_after_ms=5)

    run = batch(script, source, target, "--concurrency", "16", *NO_PACING, "--json",
                server=groq_server, timeout=240)

    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(1000)}  # each exactly once
    statuses = Counter(line["status"] for line in lines)
    assert set(statuses) <= {"ok", "failed"}
    assert run.returncode == (1 if statuses["failed"] else 0), run.stderr
    summary = json.loads(run.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (
        1000, statuses["ok"], statuses["failed"])
    # Faults were met and retried; every success is one answered request.
    answered = Counter(request.status for request in groq_server.chat_requests())
    assert answered[429] > 100
    assert answered[500] + answered[502] + answered[503] > 20
    assert answered[200] == statuses["ok"]
    assert statuses["ok"] > 900
    for line in lines:
        if line["status"] == "failed":
            assert re.search(r"Groq answered (429|50\d)", line["error"]), line["error"]


@pytest.mark.slow
def test_killed_batch_resumes_without_loss_or_duplicates(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 400)
    target = tmp_path / "out.jsonl"
    groq_server.update(latency_ms=20)

    process = start_batch(script, source, target, groq_server,
                          "--concurrency", "8", *NO_PACING)
    try:
        wait_for_lines(process, target, 50)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    before = target.read_bytes().count(b"\n")
    assert 50 <= before < 400

    groq_server.update(latency_ms=0)
    run = batch(script, source, target, "--concurrency", "8", *NO_PACING,
                server=groq_server)

    assert run.returncode == 0, run.stderr
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(400)}
    assert all(line["status"] == "ok" for line in lines)


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_records_then_resume_completes(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 200)
    target = tmp_path / "out.jsonl"
    groq_server.update(latency_ms=150)

    process = start_batch(script, source, target, groq_server,
                          "--concurrency", "8", *NO_PACING)
    try:
        wait_for_lines(process, target, 16)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()

    assert process.returncode == 130, stderr
    assert "stopping" in stderr
    assert "Traceback" not in stderr
    lines = read_output(target)  # whole lines only
    assert len(lines) < 200  # it stopped taking records
    # Records in flight finished: every request sent has its result line.
    asked = Counter(requested_texts(groq_server))
    assert asked == {f"record {line['id'][1:]}": 1 for line in lines}
    assert all(line["status"] == "ok" for line in lines)

    groq_server.update(latency_ms=0)
    run = batch(script, source, target, "--concurrency", "8", *NO_PACING,
                server=groq_server)

    assert run.returncode == 0, run.stderr
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(200)}
    assert len(groq_server.chat_requests()) == 200  # nothing ran twice


# -- connections ----------------------------------------------------------------------


def test_batch_reuses_connections(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 24)
    target = tmp_path / "out.jsonl"
    # Count TCP connections as the server accepts them.
    httpd = groq_server._httpd  # no public hook for connections
    assert httpd is not None
    accepted: list[Any] = []
    process_request = httpd.process_request

    def counting(request: Any, client_address: Any) -> None:
        accepted.append(client_address)
        process_request(request, client_address)

    httpd.process_request = counting  # type: ignore[method-assign]

    run = batch(script, source, target, "--concurrency", "4", *NO_PACING, server=groq_server)

    assert run.returncode == 0, run.stderr
    assert len(read_output(target)) == 24
    assert len(accepted) <= 8  # a pool the size of --concurrency, give or take
