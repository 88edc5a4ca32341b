"""Benchmark: `POST /api/generate` after a one-node edit of a 100-node workflow.

The editor backend regenerates the script after every edit. This starts
`catalyst serve` in a child process (loopback, a temporary data directory),
posts the synthetic 100-node workflow of bench/codegen.py once (cold: every
block goes to black), then posts one-node edits, each to a different node, and
times each request end to end with httpx (client side: JSON in, script out,
over real HTTP). In the same run it times the same edits compiled without the
block cache (what `catalyst generate` does: black on the workflow's parts
whole), in this process, and prints the ratio.

Edit kinds:
    config  a groqCompletion's systemPrompt (the property panel): only that
            node's function changes
    label   a node's label: its function's comment and its row of the STEPS
            table change (black on the 100-row STEPS table is the cost)
    preview the config edit with ?format=false (no black at all)

Every figure is a median over --edits requests (the server's CPU per request
is a mean: /proc counts CPU in 10 ms ticks, so it is summed over the edits);
the check "same bytes"
compares every cached script with the uncached one.

Usage
    python bench/backend_generate.py [--nodes 100] [--edits 15]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from backend_server import Served
from codegen import build_workflow

from catalyst.backend import service

Document = dict[str, Any]


def edited(document: Document, index: int, kind: str) -> Document:
    copy_ = copy.deepcopy(document)
    completions = [n for n in copy_["nodes"] if n["type"] == "groqCompletion"]
    node = completions[(index * 7) % len(completions)]
    if kind == "label":
        node["data"]["label"] += f" (v{index})"
    else:
        node["data"]["config"]["systemPrompt"] += f" Edit {index}."
    return copy_


SERVER_MS: list[float] = []
SERVER_CPU_MS: list[float] = []


def post(client: httpx.Client, document: Document, *, formatted: bool = True
         ) -> tuple[float, str]:
    body = json.dumps({"document": document}).encode()
    started = time.perf_counter()
    answer = client.post("/api/generate", params={"format": str(formatted).lower()},
                         content=body, headers={"content-type": "application/json"})
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    timing = dict(item.strip().split(";dur=") for item in
                  answer.headers["server-timing"].split(","))
    SERVER_MS.append(float(timing["compile"]))
    SERVER_CPU_MS.append(float(timing["cpu"]))
    return elapsed, answer.json()["script"]


def process_cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def uncached(document: Document) -> tuple[float, str]:
    started = time.perf_counter()
    result = service.generate(document, None, cache=None)
    elapsed = (time.perf_counter() - started) * 1000
    script = result.payload["script"]
    assert isinstance(script, str)
    return elapsed, script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--edits", type=int, default=15)
    args = parser.parse_args(argv)
    document = build_workflow(args.nodes)
    uncached(document)  # warm this process: templates, the shared runtime parts
    with tempfile.TemporaryDirectory() as data, Served(Path(data)) as served:
        client = served.client
        cold, _ = post(client, document)
        rows = []
        same = True
        for kind in ("config", "label", "preview"):
            served_ms, plain_ms = [], []
            SERVER_MS.clear()
            SERVER_CPU_MS.clear()
            process_cpu = 0.0
            for index in range(args.edits):
                version = edited(document, index + (1000 if kind == "label" else 0),
                                 "label" if kind == "label" else "config")
                before = process_cpu_ms(served.process.pid)
                if kind == "preview":
                    ms, _script = post(client, version, formatted=False)
                    served_ms.append(ms)
                    process_cpu += process_cpu_ms(served.process.pid) - before
                    continue
                ms, script = post(client, version)
                served_ms.append(ms)
                process_cpu += process_cpu_ms(served.process.pid) - before
                ms_plain, expected = uncached(version)
                plain_ms.append(ms_plain)
                same = same and script == expected
            rows.append((kind, statistics.median(served_ms), max(served_ms),
                         statistics.median(SERVER_MS), statistics.median(SERVER_CPU_MS),
                         process_cpu / args.edits,
                         statistics.median(plain_ms) if plain_ms else None))
    print(f"python {sys.version.split()[0]}, {args.nodes} nodes, {args.edits} edits per kind; "
          "medians, wall time (perf_counter)")
    print(f"first POST /api/generate (cold cache): {cold:.0f} ms")
    print()
    print("| edit | POST /api/generate ms (median) | max ms | compiling ms (server) | "
          "compiling CPU ms | server CPU ms per request (mean) | without block cache ms | "
          "speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, median, worst, server, cpu, request_cpu, plain in rows:
        ratio = f"{plain / median:.1f}×" if plain else "-"
        plain_text = f"{plain:.0f}" if plain else "- (no black)"
        print(f"| {kind} | {median:.1f} | {worst:.1f} | {server:.1f} | {cpu:.1f} | "
              f"{request_cpu:.1f} | {plain_text} | {ratio} |")
    print()
    print(f"same bytes with and without the cache: {'yes' if same else 'NO'}")
    config = rows[0][1]
    print(f"server CPU per config-edit request: {rows[0][5]:.1f} ms (all threads, from /proc: "
          "what one idle core would take, less waiting)")
    print(f"one-node config edit: {config:.1f} ms end to end, target 50 ms: "
          f"{'met' if config <= 50 else 'NOT met'} (machine load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
