"""Service benchmark: a generated script's `serve` next to a hand-written FastAPI endpoint.

Both answer POST /ask with one Groq chat completion against the local
Groq-protocol server (latency 50 ms), each in its own uvicorn process on
loopback, one set of provider clients per process, logs at warning (no access
log) on both sides. The generated script runs with `--rpm 10000000 --max-concurrency
1000`: client-side pacing and the concurrency limit out of the way, since the
hand-written endpoint has neither.

Each round sends `--requests` (default 200) requests at once from one httpx
client and records every latency; rounds alternate between the two services
(after one warm-up round each). Reported per side: requests that failed, p50
and p99 latency over every round, and the p99 overhead above the server's own
50 ms; then the ratio of the p99s, measured side by side in this run. Target:
every request succeeds, p99 ratio <= 1.2x. A diagnostic row sends requests
one at a time (`--sequential`, after each round) for the cost of one request
without queueing.

Usage: python bench/service.py [--requests 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from catalyst.compiler import compile_file

LATENCY_MS = 50.0
MODEL = "openai/gpt-oss-20b"
API_KEY = "bench-key"

WORKFLOW = """{
  "id": "ask", "name": "Ask",
  "input": {"question": {"type": "string", "required": true}},
  "nodes": [
    {"id": "http", "type": "httpEndpoint", "position": {"x": 0, "y": 0},
     "data": {"label": "POST /ask", "config": {"method": "POST", "path": "/ask"}}},
    {"id": "answer", "type": "groqCompletion", "position": {"x": 200, "y": 0},
     "data": {"label": "Answer", "config": {"model": "MODEL_ID", "prompt": "{{ input.question }}"}}}
  ],
  "edges": [{"id": "e1", "source": "http", "target": "answer"}]
}""".replace("MODEL_ID", MODEL)

HAND_WRITTEN = '''
import contextlib
import sys

import groq
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

clients = {}


@contextlib.asynccontextmanager
async def lifespan(app):
    clients["groq"] = groq.AsyncGroq()
    yield
    await clients["groq"].close()


app = FastAPI(lifespan=lifespan)


class Ask(BaseModel):
    question: str


@app.post("/ask")
async def ask(body: Ask) -> dict:
    completion = await clients["groq"].chat.completions.create(
        model="MODEL_ID", messages=[{"role": "user", "content": body.question}]
    )
    return {"content": completion.choices[0].message.content,
            "usage": completion.usage.model_dump()}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''.replace("MODEL_ID", MODEL)


# The local server in a process of its own (the load client here would share
# its GIL), with room for every connection at once in its listen backlog.
PROVIDER_SERVER = """
import sys, threading
from catalyst.local_server.server import _HTTPServer
from catalyst.mock_groq import MockGroqServer, MockSettings
_HTTPServer.request_queue_size = 1024
with MockGroqServer(MockSettings(latency_ms=float(sys.argv[1]))) as server:
    print(server.base_url, flush=True)
    threading.Event().wait()
"""


@contextmanager
def provider_server() -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-c", PROVIDER_SERVER, str(LATENCY_MS)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started(command: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url + "/ask", json={"question": "warm"}, timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def one_round(url: str, requests: int) -> tuple[list[float], int]:
    """Latencies (ms) of `requests` requests sent at once; how many failed."""
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def ask(index: int) -> tuple[float, bool]:
            started_at = time.perf_counter()
            response = await client.post(url + "/ask", json={"question": f"q{index}"})
            ok = response.status_code == 200 and bool(response.json())
            return (time.perf_counter() - started_at) * 1000, ok

        results = await asyncio.gather(*(ask(i) for i in range(requests)),
                                       return_exceptions=True)
    latencies = [r[0] for r in results if isinstance(r, tuple) and r[1]]
    return latencies, requests - len(latencies)


async def one_at_a_time(url: str, requests: int) -> list[float]:
    """Latencies (ms) of `requests` requests sent one after another on one connection."""
    async with httpx.AsyncClient(timeout=60) as client:
        latencies = []
        for index in range(requests):
            started_at = time.perf_counter()
            response = await client.post(url + "/ask", json={"question": f"q{index}"})
            response.raise_for_status()
            latencies.append((time.perf_counter() - started_at) * 1000)
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=40,
                        help="requests one at a time per round (diagnostic: per-request cost)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="catalyst-bench-service-") as folder, \
            provider_server() as base_url:
        workflow = Path(folder) / "ask.json"
        workflow.write_text(WORKFLOW, encoding="utf-8")
        generated = Path(folder) / "ask.py"
        generated.write_text(compile_file(workflow).source, encoding="utf-8")
        hand = Path(folder) / "hand.py"
        hand.write_text(HAND_WRITTEN, encoding="utf-8")
        env = {**os.environ, "GROQ_API_KEY": API_KEY, "GROQ_BASE_URL": base_url}
        generated_port, hand_port = free_port(), free_port()
        sides = {
            "generated `serve`": [sys.executable, str(generated), "serve", "--port",
                                  str(generated_port), "--log-level", "warning", "--rpm",
                                  "10000000", "--max-concurrency", "1000"],
            "hand-written FastAPI": [sys.executable, str(hand), str(hand_port)],
        }
        latencies: dict[str, list[float]] = {name: [] for name in sides}
        failed = dict.fromkeys(sides, 0)
        alone: dict[str, list[float]] = {name: [] for name in sides}
        with started(sides["generated `serve`"], generated_port, env) as generated_url, \
                started(sides["hand-written FastAPI"], hand_port, env) as hand_url:
            urls = {"generated `serve`": generated_url, "hand-written FastAPI": hand_url}
            for name in sides:  # warm-up: connections, imports, first-call paths
                asyncio.run(one_round(urls[name], args.requests))
            for index in range(args.rounds):
                order = list(sides) if index % 2 == 0 else list(reversed(sides))
                for name in order:
                    round_latencies, round_failed = asyncio.run(
                        one_round(urls[name], args.requests))
                    latencies[name] += round_latencies
                    failed[name] += round_failed
                    alone[name] += asyncio.run(one_at_a_time(urls[name], args.sequential))
    print(f"# {platform.python_version()}, {os.cpu_count()} CPUs; {args.requests} concurrent "
          f"requests x {args.rounds} rounds per side; server latency {LATENCY_MS:g} ms")
    print("| side | failed | p50 ms | p99 ms | p99 overhead above 50 ms |")
    print("|---|---|---|---|---|")
    p99 = {}
    for name in sides:
        values = latencies[name]
        p99[name] = percentile(values, 0.99)
        print(f"| {name} | {failed[name]} | {statistics.median(values):.1f} | "
              f"{p99[name]:.1f} | {p99[name] - LATENCY_MS:.1f} |")
    ratio = p99["generated `serve`"] / p99["hand-written FastAPI"]
    p50_ratio = statistics.median(latencies["generated `serve`"]) / statistics.median(
        latencies["hand-written FastAPI"])
    print(f"\np99 ratio generated / hand-written: {ratio:.2f}x (target <= 1.2x); "
          f"p50 ratio {p50_ratio:.2f}x")
    one = {name: statistics.median(values) for name, values in alone.items()}
    print(f"diagnostic, one request at a time: median {one['generated `serve`']:.1f} ms vs "
          f"{one['hand-written FastAPI']:.1f} ms "
          f"({one['generated `serve`'] - one['hand-written FastAPI']:+.1f} ms a request)")
    ok = not any(failed.values()) and ratio <= 1.2
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
