"""Workflows that start on a schedule: `python pipeline.py --schedule`.

Time is never waited for: in-process tests replace the script's wall clock
(`_utc_now`) and its sleep (`_sleep`) with a fake that moves only when the
scheduler naps. The one test that needs a real process (SIGTERM) shifts that
process's wall clock so the next minute is a fraction of a second away.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build, run_script
from workflow_builders import as_manifest, diagnostics, edge, graph, node, only

from catalyst.compiler import compile_file
from catalyst.mock_groq import MockGroqServer
from catalyst.nodes.triggers import CRON_MACROS

Loader = Callable[[Path], ModuleType]
INPUTS = {"who": {"type": "string", "default": "world"}}


def scheduled(schedule: str | None = "* * * * *", timezone: str | None = "UTC",
              enabled: bool | None = True, *, work: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    config = {key: value for key, value in (("schedule", schedule), ("timezone", timezone),
                                            ("enabled", enabled)) if value is not None}
    worker = work or node("hello", "editFields",
                          {"mode": "replace", "fields": {"greeting": "hello {{ input.who }}"}},
                          label="Hello")
    return graph(node("cron", "scheduledTask", config, label="Cron"), worker,
                 edges=[edge("cron", worker["id"], id="e1")], inputs=INPUTS)


class WallClock:
    """A fake wall clock: time moves only when the script sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=max(seconds, 0.0))
        await asyncio.sleep(0)


def on_wall_clock(module: ModuleType, start: datetime, monkeypatch: pytest.MonkeyPatch
                  ) -> WallClock:
    clock = WallClock(start)
    monkeypatch.setattr(module, "_utc_now", clock)
    monkeypatch.setattr(module, "_sleep", clock.sleep)
    return clock


def result_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# -- next run times --------------------------------------------------------------------


def test_next_run_times_follow_the_cron_expression(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, scheduled("*/15 9-17 * * 1-5", "UTC")))
    schedule = module.Schedule({"node": "cron", "cron": "*/15 9-17 * * 1-5", "timezone": "UTC"})

    friday_evening = datetime(2025, 1, 3, 17, 50, tzinfo=UTC)

    assert schedule.next_after(friday_evening) == datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    assert schedule.next_after(datetime(2025, 1, 6, 9, 0, tzinfo=UTC)) == \
        datetime(2025, 1, 6, 9, 15, tzinfo=UTC)


def test_the_earliest_of_several_schedules_comes_first(
    tmp_path: Path, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, scheduled()))
    daily = module.Schedule({"node": "a", "cron": "@daily", "timezone": "UTC"})
    tokyo = module.Schedule({"node": "b", "cron": "0 8 * * *", "timezone": "Asia/Tokyo"})

    moment, schedule = module._next_tick([daily, tokyo], datetime(2025, 1, 1, 12, tzinfo=UTC))

    # 08:00 in Tokyo is 23:00 UTC, before midnight UTC.
    assert (moment, schedule.node) == (datetime(2025, 1, 1, 23, tzinfo=UTC), "b")
    assert module._when((moment, schedule)) == "2025-01-02 08:00 JST"


def test_the_script_knows_the_same_shorthands_as_the_checker(
    tmp_path: Path, load_script: Loader
) -> None:
    assert load_script(build(tmp_path, scheduled())).CRON_MACROS == CRON_MACROS


# -- running on the fake clock -----------------------------------------------------------


def test_runs_at_each_tick_with_the_inputs_given(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_script(build(tmp_path, scheduled("*/5 * * * *")))
    clock = on_wall_clock(module, datetime(2025, 1, 1, 12, 3, 30, tzinfo=UTC), monkeypatch)

    code = module.run_schedule({"who": "Ada"}, max_runs=3)

    out, err = capsys.readouterr()
    assert code == 0
    runs = result_lines(out)
    assert [run["scheduled_for"] for run in runs] == [
        "2025-01-01T12:05:00+00:00", "2025-01-01T12:10:00+00:00", "2025-01-01T12:15:00+00:00"]
    assert all(run["outputs"] == {"hello": {"greeting": "hello Ada"}} for run in runs)
    assert all(run["status"] == "ok" for run in runs)
    assert err.splitlines()[:2] == [
        "schedule '*/5 * * * *' (UTC, node 'cron')",
        "next runs: 2025-01-01 12:05 UTC, 2025-01-01 12:10 UTC, 2025-01-01 12:15 UTC"]
    # Naps of at most a minute: a clock that jumps is noticed.
    assert max(clock.sleeps) == 60.0
    assert clock.sleeps[0] == 60.0 and round(sum(clock.sleeps)) == 690


def test_09_00_paris_stays_09_00_across_the_change_to_summer_time(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_script(build(tmp_path, scheduled("0 9 * * *", "Europe/Paris")))
    on_wall_clock(module, datetime(2025, 3, 28, 12, tzinfo=UTC), monkeypatch)

    assert module.run_schedule({}, max_runs=3) == 0

    out, err = capsys.readouterr()
    due = [datetime.fromisoformat(run["scheduled_for"]) for run in result_lines(out)]
    # Clocks go forward on 30 March: 09:00 is 08:00 UTC before, 07:00 UTC after.
    assert [moment.astimezone(UTC).hour for moment in due] == [8, 7, 7]
    assert [moment.isoformat() for moment in due] == [
        "2025-03-29T09:00:00+01:00", "2025-03-30T09:00:00+02:00", "2025-03-31T09:00:00+02:00"]
    assert "next runs: 2025-03-29 09:00 CET, 2025-03-30 09:00 CEST, 2025-03-31 09:00 CEST" in err


def test_a_tick_during_a_run_is_skipped_and_logged(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_script(build(tmp_path, scheduled("* * * * *")))
    clock = on_wall_clock(module, datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC), monkeypatch)
    started: list[datetime] = []

    async def ninety_second_run(inputs: dict[str, Any]) -> dict[str, Any]:
        started.append(clock.now)
        finish = clock.now + timedelta(seconds=90) if len(started) == 1 else clock.now
        while clock.now < finish:
            await asyncio.sleep(0)  # the scheduler's naps move the clock
        return {"outputs": {}, "usage": {}, "latency_ms": 90_000.0, "nodes": {}}

    monkeypatch.setattr(module, "run_workflow", ninety_second_run)

    assert module.run_schedule({}, max_runs=2) == 0

    out, err = capsys.readouterr()
    assert [run["scheduled_for"] for run in result_lines(out)] == [
        "2025-01-01T12:01:00+00:00", "2025-01-01T12:03:00+00:00"]
    assert "skipped the run due at 2025-01-01 12:02 UTC: the previous run is still going" \
        in err.splitlines()


def test_a_failed_run_is_reported_and_the_schedule_goes_on(
    tmp_path: Path, load_script: Loader, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = node("div", "editFields", {"mode": "replace", "fields": {"v": "{{ 1 // 0 }}"}},
                label="Div")
    module = load_script(build(tmp_path, scheduled(work=work)))
    on_wall_clock(module, datetime(2025, 1, 1, tzinfo=UTC), monkeypatch)

    # Both runs happen; the exit code says one of them failed.
    assert module.run_schedule({}, max_runs=2) == 1

    out, err = capsys.readouterr()
    runs = result_lines(out)
    assert [run["status"] for run in runs] == ["failed", "failed"]
    assert runs[0]["error"].startswith("node 'div' (Div) failed: cannot evaluate")
    assert "run due at 2025-01-01 00:01 UTC: failed: node 'div' (Div) failed" in err


# -- the command line ------------------------------------------------------------------


def test_sigterm_stops_after_the_run_in_flight(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    work = node("llm", "groqCompletion", {"model": "openai/gpt-oss-20b",
                                          "prompt": "hello {{ input.who }}"}, label="LLM")
    script = build(tmp_path, scheduled(work=work))
    # This process's wall clock is shifted so the next minute is 0.3 s away.
    runner = tmp_path / "shifted.py"
    runner.write_text(textwrap.dedent(f"""
        import importlib.util, sys, time
        from datetime import UTC, datetime, timedelta
        spec = importlib.util.spec_from_file_location("pipeline", {str(script)!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules["pipeline"] = module
        spec.loader.exec_module(module)
        now = datetime.now(UTC)
        shift = now.replace(second=59, microsecond=700_000) - now
        module._utc_now = lambda: datetime.now(UTC) + shift
        sys.exit(module.main(sys.argv[1:]))
    """), encoding="utf-8")
    groq_server.update(latency_ms=1500)  # the run is still in flight when SIGTERM comes
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    environment.update(GROQ_BASE_URL=groq_server.base_url, GROQ_API_KEY="test-key")
    process = subprocess.Popen([sys.executable, str(runner), "--schedule"], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        # The run has started (its request is out, held 1.5 s by the server).
        while not any(line.endswith(": started\n") for line in seen):
            line = process.stderr.readline()
            assert line, (seen, process.communicate())
            seen.append(line)
        process.send_signal(signal.SIGTERM)
        out, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    err = "".join(seen) + rest

    assert process.returncode == 0, err
    (run,) = result_lines(out)
    assert run["status"] == "ok"
    assert run["outputs"]["llm"]["content"] == "Mock reply to: hello world"
    assert "stopping after the run in flight" in err.splitlines()
    assert len(groq_server.chat_requests()) == 1


def test_a_disabled_schedule_says_so_and_exits_0(tmp_path: Path) -> None:
    completed = run_script(build(tmp_path, scheduled(enabled=False)), "--schedule")

    assert (completed.returncode, completed.stdout) == (0, "")
    assert completed.stderr == "the schedule is disabled (enabled: false): nothing to run\n"


def test_schedule_on_a_workflow_without_one_is_an_error(tmp_path: Path) -> None:
    document = graph(node("hello", "log", {"message": "hi"}), inputs=INPUTS)

    completed = run_script(build(tmp_path, document), "--schedule")

    assert completed.returncode == 2
    assert completed.stderr == ("error: --schedule runs a workflow that starts on a schedule; "
                                "this one has no scheduledTask trigger\n")


def test_a_schedule_without_a_cron_expression_cannot_run(tmp_path: Path) -> None:
    completed = run_script(build(tmp_path, scheduled(schedule=None)), "--schedule")

    assert completed.returncode == 2
    assert completed.stderr == ("error: node 'cron' has no schedule; give it a cron expression "
                                "(e.g. 0 0 * * *)\n")


@pytest.mark.parametrize(("args", "message"), [
    (("--schedule", "--stream"), "--schedule runs the workflow with the same inputs"),
    (("--max-runs", "2"), "--max-runs goes with --schedule"),
    (("--schedule", "--max-runs", "0"), "--max-runs goes with --schedule and must be at least 1"),
])
def test_schedule_options_that_do_not_go_together(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    completed = run_script(build(tmp_path, scheduled()), *args)

    assert completed.returncode == 2
    assert message in completed.stderr


def test_bad_inputs_are_refused_before_the_first_tick(tmp_path: Path) -> None:
    completed = run_script(build(tmp_path, scheduled()), "--schedule", "--input", "nope=1")

    assert completed.returncode == 2
    assert completed.stderr.startswith("error: unknown input 'nope'")


def test_only_scheduled_scripts_carry_the_cron_library(tmp_path: Path) -> None:
    plain = build(tmp_path, graph(node("hello", "log", {"message": "hi"})), "plain")
    timed = build(tmp_path, scheduled(), "timed")

    assert "cronsim" not in plain.read_text()
    header = timed.read_text().split("# ///")[1]
    assert '"cronsim>=2.8,<3"' in header and '"tzdata>=2024.1"' in header


def test_a_manifest_trigger_schedules_the_workflow(tmp_path: Path, load_script: Loader) -> None:
    workflow = as_manifest(graph(node("hello", "log", {"message": "hi"}), inputs=INPUTS))
    workflow["workflows"]["main"]["trigger"] = {
        "type": "scheduledTask", "config": {"schedule": "@hourly", "timezone": "Asia/Tokyo"}}
    source = tmp_path / "manifest.json"
    source.write_text(json.dumps(workflow), encoding="utf-8")
    script = tmp_path / "manifest.py"
    script.write_text(compile_file(source, "main").source, encoding="utf-8")

    module = load_script(script)

    assert module.SCHEDULES == [
        {"node": None, "cron": "@hourly", "timezone": "Asia/Tokyo", "enabled": True}]


# -- checked when generating --------------------------------------------------------------


@pytest.mark.parametrize(("cron", "reason"), [
    ("61 * * * *", "bad minute"), ("0 0 * *", "wrong number of fields"),
    ("*/0 * * * *", "bad minute"), ("@reboot", "wrong number of fields"),
])
def test_an_invalid_cron_expression_is_an_error_with_examples(cron: str, reason: str) -> None:
    problem = only(diagnostics(scheduled(cron)), "invalid-cron")

    assert (problem.node_id, problem.path) == ("cron", "/nodes/0/data/config/schedule")
    assert problem.message.startswith(f"schedule: not a cron expression: {reason}")
    assert problem.hint is not None
    assert "0 0 * * * (daily at midnight)" in problem.hint and "@hourly" in problem.hint


@pytest.mark.parametrize("cron", ["0 9 * * 1-5", "@daily", "@WEEKLY", "0 0 L * *", "0 0 * * 5#2"])
def test_valid_cron_expressions_pass(cron: str) -> None:
    assert not [d for d in diagnostics(scheduled(cron)) if d.is_error]


def test_an_unknown_time_zone_suggests_a_close_one() -> None:
    problem = only(diagnostics(scheduled(timezone="Europe/Pariss")), "unknown-time-zone")

    assert (problem.node_id, problem.path) == ("cron", "/nodes/0/data/config/timezone")
    assert problem.hint is not None
    assert problem.hint.startswith("did you mean 'Europe/Paris'? an IANA time zone name, e.g. ")


def test_a_manifest_trigger_is_checked_too() -> None:
    workflow = as_manifest(graph(node("hello", "log", {"message": "hi"})))
    workflow["workflows"]["main"]["trigger"] = {
        "type": "scheduledTask", "config": {"schedule": "every day", "timezone": "Mars/Base"}}

    found = diagnostics(workflow, "main")

    assert only(found, "invalid-cron").path == "/workflows/main/trigger/config/schedule"
    assert only(found, "unknown-time-zone").path == "/workflows/main/trigger/config/timezone"


def test_a_schedule_cannot_be_an_expression() -> None:
    problem = only(diagnostics(scheduled("{{ input.who }}")), "expression-not-allowed")

    assert problem.path == "/nodes/0/data/config/schedule"


def test_a_missing_schedule_is_a_warning() -> None:
    problem = only(diagnostics(scheduled(schedule=None)), "missing-schedule")

    assert (problem.severity, problem.node_id) == ("warning", "cron")
    assert not [d for d in diagnostics(scheduled(schedule=None, enabled=False))
                if d.code == "missing-schedule"]


def test_the_manifest_fixture_of_the_original_editor_still_compiles() -> None:
    document = json.loads((Path(__file__).parent / "original_catalyst" /
                           "triggers_manifest.json").read_text(encoding="utf-8"))
    assert not [d for d in diagnostics(document, "nightly") if d.is_error]
