"""Benchmark: how long Catalyst takes to turn a workflow into a script, by stage and size.

This is a benchmark, not a test: it asserts nothing about speed. It builds
synthetic editor-graph workflows of the requested sizes (10, 100 and 1000 nodes
by default), checks that each one compiles without errors, and then runs the
whole pipeline on it several times, timing every stage with
`time.perf_counter` in the same run:

    load    json.loads of the serialised document + `load_document`
    check   `check_workflow` (diagnostics, configs, expression analysis, cycles)
    plan    `plan_workflow`
    render  `render_parts` (Jinja)
    black   `format_parts` (black, line length 100; the shared runtime parts
            are formatted once per process and reused, as in `catalyst`)

How the workflows look
    Each block of ten nodes is a small, realistic AI pipeline: a promptTemplate
    feeds three groqCompletion calls (fan-out), an editFields node merges their
    outputs (fan-in) through expressions such as
    ``{{ nodes['b3_gen_a'].output.content }}``, a condition picks one of two
    editFields branches, a log joins them, and a last groqCompletion condenses
    the block. Block b+1 starts from block b's log and reads block b's merge
    through an expression, so the graph is one long connected DAG. Sizes that
    are not a multiple of ten end in a promptTemplate → groqCompletion chain.
    Construction is fully deterministic (no randomness at all).

How to read the output
    Every figure is a median over --repeat runs (one untimed warm-up run per
    size first, so template compilation and imports are not counted). The
    stage columns are medians of each stage; "total" is the median of the
    per-run totals, so it need not equal the sum of the stage medians exactly.
    Shares are each stage's median divided by the sum of the stage medians.
    "ms/node" is total / nodes: if the pipeline were linear it would stay
    flat as size grows. The ratio lines compare per-node cost of each size
    against the smallest; a ratio well above 1× means superlinear growth in
    that stage. Peak memory is measured with tracemalloc in a separate, untimed
    run on the largest size (tracemalloc slows Python down, so it never overlaps
    the timed runs).

Usage
    python bench/codegen.py [--sizes 10,100,1000] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalyst.formatting import format_parts
from catalyst.loading import load_document
from catalyst.planning import plan_workflow
from catalyst.rendering import render_parts
from catalyst.validation import CheckedWorkflow, check_workflow

Document = dict[str, Any]
STAGES: tuple[str, ...] = ("load", "check", "plan", "render", "black")
REST: tuple[str, ...] = STAGES[:-1]
BLOCK_SIZE = 10
MODELS: tuple[str, ...] = ("openai/gpt-oss-20b", "openai/gpt-oss-120b")


# --------------------------------------------------------------------------- workflows


def _node(node_id: str, node_type: str, label: str, config: Document) -> Document:
    return {
        "id": node_id,
        "type": node_type,
        "position": {"x": 0, "y": 0},
        "data": {"label": label, "config": config},
    }


def _edge(source: str, target: str, source_handle: str = "output",
          target_handle: str = "input") -> Document:
    return {
        "id": f"e_{source}__{target}",
        "source": source,
        "target": target,
        "sourceHandle": source_handle,
        "targetHandle": target_handle,
    }


def _completion(node_id: str, label: str, index: int, prompt: str | None = None) -> Document:
    config: Document = {
        "model": MODELS[index % len(MODELS)],
        "systemPrompt": f"You are analyst number {index}. Be brief.",
        "temperature": round(0.1 * (index % 5), 1),
        "maxTokens": 200 + index % 3 * 100,
    }
    if prompt is not None:
        config["prompt"] = prompt
    return _node(node_id, "groqCompletion", label, config)


def _block(b: int) -> tuple[list[Document], list[Document]]:
    """Ten nodes: prompt → 3 completions → merge → condition → 2 branches → log → summary."""
    p = f"b{b}_"
    previous = f"b{b - 1}_"
    context = (f"Earlier finding: {{{{ nodes['{previous}merge'].output.key_points }}}}\n"
               if b else "")
    nodes = [
        _node(p + "prompt", "promptTemplate", f"Prompt {b}", {"messages": [
            {"role": "system",
             "content": "You analyse {{ input.topic }} for {{ input.audience }}."},
            {"role": "user", "content": context + f"Part {b}: {{{{ input.text }}}}"},
        ]}),
        _completion(p + "gen_a", f"Sentiment {b}", 3 * b),
        _completion(p + "gen_b", f"Key points {b}", 3 * b + 1),
        _completion(p + "gen_c", f"Critique {b}", 3 * b + 2,
                    prompt=f"Critique this: {{{{ nodes['{p}gen_a'].output.content }}}}"),
        _node(p + "merge", "editFields", f"Merge {b}", {"mode": "replace", "fields": [
            {"name": "sentiment", "value": f"{{{{ nodes['{p}gen_a'].output.content }}}}"},
            {"name": "key_points", "value": f"{{{{ nodes['{p}gen_b'].output.content }}}}"},
            {"name": "critique", "value": f"{{{{ nodes['{p}gen_c'].output.content }}}}"},
            {"name": "tokens", "value": f"{{{{ nodes['{p}gen_a'].output.usage.total_tokens"
                                        f" + nodes['{p}gen_b'].output.usage.total_tokens }}}}"},
            {"name": "part", "value": b},
        ]}),
        _node(p + "check", "condition", f"Positive {b}?", {
            "expression": f"'positive' in nodes['{p}gen_a'].output.content | lower"}),
        _node(p + "keep", "editFields", f"Keep {b}", {"mode": "merge", "fields": {
            "queue": "publish",
            "note": f"{{{{ nodes['{p}gen_b'].output.content | truncate(80) }}}}"}}),
        _node(p + "review", "editFields", f"Review {b}", {"mode": "merge", "fields": {
            "queue": "review", "reason": f"{{{{ nodes['{p}gen_c'].output.content }}}}"}}),
        _node(p + "log", "log", f"Log {b}", {
            "level": "info", "message": f"part {b} of {{{{ input.topic }}}} done",
            "data": {"tokens": f"{{{{ nodes['{p}merge'].output.tokens }}}}"}}),
        _completion(p + "summary", f"Summary {b}", 3 * b,
                    prompt=f"Summarise: {{{{ nodes['{p}merge'].output.key_points }}}}"),
    ]
    edges = [
        _edge(p + "prompt", p + "gen_a"),
        _edge(p + "prompt", p + "gen_b"),
        _edge(p + "prompt", p + "gen_c"),
        _edge(p + "gen_a", p + "merge"),
        _edge(p + "gen_b", p + "merge"),
        _edge(p + "gen_c", p + "merge"),
        _edge(p + "merge", p + "check"),
        _edge(p + "check", p + "keep", source_handle="true"),
        _edge(p + "check", p + "review", source_handle="false"),
        _edge(p + "keep", p + "log"),
        _edge(p + "review", p + "log"),
        _edge(p + "log", p + "summary"),
    ]
    if b:
        edges.append(_edge(previous + "log", p + "prompt"))
    return nodes, edges


def _tail(count: int, after: str | None) -> tuple[list[Document], list[Document]]:
    """`count` nodes alternating promptTemplate → groqCompletion, chained after `after`."""
    nodes: list[Document] = []
    edges: list[Document] = []
    previous = after
    for i in range(count):
        node_id = f"tail_{i}"
        if i % 2 == 0:
            nodes.append(_node(node_id, "promptTemplate", f"Tail prompt {i}", {"messages": [
                {"role": "user", "content": f"Follow-up {i} on {{{{ input.topic }}}}"}]}))
        else:
            nodes.append(_completion(node_id, f"Tail completion {i}", i))
        if previous is not None:
            edges.append(_edge(previous, node_id))
        previous = node_id
    return nodes, edges


def build_workflow(size: int) -> Document:
    """A deterministic editor-graph workflow with exactly `size` nodes."""
    nodes: list[Document] = []
    edges: list[Document] = []
    blocks, rest = divmod(size, BLOCK_SIZE)
    for b in range(blocks):
        block_nodes, block_edges = _block(b)
        nodes += block_nodes
        edges += block_edges
    tail_nodes, tail_edges = _tail(rest, f"b{blocks - 1}_log" if blocks else None)
    nodes += tail_nodes
    edges += tail_edges
    return {
        "id": f"synthetic-{size}",
        "name": f"Synthetic workflow, {size} nodes",
        "description": "Generated by bench/codegen.py.",
        "input": {
            "text": {"type": "string", "required": True, "description": "Text to analyse"},
            "topic": {"type": "string", "default": "a product", "description": "Topic"},
            "audience": {"type": "string", "default": "engineers", "description": "Audience"},
        },
        "nodes": nodes,
        "edges": edges,
    }


# --------------------------------------------------------------------------- pipeline


def _load_and_check(raw: bytes, name: str) -> CheckedWorkflow:
    loaded = load_document(json.loads(raw), source_name=name, raw=raw)
    if loaded.workflow is None:
        raise SystemExit(f"{name}: did not load: {loaded.diagnostics}")
    return check_workflow(loaded.workflow)


def validate(document: Document, size: int) -> tuple[bytes, str]:
    """Serialise the workflow and fail loudly unless it checks without errors."""
    raw = json.dumps(document).encode()
    name = f"synthetic_{size}.json"
    if len(document["nodes"]) != size:
        raise SystemExit(f"{name}: built {len(document['nodes'])} nodes, wanted {size}")
    checked = _load_and_check(raw, name)
    errors = [d for d in checked.diagnostics if d.is_error]
    if errors:
        details = "\n".join(f"  {d.code} at {d.path}: {d.message}" for d in errors[:20])
        raise SystemExit(f"{name}: {len(errors)} error(s) before timing:\n{details}")
    return raw, name


class _GcClock:
    """Wall time spent inside the cyclic garbage collector, via gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


@dataclass(frozen=True)
class Sample:
    """One pass through the pipeline."""

    wall: dict[str, float]  # seconds per stage, time.perf_counter
    cpu: dict[str, float]  # seconds per stage, time.process_time (this process only)
    gc: dict[str, float]  # seconds per stage spent in the cyclic GC (wall)
    script: str


def run_once(raw: bytes, name: str) -> Sample:
    """One pass through the pipeline, each stage timed on its own."""
    stages: dict[str, Callable[[Any], Any]] = {
        "load": lambda data: load_document(json.loads(data), source_name=name, raw=data).workflow,
        "check": check_workflow,
        "plan": plan_workflow,
        "render": render_parts,
        "black": format_parts,
    }
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    in_gc: dict[str, float] = {}
    gc_clock = _GcClock()
    gc.callbacks.append(gc_clock)
    value: Any = raw
    try:
        for stage, step in stages.items():
            gc_before = gc_clock.seconds
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            value = step(value)
            wall[stage] = time.perf_counter() - wall_start
            cpu[stage] = time.process_time() - cpu_start
            in_gc[stage] = gc_clock.seconds - gc_before
    finally:
        gc.callbacks.remove(gc_clock)
    return Sample(wall, cpu, in_gc, value)


@dataclass(frozen=True)
class SizeResult:
    nodes: int
    wall: dict[str, float]  # median seconds per stage
    cpu: dict[str, float]  # median CPU seconds per stage
    gc: dict[str, float]  # median GC seconds per stage
    total: float  # median of per-run wall totals, seconds
    cpu_total: float  # median of per-run CPU totals, seconds
    lines: int  # lines in the formatted script
    runs: int

    @property
    def per_node_ms(self) -> float:
        return self.total * 1000 / self.nodes

    @property
    def cpu_per_node_ms(self) -> float:
        return self.cpu_total * 1000 / self.nodes

    def share(self, *stages: str) -> float:
        return sum(self.wall[s] for s in stages) / sum(self.wall.values())

    def ms(self, *stages: str) -> float:
        return sum(self.wall[s] for s in stages) * 1000

    def stage_per_node_ms(self, stage: str) -> float:
        return self.wall[stage] * 1000 / self.nodes


def _medians(samples: list[Sample], field: str) -> dict[str, float]:
    return {s: statistics.median(getattr(x, field)[s] for x in samples) for s in STAGES}


def measure(size: int, repeat: int) -> SizeResult:
    raw, name = validate(build_workflow(size), size)
    samples: list[Sample] = []
    for _ in range(repeat):
        gc.collect()
        samples.append(run_once(raw, name))
    return SizeResult(
        nodes=size,
        wall=_medians(samples, "wall"),
        cpu=_medians(samples, "cpu"),
        gc=_medians(samples, "gc"),
        total=statistics.median(sum(x.wall.values()) for x in samples),
        cpu_total=statistics.median(sum(x.cpu.values()) for x in samples),
        lines=samples[-1].script.count("\n"),
        runs=repeat,
    )


def warm_up() -> None:
    """Compile the Jinja templates and fill lazy caches once, outside any timing."""
    raw, name = validate(build_workflow(BLOCK_SIZE), BLOCK_SIZE)
    run_once(raw, name)


def peak_memory(size: int, *, with_black: bool) -> int:
    """Peak bytes traced (tracemalloc) during one pass on `size` nodes."""
    raw, name = validate(build_workflow(size), size)
    gc.collect()
    tracemalloc.start()
    try:
        loaded = load_document(json.loads(raw), source_name=name, raw=raw)
        assert loaded.workflow is not None
        parts = render_parts(plan_workflow(check_workflow(loaded.workflow)))
        if with_black:
            format_parts(parts)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


# --------------------------------------------------------------------------- report


def _cell(result: SizeResult, *stages: str) -> str:
    return f"{result.ms(*stages):.1f} ({result.share(*stages):.0%})"


def table(results: list[SizeResult]) -> str:
    """Wall-time medians: total, per node, and where the time goes."""
    header = ("| nodes | script lines | runs | total ms | ms/node | CPU ms/node "
              "| load+check ms | plan ms | render ms | rest share | black ms |")
    rule = "|" + "|".join("---:" for _ in range(11)) + "|"
    rows = [header, rule]
    for r in results:
        rows.append(
            f"| {r.nodes} | {r.lines} | {r.runs} | {r.total * 1000:.0f} | {r.per_node_ms:.2f} "
            f"| {r.cpu_per_node_ms:.2f} | {_cell(r, 'load', 'check')} | {_cell(r, 'plan')} "
            f"| {_cell(r, 'render')} | {r.share(*REST):.0%} | {_cell(r, 'black')} |"
        )
    return "\n".join(rows)


def stage_table(results: list[SizeResult]) -> str:
    """Per-node cost of each stage (wall ms/node), and how much of black is GC."""
    header = ("| nodes | " + " | ".join(f"{s} ms/node" for s in STAGES)
              + " | GC share of black | black µs/script line |")
    rule = "|" + "|".join("---:" for _ in range(len(STAGES) + 3)) + "|"
    rows = [header, rule]
    for r in results:
        cells = " | ".join(f"{r.stage_per_node_ms(s):.3f}" for s in STAGES)
        gc_share = r.gc["black"] / r.wall["black"]
        per_line = r.wall["black"] * 1e6 / r.lines
        rows.append(f"| {r.nodes} | {cells} | {gc_share:.0%} | {per_line:.0f} |")
    return "\n".join(rows)


def _stage_ratios(new: SizeResult, old: SizeResult) -> str:
    return ", ".join(
        f"{s} {new.stage_per_node_ms(s) / old.stage_per_node_ms(s):.1f}×" for s in STAGES
    )


def ratios(results: list[SizeResult]) -> list[str]:
    """Per-node cost against the smallest size, and marginal cost between sizes."""
    base = results[0]
    lines = []
    for r in results[1:]:
        lines.append(
            f"per-node cost at {r.nodes} vs at {base.nodes}: "
            f"{r.per_node_ms / base.per_node_ms:.2f}× wall, "
            f"{r.cpu_per_node_ms / base.cpu_per_node_ms:.2f}× CPU "
            f"({_stage_ratios(r, base)})"
        )
    # The script has a fixed part (the runtime) that flatters large sizes above;
    # the cost of each extra node between two sizes leaves it out.
    marginals = [
        (small, large, (large.total - small.total) * 1000 / (large.nodes - small.nodes))
        for small, large in itertools.pairwise(results)
    ]
    for small, large, cost in marginals:
        lines.append(f"marginal cost per added node, {small.nodes}→{large.nodes}: {cost:.2f} ms")
    for (s1, l1, c1), (s2, l2, c2) in itertools.pairwise(marginals):
        lines.append(f"marginal per-node cost {s2.nodes}→{l2.nodes} vs {s1.nodes}→{l1.nodes}: "
                     f"{c2 / c1:.2f}×")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10,100,1000",
                        help="comma-separated node counts (default: 10,100,1000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per size; medians are reported (default: 3)")
    parser.add_argument("--memory", choices=("compiler", "all", "off"), default="compiler",
                        help="tracemalloc peak at the largest size: compiler = load..render "
                        "(default, a few seconds), all = the whole pipeline with black "
                        "(tracemalloc makes black ~4x slower: adds about a minute at 1000 "
                        "nodes), off")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes must be comma-separated integers")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_memory(size: int, mode: str) -> str | None:
    if mode == "off":
        return None
    with_black = mode == "all"
    _progress(f"  tracing memory at {size} nodes ({'with' if with_black else 'without'} black)")
    peak = peak_memory(size, with_black=with_black)
    what = "whole pipeline" if with_black else "load+check+plan+render, black not traced"
    return f"peak traced memory (tracemalloc), {size} nodes, {what}: {peak / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print(f"python {platform.python_version()}, sizes {args.sizes}, "
          f"{args.repeat} timed runs each; medians of wall time (perf_counter)")
    warm_up()
    results = []
    for size in args.sizes:
        _progress(f"  timing {size} nodes × {args.repeat}")
        results.append(measure(size, args.repeat))
    memory = report_memory(args.sizes[-1], args.memory)
    print()
    print(table(results))
    print()
    print(stage_table(results))
    print()
    for line in ratios(results):
        print(line)
    if memory:
        print(memory)
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
