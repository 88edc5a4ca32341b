"""Transient is not failed: rate limits and overload are waited out until the run's deadline.

Through generated scripts against the local server, on the runtime's fake
clock (`FakeClock` from test_runtime_paths): no test here sleeps for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import build, run_script
from test_runtime_paths import FakeClock, Loader, groq_node, on_clock, run, workflow

from catalyst.mock_groq import MockGroqServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def heal_after(server: MockGroqServer, retries: int) -> Callable[[dict[str, Any]], None]:
    seen = 0

    def heal(event: dict[str, Any]) -> None:
        nonlocal seen
        if event["type"] == "node_retry":
            seen += 1
            if seen == retries:
                server.update(rate_limit_every=0, server_error_share=0.0)

    return heal


def test_a_rate_limit_outlasting_every_retry_count_is_waited_out(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm", retries=1)))),
                      clock, monkeypatch)
    monkeypatch.setattr(module, "_jitter", lambda: 1.0)
    groq_server.update(rate_limit_every=1, retry_after_ms=10)

    result = run(module, on_event=heal_after(groq_server, 6))

    stats = result["nodes"]["llm"]
    assert (stats["status"], stats["rate_limit_retries"]) == ("ok", 6)
    # Each node-level try is one SDK call plus its one retry: 6 x 2 429s, then 200.
    statuses = [r.status for r in groq_server.chat_requests()]
    assert statuses == [429] * 12 + [200]
    # The node's own pauses double from RETRY_DELAY_S (0.5 s), capped at 30 s.
    node_pauses = [p for p in clock.sleeps if p >= 0.5]
    assert node_pauses == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    assert stats["rate_limit_wait_s"] == pytest.approx(31.5)


def test_backoff_is_capped_and_jittered(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    jitter = module._jitter

    module._jitter = lambda: 1.0
    assert [module._backoff(n) for n in (0, 1, 5, 6, 20)] == [0.5, 1.0, 16.0, 30.0, 30.0]
    module._jitter = lambda: 0.5
    assert module._backoff(20) == 15.0
    module._jitter = jitter
    spread = {module._backoff(3) for _ in range(50)}
    assert len(spread) > 1 and all(2.0 <= pause <= 4.0 for pause in spread)


def test_a_provider_overloaded_for_a_while_is_waited_out_too(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm", retries=0)))),
                      clock, monkeypatch)
    groq_server.update(server_error_share=1.0)

    result = run(module, on_event=heal_after(groq_server, 3))

    statuses = [r.status for r in groq_server.chat_requests()]
    assert statuses[-1] == 200 and len(statuses) == 4
    assert all(status >= 500 for status in statuses[:3])
    assert result["nodes"]["llm"]["rate_limit_retries"] == 3


def test_past_the_deadline_the_node_fails_and_says_it_was_transient(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm", retries=0)))),
                      clock, monkeypatch)
    monkeypatch.setattr(module, "RECORD_TIMEOUT_S", 120.0)
    groq_server.update(rate_limit_every=1, retry_after_ms=10)

    with pytest.raises(module.NodeFailed) as failure:
        run(module)

    assert failure.value.transient
    assert "still after 120 s of retries" in str(failure.value)
    assert clock.now - 1000.0 == pytest.approx(120.0, abs=0.1)


def test_a_bad_request_fails_at_once(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(
        groq_node("llm", {"model": "no-such-model"})))), clock, monkeypatch)

    with pytest.raises(module.NodeFailed) as failure:
        run(module)

    assert not failure.value.transient
    assert len(groq_server.chat_requests()) == 1
    assert clock.sleeps == []


@pytest.mark.slow
def test_a_thousand_records_under_faults_all_finish(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": f"record {i}"}) + "\n"
                              for i in range(1000)), encoding="utf-8")
    groq_server.update(rate_limit_share=0.20, server_error_share=0.05, reset_share=0.02,
                       retry_after_ms=5, seed=7)

    # The model's budget (1,000 requests a minute) would make this a minute of
    # pacing; --rpm lifts it: what is tested is that every record finishes under
    # faults (pacing and its adaptation: test_adaptive_budgets.py, fake clock).
    completed = run_script(script, "--batch", str(source), "--output", str(output),
                           "--concurrency", "16", "--rpm", "60000", server=groq_server,
                           timeout=300)

    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(f"r{i}" for i in range(1000))
    assert {line["status"] for line in lines} == {"ok"}


# -- re-running a batch ---------------------------------------------------------------------


def _earlier_output(path: Path) -> None:
    lines = [
        {"id": "r0", "status": "ok", "outputs": {}, "latency_ms": 1.0},
        {"id": "r1", "status": "failed", "error": "rate limited", "transient": True,
         "latency_ms": 1.0},
        {"id": "r2", "status": "failed", "error": "400 bad request", "latency_ms": 1.0},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


@pytest.mark.parametrize(("flags", "rerun", "exit_code"), [
    ((), {"r1"}, 1),                          # default: only the transient failure
    (("--retry-failed",), {"r1", "r2"}, 0),   # every failure
    (("--no-retry-failed",), set(), 1),       # none
], ids=["default", "retry-failed", "no-retry-failed"])
def test_a_rerun_retries_transient_failures(
    tmp_path: Path, groq_server: MockGroqServer, flags: tuple[str, ...], rerun: set[str],
    exit_code: int,
) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": f"record {i}"}) + "\n"
                              for i in range(3)), encoding="utf-8")
    _earlier_output(output)

    completed = run_script(script, "--batch", str(source), "--output", str(output), *flags,
                           server=groq_server)

    assert completed.returncode == exit_code, completed.stderr
    asked = {body["messages"][-1]["content"] for body in
             (r.body for r in groq_server.chat_requests())}
    assert asked == {f"record {i[1:]}" for i in rerun}
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 + len(rerun)  # appended: the last line about an id counts
    assert all(line["status"] == "ok" for line in lines[3:])


def test_a_record_past_its_deadline_is_marked_transient(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node("llm", retries=0)))
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "only", "text": "hi"}) + "\n", encoding="utf-8")
    groq_server.update(rate_limit_every=1, retry_after_ms=5)

    completed = run_script(script, "--batch", str(source), "--output", str(output),
                           "--record-timeout", "0.3", "--json", server=groq_server)

    assert completed.returncode == 1
    (line,) = [json.loads(text) for text in output.read_text(encoding="utf-8").splitlines()]
    assert (line["status"], line["transient"]) == ("failed", True)
    assert "still after 0.3 s of retries" in line["error"]
    groq_server.update(rate_limit_every=0)
    again = run_script(script, "--batch", str(source), "--output", str(output), "--json",
                       server=groq_server)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["ok"] == 1
