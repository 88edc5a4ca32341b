"""Batch runs on a Dask cluster (--dask, issue 10 item 5): generated scripts run
as subprocesses against the local Groq-protocol server, their records on a
LocalCluster of worker processes. Every record exactly once whatever dies: a
worker (Dask reruns its chunk elsewhere) or the client (a re-run resumes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ScriptRun, build, run_script
from test_batch import groq_workflow, ids_of, read_output, requested_texts, write_records

from catalyst.mock_groq import MockGroqServer

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.e2e

# A cluster-wide budget high enough that the limiters do not pace the run.
BUDGET = ("--rpm", "1000000", "--tpm", "1000000000")


def dask_batch(script: Path, source: Path, target: Path, *args: str,
               server: MockGroqServer | None, env: dict[str, str] | None = None,
               timeout: float = 120) -> ScriptRun:
    return run_script(script, "--batch", str(source), "--output", str(target), *args,
                      server=server, env=env, timeout=timeout)


def start(script: Path, source: Path, target: Path, server: MockGroqServer,
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
            pytest.fail(f"the batch ended before writing {count} lines: "
                        f"{process.returncode} {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.005)
    process.kill()
    pytest.fail(f"fewer than {count} result lines after {within} s")


def refused(run: ScriptRun) -> str:
    """Exit 2 with one `error: …` line and no traceback."""
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0], run.stderr
    return lines[0]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc): a LocalCluster's worker processes."""
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, set()).add(int(entry.name))
    found, pending = set(), [pid]
    while pending:
        for child in children.get(pending.pop(), ()):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def cluster(groq_server: MockGroqServer,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """A LocalCluster of 2 worker processes started by the test, as a remote
    cluster would be: (its client, its scheduler address). Workers inherit the
    environment that points them at the local server."""
    monkeypatch.setenv("GROQ_BASE_URL", groq_server.base_url)
    monkeypatch.setenv("GROQ_API_KEY", "test-key")
    yield from started_cluster()


def started_cluster() -> Iterator[tuple[Any, str]]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local, set_as_default=False) as client:
        yield client, local.scheduler_address


# -- without Dask, and refusals ---------------------------------------------------------


def test_header_does_not_list_dask_and_help_says_how_to_install(tmp_path: Path) -> None:
    script = build(tmp_path, groq_workflow())
    source = script.read_text(encoding="utf-8")
    header = source.split("# ///\n")[0]
    assert "dask" not in header and "distributed" not in header
    note = source.split("\nfrom __future__")[0]
    assert "pip install 'dask[distributed]'" in note

    run = run_script(script, "--help")

    assert run.returncode == 0
    assert "--dask ADDRESS" in run.stdout
    assert "pip install 'dask[distributed]'" in " ".join(run.stdout.split())


def test_dask_without_distributed_installed_is_one_line(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 3)
    target = tmp_path / "out.jsonl"
    # A module named `distributed` first on the path that fails to import: as
    # if the package were not installed.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "distributed.py").write_text("raise ImportError('No module named distributed')\n")

    run = dask_batch(script, source, target, "--dask", "local", *BUDGET, server=groq_server,
                     env={"PYTHONPATH": str(shim)})

    line = refused(run)
    assert line == ("error: --dask needs Dask's distributed scheduler, which is not "
                    "installed: pip install 'dask[distributed]'")
    assert not target.exists()
    assert groq_server.chat_requests() == []


def test_each_worker_paces_itself_with_its_share_of_a_models_budget(
    tmp_path: Path, load_script: Any
) -> None:
    # Without --rpm/--tpm, every worker process takes 1/N of each model's own
    # budget, so N workers together stay within it.
    module = load_script(build(tmp_path, groq_workflow()))
    model = "openai/gpt-oss-20b"
    own = module.CHAT_MODELS["groq"][model]["tokens_per_minute"]

    async def budget(shares: int) -> int:
        module.BUDGET_SHARES = shares
        module._LIMITERS.clear()
        limiter = module.rate_limiter("groq", model, {})
        return int(limiter.tokens_per_minute)

    assert asyncio.run(budget(1)) == own
    assert asyncio.run(budget(2)) == own // 2
    module.RATE_LIMITS["tokens_per_minute"] = 5000  # --tpm: this process's share already
    assert asyncio.run(budget(2)) == 5000


# -- on a cluster ----------------------------------------------------------------------


@pytest.mark.slow
def test_five_hundred_records_on_two_local_workers(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 500)
    target = tmp_path / "out.jsonl"

    run = dask_batch(script, source, target, "--dask", "local", "--dask-workers", "2",
                     "--concurrency", "8", *BUDGET, "--json", server=groq_server)

    assert run.returncode == 0, run.stderr
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(500)}
    assert all(line["status"] == "ok" for line in lines)
    by_id = {line["id"]: line for line in lines}
    assert by_id["r7"]["outputs"]["llm"]["content"] == "Mock reply to: record 7"
    summary = json.loads(run.stdout)
    assert (summary["records"], summary["ok"], summary["failed"]) == (500, 500, 0)
    assert summary["workers"] == 2
    assert Counter(requested_texts(groq_server)) == {f"record {i}": 1 for i in range(500)}

    # Done: running it again starts no cluster and changes nothing.
    before = target.read_bytes()
    again = dask_batch(script, source, target, "--dask", "local", *BUDGET, "--json",
                       server=groq_server)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["records"] == 0
    assert target.read_bytes() == before


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, groq_server: MockGroqServer, cluster: tuple[Any, str]
) -> None:
    client, address = cluster
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 500)
    target = tmp_path / "out.jsonl"
    groq_server.update(latency_ms=20)

    process = start(script, source, target, groq_server, "--dask", address,
                    "--concurrency", "8", *BUDGET, "--json")
    try:
        wait_for_lines(process, target, 60)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()

    assert process.returncode == 0, stderr
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(500)}
    assert all(line["status"] == "ok" for line in lines)
    assert json.loads(stdout)["records"] == 500
    # The worker was replaced, and it died with records in flight (cut requests
    # count too): its chunks ran again on a live worker, so some records were
    # asked twice, yet each was written once.
    assert victim not in client.run(os.getpid).values()
    requests = groq_server.chat_requests()
    assert len(requests) > 500
    asked = {request.body["messages"][-1]["content"] for request in requests if request.body}
    assert asked == {f"record {i}" for i in range(500)}


@pytest.mark.slow
def test_killed_client_resumes_exactly_the_remainder(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 400)
    target = tmp_path / "out.jsonl"
    groq_server.update(latency_ms=20)
    command = ("--dask", "local", "--dask-workers", "2", "--concurrency", "8", *BUDGET)

    process = start(script, source, target, groq_server, *command)
    try:
        wait_for_lines(process, target, 60)
        workers = descendants(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    # The worker processes notice their parent is gone and exit; wait for them,
    # so that nothing from the killed run reaches the server afterwards.
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "orphaned Dask workers kept running"
    # Lines ended by a line break; a last one without (torn, or whole but cut
    # before its break) is cut off and run again by the resume.
    written = {json.loads(line)["id"] for line in target.read_bytes().split(b"\n")[:-1]}
    assert 60 <= len(written) < 400
    # A request the killed run had in flight is recorded when the server has
    # answered it: wait until the recording stops growing before counting.
    asked_before, settled = -1, time.monotonic() + 30
    while asked_before != len(groq_server.chat_requests()) and time.monotonic() < settled:
        asked_before = len(groq_server.chat_requests())
        time.sleep(1.0)

    groq_server.update(latency_ms=0)
    run = dask_batch(script, source, target, *command, server=groq_server)

    assert run.returncode == 0, run.stderr
    lines = read_output(target)
    assert ids_of(lines) == {f"r{i}": 1 for i in range(400)}
    assert all(line["status"] == "ok" for line in lines)
    remainder = {f"record {record_id[1:]}" for record_id in
                 {f"r{i}" for i in range(400)} - written}
    assert Counter(requested_texts(groq_server, since=asked_before)) == dict.fromkeys(
        remainder, 1)



@pytest.mark.slow
def test_workers_without_the_api_key_write_nothing_and_exit_2(
    tmp_path: Path, groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers read their own environment (secrets are never sent over the
    # cluster); these lack the key. That is no record's failure: no line is
    # written, so a resume once the workers have it runs every record.
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    script = build(tmp_path, groq_workflow())
    source = write_records(tmp_path / "in.jsonl", 20)
    target = tmp_path / "out.jsonl"
    for _, address in started_cluster():
        run = dask_batch(script, source, target, "--dask", address, *BUDGET,
                         server=groq_server)

    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert ("error: on a Dask worker: environment variable GROQ_API_KEY is not set; "
            in run.stderr)
    assert "chunk(s) not run: run the same command again to resume" in run.stderr
    assert target.read_text() == ""
    assert groq_server.chat_requests() == []
