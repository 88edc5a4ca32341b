"""Every path of the generated runtime, proven by behaviour rather than by reading code.

Scripts are generated from small workflows and either run as subprocesses or
imported as modules against the local Groq-protocol server. Tests about time
never race the machine: they replace the runtime's one clock seam (`_now`,
`_sleep`) with `FakeClock`, so time moves only when the runtime sleeps and
every pause is measured exactly. Where real time is unavoidable (aiolimiter's
buckets), they assert only bounds the runtime itself guarantees.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import groq
import httpx
import pytest
from conftest import EXAMPLES, PROVIDER_VARIABLES, ROOT, build, run_script

from catalyst.mock_groq import MockGroqServer, MockSettings

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"
BIG_MODEL = "openai/gpt-oss-120b"
Loader = Callable[[Path], ModuleType]


# -- workflows ------------------------------------------------------------------------


def groq_node(node_id: str, config: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    settings = {"model": MODEL, "prompt": "{{ input.text }}", **(config or {})}
    return {"id": node_id, "type": "groqCompletion", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(), "config": settings, **data}}


def fields_node(node_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": "editFields", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(), "config": {"mode": "replace", "fields": fields}}}


def workflow(*nodes: dict[str, Any], edges: tuple[tuple[str, str], ...] = (),
             inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "paths", "name": "Runtime paths",
        "input": inputs or {"text": {"type": "string", "required": True}},
        "nodes": list(nodes),
        "edges": [{"id": f"e{i}", "source": s, "target": t} for i, (s, t) in enumerate(edges)],
        **extra,
    }


def chain(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return workflow(first, second, edges=((first["id"], second["id"]),))


# -- the fake clock -------------------------------------------------------------------


class FakeClock:
    """Stands in for the runtime's `_now` and `_sleep`: time moves only when the
    runtime sleeps (or a test says so), and every sleep is recorded.

    `follow` clocks (the server's rate-limit windows) move along with it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)  # still a suspension point, as the real one is


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def on_clock(module: ModuleType, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(module, "_now", clock)
    monkeypatch.setattr(module, "_sleep", clock.sleep)
    return module


def run(module: ModuleType, inputs: dict[str, Any] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(
        module.run_workflow(inputs or {"text": "hi"}, on_event=on_event))
    return result


def one_line_error(completed: Any) -> str:
    assert completed.returncode == 1, (completed.stdout, completed.stderr)
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    return str(lines[0])


# -- dependencies through expressions -------------------------------------------------


def test_a_node_waits_for_the_nodes_its_expressions_read(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    # No edge: only the expression says `use` needs `llm`. The model answers
    # late, so a `use` that did not wait would find no output to read.
    script = build(tmp_path, workflow(
        groq_node("llm"),
        fields_node("use", {"reply": "{{ nodes['llm'].output.content }}",
                            "model": "{{ nodes.llm.output.model }}"}),
    ))
    groq_server.update(latency_ms=150)

    completed = run_script(script, "--input", "text=hello", "--json", server=groq_server)

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["outputs"] == {"use": {"reply": "Mock reply to: hello", "model": MODEL}}


def test_expression_only_node_is_skipped_when_all_it_reads_were_skipped(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    # `check` takes its false branch: `yes` is skipped, and `echo` (which only
    # reads `yes`) with it; `both` reads `yes` and `no`, one of which ran.
    check = {"id": "check", "type": "condition", "position": {"x": 0, "y": 0},
             "data": {"label": "Check", "config": {"expression": "{{ input.text == 'go' }}"}}}
    document = workflow(
        check,
        fields_node("yes", {"branch": "yes"}),
        fields_node("no", {"branch": "no"}),
        fields_node("echo", {"seen": "{{ nodes.yes.output.branch }}"}),
        fields_node("both", {"seen": "{{ nodes.no.output.branch if nodes.no is defined "
                                     "else nodes.yes.output.branch }}"}),
    )
    document["edges"] = [
        {"id": "t", "source": "check", "sourceHandle": "true", "target": "yes"},
        {"id": "f", "source": "check", "sourceHandle": "false", "target": "no"},
    ]
    module = load_script(build(tmp_path, document))

    result = run(module, {"text": "stop"})

    assert result["nodes"]["yes"] == {"status": "skipped"}
    assert result["nodes"]["echo"] == {"status": "skipped"}
    assert result["nodes"]["both"]["status"] == "ok"
    assert result["outputs"] == {"both": {"seen": "no"}}


# -- run-time evaluation errors -------------------------------------------------------


OBJECT_INPUT = {"data": {"type": "object", "required": True}}


@pytest.mark.parametrize("field", [
    "{{ input.data.missing }}",                # a single expression keeps its type...
    "{{ input.data.missing.deeper }}",
    "value: {{ input.data.missing }}",         # ...text renders, and fails alike
])
def test_an_undefined_name_is_an_error_not_none(tmp_path: Path, field: str) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {"value": field}),
                                      inputs=OBJECT_INPUT))

    line = one_line_error(run_script(script, "--input", 'data={"present": 1}'))

    assert "'shape'" in line
    assert f"cannot evaluate {field!r}" in line
    assert "missing" in line


def test_a_failing_expression_names_itself(tmp_path: Path) -> None:
    field = "{{ input.data.a / input.data.b }}"
    script = build(tmp_path, workflow(fields_node("shape", {"ratio": field}),
                                      inputs=OBJECT_INPUT))

    ok = run_script(script, "--input", 'data={"a": 3, "b": 2}', "--json")
    line = one_line_error(run_script(script, "--input", 'data={"a": 1, "b": 0}'))

    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"] == {"shape": {"ratio": 1.5}}
    assert "'shape'" in line
    assert f"cannot evaluate {field!r}" in line
    assert "division by zero" in line


# -- the shared pause after a 429 or a spent budget -----------------------------------


def _rate_limited_once() -> dict[str, Any]:
    # `first` meets one 429 (no SDK retries, so the node itself tries again
    # after the pause); `second` then calls the same model.
    return chain(groq_node("first", retries=0), groq_node("second"))


def _heal_after_first_retry(server: MockGroqServer) -> Callable[[dict[str, Any]], None]:
    def heal(event: dict[str, Any]) -> None:
        if event["type"] == "node_retry":
            server.update(rate_limit_every=0)

    return heal


@pytest.mark.parametrize(("settings", "pause"), [
    ({"retry_after_ms": 1500, "retry_after_s": 2}, 1.5),   # retry-after-ms wins
    ({"retry_after_s": 7}, 7.0),                            # retry-after in seconds
    ({"retry_after_s": 0}, 1.0),                            # no usable wait: one second
], ids=["retry-after-ms", "retry-after-seconds", "no-wait-given"])
def test_a_429_pauses_the_next_call_for_as_long_as_groq_says(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], pause: float,
) -> None:
    module = on_clock(load_script(build(tmp_path, _rate_limited_once())), clock, monkeypatch)
    monkeypatch.setattr(module, "_jitter", lambda: 1.0)
    groq_server.update(rate_limit_every=1, **settings)

    result = run(module, on_event=_heal_after_first_retry(groq_server))

    assert [r.status for r in groq_server.chat_requests()] == [429, 200, 200]
    # The node's own backoff (RETRY_DELAY_S, 0.5 s) first, then the rest of
    # Groq's pause in the shared limiter: together exactly Groq's wait.
    assert clock.sleeps[0] == pytest.approx(0.5)
    assert sum(clock.sleeps) == pytest.approx(pause)
    first = result["nodes"]["first"]
    assert (first["status"], first["rate_limit_retries"]) == ("ok", 1)
    assert first["rate_limit_wait_s"] == pytest.approx(0.5)


def test_a_429_with_an_http_date_pauses_until_that_date(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, _rate_limited_once())), clock, monkeypatch)
    monkeypatch.setattr(module, "_jitter", lambda: 1.0)
    groq_server.update(rate_limit_every=1, retry_after_s=30, retry_after_date=True)

    run(module, on_event=_heal_after_first_retry(groq_server))

    # The date has whole seconds and is read against the wall clock: 30 s,
    # give or take one. Reading the date's digits as durations gives ~2000 s.
    assert len(clock.sleeps) == 2
    assert 28.5 <= sum(clock.sleeps) <= 30.5, clock.sleeps


@pytest.mark.parametrize(("headers", "pause"), [
    ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "7.66s"}, 7.66),
    ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "2m59.56s"}, 179.56),
    ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "120ms"}, 0.12),
    ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1h2m3.5s"}, 3723.5),
    ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2m59.56s"}, 179.56),
    ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "4s",
      "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "9.5s"}, 9.5),
    ({"x-ratelimit-remaining-tokens": "1", "x-ratelimit-reset-tokens": "7.66s"}, None),
    ({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "7.66s"}, None),
], ids=["tokens-7.66s", "tokens-2m59.56s", "tokens-120ms", "tokens-hours", "requests-spent",
        "both-spent-longest-wins", "tokens-left", "requests-left"])
def test_a_spent_budget_header_pauses_the_next_call(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], pause: float | None,
) -> None:
    module = on_clock(load_script(build(tmp_path, chain(groq_node("first"),
                                                        groq_node("second")))),
                      clock, monkeypatch)
    groq_server.update(rate_limit_headers=headers)

    run(module)

    assert [r.status for r in groq_server.chat_requests()] == [200, 200]
    assert clock.sleeps == ([] if pause is None else [pytest.approx(pause)])


def test_the_servers_own_token_limit_pauses_until_its_window_frees(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's sliding window runs on the same fake clock: the second call
    # fits again only if the client really waited for Groq's reset time.
    clock = FakeClock()
    # `second` reads `first` only through its prompt's expression, and its
    # request is the smaller: it fits whenever the window has room again.
    script = build(tmp_path, workflow(
        groq_node("first"),
        groq_node("second", {"prompt": "{{ 'ok' if nodes.first.output else '' }}"})))
    with MockGroqServer(MockSettings(), clock=clock) as server:

        def load() -> ModuleType:
            module = on_clock(load_script(script), clock, monkeypatch)
            # After load_script, which aims clients at the fixture's server.
            monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
            return module

        long_text = {"text": "one two three four five six seven eight"}
        probe = run(load(), long_text)
        first_tokens = probe["nodes"]["first"]["usage"]["total_tokens"]
        server.reset()
        clock.sleeps.clear()
        # Room for exactly the first call: it leaves the budget at 0.
        server.update(tpm_limit=first_tokens)
        result = run(load(), long_text)

        assert [r.status for r in server.chat_requests()] == [200, 200]
        assert result["nodes"]["second"]["status"] == "ok"
        assert len(clock.sleeps) == 1
        assert 59.0 <= clock.sleeps[0] <= 60.01, clock.sleeps


def test_a_pause_holds_calls_already_queued_in_the_buckets(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm")))),
                      clock, monkeypatch)

    async def scenario() -> None:
        limiter = module.rate_limiter("groq", MODEL, {})
        gate = asyncio.Event()

        class Gate:
            async def acquire(self, amount: float = 1) -> None:
                await gate.wait()

        limiter.requests = Gate()
        queued = asyncio.create_task(limiter.acquire(10))
        await asyncio.sleep(0.01)  # the call is now waiting in the request bucket
        limiter.pause(3.0)         # a 429 elsewhere
        gate.set()
        await queued

    asyncio.run(scenario())

    assert clock.sleeps == [pytest.approx(3.0)]


def test_the_429_pause_reaches_the_server_as_a_gap(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    # As a user runs it: `b` meets a 429 asking for 1 s, `c` comes after it.
    # The gap is a lower bound the script guarantees; without the pause it
    # would be a few milliseconds, so load cannot blur the two.
    script = build(tmp_path, workflow(
        groq_node("a"), groq_node("b", retries=0), groq_node("c", retries=0),
        edges=(("a", "b"), ("b", "c"))))
    groq_server.update(rate_limit_every=2, retry_after_ms=1000)

    completed = run_script(script, "--input", "text=hi", "--json", server=groq_server)

    assert completed.returncode == 0, completed.stderr
    requests = groq_server.chat_requests()
    # b and c each meet a 429 and try again: a rate limit is not a failure.
    assert [r.status for r in requests] == [200, 429, 200, 429, 200]
    assert requests[2].received_at - requests[1].received_at >= 1.0
    assert requests[4].received_at - requests[3].received_at >= 1.0


# -- request pacing (aiolimiter's buckets run on the event loop's clock) ---------------


def test_rpm_allows_only_a_small_first_burst(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    module.RATE_LIMITS.update(requests_per_minute=120, tokens_per_minute=None)

    async def acquisitions() -> list[float]:
        limiter = module.rate_limiter("groq", MODEL, {})
        loop = asyncio.get_running_loop()
        stamps: list[float] = []

        async def one() -> None:
            await limiter.acquire(1)
            stamps.append(loop.time())

        await asyncio.gather(*(one() for _ in range(4)))
        return sorted(stamps)

    stamps = asyncio.run(acquisitions())

    # A burst of rpm // 60 = 2 together, then one per 60 * 2 / 118 / 2 s: the
    # leaky bucket guarantees these lower bounds whatever the machine's load.
    assert stamps[1] - stamps[0] < 0.25
    assert stamps[2] - stamps[0] >= 0.5
    assert stamps[3] - stamps[0] >= 1.0


def test_the_first_burst_is_at_most_sixteen(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    # 1200 per minute would allow a burst of 20; the cap keeps it at 16.
    module.RATE_LIMITS.update(requests_per_minute=1200, tokens_per_minute=None)

    async def acquisitions() -> list[float]:
        limiter = module.rate_limiter("groq", MODEL, {})
        loop = asyncio.get_running_loop()
        stamps: list[float] = []

        async def one() -> None:
            await limiter.acquire(1)
            stamps.append(loop.time())

        await asyncio.gather(*(one() for _ in range(17)))
        return sorted(stamps)

    stamps = asyncio.run(acquisitions())

    # The 17th waits for one drip: 60 / (1200 - 16) s, about 0.0507 s.
    assert stamps[16] - stamps[0] >= 0.05


# -- circuit breaker with the documented defaults --------------------------------------


def test_circuit_breaker_defaults_open_probe_close_and_open_again(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No circuitBreaker settings: 5 consecutive failures open it for 60 s.
    module = on_clock(load_script(build(tmp_path, workflow(
        groq_node("llm", {"fallbackModels": [BIG_MODEL]}, retries=0)))), clock, monkeypatch)
    failing = {MODEL: (503, "service_unavailable", "over capacity")}
    groq_server.update(fail_models=failing)

    def primary_calls() -> int:
        before = len(groq_server.chat_requests())
        result = run(module)
        assert result["nodes"]["llm"]["status"] == "ok"
        called = Counter(r.body["model"] for r in groq_server.chat_requests()[before:])
        return called[MODEL]

    # Closed: five failing calls reach the primary, then it is skipped.
    assert [primary_calls() for _ in range(6)] == [1, 1, 1, 1, 1, 0]
    # Open until the cool-down has fully passed.
    clock.advance(59.5)
    assert primary_calls() == 0
    # Half-open: one probe; it fails, so the breaker opens again at once.
    clock.advance(0.5)
    assert [primary_calls() for _ in range(2)] == [1, 0]
    # The next probe succeeds and closes it.
    clock.advance(60)
    groq_server.update(fail_models={})
    assert [primary_calls() for _ in range(2)] == [1, 1]
    # Closed means a fresh count: five new failures again before it opens.
    groq_server.update(fail_models=failing)
    assert [primary_calls() for _ in range(6)] == [1, 1, 1, 1, 1, 0]
    # A success in between resets the count.
    clock.advance(60)
    groq_server.update(fail_models={})
    assert primary_calls() == 1
    groq_server.update(fail_models=failing)
    assert [primary_calls() for _ in range(4)] == [1, 1, 1, 1]
    groq_server.update(fail_models={})
    assert primary_calls() == 1
    groq_server.update(fail_models=failing)
    assert [primary_calls() for _ in range(6)] == [1, 1, 1, 1, 1, 0]


# -- node-level retry delays -----------------------------------------------------------


@pytest.mark.parametrize(("execution", "delays"), [
    ({}, [0.5, 1.0, 2.0]),                                          # defaults: 500 ms, exponential
    ({"retryDelay": 100, "retryBackoff": "exponential"}, [0.1, 0.2, 0.4]),
    ({"retryDelay": 100, "retryBackoff": "linear"}, [0.1, 0.2, 0.3]),
    ({"retryDelay": 0, "retryBackoff": "linear"}, [0.0, 0.0, 0.0]),
], ids=["default", "exponential", "linear", "none"])
def test_retry_delays_grow_as_configured(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, execution: dict[str, Any], delays: list[float],
) -> None:
    # A stream cut before its first token: a transient failure, retried by the node.
    module = on_clock(load_script(build(tmp_path, workflow(
        groq_node("llm", {"stream": True}, retries=3), executionConfig=execution))),
        clock, monkeypatch)
    groq_server.update(cut_stream_after=0)
    events: list[dict[str, Any]] = []

    with pytest.raises(module.WorkflowError, match="'llm'"):
        run(module, on_event=events.append)

    assert clock.sleeps == [pytest.approx(delay) for delay in delays]
    assert [e["type"] for e in events].count("node_retry") == 3
    assert len(groq_server.chat_requests()) == 4


# -- batch summaries and resuming ------------------------------------------------------


def _progress(module: ModuleType, clock: FakeClock, latencies: list[float],
              failed: int = 0) -> Any:
    progress = module._BatchProgress(len(latencies) + 5, False)
    for index, latency in enumerate(latencies):
        status = "failed" if index < failed else "ok"
        line: dict[str, Any] = {"status": status, "latency_ms": latency}
        if status == "ok":
            line["usage"] = {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5,
                             "cost_usd": 0.1}
        progress.add(line)
    clock.advance(12.3456)
    return progress


@pytest.mark.parametrize(("count", "p50", "p95"), [
    (1, 1, 1), (2, 2, 2), (5, 3, 5), (20, 11, 20), (40, 21, 39), (100, 51, 96),
])
def test_batch_summary_percentiles(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    count: int, p50: int, p95: int,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(fields_node("f", {"a": 1})))),
                      clock, monkeypatch)
    latencies = [float(n) for n in range(count, 0, -1)]  # arrival order is not sorted

    summary = _progress(module, clock, latencies).summary()

    assert summary["latency_ms"] == {"p50": p50, "p95": p95}


def test_batch_summary_fields_and_progress_line(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(fields_node("f", {"a": 1})))),
                      clock, monkeypatch)
    empty = module._BatchProgress(0, False).summary()
    assert empty["latency_ms"] == {"p50": None, "p95": None}
    assert (empty["records"], empty["ok"], empty["failed"]) == (0, 0, 0)

    progress = _progress(module, clock, [10.0, 20.0, 30.0, 40.0], failed=1)
    summary = progress.summary()

    assert summary == {
        "records": 4, "ok": 3, "failed": 1, "fallbacks": 0,
        "rate_limit_retries": 0, "rate_limit_wait_s": 0.0,
        "usage": {"prompt_tokens": 6, "completion_tokens": 9, "total_tokens": 15,
                  "cost_usd": pytest.approx(0.3, abs=1e-9)},
        "latency_ms": {"p50": 30.0, "p95": 40.0},
        "elapsed_s": 12.346,
    }
    # 4 of 9 done in 12.3456 s: 0.32 per second, 5 left.
    assert progress.line() == "4/9 done, 1 failed, 0.3/s, ETA 15 s"
    clock.advance(1000)
    progress.total = 4
    assert progress.line() == "4/4 done, 1 failed, 0.0/s"


def _batch_workflow() -> dict[str, Any]:
    return workflow(fields_node("shape", {"double": "{{ input.data.n * 2 }}"}),
                    inputs=OBJECT_INPUT)


def test_resuming_over_earlier_failures_still_exits_one(tmp_path: Path) -> None:
    script = build(tmp_path, _batch_workflow())
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "data": {"n": i}}) + "\n"
                              for i in range(4)))
    target = tmp_path / "out.jsonl"
    earlier = {"id": "r0", "status": "failed", "error": "boom", "latency_ms": 1.0}
    target.write_text(json.dumps(earlier) + "\n")

    resumed = run_script(script, "--batch", str(source), "--output", str(target), "--json")

    # This run's records all passed, but the output holds a failure: exit 1.
    assert resumed.returncode == 1, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (3, 3, 0)
    assert summary["interrupted"] is False
    assert summary["elapsed_s"] >= 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == ["r0", "r1", "r2", "r3"]

    # Nothing left to do, the failure still there: still 1. Without it: 0.
    again = run_script(script, "--batch", str(source), "--output", str(target))
    assert again.returncode == 1, again.stderr
    target.write_text("".join(json.dumps(line) + "\n" for line in lines
                              if line["status"] == "ok"))
    clean = run_script(script, "--batch", str(source), "--output", str(target), "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["records"] == 1


# -- `catalyst run`, the README's first command ------------------------------------------


def catalyst_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "catalyst.cli", "run", *args],
        capture_output=True, text=True, env=environment, timeout=120, check=False, cwd=ROOT,
    )


def test_catalyst_run_without_a_key_uses_the_local_server() -> None:
    completed = catalyst_run(str(EXAMPLES / "summarize.json"), "--input",
                             "text=Catalyst compiles workflows.", "--stream", env={})

    assert completed.returncode == 0, completed.stderr
    assert "GROQ_API_KEY is not set" in completed.stderr
    assert "Groq calls go to Catalyst's local server" in completed.stderr
    assert completed.stdout.startswith("Mock reply to: Summarise: Catalyst compiles workflows.")


def test_catalyst_run_with_a_key_calls_the_configured_groq(groq_server: MockGroqServer) -> None:
    completed = catalyst_run(str(EXAMPLES / "summarize.json"), "--input", "text=Hi", "--json",
                             env={"GROQ_API_KEY": "test-key",
                                  "GROQ_BASE_URL": groq_server.base_url})

    assert completed.returncode == 0, completed.stderr
    assert "not set" not in completed.stderr
    assert len(groq_server.chat_requests()) == 1  # our server, not a local stand-in
    result = json.loads(completed.stdout)
    assert result["outputs"]["groq-1"]["content"] == "Mock reply to: Summarise: Hi"


def test_catalyst_run_reports_a_failing_run_and_bad_inputs(groq_server: MockGroqServer) -> None:
    key = {"GROQ_API_KEY": "bad-key", "GROQ_BASE_URL": groq_server.base_url}
    rejected = catalyst_run(str(EXAMPLES / "summarize.json"), "--input", "text=Hi", env=key)
    missing = catalyst_run(str(EXAMPLES / "summarize.json"), env={})

    assert rejected.returncode == 1, rejected.stderr
    assert "401" in rejected.stderr
    assert missing.returncode == 2, missing.stderr
    assert "missing required input 'text'" in missing.stderr


# -- the token budget: estimate first, the rest once usage is known --------------------


class TokenBucket:
    """Records what the runtime takes from a model's token bucket."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def acquire(self, amount: float = 1) -> None:
        self.taken.append(amount)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("max_tokens", [None, 500])
def test_token_budget_takes_the_estimate_then_what_was_used_beyond_it(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader,
    stream: bool, max_tokens: int | None,
) -> None:
    config: dict[str, Any] = {"stream": stream}
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    module = load_script(build(tmp_path, workflow(groq_node("llm", config))))
    bucket = TokenBucket()

    async def scenario() -> dict[str, Any]:
        module.rate_limiter("groq", MODEL, {}).tokens = bucket
        result: dict[str, Any] = await module.run_workflow(
            {"text": "a prompt of about forty characters, give or take"})
        return result

    result = asyncio.run(scenario())

    (request,) = groq_server.chat_requests()
    estimate = sum(len(m["content"]) for m in request.body["messages"]) // 4 + (max_tokens or 0)
    used = result["nodes"]["llm"]["usage"]["total_tokens"]
    if used > estimate:
        assert bucket.taken == [estimate, used - estimate]
    else:
        assert bucket.taken == [estimate]  # an overestimate is not handed back


class Terminal(io.StringIO):
    """stderr as a terminal, so a batch draws its progress line."""

    def isatty(self) -> bool:
        return True


def test_batch_progress_counts_only_what_is_left_to_do(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_script(build(tmp_path, _batch_workflow()))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "data": {"n": i}}) + "\n"
                              for i in range(5)) + "\n")  # a blank line is no record
    target = tmp_path / "out.jsonl"
    target.write_text(json.dumps({"id": "r0", "status": "ok", "latency_ms": 1.0}) + "\n"
                      + json.dumps({"id": "r3", "status": "ok", "latency_ms": 1.0}) + "\n")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    summary, any_failed = asyncio.run(module.run_batch(str(source), str(target), 1))

    assert (summary["records"], any_failed) == (3, False)
    drawn = [line.removesuffix("\x1b[K") for line in terminal.getvalue().split("\r") if line]
    assert [line.split(",")[0] for line in drawn] == ["1/3 done", "2/3 done", "3/3 done"]
    assert "ETA" in drawn[0]
    assert "ETA" not in drawn[-1]


def test_a_second_ctrl_c_abandons_records_in_flight(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": f"t{i}"}) + "\n"
                              for i in range(4)))
    target = tmp_path / "out.jsonl"
    # The server holds requests until three are in flight; with --concurrency 2
    # that is its whole timeout, so two records stay in flight until Ctrl-C.
    groq_server.update(hold_until_in_flight=3)

    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)

    def press_ctrl_c_twice() -> None:
        while groq_server.max_in_flight < 2:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        # Signals pending together merge into one: wait until the first is seen.
        while "stopping" not in stderr.getvalue():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_twice, daemon=True)
    presser.start()
    code = module.main(["--batch", str(source), "--output", str(target), "--concurrency", "2"])
    presser.join()

    assert code == 130
    assert target.read_text() == ""  # abandoned, not finished: they run on resume


# -- which failures move on to a fallback model ----------------------------------------


@pytest.mark.parametrize(("status", "code", "falls_back"), [
    (404, "model_not_found", True),
    (408, "request_timeout", True),
    (429, "rate_limit_exceeded", True),
    (498, "capacity_exceeded", True),
    (500, "internal_server_error", True),
    (503, "service_unavailable", True),
    (400, "model_decommissioned", True),
    (400, "invalid_request_error", False),   # a bad request fails on any model
    (413, "request_too_large", False),
])
def test_only_model_specific_failures_fall_back(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader,
    status: int, code: str, falls_back: bool,
) -> None:
    module = load_script(build(tmp_path, workflow(
        groq_node("llm", {"fallbackModels": [BIG_MODEL]}, retries=0))))
    groq_server.update(fail_models={MODEL: (status, code, f"{MODEL}: {code}")},
                       retry_after_ms=1)

    if falls_back:
        result = run(module)
        assert result["outputs"]["llm"]["model"] == BIG_MODEL
        assert f"{status} ({code})" in result["nodes"]["llm"]["fallbacks"][0]["reason"]
    else:
        with pytest.raises(module.WorkflowError, match=f"{status} \\({code}\\)"):
            run(module)
        assert [r.body["model"] for r in groq_server.chat_requests()] == [MODEL]


def test_the_whole_run_has_a_time_limit(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("llm"), executionConfig={"timeout": 300}))
    groq_server.update(latency_ms=3000)

    line = one_line_error(run_script(script, "--input", "text=hi", server=groq_server))

    assert line == "error: the workflow did not finish within 0.3 s"


@pytest.mark.slow
def test_a_batch_keeps_eight_records_in_flight_by_default(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    # The server holds requests until nine are in flight: eight at a time
    # never get there, so they wait out its timeout (5 s) and max_in_flight
    # shows the concurrency exactly, whatever the load.
    script = build(tmp_path, workflow(groq_node("llm")))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": f"t{i}"}) + "\n" for i in range(9)))
    groq_server.update(hold_until_in_flight=9)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    environment.update(GROQ_BASE_URL=groq_server.base_url, GROQ_API_KEY="test-key")

    process = subprocess.Popen(
        [sys.executable, str(script), "--batch", str(source), "--output",
         str(tmp_path / "o.jsonl"), "--rpm", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        while not groq_server.chat_requests() and process.poll() is None:
            time.sleep(0.01)
        groq_server.update(hold_until_in_flight=0)  # the ninth need not wait it out too
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 0, stderr
    assert groq_server.max_in_flight == 8


@pytest.mark.parametrize(("order", "winner"), [(("a", "b"), "a"), (("b", "a"), "b")])
def test_a_port_fed_by_two_live_edges_takes_the_first(
    tmp_path: Path, order: tuple[str, str], winner: str
) -> None:
    document = workflow(
        fields_node("a", {"from": "a"}), fields_node("b", {"from": "b"}),
        {**fields_node("c", {"c": 1}), "data": {"label": "C", "config": {
            "mode": "merge", "fields": {"c": 1}}}},
        edges=((order[0], "c"), (order[1], "c")))

    completed = run_script(build(tmp_path, document), "--input", "text=x", "--json")

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["outputs"] == {"c": {"from": winner, "c": 1}}


# -- small pieces of the Groq runtime, called directly --------------------------------


def test_cost_needs_both_prices(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 2_000_000, "total_tokens": 3}
    module.CHAT_MODELS["groq"]["priced"] = {"usd_per_million": (0.5, 2.0)}
    module.CHAT_MODELS["groq"]["half"] = {"usd_per_million": (0.5, None)}
    module.CHAT_MODELS["groq"]["other-half"] = {"usd_per_million": (None, 2.0)}

    assert module.chat_cost("groq", "priced", usage) == 4.5
    assert module.chat_cost("groq", "half", usage) is None
    assert module.chat_cost("groq", "other-half", usage) is None
    assert module.chat_cost("groq", "not-in-the-table", usage) is None


def test_an_sdk_timeout_reads_as_one_line(tmp_path: Path, load_script: Loader) -> None:
    # Without a node timeout the SDK's own (60 s) applies; its error must still
    # say what happened, not "Request timed out." alone.
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    request = httpx.Request("POST", "http://127.0.0.1:9/openai/v1/chat/completions")
    context = type("Context", (), {"retries": 2})()
    config = {"api_key": {"$secret": "GROQ_API_KEY"}}

    failure = module.CHAT_PROVIDERS["groq"].failure(groq.APITimeoutError(request), context, config,
                                                  MODEL)

    assert failure.kind == "transient"
    assert failure.message == f"Groq did not answer in time ({MODEL}, after 2 retries)"


def test_the_sdk_gets_the_node_timeout_or_keeps_its_own(
    tmp_path: Path, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    config = {"api_key": {"$secret": "GROQ_API_KEY"}}

    async def clients() -> tuple[Any, Any]:
        run = module.Run({"text": "x"})
        timed = module.Step("a", "A", None, timeout=5.0, retries=1)
        untimed = module.Step("b", "B", None, retries=3)
        clients = (module.CHAT_PROVIDERS["groq"].client(module.NodeContext(run, timed), config),
                   module.CHAT_PROVIDERS["groq"].client(module.NodeContext(run, untimed), config))
        await module.close_resources(run.resources)
        return clients

    timed, untimed = asyncio.run(clients())

    assert (timed.timeout, timed.max_retries) == (5.0, 1)
    # No node timeout: the script's defaults (10 s to connect, 60 s between
    # reads), never the SDK's ten minutes and never "wait forever".
    assert untimed.max_retries == 3
    assert (untimed.timeout.connect, untimed.timeout.read) == (10.0, 60.0)
