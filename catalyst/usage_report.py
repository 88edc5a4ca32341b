"""`catalyst usage FILE`: totals of a generated script's usage log (`--usage-log`)
by model, by node and by day: calls, errors, tokens in and out, cost, mean latency.

A usage log is data from a run, possibly a killed one or a file someone edited:
a line that is not a usage line (torn, not JSON, wrong types) is counted and
reported, never fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# How many malformed line numbers a report names (the count is always whole).
MAX_NAMED_LINES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="FILE", help="a usage log (--usage-log of a script)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


@dataclass
class Totals:
    calls: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    timed: int = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.calls += 1
        self.errors += entry["status"] != "ok"
        self.tokens_in += entry["tokens_in"]
        self.tokens_out += entry["tokens_out"]
        self.cost_usd += entry["cost_usd"] or 0.0
        if entry["latency_ms"] is not None:
            self.latency_ms += entry["latency_ms"]
            self.timed += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 8),
            "mean_latency_ms": round(self.latency_ms / self.timed, 1) if self.timed else None,
        }


@dataclass
class UsageSummary:
    lines: int = 0
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    total: Totals = field(default_factory=Totals)
    by_model: dict[tuple[str, str], Totals] = field(default_factory=dict)
    by_node: dict[tuple[str, str], Totals] = field(default_factory=dict)
    by_day: dict[str, Totals] = field(default_factory=dict)

    def add(self, entry: dict[str, Any]) -> None:
        self.total.add(entry)
        self.by_model.setdefault((entry["provider"], entry["model"]), Totals()).add(entry)
        self.by_node.setdefault((entry["workflow"], entry["node"]), Totals()).add(entry)
        self.by_day.setdefault(entry["time"][:10], Totals()).add(entry)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "malformed": self.malformed,
            "malformed_lines": self.malformed_lines,
            "total": self.total.to_dict(),
            "by_model": [{"provider": provider, "model": model, **totals.to_dict()}
                         for (provider, model), totals in sorted(self.by_model.items())],
            "by_node": [{"workflow": workflow, "node": node, **totals.to_dict()}
                        for (workflow, node), totals in sorted(self.by_node.items())],
            "by_day": [{"day": day, **totals.to_dict()}
                       for day, totals in sorted(self.by_day.items())],
        }


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


_FIELDS: dict[str, Callable[[Any], bool]] = {
    "time": lambda v: isinstance(v, str) and len(v) >= 10 and v[4] == "-" and v[7] == "-",
    "workflow": lambda v: isinstance(v, str),
    "node": lambda v: isinstance(v, str),
    "provider": lambda v: isinstance(v, str),
    "model": lambda v: isinstance(v, str),
    "tokens_in": _is_count,
    "tokens_out": _is_count,
    "latency_ms": lambda v: v is None or _is_number(v),
    "cost_usd": lambda v: v is None or _is_number(v),
    "status": lambda v: v in ("ok", "error"),
}


def usage_entry(line: bytes) -> dict[str, Any] | None:
    """One usage line as a dict; None when it is not one."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict):
        return None
    if not all(name in entry and valid(entry[name]) for name, valid in _FIELDS.items()):
        return None
    return entry


def _lines(path: str) -> Iterator[bytes]:
    """The lines of a regular file; OSError for anything else (a FIFO, a device)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        yield from file


def summarize(path: str) -> UsageSummary:
    summary = UsageSummary()
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        summary.lines += 1
        entry = usage_entry(line)
        if entry is None:
            summary.malformed += 1
            if len(summary.malformed_lines) < MAX_NAMED_LINES:
                summary.malformed_lines.append(number)
            continue
        summary.add(entry)
    return summary


def _table(title: str, keys: list[str], rows: list[dict[str, Any]]) -> str:
    headers = [*keys, "calls", "errors", "tokens in", "tokens out", "cost $", "mean latency"]
    lines = [
        [*(str(row[key]) for key in keys), f"{row['calls']:,}", f"{row['errors']:,}",
         f"{row['tokens_in']:,}", f"{row['tokens_out']:,}", f"{row['cost_usd']:.6f}",
         "-" if row["mean_latency_ms"] is None else f"{row['mean_latency_ms']:,.1f} ms"]
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *lines, strict=False)]
    text = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *lines]
    )
    return f"{title}\n{text}"


def format_summary(report: dict[str, Any]) -> str:
    total = report["total"]
    latency = total["mean_latency_ms"]
    return "\n\n".join([
        _table("by model", ["provider", "model"], report["by_model"]),
        _table("by node", ["workflow", "node"], report["by_node"]),
        _table("by day (UTC)", ["day"], report["by_day"]),
        f"total: {total['calls']:,} call(s), {total['errors']:,} error(s), "
        f"{total['tokens_in']:,} tokens in, {total['tokens_out']:,} out, "
        f"${total['cost_usd']:.6f}, mean latency "
        + ("-" if latency is None else f"{latency:,.1f} ms"),
    ])


def malformed_note(report: dict[str, Any]) -> str | None:
    if not report["malformed"]:
        return None
    named = ", ".join(str(number) for number in report["malformed_lines"])
    more = ", …" if report["malformed"] > len(report["malformed_lines"]) else ""
    return (f"{report['malformed']} of {report['lines']} line(s) are not usage lines and "
            f"were skipped (line {named}{more})")
