"""Production behaviour of generated scripts, proven by running them against the
local Groq-protocol server with faults switched on.

Every test either runs a generated script as a subprocess (as a user would) or
imports the generated module and calls `run_workflow` (to see events and
process-wide state such as circuit breakers). Nothing here reads generated code.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ScriptRun, build, run_script

from catalyst.compiler import compile_file
from catalyst.groq_models import chat_model, chat_model_ids
from catalyst.mock_groq import MockGroqServer, MockSettings
from catalyst.mock_groq.faults import FaultInjector

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"
BIG_MODEL = "openai/gpt-oss-120b"
# executionConfig for fast node-level retries (milliseconds between attempts).
FAST_RETRIES = {"retryDelay": 50, "retryBackoff": "linear"}


# -- building workflows ---------------------------------------------------------------


def groq_node(node_id: str, config: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    """An editor-graph groqCompletion node; `data` holds timeout/retries/onError/..."""
    settings = {"model": MODEL, "prompt": "{{ input.text }}", **(config or {})}
    return {"id": node_id, "type": "groqCompletion", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(), "config": settings, **data}}


def fields_node(node_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": "editFields", "position": {"x": 300, "y": 0},
            "data": {"label": node_id.title(), "config": {"mode": "replace", "fields": fields}}}


def workflow(*nodes: dict[str, Any], edges: tuple[tuple[str, str], ...] = (),
             **extra: Any) -> dict[str, Any]:
    return {
        "id": "e2e", "name": "E2E workflow",
        "input": {"text": {"type": "string", "required": True}},
        "nodes": list(nodes),
        "edges": [{"id": f"e{i}", "source": s, "target": t} for i, (s, t) in enumerate(edges)],
        **extra,
    }




def one_line_error(run: ScriptRun) -> str:
    """The run failed with exit 1 and a single `error: …` line, no traceback."""
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def wait_for_requests(server: MockGroqServer, count: int, within: float = 5.0) -> None:
    """The server records a non-streamed request when it answers (after its
    latency), which may be after the client gave up: wait for the stragglers."""
    deadline = time.monotonic() + within
    while len(server.chat_requests()) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def models_called(server: MockGroqServer, since: int = 0) -> Counter[str]:
    return Counter(request.body["model"] for request in server.chat_requests()[since:])


# -- retries after 429 and 5xx --------------------------------------------------------


def test_retries_after_rate_limits_succeed(tmp_path: Path, groq_server: MockGroqServer) -> None:
    # Three calls in a row; the server refuses every second request with 429 and
    # retry-after-ms 5, so the second and third nodes each meet one.
    script = build(tmp_path, workflow(groq_node("first"), groq_node("second"), groq_node("third"),
                                      edges=(("first", "second"), ("second", "third"))))
    groq_server.update(rate_limit_every=2, retry_after_ms=5)

    run = run_script(script, "--input", "text=hello", "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    requests = groq_server.chat_requests()
    assert [r.status for r in requests] == [200, 429, 200, 429, 200]
    # x-stainless-retry-count: the SDK's own retries, one per 429.
    assert [r.retry_count for r in requests] == [0, 0, 1, 0, 1]
    # How long each wait lasts is measured on a fake clock in test_runtime_paths.py.
    result = json.loads(run.stdout)
    assert {result["nodes"][node]["status"] for node in ("first", "second", "third")} == {"ok"}
    assert result["outputs"]["third"]["content"].startswith("Mock reply to: ")


def _seed_failing_first_request_only(**faults: Any) -> int:
    """A seed whose first request meets a 5xx and whose second passes (found with
    the server's own fault injector, so the search matches what it will do)."""
    for seed in range(1000):
        settings = MockSettings(seed=seed, **faults)
        injector = FaultInjector(seed)
        first = injector.next_fault(MODEL, settings)
        second = injector.next_fault(MODEL, settings)
        if getattr(first, "status", 0) >= 500 and second is None:
            return seed
    raise AssertionError("no seed fails only the first request")


def test_retries_after_server_error_succeed(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    seed = _seed_failing_first_request_only(server_error_share=0.5)
    groq_server.update(server_error_share=0.5, seed=seed)
    groq_server.reset()

    run = run_script(script, "--input", "text=hello", "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    requests = groq_server.chat_requests()
    assert len(requests) == 2
    assert requests[0].status in (500, 502, 503)
    assert requests[1].status == 200
    assert [r.retry_count for r in requests] == [0, 1]
    assert json.loads(run.stdout)["outputs"]["llm"]["content"] == "Mock reply to: hello"


# -- errors that must fail fast -------------------------------------------------------


def test_rejected_api_key_fails_fast(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    groq_server.update(api_key="right")

    line = one_line_error(run_script(script, "--input", "text=hi", server=groq_server))

    assert "GROQ_API_KEY" in line
    assert "401" in line
    assert len(groq_server.chat_requests()) == 1  # no retries of a bad key


def test_unknown_model_fails_fast_listing_current_models(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    source = tmp_path / "unknown.json"
    source.write_text(json.dumps(workflow(groq_node("llm", {"model": "acme/no-such-model"}))))
    compiled = compile_file(source)  # validation only warns: generation still works
    assert [w.code for w in compiled.warnings] == ["unknown-model"]
    script = tmp_path / "unknown.py"
    script.write_text(compiled.source)

    line = one_line_error(run_script(script, "--input", "text=hi", server=groq_server))

    assert "acme/no-such-model" in line
    assert "404" in line
    for model_id in chat_model_ids():
        assert model_id in line
    assert len(groq_server.chat_requests()) == 1


def test_decommissioned_model_names_its_replacement(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node("llm", {"model": "llama-3.1-8b-instant"})))

    line = one_line_error(run_script(script, "--input", "text=hi", server=groq_server))

    assert "llama-3.1-8b-instant" in line
    # The script's own advice (quoted with '…'; the server's text uses backticks).
    assert "openai/gpt-oss-20b" in line
    assert line.count("openai/gpt-oss-20b") == 1  # named once, not repeated
    assert len(groq_server.chat_requests()) == 1


def test_context_length_exceeded_names_the_window(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    huge = tmp_path / "huge.txt"
    huge.write_text("word " * 140_000)  # 140,000 mock tokens > 131,072

    line = one_line_error(
        run_script(script, "--input", f"text=@{huge}", server=groq_server)
    )

    assert "context_length_exceeded" in line
    assert f"{MODEL} takes at most 131,072 tokens" in line
    assert len(groq_server.chat_requests()) == 1


# -- node timeouts, retries and onError -----------------------------------------------


def _slow_workflow(retries: int = 1, **data: Any) -> dict[str, Any]:
    # The model node answers too late; a downstream node shows what it produced.
    return workflow(
        groq_node("llm", timeout=400, retries=retries, **data),
        fields_node("after", {"upstream": "{{ nodes.llm.output }}", "went_on": True}),
        edges=(("llm", "after"),),
        executionConfig=FAST_RETRIES,
    )


def test_timeout_retries_then_fails(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, _slow_workflow(retries=1))
    groq_server.update(latency_ms=1200)

    line = one_line_error(run_script(script, "--input", "text=hi", server=groq_server))

    assert "no answer within 0.4 s" in line
    assert "'llm'" in line
    # At most the first try and one retry reach the server (the first try may
    # spend its 0.4 s on the SDK's lazy imports before it sends anything; the
    # in-process test below counts the attempts exactly).
    wait_for_requests(groq_server, 3, within=1.5)
    assert 1 <= len(groq_server.chat_requests()) <= 2


def _run_in_process(module: ModuleType) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    result = asyncio.run(module.run_workflow({"text": "hi"}, on_event=events.append))
    return result, events


def test_timeout_with_on_error_continue(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    module = load_script(build(tmp_path, _slow_workflow(retries=2, onError="continue")))
    groq_server.update(latency_ms=1200)

    result, events = _run_in_process(module)

    upstream = result["outputs"]["after"]["upstream"]
    assert list(upstream) == ["error"]
    assert "no answer within 0.4 s" in upstream["error"]
    assert result["outputs"]["after"]["went_on"] is True  # the run went on
    assert result["nodes"]["llm"]["status"] == "failed"
    assert result["nodes"]["after"]["status"] == "ok"
    kinds = [e["type"] for e in events if e.get("node") == "llm"]
    assert kinds == ["node_started", "node_retry", "node_retry", "node_failed", "node_finished"]
    assert {e["reason"] for e in events if e["type"] == "node_retry"} == {
        "no answer within 0.4 s"}


def test_timeout_with_on_error_fallback(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    fallback = {"content": "unclassified", "model": None}
    module = load_script(build(tmp_path, _slow_workflow(
        retries=0, onError="fallback", fallbackValue=fallback)))
    groq_server.update(latency_ms=1200)

    result, events = _run_in_process(module)

    assert result["outputs"]["after"]["upstream"] == fallback
    assert result["nodes"]["llm"]["status"] == "fallback"
    failed = [e for e in events if e["type"] == "node_failed"]
    assert len(failed) == 1
    assert "no answer within 0.4 s" in failed[0]["error"]


# -- streams that break off -----------------------------------------------------------


def _streaming_workflow(retries: int = 1, retry_delay_ms: int = 50) -> dict[str, Any]:
    return workflow(
        groq_node("llm", {"stream": True}, retries=retries),
        executionConfig={"retryDelay": retry_delay_ms, "retryBackoff": "linear"},
    )


def test_cut_stream_is_retried_then_fails(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    script = build(tmp_path, _streaming_workflow())
    groq_server.update(cut_stream_after=3)

    line = one_line_error(
        run_script(script, "--input", "text=hello there", "--stream", server=groq_server)
    )

    assert "stream from Groq broke off" in line
    assert len(groq_server.chat_requests()) == 2

    groq_server.reset()
    events: list[dict[str, Any]] = []
    module = load_script(script)
    with pytest.raises(module.WorkflowError, match="broke off"):
        asyncio.run(module.run_workflow({"text": "hello there"}, on_event=events.append))
    retries = [e for e in events if e["type"] == "node_retry"]
    assert len(retries) == 1
    assert "broke off" in retries[0]["reason"]


def test_cut_stream_retry_recovers(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    # The server heals as soon as the node announces its retry.
    module = load_script(build(tmp_path, _streaming_workflow()))
    groq_server.update(cut_stream_after=3)
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        if event["type"] == "node_retry":
            groq_server.update(cut_stream_after=None)

    result = asyncio.run(module.run_workflow({"text": "hello there"}, on_event=on_event))

    assert result["outputs"]["llm"]["content"] == "Mock reply to: hello there"
    assert result["nodes"]["llm"]["status"] == "ok"
    assert [e["type"] for e in events].count("node_retry") == 1
    assert len(groq_server.chat_requests()) == 2


def test_stream_cut_before_first_token_is_retried(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    module = load_script(build(tmp_path, _streaming_workflow(retries=1)))
    groq_server.update(cut_stream_after=0)
    events: list[dict[str, Any]] = []

    with pytest.raises(module.WorkflowError):
        asyncio.run(module.run_workflow({"text": "hello"}, on_event=events.append))

    assert [e["type"] for e in events].count("node_retry") == 1
    assert len(groq_server.chat_requests()) == 2


def test_cli_stream_retry_starts_a_fresh_line(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, _streaming_workflow(retry_delay_ms=400))
    groq_server.update(cut_stream_after=3)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    environment.update(GROQ_BASE_URL=groq_server.base_url, GROQ_API_KEY="test-key")
    process = subprocess.Popen(
        [sys.executable, str(script), "--input", "text=hello there", "--stream"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )
    try:
        wait_for_requests(groq_server, 1, within=20)
        groq_server.update(cut_stream_after=None)  # the retry gets a whole stream
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert len(groq_server.chat_requests()) == 2
    assert stdout.splitlines()[-1] == "Mock reply to: hello there"


def test_stream_error_event_is_a_clear_error(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, _streaming_workflow())
    groq_server.update(stream_error_after=2)

    run = run_script(script, "--input", "text=hello there", "--stream", server=groq_server)

    line = one_line_error(run)
    assert "'llm'" in line
    assert "error while streaming" in line
    assert run.stdout.startswith("Mock reply ")  # the tokens before the error


# -- fallback models and the circuit breaker ------------------------------------------


def _fallback_workflow(failures: int = 5, cooldown_s: float = 60) -> dict[str, Any]:
    return workflow(groq_node(
        "llm",
        {"fallbackModels": [BIG_MODEL],
         "circuitBreaker": {"failures": failures, "cooldown_s": cooldown_s}},
        retries=0,
    ))


def test_fallback_model_answers(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, _fallback_workflow())
    groq_server.update(fail_models={MODEL: (404, "model_not_found", f"{MODEL} is gone")})

    run = run_script(script, "--input", "text=hi", "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["outputs"]["llm"]["model"] == BIG_MODEL
    stats = result["nodes"]["llm"]
    assert stats["model"] == BIG_MODEL
    assert [item["model"] for item in stats["fallbacks"]] == [MODEL]
    assert "404 (model_not_found)" in stats["fallbacks"][0]["reason"]
    assert models_called(groq_server) == {MODEL: 1, BIG_MODEL: 1}


@pytest.mark.parametrize(("status", "code"), [(404, "model_not_found"),
                                              (503, "service_unavailable")])
def test_fallback_event_names_the_reason(
    tmp_path: Path,
    groq_server: MockGroqServer,
    load_script: Callable[[Path], ModuleType],
    status: int,
    code: str,
) -> None:
    module = load_script(build(tmp_path, _fallback_workflow()))
    groq_server.update(fail_models={MODEL: (status, code, f"{MODEL} is unavailable")})

    result, events = _run_in_process(module)

    assert result["outputs"]["llm"]["model"] == BIG_MODEL
    fallbacks = [e for e in events if e["type"] == "fallback"]
    assert [(e["node"], e["model"]) for e in fallbacks] == [("llm", MODEL)]
    assert f"{status} ({code})" in fallbacks[0]["reason"]
    assert result["nodes"]["llm"]["fallbacks"][0]["reason"] == fallbacks[0]["reason"]
    assert models_called(groq_server) == {MODEL: 1, BIG_MODEL: 1}  # retries 0: one call each


def test_circuit_breaker_opens_probes_and_closes(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType]
) -> None:
    # One process, one event loop: breakers are process-wide.
    module = load_script(build(tmp_path, _fallback_workflow(failures=2, cooldown_s=0.5)))
    groq_server.update(fail_models={MODEL: (503, "service_unavailable", "over capacity")})

    async def call() -> tuple[dict[str, Any], Counter[str], list[dict[str, Any]]]:
        before = len(groq_server.chat_requests())
        events: list[dict[str, Any]] = []
        result = await module.run_workflow({"text": "hi"}, on_event=events.append)
        fallbacks = [e for e in events if e["type"] == "fallback"]
        return result, models_called(groq_server, before), fallbacks

    async def scenario() -> None:
        # Closed: the primary is tried and fails twice in a row.
        for _ in range(2):
            result, called, fallbacks = await call()
            assert called == {MODEL: 1, BIG_MODEL: 1}
            assert result["outputs"]["llm"]["model"] == BIG_MODEL
            assert "503" in fallbacks[0]["reason"]
        # Open: the primary is not called at all.
        for _ in range(3):
            result, called, fallbacks = await call()
            assert called == {BIG_MODEL: 1}
            assert result["nodes"]["llm"]["fallbacks"] == [
                {"provider": "groq", "model": MODEL, "reason": "circuit breaker open"}]
            assert fallbacks[0]["reason"] == "circuit breaker open"
        # Half-open after the cool-down: one probe, still failing, opens it again.
        await asyncio.sleep(0.6)
        _, called, _ = await call()
        assert called == {MODEL: 1, BIG_MODEL: 1}
        _, called, _ = await call()
        assert called == {BIG_MODEL: 1}
        # Healthy again: after the cool-down exactly one of three concurrent
        # calls probes the primary; its success closes the breaker.
        await asyncio.sleep(0.6)
        groq_server.update(fail_models={})
        before = len(groq_server.chat_requests())
        await asyncio.gather(*(module.run_workflow({"text": "hi"}) for _ in range(3)))
        assert models_called(groq_server, before) == {MODEL: 1, BIG_MODEL: 2}
        for _ in range(2):
            result, called, fallbacks = await call()
            assert called == {MODEL: 1}
            assert result["outputs"]["llm"]["model"] == MODEL
            assert "fallbacks" not in result["nodes"]["llm"]
            assert fallbacks == []

    asyncio.run(scenario())


# -- cost -----------------------------------------------------------------------------


def _price(model_id: str, usage: dict[str, int]) -> float:
    model = chat_model(model_id)
    assert model is not None
    assert model.usd_per_million_input is not None
    assert model.usd_per_million_output is not None
    return (usage["prompt_tokens"] * model.usd_per_million_input
            + usage["completion_tokens"] * model.usd_per_million_output) / 1_000_000


def test_cost_per_node_and_in_total(write_script: Callable[..., Path],
                                    groq_server: MockGroqServer) -> None:
    script = write_script("research_diamond.json")

    run = run_script(script, "--input", "review=Great battery, weak screen.", "--json",
                     server=groq_server)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    nodes = result["nodes"]
    assert {nodes["sentiment"]["model"], nodes["key-points"]["model"]} == {MODEL, BIG_MODEL}
    expected_total = 0.0
    for node_id in ("sentiment", "key-points"):
        stats = nodes[node_id]
        expected = _price(stats["model"], stats["usage"])
        assert stats["cost_usd"] == pytest.approx(expected, abs=1e-8)
        # The other model's prices would give a clearly different figure.
        other = BIG_MODEL if stats["model"] == MODEL else MODEL
        assert stats["cost_usd"] != pytest.approx(_price(other, stats["usage"]), abs=1e-8)
        expected_total += expected
    usage = result["usage"]
    assert usage["cost_usd"] == pytest.approx(expected_total, abs=1e-8)
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage[key] == nodes["sentiment"]["usage"][key] + nodes["key-points"]["usage"][key]

    # A normal run ends with a usage line on stderr: tokens and cost.
    plain = run_script(script, "--input", "review=Great battery, weak screen.",
                       server=groq_server)
    assert plain.returncode == 0, plain.stderr
    match = re.search(r"usage: (\d+) tokens \((\d+) in, (\d+) out\), about \$(\d+\.\d{6})",
                      plain.stderr)
    assert match, plain.stderr
    assert int(match[1]) == usage["total_tokens"]
    assert int(match[2]) == usage["prompt_tokens"]
    assert int(match[3]) == usage["completion_tokens"]
    assert match[4] == f"{usage['cost_usd']:.6f}"


# -- client-side rate limiting --------------------------------------------------------


def _batch_file(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": f"record {i}"}) + "\n"
                              for i in range(count)))
    return source


def _arrivals(server: MockGroqServer) -> list[float]:
    return sorted(request.received_at for request in server.chat_requests())


@pytest.mark.slow
def test_rpm_flag_paces_a_batch(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    launched = time.monotonic()  # the server records arrivals on this clock too

    run = run_script(script, "--batch", str(_batch_file(tmp_path, 7)),
                     "--output", str(tmp_path / "out.jsonl"), "--concurrency", "7",
                     "--rpm", "120", server=groq_server)

    assert run.returncode == 0, run.stderr
    arrivals = _arrivals(groq_server)
    assert len(arrivals) == 7
    # --rpm 120 reaches the limiter: a burst of two, then one per ~0.51 s, so
    # the seventh cannot leave before 5 * 0.51 s. A lower bound the script
    # guarantees, whatever the load (the exact spacing is measured in process,
    # test_runtime_paths.py::test_rpm_allows_only_a_small_first_burst).
    assert arrivals[-1] - launched >= 2.5, [a - launched for a in arrivals]


@pytest.mark.slow
def test_rate_limit_pause_holds_queued_calls(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("llm")))
    # --rpm 60 lets one request out per ~1 s. The second gets a 429 asking for
    # 2.5 s; the third leaves the bucket ~1 s after it and must wait the pause
    # out. Pacing alone would send it after ~1 s, the pause after >= 2.5 s: a
    # lower bound the script guarantees, far from what a missing pause gives.
    groq_server.update(rate_limit_every=2, retry_after_ms=2500)

    run = run_script(script, "--batch", str(_batch_file(tmp_path, 3)),
                     "--output", str(tmp_path / "out.jsonl"), "--concurrency", "3",
                     "--rpm", "60", server=groq_server)

    assert run.returncode == 0, run.stderr
    requests = sorted(groq_server.chat_requests(), key=lambda r: r.received_at)
    assert [r.status for r in requests[:2]] == [200, 429]
    # Everything after the refusal (its own retry, the queued third) waited.
    refused = requests[1]
    assert len(requests) >= 4
    for later in requests[2:]:
        assert later.received_at - refused.received_at >= 2.5
