# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "aiolimiter>=1.1,<2",
#     "fastapi>=0.115,<1",
#     "groq>=1.7,<2",
#     "httpx>=0.23,<1",
#     "jinja2>=3.1.6,<4",
#     "pydantic>=2.7,<3",
#     "uvicorn>=0.30,<1",
# ]
# ///
# Optional: --dask (a batch on a Dask cluster) also needs `pip install 'dask[distributed]'`;
# it is not listed above because nothing else in the script uses it.
# Workflow 'Triage a message', compiled by Catalyst 0.1.0
# from 'support_triage.json' (content sha256 51f8da26402b5280).
# This script does not need Catalyst: run it, read it, ship it. Regenerating
# overwrites edits; `catalyst check` tells when it is stale.
from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import contextvars
import copy
import functools
import hmac
import inspect
import json
import math
import os
import random
import re
import signal
import stat
import sys
import threading
import time
import traceback
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import groq
import httpx
import uvicorn
from aiolimiter import AsyncLimiter
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    create_model,
)

WORKFLOW = {
    "id": "triage",
    "name": "Triage a message",
    "description": "Classify a message and escalate it when it is urgent.",
    "source": "support_triage.json",
    "trigger": {"type": "httpEndpoint", "config": {"method": "POST", "path": "/api/v1/triage"}},
}
INPUTS: dict[str, dict[str, Any]] = {
    "message": {"type": "string", "required": True, "description": "The customer's message"},
    "customer": {
        "type": "string",
        "required": False,
        "description": "Customer name",
        "default": "anonymous",
    },
}
GLOBALS: dict[str, Any] = {
    "DEFAULT_MODEL": "openai/gpt-oss-20b",
    "MAX_TOKENS": 300,
    "TEAM": "Support",
}
REQUIRED_ENV: tuple[str, ...] = ("GROQ_API_KEY",)
# Environment variables holding secrets, with what they are for (shown by --help).
SECRETS: dict[str, str] = {"GROQ_API_KEY": "Groq API key"}
# How nodes run (the workflow's executionConfig): the whole run's time limit in
# seconds, node-level retry delay in seconds and how it grows.
RUN_TIMEOUT_S: float | None = 60.0
RETRY_DELAY_S = 0.5
RETRY_BACKOFF = "exponential"
DEFAULT_RETRIES = 2
# Rate limits and overload (429, 5xx) are not failures: a run retries them with
# pauses growing to RATE_LIMIT_BACKOFF_CAP_S until this many seconds after it
# began (--record-timeout).
RECORD_TIMEOUT_S = 600.0
# Which failed records a batch re-run tries again: "transient" (rate limits,
# overload, timeouts), "all" (--retry-failed) or "none" (--no-retry-failed).
RETRY_FAILED = "transient"
RATE_LIMIT_BACKOFF_CAP_S = 30.0
# Client-side budgets for every model (--rpm / --tpm); None: each model's own.
RATE_LIMITS: dict[str, int | None] = {"requests_per_minute": None, "tokens_per_minute": None}


# Every timing decision reads this clock and waits with this sleep (retry
# delays, rate-limit pauses, breaker cool-downs, latencies), so a test can
# drive a fake clock instead of waiting for, or racing, the real one.
_now = time.perf_counter
_sleep = asyncio.sleep
# A node still running after this many seconds is announced on stderr in CLI
# runs (then after twice, four times as long…).
STILL_WAITING_S = 10.0
# Who hears one-line notices (slow nodes, rate-limit waits): the CLI adds a
# printer to stderr; library use hears nothing.
NOTICE_HANDLERS: list[Callable[[str], None]] = []


def _announce(text: str) -> None:
    for handler in NOTICE_HANDLERS:
        handler(text)


# user:password@ (or a bare token@) in a URL, secret-looking query parameters and API keys.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_URL_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access_token|secret|password|sig)=)[^&\s#]*",
    re.IGNORECASE,
)
_API_KEY = re.compile(r"(?P<prefix>gsk_|sk-ant-|sk-proj-|sk-)[A-Za-z0-9_\-]{16,}")


def _redact_urls(text: str) -> str:
    """`http://user:pass@host/?token=x` -> `http://***@host/?token=***`; keys cut to `gsk_…`."""
    text = _URL_USERINFO.sub(lambda m: m["scheme"] + "***@", text)
    text = _URL_QUERY_SECRET.sub(lambda m: m["name"] + "***", text)
    return _API_KEY.sub(lambda m: m["prefix"] + "…", text)


def _printable(text: str) -> str:
    """`text` safe for a terminal: control and format characters escaped
    (other than line breaks and tabs), credentials redacted."""
    return _redact_urls("".join(_escape_char(char) for char in text))


def _escape_char(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class WorkflowError(Exception):
    """A failure with a message a user can act on: one line, exit code 1.
    Credentials in URLs never reach the message."""

    def __init__(self, message: object = "") -> None:
        super().__init__(_redact_urls(str(message)))


class ConfigurationError(WorkflowError):
    """A failure no retry or fallback can mend (a rejected key, a missing
    permission): it fails the run whatever the node's onError says."""


class InputError(WorkflowError):
    """The inputs or the environment are wrong: exit code 2."""


class TransientError(WorkflowError):
    """A failure worth another try (a cut stream): the node's retries apply."""


class RateLimited(TransientError):
    """The provider asks to slow down or is overloaded (429, 5xx) on every model
    the node may use. Not a failure of the run: retried with growing, jittered
    pauses until RECORD_TIMEOUT_S has passed since the run began, however many
    tries that takes (the shared 429 pause comes on top)."""


class NodeFailed(WorkflowError):
    """A node raised; names the node so the failure maps back to the canvas."""

    def __init__(
        self, node_id: str, label: str, reason: str, fatal: bool = False, transient: bool = False
    ) -> None:
        super().__init__(f"node {node_id!r} ({label}) failed: {reason}")
        self.node_id = node_id
        # A ConfigurationError: onError does not apply.
        self.fatal = fatal
        # Only rate limits or overload: a later run (a batch re-run) may well succeed.
        self.transient = transient


EventHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Link:
    """An edge into a port: the node it comes from, the output field it
    carries (None: the whole output) and the branch it needs to be live."""

    source: str
    field: str | None = None
    branch: str | None = None
    # The port's type when the value must be converted on arrival (to_port_type).
    to: str | None = None


@dataclass(frozen=True)
class Step:
    """One node as the scheduler sees it."""

    id: str
    label: str
    run: Callable[[NodeContext, dict[str, Any]], Awaitable[Any]]
    links: dict[str, tuple[Link, ...]] = field(default_factory=dict)
    # Nodes to wait for without taking a value (expression reads, start edges).
    after: tuple[str, ...] = ()
    # Seconds per attempt (None: no limit) and retries after a timeout or a
    # TransientError; API clients also get `retries` for their own HTTP retries.
    timeout: float | None = None
    retries: int = DEFAULT_RETRIES
    # "throw" fails the run; "continue" goes on with {"error": …} as the
    # output; "fallback" goes on with `fallback` as the output.
    on_error: str = "throw"
    fallback: Any = None
    # The fan-out branches it belongs to, outer first: (fan-out node, branch head).
    branches: tuple[tuple[str, str], ...] = ()
    # A tool node: the node whose model calls it. It runs then, once per call
    # (Run.call_tool), never on its own.
    tool_of: str | None = None
    # Nodes to wait for that decide nothing about skipping (what its tools read).
    waits: tuple[str, ...] = ()


class FanOut:
    """A fan-out node's branches as they run (NodeContext.fan_out): at most
    `limit` of them with a node running at once, and what a failed one does."""

    def __init__(
        self, node_id: str, limit: int | None, strategy: str, heads: tuple[str, ...]
    ) -> None:
        self.node_id = node_id
        self.strategy = strategy
        self.heads = heads
        # Branch head -> why the branch failed.
        self.failed: dict[str, str] = {}
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        # Branch head -> nodes of it running now: a branch holds one slot while
        # it has any, so nodes of one branch never wait for each other's slot.
        self._running: dict[str, int] = {}
        self._entering: dict[str, asyncio.Lock] = {}

    async def enter(self, head: str) -> None:
        if self._slots is None:
            return
        async with self._entering.setdefault(head, asyncio.Lock()):
            if not self._running.get(head):
                await self._slots.acquire()
            self._running[head] = self._running.get(head, 0) + 1

    def leave(self, head: str) -> None:
        if self._slots is None:
            return
        self._running[head] -= 1
        if not self._running[head]:
            self._slots.release()


class Run:
    """One execution of the workflow: outputs, shared clients, events, usage."""

    def __init__(
        self,
        inputs: dict[str, Any],
        on_event: EventHandler | None = None,
        resources: dict[Hashable, Any] | None = None,
    ) -> None:
        self.inputs = inputs
        # Which run of this process it is: the usage log's run id.
        self.number = _count_run()
        self.outputs: dict[str, Any] = {}
        self.skipped: set[str] = set()
        self.stats: dict[str, dict[str, Any]] = {}
        # Clients outlive the run: they belong to the event loop (run_workflow
        # passes loop_resources()) or to whoever passed the dict, never to one
        # run. A Run made without one gets its own; its maker closes it.
        self.resources: dict[Hashable, Any] = {} if resources is None else resources
        self._on_event = on_event
        self._started = _now()
        # Rate limits and overload are retried until this moment (RECORD_TIMEOUT_S).
        self.deadline = self._started + RECORD_TIMEOUT_S
        # Node id -> [tries after a rate limit or overload, seconds paused for them].
        self.waits: dict[str, list[Any]] = {}
        # Fan-out nodes that ran, by id; (fan-out, branch head) -> the branch's nodes.
        self.fan_outs: dict[str, FanOut] = {}
        self._members: dict[tuple[str, str], list[str]] = {}
        # Nodes in a branch that are running now: stopped when their branch fails.
        self._working: dict[str, asyncio.Future[Any]] = {}
        # Tool nodes by id (called by their node's model, never scheduled).
        self.tool_steps: dict[str, Step] = {}
        # What a node keeps across its own retries in this run (NodeContext.memory).
        self.memory: dict[tuple[str, str | None], dict[str, Any]] = {}
        # What a node reports about its model calls when its output is not
        # the call's reply (a parsed JSON reply): usage, cost, model.
        self.reports: dict[str, dict[str, Any]] = {}

    def emit(self, event: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def execute(self, steps: tuple[Step, ...], sinks: tuple[str, ...]) -> dict[str, Any]:
        """Run every step, each as soon as what it depends on is done."""
        tasks: dict[str, asyncio.Task[None]] = {}
        self.tool_steps = {step.id: step for step in steps if step.tool_of is not None}
        steps = tuple(step for step in steps if step.tool_of is None)
        for step in steps:
            for tag in step.branches:
                self._members.setdefault(tag, []).append(step.id)
        # Steps come in dependency order, so every upstream task exists already.
        for step in steps:
            tasks[step.id] = asyncio.create_task(self._run_step(step, tasks))
        try:
            await asyncio.gather(*tasks.values())
        except BaseException:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            raise
        result = {
            "outputs": {sink: self.outputs[sink] for sink in sinks if sink in self.outputs},
            "usage": self._total_usage(),
            "latency_ms": _elapsed_ms(self._started),
            "nodes": self.stats,
        }
        self.emit({"type": "workflow_finished", "result": result})
        return result

    def open_fan_out(self, node_id: str, limit: int | None, strategy: str) -> None:
        """Bound and isolate the branches of fan-out node `node_id` (NodeContext.fan_out)."""
        heads = tuple(sorted({head for fan_out, head in self._members if fan_out == node_id}))
        self.fan_outs[node_id] = FanOut(node_id, limit, strategy, heads)

    async def _run_step(self, step: Step, tasks: dict[str, asyncio.Task[None]]) -> None:
        upstream = {link.source for links in step.links.values() for link in links}
        upstream.update(step.after)
        upstream.update(step.waits)
        if upstream:
            await asyncio.gather(*(tasks[node_id] for node_id in sorted(upstream)))
        stopped = self._stopped_branch(step)
        if stopped is not None:
            # Its branch failed before it could start: it gives the branch's error.
            fan_out, error = stopped
            self._finish(
                step,
                {"error": error},
                {"status": "cancelled", "error": error, "branch_of": fan_out},
            )
            return
        inputs = self._port_values(step)
        if self._is_skipped(step, inputs):
            self.skipped.add(step.id)
            self.stats[step.id] = {"status": "skipped"}
            self.emit({"type": "node_skipped", "node": step.id, "label": step.label})
            return
        entered: list[tuple[FanOut, str]] = []
        try:
            await self._run_node(step, inputs, entered)
        finally:
            # Only now that its node_finished is out may another branch take the slot.
            for fan_out, head in reversed(entered):
                fan_out.leave(head)

    async def _run_node(
        self, step: Step, inputs: dict[str, Any], entered: list[tuple[FanOut, str]]
    ) -> None:
        started: list[float] = []
        status, error, fan_out = "ok", None, None
        try:
            if step.branches:
                # Its own task, which the failure of its branch can cancel.
                work = asyncio.ensure_future(self._work(step, inputs, started, entered))
                self._working[step.id] = work
                output = await work
            else:
                output = await self._work(step, inputs, started, entered)
        except asyncio.CancelledError:
            stopped = self._stopped_branch(step)
            current = asyncio.current_task()
            if stopped is None or (current is not None and current.cancelling()):
                raise
            (fan_out, error), status = stopped, "cancelled"
            output = {"error": error}
        except NodeFailed as failure:
            if failure.fatal:
                raise
            error = str(failure)
            if step.on_error == "throw":
                # Unless a fan-out's failureStrategy lets the run go on without its branch.
                fan_out = self._fail_branch(step, error)
                if fan_out is None:
                    raise
                status, output = "failed", {"error": error}
            else:
                status = "failed" if step.on_error == "continue" else "fallback"
                output = {"error": error} if step.on_error == "continue" else step.fallback
            self.emit({"type": "node_failed", "node": step.id, "error": error})
        finally:
            self._working.pop(step.id, None)
        stats: dict[str, Any] = {"status": status}
        if started:
            stats["latency_ms"] = _elapsed_ms(started[0])
        if error is not None:
            # Why the node went on without its own output, in the stats too.
            stats["error"] = error
        if fan_out is not None:
            # The fan-out node that went on without the node's branch.
            stats["branch_of"] = fan_out
        if step.id in self.waits:
            retries, waited = self.waits[step.id]
            stats.update(rate_limit_retries=retries, rate_limit_wait_s=round(waited, 3))
        report = self.reports.pop(step.id, None)
        if report is None and isinstance(output, dict) and isinstance(output.get("usage"), dict):
            report = output
        if report is not None:
            # A model call: what it used, cost and which model answered.
            stats.update(
                {
                    key: report[key]
                    for key in ("usage", "cost_usd", "model", "fallbacks", "tool_calls")
                    if report.get(key) is not None
                }
            )
        self._finish(step, output, stats)

    async def call_tool(self, node_id: str, call: dict[str, Any]) -> tuple[Any, str | None]:
        """Run tool node `node_id` for one call of its caller's model
        ({"id", "name", "args"}): (its output, None), or (None, the error) when
        it failed after its retries — the model hears of it and may go on. A
        node's own onError fallback stands in for a failure; a rejected key
        still stops the run."""
        step = self.tool_steps[node_id]
        event = {"node": step.tool_of, "tool": call["name"], "tool_node": node_id, "id": call["id"]}
        self.emit({"type": "tool_call", **event, "arguments": call["args"]})
        started = _now()
        output, error = None, None
        try:
            output = await self._attempts(step, {"input": call["args"]}, tool=call)
        except NodeFailed as failure:
            if failure.fatal:
                raise
            error = str(failure)
            if step.on_error == "fallback":
                output, error = step.fallback, None
        stats = self.stats.setdefault(node_id, {"status": "ok", "calls": 0, "latency_ms": 0.0})
        stats["calls"] += 1
        stats["latency_ms"] = round(stats["latency_ms"] + _elapsed_ms(started), 1)
        report = self.reports.pop(node_id, None)
        if report is None and isinstance(output, dict) and isinstance(output.get("usage"), dict):
            report = output
        if report is not None:
            # A tool that is a model call: its usage and cost count in the run's totals.
            usage = stats.setdefault("usage", {})
            for key, count in report["usage"].items():
                usage[key] = usage.get(key, 0) + count
            if report.get("cost_usd") is not None:
                stats["cost_usd"] = round(stats.get("cost_usd", 0.0) + report["cost_usd"], 8)
        if error is not None:
            stats["status"], stats["error"] = "failed", error
            self.emit({"type": "tool_result", **event, "error": error})
        else:
            self.emit({"type": "tool_result", **event, "result": output})
        return output, error

    def _finish(self, step: Step, output: Any, stats: dict[str, Any]) -> None:
        self.outputs[step.id] = output
        self.stats[step.id] = stats
        self.emit({"type": "node_finished", "node": step.id, "label": step.label, **stats})

    async def _work(
        self,
        step: Step,
        inputs: dict[str, Any],
        started: list[float],
        entered: list[tuple[FanOut, str]],
    ) -> Any:
        """Take the node's branch slots (outer fan-outs first: one order for all
        nodes, so slots never wait on each other in a circle), then run it."""
        for fan_out_id, head in step.branches:
            fan_out = self.fan_outs.get(fan_out_id)
            if fan_out is not None:
                await fan_out.enter(head)
                entered.append((fan_out, head))
        self.emit({"type": "node_started", "node": step.id, "label": step.label})
        started.append(_now())
        watch = asyncio.create_task(self._still_waiting(step)) if NOTICE_HANDLERS else None
        try:
            return await self._attempts(step, inputs)
        finally:
            if watch is not None:
                watch.cancel()

    def _stopped_branch(self, step: Step) -> tuple[str, str] | None:
        """(fan-out, error) when a branch the node belongs to has failed."""
        for fan_out_id, head in step.branches:
            fan_out = self.fan_outs.get(fan_out_id)
            if fan_out is not None and head in fan_out.failed:
                return fan_out_id, fan_out.failed[head]
        return None

    def _fail_branch(self, step: Step, error: str) -> str | None:
        """A node failed for good: its innermost branch fails and stops. The
        fan-out whose failureStrategy lets the run go on without it, or None:
        the failure goes up (an enclosing branch fails, or the run)."""
        reason = error
        for fan_out_id, head in reversed(step.branches):
            fan_out = self.fan_outs.get(fan_out_id)
            if fan_out is None:
                continue  # the fan-out node itself did not run: nothing to isolate
            if head in fan_out.failed:
                return fan_out_id  # failed already, by a node failing at the same time
            fan_out.failed[head] = error
            self.emit(
                {
                    "type": "branch_failed",
                    "node": fan_out_id,
                    "branch": head,
                    "failure_strategy": fan_out.strategy,
                    "error": error,
                }
            )
            for node_id in self._members[fan_out_id, head]:
                if node_id != step.id and node_id in self._working:
                    self._working[node_id].cancel()
            if fan_out.strategy == "continue":
                return fan_out_id
            if fan_out.strategy == "partial":
                if len(fan_out.failed) < len(fan_out.heads):
                    return fan_out_id
                error = (
                    f"every branch of node {fan_out_id!r} failed (failureStrategy "
                    f"partial); the last: {error}"
                )
        if error != reason:
            raise WorkflowError(error)
        return None

    async def _attempts(
        self, step: Step, inputs: dict[str, Any], tool: dict[str, Any] | None = None
    ) -> Any:
        """Call the node; retry timeouts and TransientErrors (`retries` times),
        rate limits and overload (until the deadline); fail fast on the rest.
        `tool`: the call it carries out, when it runs as a tool."""
        attempt = slowed = 0
        while True:
            try:
                run = step.run(NodeContext(self, step, tool), inputs)
                return await asyncio.wait_for(run, step.timeout)
            except RateLimited as exc:
                pause = min(_backoff(slowed), self.deadline - _now())
                if pause <= 0:
                    reason = f"{exc} (still after {RECORD_TIMEOUT_S:g} s of retries)"
                    raise NodeFailed(step.id, step.label, reason, transient=True) from exc
                self.emit({"type": "node_retry", "node": step.id, "reason": str(exc)})
                _announce(
                    f"node {step.id!r} ({step.label}): trying again in {pause:.1f} s: " f"{exc}"
                )
                tally = self.waits.setdefault(step.id, [0, 0.0])
                tally[0], tally[1] = tally[0] + 1, tally[1] + pause
                await _sleep(pause)
                slowed += 1
            except (TransientError, TimeoutError) as exc:
                reason = str(exc) or f"no answer within {step.timeout:g} s"
                if attempt >= step.retries:
                    raise NodeFailed(step.id, step.label, reason, transient=True) from exc
                self.emit({"type": "node_retry", "node": step.id, "reason": reason})
                await _sleep(_retry_delay(attempt))
                attempt += 1
            except NodeFailed:
                raise
            except WorkflowError as exc:
                fatal = isinstance(exc, ConfigurationError)
                raise NodeFailed(step.id, step.label, str(exc), fatal) from exc
            except Exception as exc:
                raise NodeFailed(step.id, step.label, f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _still_waiting(step: Step) -> None:
        """Announce a slow node (a server that accepted and does not answer)."""
        waited, interval = 0.0, STILL_WAITING_S
        while True:
            await _sleep(interval)
            waited += interval
            _announce(f"still waiting for node {step.id!r} ({step.label}) after {waited:g} s")
            interval = waited

    def _port_values(self, step: Step) -> dict[str, Any]:
        # A port fed by several edges (a merge after a branch) takes the first live one.
        values: dict[str, Any] = {}
        for port, links in step.links.items():
            for link in links:
                if self._is_live(link):
                    output = self.outputs[link.source]
                    value = output if link.field is None else output.get(link.field)
                    values[port] = to_port_type(value, link.to)
                    break
        return values

    def _is_live(self, link: Link) -> bool:
        if link.source in self.skipped:
            return False
        return link.branch is None or self.outputs[link.source].get("branch") == link.branch

    def _is_skipped(self, step: Step, inputs: dict[str, Any]) -> bool:
        # A node with incoming edges runs when one of them is live; a node fed
        # only through expressions runs when one of the nodes it waits for ran.
        if step.links:
            return not inputs
        if step.after:
            return all(node_id in self.skipped for node_id in step.after)
        return False

    def _total_usage(self) -> dict[str, Any]:
        total: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for stats in self.stats.values():
            for key in total:
                total[key] += stats.get("usage", {}).get(key, 0)
        costs = [stats["cost_usd"] for stats in self.stats.values() if "cost_usd" in stats]
        if costs:
            total["cost_usd"] = round(sum(costs), 8)
        return total


class NodeContext:
    """What a node's code sees: its identity, the run's events and shared clients."""

    def __init__(self, run: Run, step: Step, tool: dict[str, Any] | None = None) -> None:
        self.run = run
        self.node_id = step.id
        self.label = step.label
        self.timeout = step.timeout
        self.retries = step.retries
        # Running as a tool: the call ({"id", "name", "args"}), `tool` in expressions.
        self.tool = tool

    def memory(self) -> dict[str, Any]:
        """A dict this node keeps across its retries in this run (one per call
        when it runs as a tool): what must not be done twice."""
        key = (self.node_id, self.tool["id"] if self.tool is not None else None)
        return self.run.memory.setdefault(key, {})

    def report(self, **stats: Any) -> None:
        """What the node's model calls used (usage, cost_usd, model…), when its
        output is not the reply itself."""
        self.run.reports[self.node_id] = stats

    async def call_tool(self, node_id: str, call: dict[str, Any]) -> tuple[Any, str | None]:
        """Carry out one tool call of this node's model on tool node `node_id`."""
        return await self.run.call_tool(node_id, call)

    def emit(self, event_type: str, **fields: Any) -> None:
        self.run.emit({"type": event_type, "node": self.node_id, **fields})

    def fan_out(self, max_concurrency: int | None, failure_strategy: str) -> None:
        """Make this node's branches (what its outgoing edges start) run with at
        most `max_concurrency` of them running a node at once (None: no bound).
        A failed branch stops; then "fail_all" fails the run (or the branch this
        node sits in), "continue" goes on, "partial" goes on unless every branch
        failed."""
        self.run.open_fan_out(self.node_id, max_concurrency, failure_strategy)

    def resource(self, key: Hashable, create: Callable[[], Any]) -> Any:
        """One shared object (an API client) per key, made on first use and
        reused by later runs on the same event loop (see loop_resources)."""
        if key not in self.run.resources:
            self.run.resources[key] = create()
        return self.run.resources[key]

    def secret(self, reference: dict[str, str]) -> str:
        """The value of the environment variable a `{"$secret": NAME}` names."""
        name = reference["$secret"]
        value = os.environ.get(name)
        if not value:
            raise InputError(f"environment variable {name} is not set")
        return value

    def resolve(
        self,
        value: dict[str, Any],
        names_from: str | None = None,
        checks: dict[str, list[dict[str, Any]]] | None = None,
    ) -> Any:
        """`value` with every {{ … }} expression evaluated against this run.

        `names_from` names a field (a promptTemplate's `variables`) whose keys
        become names in the other fields' expressions. `checks` says what the
        fields that are expressions must hold once evaluated (check_values)."""
        scope = {
            "input": self.run.inputs,
            "global": GLOBALS,
            "nodes": {node_id: {"output": out} for node_id, out in self.run.outputs.items()},
        }
        if self.tool is not None:
            scope["tool"] = self.tool
        if names_from is None or not isinstance(value.get(names_from), dict):
            config = resolve(value, scope)
        else:
            names = resolve(value[names_from], scope)
            rest = resolve({k: v for k, v in value.items() if k != names_from}, {**names, **scope})
            config = {**rest, names_from: names}
        check_values(config, checks or {})
        return config


async def close_resources(resources: dict[Hashable, Any]) -> None:
    """Close shared clients (whatever has a close(), awaited when async)."""
    for resource in resources.values():
        closing = resource.close()
        if inspect.isawaitable(closing):
            await closing
    resources.clear()


# Provider clients outlive a run. Building one (an HTTP connection pool, a TLS
# context with its CA bundle) costs tens of milliseconds, so every run on an
# event loop shares that loop's clients, as hand-written code keeps one client.
# They belong to the loop, whose transports their connections are: another loop
# gets its own, and a loop's clients close as the loop shuts down, on aclose(),
# or at interpreter exit.
_LOOP_CLIENTS: dict[
    asyncio.AbstractEventLoop, tuple[dict[Hashable, Any], AsyncGenerator[None, None]]
] = {}


async def loop_resources() -> dict[Hashable, Any]:
    """The running event loop's shared clients (a dict for NodeContext.resource)."""
    _forget_closed_loops()
    loop = asyncio.get_running_loop()
    if loop not in _LOOP_CLIENTS:
        resources: dict[Hashable, Any] = {}
        closer = _closed_with_the_loop(loop, resources)
        _LOOP_CLIENTS[loop] = (resources, closer)
        # Started on this loop, the generator is one the loop tracks: asyncio.run,
        # asyncio.Runner and other runners that call loop.shutdown_asyncgens()
        # close every such generator before closing the loop, which runs its
        # finally while the clients' loop still runs. No task is left behind.
        await closer.__anext__()
    return _LOOP_CLIENTS[loop][0]


async def _closed_with_the_loop(
    loop: asyncio.AbstractEventLoop, resources: dict[Hashable, Any]
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        # Gone from the registry first: a run after this builds new clients.
        if loop in _LOOP_CLIENTS and _LOOP_CLIENTS[loop][0] is resources:
            del _LOOP_CLIENTS[loop]
        await close_resources(resources)


async def aclose() -> None:
    """Close the running event loop's shared clients; the next run builds new ones.

    Call it when no run is in flight on this loop. asyncio.run closes them
    itself as it ends; a loop closed without shutdown_asyncgens() cannot close
    them any more, so call aclose() before closing such a loop."""
    _forget_closed_loops()
    entry = _LOOP_CLIENTS.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry[1].aclose()


def _forget_closed_loops() -> None:
    # A closed loop's clients can neither be reused nor closed (closing a
    # connection needs its loop): let them go.
    for loop in list(_LOOP_CLIENTS):
        if loop.is_closed():
            _LOOP_CLIENTS.pop(loop, None)


@atexit.register
def _close_at_exit() -> None:
    """Close the clients of loops still open at exit (made by hand, never
    closed); asyncio.run has closed its own already. Best effort: a client
    that cannot close at exit is not worth a traceback."""
    for loop, (_, closer) in list(_LOOP_CLIENTS.items()):
        if not loop.is_closed() and not loop.is_running():
            # The process is exiting: a failure here has nobody left to act on it.
            with contextlib.suppress(Exception):
                loop.run_until_complete(closer.aclose())
    _LOOP_CLIENTS.clear()


# -- usage log (--usage-log) ---------------------------------------------------------
#
# One JSON line per provider call when a log is open (USAGE_LOG): every chat
# attempt (each fallback model tried too), every embeddings request, and whatever
# other node types report through record_provider_call. Nothing is logged unless
# asked; prompts, replies and keys never are.


class UsageLog:
    """An append-only JSON-lines file. Each line is one os.write on a descriptor
    opened with O_APPEND: the kernel appends every write whole, so lines from
    concurrent calls, threads or processes never mix and none is lost to a crash
    of this one (no buffer to flush)."""

    def __init__(self, path: str) -> None:
        # Not through a symlink (O_NOFOLLOW), not into a FIFO or a device: a
        # hostile path must not make the log write somewhere else.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC"):
            flags |= getattr(os, name, 0)
        if os.path.islink(path):
            raise InputError(f"--usage-log {path} is a symbolic link; give the file itself")
        try:
            self.descriptor = os.open(path, flags, 0o644)
        except OSError as exc:
            why = "a symbolic link" if os.path.islink(path) else exc.strerror
            raise InputError(f"cannot write the usage log {path}: {why}") from None
        if not stat.S_ISREG(os.fstat(self.descriptor).st_mode):
            os.close(self.descriptor)
            raise InputError(f"--usage-log {path} is not a regular file")

    def write(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode()
        while data:
            data = data[os.write(self.descriptor, data) :]

    def close(self) -> None:
        os.close(self.descriptor)


# The open usage log (open_usage_log), or another sink with write(entry); None: off.
USAGE_LOG: Any = None
# Set while a batch record runs: its id goes into the usage lines.
_USAGE_RECORD: contextvars.ContextVar[Any] = contextvars.ContextVar("usage_record")
# What makes run ids unique: when and in which process this module was loaded.
_PROCESS_TAG = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
_RUN_COUNT = [0]


def _count_run() -> int:
    _RUN_COUNT[0] += 1
    return _RUN_COUNT[0]


def open_usage_log(path: str) -> None:
    """Append a line per provider call to `path` from now on (close_usage_log stops)."""
    global USAGE_LOG
    close_usage_log()
    USAGE_LOG = UsageLog(path)


def close_usage_log() -> None:
    global USAGE_LOG
    log, USAGE_LOG = USAGE_LOG, None
    if isinstance(log, UsageLog):
        log.close()


def record_provider_call(
    ctx: NodeContext,
    *,
    provider: str,
    model: str,
    usage: dict[str, Any] | None = None,
    latency_ms: float | None = None,
    cost_usd: float | None = None,
    error: BaseException | None = None,
    error_kind: str | None = None,
) -> None:
    """Tell the usage log about one provider call as it ends, answered or not
    (`error`: why not; `error_kind`: the runtime's word for it, e.g. a
    ChatFailure's kind). Does nothing unless a log is open. Every node type that
    calls a provider calls this once per request."""
    if USAGE_LOG is None:
        return
    now = time.time()
    usage = usage or {}
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    if tokens_in is None and tokens_out is None:
        tokens_in = usage.get("total_tokens")  # embeddings: input tokens only
    entry: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        + f".{int(now % 1 * 1000):03d}Z",
        "workflow": WORKFLOW["id"],
        "run": f"{_PROCESS_TAG}-{ctx.run.number}",
    }
    record = _USAGE_RECORD.get(None)
    if record is not None:
        entry["record"] = record
    entry.update(
        node=ctx.node_id,
        provider=provider,
        model=model,
        tokens_in=tokens_in or 0,
        tokens_out=tokens_out or 0,
        latency_ms=latency_ms,
        cost_usd=cost_usd,
        status="ok" if error is None else "error",
    )
    if error is not None:
        entry["error"] = _error_facts(error, error_kind)
    USAGE_LOG.write(entry)


def _error_facts(error: BaseException, kind: str | None) -> dict[str, Any]:
    """What failed, without the message (which may quote the request): the
    failure kind, the HTTP status and the provider's error code."""
    if kind is None:
        kind = (
            "cancelled"
            if isinstance(error, asyncio.CancelledError)
            else (
                "timeout"
                if isinstance(error, TimeoutError)
                else "transient" if isinstance(error, TransientError) else type(error).__name__
            )
        )
    facts: dict[str, Any] = {"kind": kind}
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        facts["http_status"] = status
    body = getattr(error, "body", None)
    detail = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code = detail.get("code") or detail.get("type")
        if isinstance(code, str):
            facts["code"] = code[:100]
    return facts


def to_port_type(value: Any, port_type: str | None) -> Any:
    """An upstream value as a port of `port_type` takes it: any output may feed any input.
    None (a branch that carried nothing) stays None."""
    if value is None:
        return None
    if port_type == "messages":
        if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
            return value
        if isinstance(value, dict) and isinstance(value.get("messages"), list):
            return value["messages"]
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        return [{"role": "user", "content": text}]
    if port_type == "text":
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
            return "\n\n".join(str(m["content"]) for m in value)
        return json.dumps(value, default=str)
    return value


def _elapsed_ms(started: float) -> float:
    return round((_now() - started) * 1000, 1)


def _backoff(attempt: int) -> float:
    """Pause before another try on a rate-limited or overloaded provider:
    doubling from RETRY_DELAY_S, capped, jittered so callers spread out."""
    return min(RATE_LIMIT_BACKOFF_CAP_S, max(RETRY_DELAY_S, 0.1) * 2**attempt) * _jitter()


def _jitter() -> float:
    return 0.5 + random.random() / 2


def _retry_delay(attempt: int) -> float:
    factor = 2**attempt if RETRY_BACKOFF == "exponential" else attempt + 1
    return RETRY_DELAY_S * factor


# Limits on one evaluation. Inputs come from anyone, and an expression such as
# {{ input.text * input.n }} must not take the process's memory or time: an
# evaluation that would pass one is a node error ("expression-limit").
EXPRESSION_MAX_SIZE = 1_000_000  # characters or items in any value it builds
EXPRESSION_MAX_BITS = 100_000  # an integer's size: about 30,000 decimal digits
EXPRESSION_MAX_RANGE = 100_000  # items in a range() (the sandbox's own limit)
EXPRESSION_TIME_S = 2.0  # seconds per evaluation (on the main thread)
_CHARACTERS = f"{EXPRESSION_MAX_SIZE:,}-character"
_ITEMS = f"{EXPRESSION_MAX_SIZE:,}-item"
_BITS = f"{EXPRESSION_MAX_BITS:,}-bit number"
_FORMAT_NUMBERS = re.compile(r"\d+")
_TEXT = (str, bytes, bytearray)
_SEQUENCES = (list, tuple, set, frozenset, dict)


class ExpressionLimit(WorkflowError):
    """An expression would build too much or run too long."""

    def __init__(self, limit: str) -> None:
        super().__init__(f"expression exceeds the {limit} limit (expression-limit)")


def _size(value: Any, budget: int = EXPRESSION_MAX_SIZE) -> int:
    """Characters and items in `value`, nested ones included, counted only
    until the count passes `budget`: cheap however big the value."""
    total, pending = 0, [value]
    while pending and total <= budget:
        item = pending.pop()
        if isinstance(item, _TEXT):
            total += len(item)
        elif isinstance(item, _SEQUENCES):
            total += len(item)
            if total <= budget:
                pending.extend(item.items() if isinstance(item, dict) else item)
    return total


def _limit_for(value: Any) -> str:
    return _CHARACTERS if isinstance(value, _TEXT) else _ITEMS


def _check_value(value: Any) -> Any:
    """`value` when it is within the limits and JSON can carry it."""
    if _size(value) > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_limit_for(value))
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise WorkflowError(f"the expression's value holds {item!r}, not a finite number")
        if isinstance(item, int) and item.bit_length() > EXPRESSION_MAX_BITS:
            raise ExpressionLimit(_BITS)
        if isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > EXPRESSION_MAX_BITS:
            raise ExpressionLimit(_BITS)
        return
    sequence, times = (right, left) if isinstance(left, int) else (left, right)
    # Items that are themselves big count: [text] * n is n references to text.
    if (
        isinstance(times, int)
        and isinstance(sequence, (*_TEXT, list, tuple))
        and times > 0
        and _size(sequence) * times > EXPRESSION_MAX_SIZE
    ):
        raise ExpressionLimit(_limit_for(sequence))


def _check_sum(left: Any, right: Any) -> None:
    for kinds in (_TEXT, (list, tuple)):
        both = isinstance(left, kinds) and isinstance(right, kinds)
        if both and len(left) + len(right) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_limit_for(left))


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent) and abs(base) > 1 and exponent > 0):
        return
    if exponent > EXPRESSION_MAX_BITS or base.bit_length() * exponent > EXPRESSION_MAX_BITS:
        raise ExpressionLimit(_BITS)


def _check_format(template: Any, *args: Any, **kwargs: Any) -> None:
    """`template % args`, str.format and |format: widths, precisions and the
    values to insert must fit the limit."""
    if not isinstance(template, _TEXT):
        return
    text = template.decode(errors="replace") if not isinstance(template, str) else template
    for digits in _FORMAT_NUMBERS.findall(text):
        if len(digits) > 7 or int(digits) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)
    values = [*args, *kwargs.values()]
    for value in values:
        if isinstance(value, (tuple, list)):
            values.extend(item for item in value if _is_int(item))
        if _is_int(value) and abs(value) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)
    if len(text) + _size(values) > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_CHARACTERS)


def _check_width(value: Any, width: Any = 80, *_args: Any, **_kwargs: Any) -> None:
    if _is_int(width) and width > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_CHARACTERS)


def _check_join(value: Any, separator: Any = "", *_args: Any, **kwargs: Any) -> None:
    separator = kwargs.get("d", separator)
    if isinstance(value, _SEQUENCES):
        gaps = len(value) * len(separator) if isinstance(separator, _TEXT) else 0
        if gaps + _size(value) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)


def _check_replace(value: Any, old: Any = "", new: Any = "", *_args: Any, **_kwargs: Any) -> None:
    if isinstance(value, str) and isinstance(new, str):
        old_text = str(old)
        count = value.count(old_text) if old_text else len(value) + 1
        if len(value) + count * max(len(new) - len(old_text), 0) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)


def _check_indent(value: Any, width: Any = 4, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(value, str):
        step = width if _is_int(width) else len(str(width))
        if len(value) + (value.count("\n") + 1) * max(step, 0) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)


def _check_wrap(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
    wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None) or "\n"
    if isinstance(value, str) and _is_int(width) and isinstance(wrap, str):
        lines = len(value) // max(width, 1) + 1
        if len(value) + lines * len(wrap) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)


def _check_tabs(text: Any, size: Any = 8) -> None:
    if isinstance(text, _TEXT) and _is_int(size):
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        if len(text) + tabs * max(size, 0) > EXPRESSION_MAX_SIZE:
            raise ExpressionLimit(_CHARACTERS)


def _check_count(value: Any, count: Any = 1, *_args: Any, **_kwargs: Any) -> None:
    if _is_int(count) and count > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_ITEMS)


def _check_whole(value: Any, *_args: Any, **_kwargs: Any) -> None:
    # Written out as text (|string, |tojson) or summed: nested references count.
    if _size(value) > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_CHARACTERS)


# Filters and str methods that can build more than they are given, with the
# check each gets before it runs.
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _check_width,
    "format": _check_format,
    "join": _check_join,
    "replace": _check_replace,
    "indent": _check_indent,
    "wordwrap": _check_wrap,
    "batch": _check_count,
    "slice": _check_count,
    "string": _check_whole,
    "tojson": _check_whole,
    "pprint": _check_whole,
    "sum": _check_whole,
}
_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "ljust": _check_width,
    "rjust": _check_width,
    "center": _check_width,
    "zfill": _check_width,
    "format": _check_format,
    "format_map": _check_format,
    "join": lambda text, items: _check_join(items, text),
    "replace": _check_replace,
    "expandtabs": lambda text, size=8: _check_tabs(text, size),
}


def _guarded_filter(function: Callable[..., Any], check: Callable[..., None]) -> Any:
    # Filters marked to receive the context or environment get it first.
    passes = hasattr(function, "jinja_pass_arg")

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(*(args[1:] if passes else args), **kwargs)
        return function(*args, **kwargs)

    return guarded


def _bounded_range(*args: Any) -> range:
    try:
        numbers = range(*args)
        too_many = len(numbers) > EXPRESSION_MAX_RANGE
    except OverflowError:
        too_many = True
    if too_many:
        raise ExpressionLimit(f"{EXPRESSION_MAX_RANGE:,}-item range")
    return numbers


def _bounded_output(value: Any) -> Any:
    # Every {{ … }} in a text is written out with str(): bound it first.
    if isinstance(value, _SEQUENCES) and _size(value) > EXPRESSION_MAX_SIZE:
        raise ExpressionLimit(_CHARACTERS)
    return value


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's sandbox with bounds on what an expression may build.

    Intercepting these operators also stops jinja2's optimizer from folding
    them into constants while compiling, which would build the value early."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})
    _BINOP_CHECKS = {"*": _check_product, "+": _check_sum, "**": _check_power, "%": _check_format}

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_bounded_output, **options)
        self.globals["range"] = _bounded_range
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _guarded_filter(self.filters[name], check)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, _TEXT):
            _check_format(left, right)
        elif operator != "%":
            self._BINOP_CHECKS[operator](left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped
        owner = getattr(method, "__self__", None)
        check = _METHOD_CHECKS.get(getattr(method, "__name__", ""))
        if isinstance(owner, _TEXT) and check is not None:
            check(owner, *args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)


# A string that is exactly one {{ expression }} keeps the expression's type;
# any other string with expressions renders to text.
_SINGLE_EXPRESSION = re.compile(r"\A\{\{(?P<expression>.*?)\}\}\Z", re.DOTALL)
_EXPRESSIONS = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=True)


@functools.cache
def _compile_expression(source: str) -> Callable[[dict[str, Any]], Any]:
    match = _SINGLE_EXPRESSION.match(source.strip())
    if match and "{{" not in match["expression"] and "}}" not in match["expression"]:
        return _EXPRESSIONS.compile_expression(match["expression"], undefined_to_none=False)
    return _EXPRESSIONS.from_string(source).render


def _evaluate(source: str, scope: dict[str, Any]) -> Any:
    """One evaluation, stopped after EXPRESSION_TIME_S seconds.

    The timer is a signal, which only the main thread can receive (and which
    Windows lacks): off it (a library caller's worker thread) evaluation is
    bounded by the size limits alone, which stop every bomb that builds a value
    but not a long loop."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        return _compile_expression(source)(scope)

    def expire(_signal: int, _frame: Any) -> None:
        raise ExpressionLimit(f"{EXPRESSION_TIME_S:g}-second")

    previous = signal.signal(signal.SIGALRM, expire)
    earlier = signal.setitimer(signal.ITIMER_REAL, EXPRESSION_TIME_S)
    try:
        return _compile_expression(source)(scope)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if earlier[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *earlier)


def check_values(config: dict[str, Any], checks: dict[str, list[dict[str, Any]]]) -> None:
    """Fields whose value an expression gave, against what the field allows:
    one of its alternatives, each a JSON Schema subset written at generate time."""
    for name, rules in checks.items():
        if name in config and not any(_fits(config[name], rule) for rule in rules):
            allowed = " or ".join(_described(rule) for rule in rules)
            raise WorkflowError(f"{name} is {_shown(config[name])}; allowed: {allowed}")


_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": _is_int,
    "number": lambda value: isinstance(value, (int, float))
    and not isinstance(value, bool)
    and math.isfinite(value),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda value, bound: value >= bound,
    "maximum": lambda value, bound: value <= bound,
    "exclusiveMinimum": lambda value, bound: value > bound,
    "exclusiveMaximum": lambda value, bound: value < bound,
    "minLength": lambda value, bound: len(value) >= bound,
    "maxLength": lambda value, bound: len(value) <= bound,
    "minItems": lambda value, bound: len(value) >= bound,
    "maxItems": lambda value, bound: len(value) <= bound,
    "pattern": lambda value, bound: re.search(bound, value) is not None,
    "enum": lambda value, bound: value in bound,
    "const": lambda value, bound: value == bound,
}


def _fits(value: Any, rule: dict[str, Any]) -> bool:
    if "type" in rule and not _KINDS[rule["type"]](value):
        return False
    if "items" in rule and not all(_fits(item, rule["items"]) for item in value):
        return False
    return all(_BOUNDS[key](value, bound) for key, bound in rule.items() if key in _BOUNDS)


def _described(rule: dict[str, Any]) -> str:
    """`number from 0 to 2`, `integer at least 1`, `string matching '^/'`."""
    words = [rule.get("type", "value")]
    if "items" in rule:
        words.append(f"of {rule['items'].get('type', 'value')}")
    low = rule.get("minimum", rule.get("minLength", rule.get("minItems")))
    high = rule.get("maximum", rule.get("maxLength", rule.get("maxItems")))
    unit = {"string": " characters", "array": " items"}.get(words[0], "")
    if low is not None and high is not None:
        words.append(f"from {low} to {high}{unit}")
    elif low is not None:
        words.append(f"at least {low}{unit}")
    elif high is not None:
        words.append(f"at most {high}{unit}")
    if "exclusiveMinimum" in rule:
        words.append(f"above {rule['exclusiveMinimum']}")
    if "exclusiveMaximum" in rule:
        words.append(f"below {rule['exclusiveMaximum']}")
    if "pattern" in rule:
        words.append(f"matching {rule['pattern']!r}")
    if "enum" in rule:
        words.append("one of " + ", ".join(json.dumps(item) for item in rule["enum"]))
    if "const" in rule:
        words.append(json.dumps(rule["const"]))
    return " ".join(words)


def _shown(value: Any) -> str:
    """A value in a message: short, whatever its size."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"str {value!r}" if len(value) <= 40 else f"str of {len(value):,} characters"
    if _is_int(value) and value.bit_length() > 64:
        return f"int of {value.bit_length():,} bits"
    if isinstance(value, (bool, int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, (list, dict)):
        return f"{type(value).__name__} of {len(value):,} item(s)"
    return type(value).__name__


def resolve(value: Any, scope: dict[str, Any]) -> Any:
    """`value` with every string holding {{ … }} evaluated against `scope`."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        try:
            result = _evaluate(value, scope)
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            return _check_value(result)
        except WorkflowError:
            raise
        except Exception as exc:
            # Jinja's errors and the expression's own (1 / 0, None + 1) alike
            # name the expression, not just the Python error.
            reason = str(exc) or type(exc).__name__
            raise WorkflowError(f"cannot evaluate {value!r}: {reason}") from None
    if isinstance(value, dict):
        return {key: resolve(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    return value


# Where `python script.py serve` answers: the workflow's httpEndpoint triggers.
# `node` is None for a manifest's workflow-level trigger.
ROUTES: list[dict[str, Any]] = [
    {"node": "http", "method": "POST", "path": "/api/v1/triage", "description": ""},
    {"node": None, "method": "POST", "path": "/api/v1/triage", "description": ""},
]
# Nodes that call a model provider: when one fails the answer is 502 (the
# provider failed), not 500.
PROVIDER_NODES: tuple[str, ...] = ("classify",)
# Content digest of the workflow: the OpenAPI document's version.
SERVICE_VERSION = "51f8da26402b5280"
SERVE_DEFAULT_PORT = 8000
# The largest request body `serve` reads (--max-body-bytes); more is a 413.
SERVE_MAX_BODY_BYTES = 1024 * 1024
# Requests one route runs at once (--max-concurrency); more get 429 and Retry-After.
SERVE_MAX_CONCURRENCY = 100
# Paths the service answers itself; a trigger cannot take them.
SERVICE_PATHS = ("/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
# An input type as the request body declares it (JSON Schema via pydantic, strict:
# "1" is not an integer). Finite numbers only: check_inputs refuses NaN.
_BODY_TYPES: dict[str, Any] = {
    "string": StrictStr,
    "number": Annotated[StrictInt | StrictFloat, WithJsonSchema({"type": "number"})],
    "integer": StrictInt,
    "boolean": StrictBool,
    "object": dict[str, Any],
    "array": list[Any],
}


def served_routes() -> list[dict[str, Any]]:
    """ROUTES, each (method, path) once (a trigger node and the manifest's
    trigger often say the same)."""
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for route in ROUTES:
        method = str(route["method"]).upper()
        unique.setdefault((method, route["path"]), {**route, "method": method})
    return list(unique.values())


class ServiceResult(BaseModel):
    """A run's result (run_workflow's dict)."""

    outputs: dict[str, Any]
    usage: dict[str, Any]
    latency_ms: float
    nodes: dict[str, Any]


class ServiceErrorDetail(BaseModel):
    type: str
    message: str
    node: str | None = None


class ServiceError(BaseModel):
    """Every failure but invalid input (422): what went wrong, never a traceback."""

    error: ServiceErrorDetail


class ServiceInvalidInput(BaseModel):
    """Invalid input (422), as FastAPI reports it: where and why."""

    detail: list[dict[str, Any]]


class _Refused(HTTPException):
    """An answer other than the run's: 401, 413, 429, a failed run (5xx)."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        node: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.kind = kind
        self.node = node


def _refused_response(request: Request | None, exc: Exception) -> Response:
    refused = (
        exc if isinstance(exc, _Refused) else _Refused(500, "internal_error", "internal error")
    )
    body = {"error": {"type": refused.kind, "message": refused.detail, "node": refused.node}}
    return JSONResponse(body, status_code=refused.status_code, headers=refused.headers)


def _http_failure(exc: BaseException) -> _Refused:
    """A failed run as an HTTP answer. 502: a model provider failed (a rejected
    key, an error answer); 503 (Retry-After): rate limits, overload or timeouts
    outlasted the retries; 504: the workflow's own time limit; 500: any other
    node failed (its message), or a bug (no message; the traceback goes to the
    server's log only)."""
    if isinstance(exc, NodeFailed):
        if exc.transient:
            return _Refused(
                503, "unavailable", str(exc), node=exc.node_id, headers={"Retry-After": "5"}
            )
        if exc.node_id in PROVIDER_NODES and not isinstance(exc.__cause__, InputError):
            return _Refused(502, "provider_error", str(exc), node=exc.node_id)
        return _Refused(500, "workflow_error", str(exc), node=exc.node_id)
    if isinstance(exc, WorkflowError):
        if isinstance(exc.__context__, TimeoutError):
            return _Refused(504, "timeout", str(exc))
        return _Refused(500, "workflow_error", str(exc))
    return _Refused(500, "internal_error", "internal error")


def _validation_error(exc: InputError, where: str) -> RequestValidationError:
    """An input check_inputs refused, as FastAPI reports invalid input (422)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where,), "msg": str(exc), "input": None}]
    )


def _inputs_model() -> type[BaseModel]:
    """The request body: one field per workflow input, as the script's INPUTS
    say (type, required, default, description); unknown fields are refused."""
    fields: dict[str, Any] = {}
    for index, (name, spec) in enumerate(INPUTS.items()):
        facts: dict[str, Any] = {"alias": name, "description": spec["description"] or None}
        if "default" in spec:
            default = Field(spec["default"], **facts)
        elif spec["required"]:
            default = Field(..., **facts)
        else:
            # Left out: the run has no value for it (check_inputs leaves it out too).
            default = Field(None, json_schema_extra=_no_default, **facts)
        fields[f"input_{index}"] = (_BODY_TYPES[spec["type"]], default)
    title = f"{WORKFLOW['name'] or WORKFLOW['id']} inputs"
    config = ConfigDict(extra="forbid", title=title, populate_by_name=False)
    # Named after the workflow: one app serving several workflows keeps their schemas apart.
    words = re.findall(r"[0-9A-Za-z]+", str(WORKFLOW["id"]))
    name = "".join(word[:1].upper() + word[1:] for word in words) + "Inputs"
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _given(body: BaseModel | None) -> dict[str, Any]:
    """The inputs a request gave, defaults filled in as fresh copies (a run
    must not change the next request's default)."""
    given = {} if body is None else body.model_dump(by_alias=True, exclude_unset=True)
    for name, spec in INPUTS.items():
        if name not in given and "default" in spec:
            given[name] = copy.deepcopy(spec["default"])
    return given


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str, allow_nan=False).encode()


def _sse(event: dict[str, Any]) -> bytes:
    try:
        data = _json_bytes(event)
    except ValueError:
        event = {
            "type": "error",
            "error": "the event holds NaN or Infinity, which JSON cannot carry",
        }
        data = _json_bytes(event)
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + data + b"\n\n"


def _log(text: str) -> None:
    print(f"serve: {_printable(text)}", file=sys.stderr, flush=True)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the request body is read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is a 413, whether
    Content-Length says so up front or a chunked body grows past it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            response = _refused_response(None, self._too_large())
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise self._too_large()
            return message

        await self.app(scope, limited, send)

    def _too_large(self) -> _Refused:
        return _Refused(413, "too_large", f"the request body is over {self.limit:,} bytes")


_BEARER = HTTPBearer(
    auto_error=False, description="--auth-token-env: the token the service " "was started with"
)


async def _authorized(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> None:
    """With --auth-token-env: the request must carry `Authorization: Bearer TOKEN`
    (compared in constant time)."""
    expected: bytes = request.app.state.auth_token
    given = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(given, expected):
        raise _Refused(
            401,
            "unauthorized",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _error_responses(auth: bool, takes_body: bool) -> dict[int | str, dict[str, Any]]:
    statuses = {
        400: "The request body is not UTF-8 JSON text.",
        413: "The request body is too large.",
        429: "The route runs as many requests as it may (--max-concurrency); try again "
        "after Retry-After seconds.",
        500: "The workflow failed (a node's error) or the service did.",
        502: "A model provider failed (an error answer, a rejected key).",
        503: "Rate limits, overload or timeouts outlasted the retries.",
        504: "The workflow did not finish within its time limit.",
    }
    if auth:
        statuses[401] = "No valid bearer token."
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ServiceError, "description": text} for status, text in statuses.items()
    }
    if not takes_body:
        responses[422] = {"model": ServiceInvalidInput, "description": "Invalid input"}
    return responses


def _query_parameters() -> list[dict[str, Any]]:
    """GET and DELETE routes take the inputs as query parameters (objects and
    arrays as JSON text)."""
    parameters = []
    for name, spec in INPUTS.items():
        schema: dict[str, Any] = {"type": spec["type"]}
        if "default" in spec:
            schema["default"] = spec["default"]
        parameter = {
            "name": name,
            "in": "query",
            "required": spec["required"] and "default" not in spec,
            "description": spec["description"],
        }
        if spec["type"] in ("object", "array"):
            parameter["content"] = {"application/json": {"schema": schema}}
        else:
            parameter["schema"] = schema
        parameters.append(parameter)
    return parameters


class _Slots:
    """At most `limit` requests of one route at once; the rest are turned away."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.busy = 0

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        if self.limit is not None and self.busy >= self.limit:
            raise _Refused(
                429,
                "busy",
                f"{self.busy} requests in flight on this route; " "try again later",
                headers={"Retry-After": "1"},
            )
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1


def build_app(
    *,
    auth_token: str | None = None,
    max_body_bytes: int = SERVE_MAX_BODY_BYTES,
    max_concurrency: int | None = SERVE_MAX_CONCURRENCY,
) -> FastAPI:
    """The workflow as an ASGI app: a route per httpEndpoint trigger, /health
    and /ready. One set of provider clients serves every request; it closes
    when the app shuts down."""
    resources: dict[Hashable, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close_resources(resources)

    app = FastAPI(
        title=WORKFLOW["name"] or WORKFLOW["id"],
        description=WORKFLOW["description"],
        version=SERVICE_VERSION,
        lifespan=lifespan,
    )
    app.state.auth_token = (auth_token or "").encode()
    app.add_exception_handler(_Refused, _refused_response)
    # Path -> the methods it answers (a 405 lists them all in Allow).
    allowed: dict[str, list[str]] = {}

    async def http_error(request: Request, exc: Exception) -> Response:
        """400 and 405 in the service's error shape (FastAPI's own says {"detail"})."""
        status = getattr(exc, "status_code", 500)
        headers = dict(getattr(exc, "headers", None) or {})
        if status == 405 and request.url.path in allowed:
            headers["Allow"] = ", ".join(allowed[request.url.path])
        kind = "method_not_allowed" if status == 405 else "bad_request"
        body = {"error": {"type": kind, "message": str(getattr(exc, "detail", "")), "node": None}}
        return JSONResponse(body, status_code=status, headers=headers)

    app.add_exception_handler(400, http_error)
    app.add_exception_handler(405, http_error)
    app.add_middleware(_BodyLimit, limit=max_body_bytes)

    @app.get("/health", tags=["service"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["service"],
        summary="Readiness: every required key is set; "
        "with deep=1 also the --check health report",
        responses={
            503: {
                "description": "A required environment variable is not set, or "
                "(deep) no model of some node can answer"
            }
        },
    )
    async def ready(deep: bool = False) -> JSONResponse:
        missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
        if missing:
            return JSONResponse({"status": "not_ready", "missing": missing}, status_code=503)
        # The --check report (keys accepted, models listed and current, one tiny
        # call per provider), in scripts whose workflow calls providers.
        check = globals().get("run_check")
        if deep and check is not None:
            report = await check()
            status = 503 if report["exit_code"] == 2 else 200
            ready_word = "not_ready" if status == 503 else "ready"
            return JSONResponse(
                {"status": ready_word, "missing": [], "check": report}, status_code=status
            )
        return JSONResponse({"status": "ready", "missing": []})

    model = _inputs_model()
    dependencies = [Depends(_authorized)] if auth_token else []
    for route in served_routes():
        method, path = route["method"], route["path"]
        if path in SERVICE_PATHS:
            continue
        allowed.setdefault(path, []).append(method)
        slots = _Slots(max_concurrency)
        takes_body = method not in ("GET", "DELETE")
        app.add_api_route(
            path,
            _endpoint(model if takes_body else None, slots, resources),
            methods=[method],
            name=f"{method} {path}",
            summary=route["description"] or WORKFLOW["name"] or f"Run {WORKFLOW['id']}",
            description=(
                WORKFLOW["description"] + "\n\nAnswers the run's result as JSON; with "
                "`Accept: text/event-stream` its events as server-sent events "
                "(tokens as they arrive)."
            ).strip(),
            dependencies=dependencies,
            response_model=None,
            responses={
                200: {
                    "model": ServiceResult,
                    "description": "The run's result",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_error_responses(bool(auth_token), takes_body),
            },
            openapi_extra=None if takes_body else {"parameters": _query_parameters()},
        )
    return app


def _endpoint(
    model: type[BaseModel] | None, slots: _Slots, resources: dict[Hashable, Any]
) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, body: BaseModel | None = None) -> Response:
        with slots.taken():
            try:
                if model is None:
                    given: dict[str, Any] = dict(request.query_params)
                    where = "query"
                else:
                    given, where = _given(body), "body"
                inputs = check_inputs(given)
            except InputError as exc:
                raise _validation_error(exc, where) from None
            if "text/event-stream" in request.headers.get("accept", ""):
                return StreamingResponse(
                    _events(inputs, resources, slots),
                    media_type="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                )
            return await _run(request, inputs, resources)

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    ]
    if model is not None:
        required = any(spec["required"] and "default" not in spec for spec in INPUTS.values())
        parameters.append(
            inspect.Parameter(
                "body",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=model if required else model | None,
                default=inspect.Parameter.empty if required else None,
            )
        )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return endpoint


async def _run(
    request: Request, inputs: dict[str, Any], resources: dict[Hashable, Any]
) -> Response:
    """Run once; a client that disconnects cancels the run."""
    run = asyncio.ensure_future(run_workflow(inputs, resources=resources))
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({run, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not run.done():
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    if run.cancelled():
        _log("the client disconnected: run cancelled")
        return Response(status_code=499)
    if run.exception() is not None:
        raise _logged(run.exception()) from None
    try:
        return Response(_json_bytes(run.result()), media_type="application/json")
    except ValueError:
        raise _Refused(
            500, "workflow_error", "the result holds NaN or Infinity, which JSON " "cannot carry"
        ) from None


def _logged(exc: BaseException | None) -> _Refused:
    refused = _http_failure(exc or RuntimeError())
    if refused.kind == "internal_error":
        _log("the run failed:\n" + "".join(traceback.format_exception(exc)))
    else:
        _log(f"{refused.status_code}: {refused.detail}")
    return refused


# Streams of runs whose client went away, while they close.
_CLOSING: set[asyncio.Future[None]] = set()


async def _events(
    inputs: dict[str, Any], resources: dict[Hashable, Any], slots: _Slots
) -> AsyncIterator[bytes]:
    """The run's events as server-sent events; the route's slot is held until
    the stream ends. A client that disconnects cancels the stream, and so the run."""
    slots.busy += 1
    ended = False
    stream = stream_workflow(inputs, resources=resources)
    try:
        async for event in stream:
            yield _sse(event)
        ended = True
    except WorkflowError:
        ended = True  # workflow_failed went out already
    except Exception as exc:
        ended = True
        _logged(exc)
        yield _sse({"type": "error", "error": "internal error"})
    finally:
        slots.busy -= 1
        if not ended:
            _log("the client disconnected: run cancelled")
            # Closing the run's stream cancels the run. Not awaited here: this
            # generator may be closing under a cancellation itself.
            closing = asyncio.ensure_future(stream.aclose())
            _CLOSING.add(closing)
            closing.add_done_callback(_CLOSING.discard)


def serve_main(argv: list[str]) -> int:
    """`serve`: answer HTTP requests until SIGTERM or Ctrl-C, which stop
    taking new ones and let those in flight finish. Exit codes: 0 stopped,
    2 bad options or environment."""
    parser = argparse.ArgumentParser(
        prog=f"{os.path.basename(sys.argv[0])} serve",
        description=_as_written(
            f"Serve the workflow {WORKFLOW['name']!r} over HTTP: "
            + ", ".join(f"{r['method']} {r['path']}" for r in served_routes())
            + "; GET /health, GET /ready, GET /docs."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on " "(default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=int, default=SERVE_DEFAULT_PORT, help=f"port (default {SERVE_DEFAULT_PORT})"
    )
    parser.add_argument(
        "--auth-token-env",
        metavar="NAME",
        help="require `Authorization: "
        "Bearer TOKEN` on the workflow's routes, TOKEN read from this "
        "environment variable",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=SERVE_MAX_CONCURRENCY,
        metavar="N",
        help="requests one route runs at once; more get 429 " f"(default {SERVE_MAX_CONCURRENCY})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=SERVE_MAX_BODY_BYTES,
        metavar="N",
        help=f"largest request body (default {SERVE_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        metavar="SECONDS",
        help="on SIGTERM, cancel requests still running after this long "
        "(default: wait for them)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    limits = parser.add_argument_group("rate budgets (default: each model's own)")
    limits.add_argument("--rpm", type=int, metavar="N", help="requests per minute per model")
    limits.add_argument("--tpm", type=int, metavar="N", help="tokens per minute per model")
    args = parser.parse_args(argv)
    RATE_LIMITS.update(requests_per_minute=args.rpm, tokens_per_minute=args.tpm)
    if args.max_concurrency < 1 or args.max_body_bytes < 1:
        parser.error("--max-concurrency and --max-body-bytes must be at least 1")
    token = None
    if args.auth_token_env:
        token = os.environ.get(args.auth_token_env)
        if not token:
            print(
                f"error: environment variable {args.auth_token_env} (--auth-token-env) "
                "is not set",
                file=sys.stderr,
            )
            return 2
    for name in REQUIRED_ENV:
        if not os.environ.get(name):
            _log(f"environment variable {name} is not set: /ready answers 503")
    app = build_app(
        auth_token=token, max_body_bytes=args.max_body_bytes, max_concurrency=args.max_concurrency
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=args.graceful_timeout,
    )
    return 0


# Every provider's models as this Catalyst version knew them (context window,
# US$ per million input and output tokens, starting rate budgets), and retired
# ids with their replacements; each provider's adapter fills in its own.
CHAT_MODELS: dict[str, dict[str, dict[str, Any]]] = {}
RETIRED_MODELS: dict[str, dict[str, str]] = {}
# Seconds per HTTP attempt when the node sets no timeout: to connect, and
# between two reads (a stream that keeps sending never times out). The SDKs
# retry a timeout `retries` times, so a server that never answers fails the
# node after (retries + 1) x READ_TIMEOUT_S, 3 minutes by default.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
# Budgets for a model the tables do not know.
_DEFAULT_BUDGETS = {"requests_per_minute": 30, "tokens_per_minute": 6_000}
# How many processes share each budget (the workers of a Dask batch): each
# paces itself with its share of a model's own budget.
BUDGET_SHARES = 1


@dataclass
class ChatReply:
    """One reply as the runtime needs it, whichever SDK produced it."""

    model: str
    content: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    )
    # Provider-specific fields of the output under the provider's own names
    # (Anthropic's stop_reason), beside the common ones.
    extra: dict[str, Any] = field(default_factory=dict)
    # Calls the model asks for: [{"id", "name", "arguments" (JSON text)}].
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    # The model's reasoning, apart from `content` (Groq's parsed reasoning).
    reasoning: str | None = None
    # Whether any text of a streamed reply went out (then no fallback may repeat it).
    streamed: bool = False


@dataclass(frozen=True)
class ChatFailure:
    """What went wrong, said for a user, and what the runtime does about it.

    kind: "configuration" (the key or its rights: nothing mends it), "request"
    (this request fails on any model), "unavailable" (this model is missing or
    retired: another may answer), "transient" (a dropped connection: another
    model may answer, and the node's retries apply), "rate_limited" (429) and
    "overloaded" (5xx): another model may answer, and if none does, the run
    waits and tries again until its deadline (RateLimited).
    """

    kind: str
    message: str


class ChatProvider(ABC):
    """One provider's SDK behind the chat runtime. Subclasses set `name`,
    `label`, `sdk` (the SDK module) and `errors`, and implement the four
    abstract methods. The SDKs (Groq's, OpenAI's, Anthropic's) share one error
    hierarchy, so `failure` explains any of them; a provider adds only what is
    its own (`error_detail`, `status_kind`)."""

    name = ""
    label = ""
    sdk: Any = None
    # The exceptions its SDK raises, which `failure` explains.
    errors: tuple[type[BaseException], ...] = ()

    @abstractmethod
    def client(self, ctx: NodeContext, config: dict[str, Any]) -> Any:
        """The SDK client for this node's key, with the node's timeout and retries."""

    @abstractmethod
    def request(
        self, config: dict[str, Any], messages: list[dict[str, Any]], model: str
    ) -> dict[str, Any]:
        """The SDK call's arguments."""

    @abstractmethod
    async def complete(self, client: Any, request: dict[str, Any]) -> ChatReply:
        """One non-streamed reply."""

    @abstractmethod
    def stream(self, client: Any, request: dict[str, Any], reply: ChatReply) -> AsyncIterator[str]:
        """Yield text as it arrives and fill `reply` (model, finish_reason, usage)."""

    async def list_models(self, client: Any) -> list[str]:
        """The model ids the provider lists for the client's key (GET /models):
        Groq's SDK returns the list, OpenAI's and Anthropic's page through it."""
        listing = client.models.list()
        if hasattr(listing, "__aiter__"):
            return [model.id async for model in listing]
        return [model.id for model in (await listing).data]

    def for_node(self, client: Any, ctx: NodeContext) -> Any:
        """The shared client with this node's timeout and retries (the SDKs'
        own retry loop): the node's timeout, else CONNECT/READ_TIMEOUT_S."""
        timeout = (
            ctx.timeout
            if ctx.timeout is not None
            else self.sdk.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        )
        return client.with_options(max_retries=ctx.retries, timeout=timeout)

    def key_name(self, config: dict[str, Any]) -> str:
        key = config.get("api_key")
        return key["$secret"] if key else "(no key)"

    def error_detail(self, exc: BaseException) -> dict[str, Any]:
        """The error object of the provider's error body: message, type, code."""
        body = getattr(exc, "body", None)
        if isinstance(body, dict):
            inner = body.get("error")
            return inner if isinstance(inner, dict) else body
        return {}

    def status_kind(self, status: int, detail: dict[str, Any]) -> str | None:
        """A provider's own reading of a status (Groq's 498), else None."""
        return None

    def failure(
        self, exc: BaseException, ctx: NodeContext, config: dict[str, Any], model: str
    ) -> ChatFailure:
        """One line that says what went wrong and what to do about it, and
        whether another model may fare better (overload, exhausted rate limits,
        outages, cut streams, a missing or retired model; not a bad request)."""
        sdk, label = self.sdk, self.label
        detail = self.error_detail(exc)
        message = str(detail.get("message") or getattr(exc, "message", "") or exc)
        code = detail.get("code")
        key = self.key_name(config)
        if isinstance(exc, sdk.AuthenticationError):
            return ChatFailure(
                "configuration", f"{label} rejected the API key in {key} (401): {message}"
            )
        if isinstance(exc, sdk.PermissionDeniedError):
            return ChatFailure(
                "configuration", f"the API key in {key} may not use {model} (403): {message}"
            )
        if isinstance(exc, sdk.APITimeoutError):
            return ChatFailure(
                "transient",
                f"{label} did not answer in time ({model}, after {ctx.retries} " "retries)",
            )
        if isinstance(exc, sdk.APIConnectionError):
            where = exc.request.url.copy_with(path="/", query=None)
            return ChatFailure(
                "transient", _redact_urls(f"cannot reach {label} at {where}: {exc.message}")
            )
        if not isinstance(exc, sdk.APIStatusError):
            if isinstance(exc, sdk.APIError):
                # An error event inside a stream that had already begun.
                return ChatFailure(
                    "transient", _redact_urls(f"{label} broke off the reply: {message}")
                )
            return ChatFailure("transient", _redact_urls(f"the connection to {label} broke: {exc}"))
        status = exc.status_code
        if status < 400:
            # An error event inside a stream that had begun (its status is 200).
            kind = {"overloaded_error": "overloaded", "rate_limit_error": "rate_limited"}.get(
                str(detail.get("type")), "transient"
            )
            return ChatFailure(kind, _redact_urls(f"{label} broke off the reply: {message}"))
        retired = RETIRED_MODELS.get(self.name, {})
        models = CHAT_MODELS.get(self.name, {})
        if code == "model_decommissioned" or model in retired:
            replacement = retired.get(model)
            if replacement and replacement not in message:
                message += f" Use {replacement!r} instead."
        elif status == 404 and models:
            message += f" Current models: {', '.join(models)}."
        elif code == "context_length_exceeded" and model in models:
            window = models[model]["context_window"]
            message += f" {model} takes at most {window:,} tokens: shorten the input."
        elif status == 429 or status >= 500:
            message += f" (after {ctx.retries} retries)"
        kind_name = code or detail.get("type") or "error"
        text = _redact_urls(f"{label} answered {status} ({kind_name}): {message}")
        kind = self.status_kind(status, detail)
        if kind is None:
            if status == 429:
                kind = "rate_limited"
            elif status == 408 or status >= 500:
                kind = "overloaded"
            elif status == 404 or code == "model_decommissioned" or model in retired:
                kind = "unavailable"
            else:
                kind = "request"
        return ChatFailure(kind, text)


# Every provider a node of this script calls, by name (chat, or embeddings
# through the same SDK adapter).
class OpenAIWireProvider(ChatProvider):
    """A provider speaking OpenAI's chat wire through an OpenAI-style SDK
    (Groq's, OpenAI's): one request builder and one reply and stream reader,
    tool calls and reasoning included. Subclasses add their own parameters."""

    # Config fields sent under the same name when set.
    parameters: tuple[str, ...] = ("temperature", "top_p", "stop", "seed")
    # The name the completion budget goes under.
    budget_name = "max_completion_tokens"
    # The reasoning settings its SDK takes.
    reasoning_options: tuple[str, ...] = ("reasoning_effort",)
    transport_errors: tuple[type[BaseException], ...] = ()

    def request(
        self, config: dict[str, Any], messages: list[dict[str, Any]], model: str
    ) -> dict[str, Any]:
        request = {"model": model, "messages": messages}
        request.update({key: config[key] for key in self.parameters if config.get(key) is not None})
        if config.get("max_completion_tokens") is not None:
            request[self.budget_name] = config["max_completion_tokens"]
        request.update(wire_options(config, self.reasoning_options))
        return request

    def usage(self, completion: Any) -> Any:
        """The usage object of a completion or a stream chunk, if it has one."""
        return getattr(completion, "usage", None)

    def stream_arguments(self) -> dict[str, Any]:
        """Extra arguments of a streamed call (OpenAI: usage on the last chunk)."""
        return {}

    async def complete(self, client: Any, request: dict[str, Any]) -> ChatReply:
        completion = await client.chat.completions.create(**request)
        choice = completion.choices[0]
        message = choice.message
        return ChatReply(
            model=completion.model,
            content=message.content or "",
            finish_reason=choice.finish_reason,
            usage=_wire_usage(self.usage(completion)),
            tool_calls=[
                {
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": call.function.arguments or "",
                }
                for call in message.tool_calls or ()
            ],
            reasoning=getattr(message, "reasoning", None),
        )

    async def stream(
        self, client: Any, request: dict[str, Any], reply: ChatReply
    ) -> AsyncIterator[str]:
        # One growing buffer, not a list of small strings: a long reply arrives
        # in thousands of few-character deltas. Tool calls arrive in fragments
        # by index; usage on the last chunk.
        text, reasoning = bytearray(), bytearray()
        calls: dict[int, dict[str, str]] = {}
        usage = None
        stream = await client.chat.completions.create(
            **request, stream=True, **self.stream_arguments()
        )
        try:
            async with stream:
                async for chunk in stream:
                    reply.model = chunk.model or reply.model
                    usage = self.usage(chunk) or usage
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    if delta.content:
                        text += delta.content.encode()
                        yield delta.content
                    if getattr(delta, "reasoning", None):
                        reasoning += delta.reasoning.encode()
                    for part in delta.tool_calls or ():
                        call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] = part.id or call["id"]
                        if part.function is not None:
                            call["name"] += part.function.name or ""
                            call["arguments"] += part.function.arguments or ""
                    reply.finish_reason = choice.finish_reason or reply.finish_reason
        except self.transport_errors as exc:
            raise TransientError(f"the stream from {self.label} broke off: {exc}") from None
        reply.content, reply.usage = text.decode(), _wire_usage(usage)
        reply.tool_calls = [calls[index] for index in sorted(calls)]
        reply.reasoning = reasoning.decode() or None


def _wire_usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def wire_options(config: dict[str, Any], reasoning: tuple[str, ...]) -> dict[str, Any]:
    """Tools, response format and the `reasoning` settings in OpenAI's wire names."""
    options: dict[str, Any] = {}
    if config.get("tools"):
        options["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "description": tool.get("description", ""),
                    "parameters": tool["parameters"],
                },
            }
            for tool in config["tools"]
        ]
        choice = config.get("tool_choice")
        if isinstance(choice, dict):
            options["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        elif choice is not None:
            options["tool_choice"] = choice
        if config.get("parallel_tool_calls") is not None:
            options["parallel_tool_calls"] = config["parallel_tool_calls"]
    response_format = config.get("response_format")
    if response_format and response_format.get("type") != "text":
        options["response_format"] = response_format
    for name in reasoning:
        if config.get(name) is not None:
            options[name] = config[name]
    return options


CHAT_PROVIDERS: dict[str, ChatProvider] = {}


def failure_error(failure: ChatFailure) -> WorkflowError:
    """The exception that makes the run do what a failure calls for: stop
    (configuration), fail the node (request, unavailable), retry it
    (transient), or wait and retry until the deadline (rate limits, overload)."""
    if failure.kind == "configuration":
        return ConfigurationError(failure.message)
    if failure.kind == "transient":
        return TransientError(failure.message)
    if failure.kind in ("rate_limited", "overloaded"):
        return RateLimited(failure.message)
    return WorkflowError(failure.message)


def chat_messages(config: dict[str, Any], upstream: Any) -> list[dict[str, Any]]:
    """System prompt, configured messages, what came in on `input`, then the
    prompt; contents as text, and no message whose text is empty."""
    messages: list[dict[str, Any]] = []
    if config.get("system_prompt") is not None:
        messages.append({"role": "system", "content": config["system_prompt"]})
    messages.extend(config.get("messages") or [])
    if isinstance(upstream, list):
        messages.extend(upstream)
    elif upstream is not None:
        messages.append({"role": "user", "content": upstream})
    if config.get("prompt") is not None:
        messages.append({"role": "user", "content": config["prompt"]})
    # An expression may give a number or an object; an input may render nothing.
    sent = [{**message, "content": chat_text(message.get("content"))} for message in messages]
    return [m for m in sent if not (isinstance(m["content"], str) and not m["content"].strip())]


def chat_text(content: Any) -> Any:
    """Message content as the APIs take it: text (a number becomes str(), an
    object or list JSON text), or a list of content parts as they are."""
    if isinstance(content, str):
        return content
    if (
        isinstance(content, list)
        and content
        and all(isinstance(part, dict) and "type" in part for part in content)
    ):
        return content
    if isinstance(content, (dict, list)):
        return json.dumps(content, ensure_ascii=False, default=str)
    return "" if content is None else str(content)


# Adaptive budgets: the table's figures are a starting point and a ceiling,
# the provider's answers say what this key really gets. A 429 cuts the request
# rate to RATE_DECREASE of what the provider accepted in the last minute when
# its wait says the window is full of our requests (TCP's rule: from what got
# through, not from the nominal rate), else, at most once a minute, to
# RATE_DECREASE of the rate (a blip, another client); each minute of clean
# traffic then adds RATE_INCREASE of the rate (at least 1 rpm), up to the
# node's or table's budget. The rate so converges just under the real ceiling.
# x-ratelimit-limit-tokens (per minute) replaces the token budget when it
# differs by more than TOKEN_BUDGET_CHANGE. --rpm / --tpm are never adapted.
RATE_DECREASE = 0.9
RATE_INCREASE = 0.05
MIN_REQUESTS_PER_MINUTE = 1.0
TOKEN_BUDGET_CHANGE = 0.10


class RequestPacer:
    """A token bucket for requests on the runtime's clock (`_now`, `_sleep`),
    whose rate may change while calls wait: a small burst (a fan-out starts
    together), then a steady rate chosen so that no 60 s window ever holds
    more than the budget, so a sliding-window limit never sees too many.
    Each call reserves its slot in arrival order."""

    def __init__(self, requests_per_minute: float) -> None:
        self.stamp = _now()
        self.available = float("inf")
        self.set_rate(requests_per_minute)

    def set_rate(self, requests_per_minute: float) -> None:
        self._refill()
        self.per_minute = requests_per_minute
        self.burst = max(1, min(int(requests_per_minute) // 60, 16))
        self.per_second = max(requests_per_minute - self.burst, 1.0) / 60
        self.available = min(self.available, float(self.burst))

    def _refill(self) -> None:
        now = _now()
        if self.available < float("inf"):
            self.available = min(
                float(self.burst), self.available + (now - self.stamp) * self.per_second
            )
        self.stamp = now

    async def acquire(self, amount: float = 1) -> None:
        self._refill()
        self.available -= amount
        if self.available < 0:
            await _sleep(-self.available / self.per_second)


class RateLimiter:
    """Client-side budget for one model, shared by every call in this process.

    A RequestPacer paces requests and aiolimiter's leaky bucket tokens per
    minute. A 429, or the provider's headers saying a budget is spent, pause
    every caller until the window frees up, so concurrent calls slow down
    together instead of stampeding; the bucket then lets them out one by one.
    Unless `fixed` (--rpm/--tpm), the budgets adapt to what the provider says
    (see RATE_DECREASE).
    """

    def __init__(
        self,
        requests_per_minute: float,
        tokens_per_minute: int,
        *,
        ceiling: float | None = None,
        fixed: bool = False,
        fixed_tokens: bool = False,
        token_ceiling: int | None = None,
    ) -> None:
        self.requests_per_minute = float(requests_per_minute)
        # The rate never grows past the node's or table's budget.
        self.ceiling = float(ceiling or requests_per_minute)
        self.fixed, self.fixed_tokens = fixed, fixed_tokens
        # A node's own tokens_per_minute: the provider's figure cannot raise it.
        self.token_ceiling = token_ceiling
        self.provider_tokens: int | None = None
        self.requests = RequestPacer(requests_per_minute)
        self.tokens = AsyncLimiter(tokens_per_minute, 60)
        self.tokens_per_minute = tokens_per_minute
        self.resume_at = 0.0
        self.cut_at = float("-inf")
        # When the rate last grew or was cut, and the successes of the last minute.
        self.clean_since = _now()
        self.accepted: list[float] = []

    async def acquire(self, tokens: int) -> None:
        while True:
            await self._resumed()
            await self.requests.acquire()
            if self.resume_at <= _now():
                break
            # A pause began while this call queued: after it, queue again, so
            # the calls that waited leave one by one, not all at its end.
        await self.tokens.acquire(min(max(tokens, 1), self.tokens_per_minute))
        await self._resumed()

    async def _resumed(self) -> None:
        while (wait := self.resume_at - _now()) > 0:
            await _sleep(wait)

    async def charge(self, tokens: int) -> None:
        """Take tokens used beyond the estimate, so the next calls wait for them."""
        if tokens > 0:
            await self.tokens.acquire(min(tokens, self.tokens_per_minute))

    def pause(self, seconds: float) -> None:
        self.resume_at = max(self.resume_at, _now() + seconds)

    def _set_rate(self, requests_per_minute: float) -> None:
        self.requests_per_minute = requests_per_minute
        if isinstance(self.requests, RequestPacer):
            self.requests.set_rate(requests_per_minute)

    def _forget(self, now: float) -> None:
        old = 0
        while old < len(self.accepted) and self.accepted[old] <= now - 60:
            old += 1
        del self.accepted[:old]

    def succeeded(self) -> None:
        """A request got through: additive increase after clean traffic."""
        now = _now()
        self.accepted.append(now)
        self._forget(now)
        clean = min(max(now - self.clean_since, 0.0), 60.0)
        self.clean_since = max(self.clean_since, now)
        if self.fixed or self.requests_per_minute >= self.ceiling or clean <= 0:
            return
        step = max(self.requests_per_minute * RATE_INCREASE, 1.0) * clean / 60
        self._set_rate(min(self.ceiling, self.requests_per_minute + step))

    def slowed_down(self, wait: float) -> None:
        """A 429 (once per pause): multiplicative decrease."""
        now = _now()
        self._forget(now)
        # The clean run starts again when the pause ends.
        self.clean_since = max(now, self.resume_at)
        if self.fixed:
            return
        # Told to wait until about when our own oldest request of the last
        # minute leaves the window: the window is full of ours, and what got
        # through is what the key really gets (TCP's rule: cut from what got
        # through, not from the nominal rate).
        if self.accepted and wait >= 0.5 * (self.accepted[0] + 60 - now):
            basis = min(self.requests_per_minute, len(self.accepted))
        elif now - self.cut_at >= 60:
            # Any other 429 (a blip, another client, the token budget): a cut
            # of the rate itself, at most once a minute.
            basis = self.requests_per_minute
        else:
            return
        self.cut_at = now
        self._set_rate(max(MIN_REQUESTS_PER_MINUTE, basis * RATE_DECREASE))

    def token_limit(self, provider_limit: int) -> None:
        """The provider's per-minute token limit for the key
        (x-ratelimit-limit-tokens): this process's share of it becomes the budget."""
        if self.fixed_tokens or provider_limit <= 0:
            return
        self.provider_tokens = provider_limit
        budget = max(1, provider_limit // BUDGET_SHARES)
        if self.token_ceiling is not None:
            budget = min(budget, self.token_ceiling)
        self._set_tokens(budget)

    def _set_tokens(self, budget: int) -> None:
        # Only a material change rebuilds the bucket (which starts full again).
        if abs(budget - self.tokens_per_minute) > TOKEN_BUDGET_CHANGE * self.tokens_per_minute:
            self.tokens = AsyncLimiter(budget, 60)
            self.tokens_per_minute = budget


# One limiter per event loop, provider and model: a process may run several
# loops (asyncio.run per call), and aiolimiter's buckets belong to one loop.
# Keyed by the loop itself (an id() may be reused), closed loops dropped. What
# a limiter learned outlives its loop (_LEARNED): the next loop starts there.
_LIMITERS: dict[asyncio.AbstractEventLoop, dict[tuple[str, str], RateLimiter]] = {}
_LEARNED: dict[tuple[str, str], RateLimiter] = {}


def _loop_limiters() -> dict[tuple[str, str], RateLimiter]:
    for closed in [loop for loop in _LIMITERS if loop.is_closed()]:
        del _LIMITERS[closed]
    return _LIMITERS.setdefault(asyncio.get_running_loop(), {})


def rate_limiter(provider: str, model: str, config: dict[str, Any]) -> RateLimiter:
    limiters = _loop_limiters()
    key = (provider, model)
    if key not in limiters:
        table = CHAT_MODELS.get(provider, {}).get(model, {})
        # --rpm / --tpm are this process's own already; a model's budget is shared.
        rpm, tpm = (
            RATE_LIMITS.get(name)
            or max(1, (config.get(name) or table.get(name) or default) // BUDGET_SHARES)
            for name, default in _DEFAULT_BUDGETS.items()
        )
        fixed = bool(RATE_LIMITS.get("requests_per_minute"))
        fixed_tokens = bool(RATE_LIMITS.get("tokens_per_minute"))
        own_tokens = config.get("tokens_per_minute")
        learned = _LEARNED.get(key)
        start = rpm if fixed or learned is None else min(rpm, learned.requests_per_minute)
        limiter = RateLimiter(
            start,
            tpm,
            ceiling=rpm,
            fixed=fixed,
            fixed_tokens=fixed_tokens,
            token_ceiling=max(1, own_tokens // BUDGET_SHARES) if own_tokens else None,
        )
        if learned is not None and learned.provider_tokens and not fixed_tokens:
            limiter.token_limit(learned.provider_tokens)
        limiters[key] = _LEARNED[key] = limiter
    return limiters[key]


def duration_seconds(text: str | None) -> float:
    """Rate-limit durations: "7.66s", "2m59.56s", "120ms", or plain seconds."""
    if not text:
        return 0.0
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    text = text.replace("ms", "u")
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif number:
            total += float(number) * (0.001 if char == "u" else units.get(char, 1.0))
            number = ""
    return total + (float(number) if number else 0.0)


def retry_after_seconds(text: str | None) -> float:
    """retry-after: seconds, or an HTTP date (RFC 9110), which a duration
    parser would read as a sum of its numbers."""
    if not text or text.strip().replace(".", "", 1).isdigit():
        return duration_seconds(text)
    # Imported here: only the rare date form needs it.
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0


def observe_rate_limits(provider: str, model: str, status: int, headers: Any) -> None:
    """Every response, retries included: pause the model's limiter when the
    provider says so (429, or a spent budget in the x-ratelimit-* headers), and
    adapt its budgets (see RATE_DECREASE)."""
    wait = 0.0
    if status == 429:
        milliseconds = headers.get("retry-after-ms")
        wait = (
            float(milliseconds) / 1000
            if milliseconds
            else retry_after_seconds(headers.get("retry-after")) or 1.0
        )
    else:
        # A spent budget: requests (Groq counts them per day) or tokens per minute.
        for budget in ("requests", "tokens"):
            if headers.get(f"x-ratelimit-remaining-{budget}") == "0":
                wait = max(wait, duration_seconds(headers.get(f"x-ratelimit-reset-{budget}")))
    limiter = _loop_limiters().get((provider, model))
    if limiter is None:
        return
    if 200 <= status < 300:
        limiter.succeeded()
    limit = headers.get("x-ratelimit-limit-tokens")
    if limit and limit.isdigit():
        limiter.token_limit(int(limit))
    # Once per pause, not once per caller that meets it.
    first = limiter.resume_at <= _now()
    if wait > 0:
        if first:
            why = "rate limit (429)" if status == 429 else "budget spent"
            label = CHAT_PROVIDERS[provider].label if provider in CHAT_PROVIDERS else provider
            _announce(f"waiting {wait:.1f} s: {label} {why} on {model}")
        limiter.pause(wait)
    if status == 429 and first:
        # One cut per pause: the calls already under way meet the same limit.
        limiter.slowed_down(wait)


def rate_limit_hook(
    provider: str, path: str, translate: Callable[[Any], Any] | None = None
) -> Callable[[Any], Awaitable[None]]:
    """An HTTP client response hook: every response to `path`, retries
    included, tells the runtime about the provider's rate limits (`translate`
    puts a provider's own header names into the x-ratelimit-* ones)."""

    async def observe(response: Any) -> None:
        if response.request.url.path.endswith(path):
            model = json.loads(response.request.content).get("model")
            headers = translate(response.headers) if translate else response.headers
            observe_rate_limits(provider, model, response.status_code, headers)

    return observe


def base_url(provider: dict[str, Any], config: dict[str, Any]) -> str | None:
    """Where a provider is: the node's base_url, else the provider's variable
    (GROQ_BASE_URL, TOGETHER_BASE_URL, …), else its address; None leaves it to
    the SDK (which reads its own variable)."""
    return (
        config.get("base_url") or os.environ.get(provider["base_url_env"]) or provider["base_url"]
    )


class CircuitBreaker:
    """Stops calls to a failing model for a while.

    After `failures` consecutive failures it opens: calls skip the model for
    `cooldown_s` seconds. Then one probe call goes through (half-open); its
    success closes the breaker, its failure opens it again.
    """

    def __init__(self, failures: int, cooldown_s: float) -> None:
        self.failures_to_open = failures
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def is_open(self) -> bool:
        """Whether calls skip the model now (open, and no probe is due)."""
        if self.opened_at is None:
            return False
        return self.probing or _now() - self.opened_at < self.cooldown_s

    def allows_call(self) -> bool:
        if self.opened_at is None:
            return True
        if self.probing or _now() - self.opened_at < self.cooldown_s:
            return False
        self.probing = True
        return True

    def record(self, succeeded: bool) -> None:
        if succeeded:
            self.failures, self.opened_at = 0, None
        else:
            self.failures += 1
            if self.probing or self.failures >= self.failures_to_open:
                self.opened_at = _now()
        self.probing = False


_BREAKERS: dict[tuple[str, str], CircuitBreaker] = {}


def circuit_breaker(provider: str, model: str, config: dict[str, Any]) -> CircuitBreaker:
    settings = config.get("circuit_breaker") or {}
    if (provider, model) not in _BREAKERS:
        _BREAKERS[provider, model] = CircuitBreaker(
            settings.get("failures", 5), settings.get("cooldown_s", 60.0)
        )
    return _BREAKERS[provider, model]


def chat_cost(provider: str, model: str, usage: dict[str, int]) -> float | None:
    """Estimated US dollars from the price table; None for a model without prices."""
    prices = CHAT_MODELS.get(provider, {}).get(model, {}).get("usd_per_million", (None, None))
    price_in, price_out = prices
    if price_in is None or price_out is None:
        return None
    cost = usage["prompt_tokens"] * price_in + usage["completion_tokens"] * price_out
    return round(cost / 1_000_000, 8)


def _chat_candidates(
    provider: str, config: dict[str, Any]
) -> list[tuple[ChatProvider, str, dict[str, Any]]]:
    """The configured model, then each fallback: a model id of the same
    provider, or {"provider", "model", "api_key"} for another provider's model
    (with that provider's key), each with the config its call uses."""
    candidates = [(CHAT_PROVIDERS[provider], config["model"], config)]
    for fallback in config.get("fallback_models", []):
        if isinstance(fallback, dict):
            other = {
                **config,
                "api_key": fallback.get("api_key"),
                "base_url": fallback.get("base_url"),
            }
            candidates.append((CHAT_PROVIDERS[fallback["provider"]], fallback["model"], other))
        else:
            candidates.append((CHAT_PROVIDERS[provider], fallback, config))
    return candidates


async def execute_chat(
    ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any], provider: str
) -> Any:
    """A chat completion: each round on the first model that answers (see
    _answer); while the model calls tools, their nodes run and the results go
    back to it, for at most `max_iterations` rounds; a JSON reply format is
    parsed and checked, with one retry that tells the model what was wrong.

    Returns content, finish_reason, model, provider, usage, cost_usd,
    latency_ms, and when they apply `fallbacks`, `reasoning`, `tool_calls`;
    with a JSON reply format, the parsed object (its usage in the node's stats).
    """
    form = config.get("response_format") or {"type": "text"}
    # The conversation so far outlives a failed attempt of this node: a retry
    # (a 5xx, a cut stream) repeats the model call that failed, never the tool
    # calls already made, whose effects (a row written) must happen once.
    state = ctx.memory()
    if "messages" not in state:
        messages = chat_messages(config, inputs.get("input"))
        if not messages:
            raise WorkflowError(
                "no messages to send: the prompt, messages and input are all " "empty"
            )
        state.update(
            messages=messages,
            rounds=[],
            calls=[],
            tool_rounds=0,
            corrected={"tool": False, "reply": False},
        )
    rounds: list[dict[str, Any]] = state["rounds"]
    calls: list[dict[str, Any]] = state["calls"]
    corrected: dict[str, bool] = state["corrected"]
    most = config.get("max_iterations", 5)
    while True:
        # A forced tool_choice holds for the first round only: forcing a call
        # every round, the model could never give its answer.
        call_config = config if not state["tool_rounds"] else {**config, "tool_choice": None}
        output, reply = await _answer(ctx, provider, call_config, state["messages"])
        rounds.append(output)
        if reply.tool_calls:
            state["tool_rounds"] += 1
            if state["tool_rounds"] > most:
                raise WorkflowError(
                    f"no final answer after {most} rounds of tool calls (maxIterations); "
                    "the model still asked for " + ", ".join(c["name"] for c in reply.tool_calls)
                )
            state["messages"] = [
                *state["messages"],
                *await _tool_round(ctx, config, reply, calls, corrected),
            ]
            continue
        if form["type"] == "text":
            break
        value, problem = structured_reply(reply.content, form)
        if problem is None:
            break
        if corrected["reply"]:
            raise WorkflowError(f"the reply {problem}, again after one retry ({reply.model})")
        corrected["reply"] = True
        ctx.emit("reply_rejected", model=reply.model, reason=problem)
        state["messages"] = [
            *state["messages"],
            {"role": "assistant", "content": reply.content},
            {
                "role": "user",
                "content": f"Your reply {problem}. Answer again "
                "with only the JSON, nothing before or after it.",
            },
        ]
    result = _combined(rounds)
    if calls:
        result["tool_calls"] = calls
    if form["type"] == "text":
        return result
    ctx.report(**result)
    return value


async def _tool_round(
    ctx: NodeContext,
    config: dict[str, Any],
    reply: ChatReply,
    calls: list[dict[str, Any]],
    corrected: dict[str, bool],
) -> list[dict[str, Any]]:
    """Run every tool the model asked for (together), and the messages that
    give the model their results. Arguments are checked against the tool's
    parameters first; a malformed call is reported back to the model once,
    then fails the node. A tool that fails gives the model its error."""
    tools = {tool["name"]: tool for tool in config.get("tools") or ()}
    checked: list[tuple[dict[str, str], Any, str | None]] = []
    too_many = len(reply.tool_calls) > MAX_TOOL_CALLS_PER_ROUND
    for call in reply.tool_calls:
        tool = tools.get(call["name"])
        args: Any = None
        if too_many:
            problem = (
                f"{len(reply.tool_calls)} calls at once are too many (at most "
                f"{MAX_TOOL_CALLS_PER_ROUND})"
            )
        elif tool is None:
            problem = f"there is no tool {call['name']!r} (tools: {', '.join(tools)})"
        else:
            try:
                args = strict_json(call["arguments"] or "{}")
            except (ValueError, RecursionError) as exc:
                problem = f"its arguments are not JSON ({getattr(exc, 'msg', exc)})"
            else:
                problem = schema_problem(
                    args, tool["parameters"], "its arguments do not match its parameters:"
                )
        checked.append((call, args, problem))
    wrong = [(call, problem) for call, _args, problem in checked if problem is not None]
    if wrong and corrected["tool"]:
        call, problem = wrong[0]
        raise WorkflowError(f"the model called {call['name']!r} wrongly again: {problem}")
    corrected["tool"] = corrected["tool"] or bool(wrong)

    async def run(call: dict[str, str], args: Any, problem: str | None) -> dict[str, Any] | None:
        if problem is not None:
            ctx.emit("tool_rejected", tool=call["name"], id=call["id"], reason=problem)
            return None
        node = tools[call["name"]]["node"]
        result, error = await ctx.call_tool(
            node, {"id": call["id"], "name": call["name"], "args": args}
        )
        return {
            "name": call["name"],
            "arguments": args,
            **({"error": error} if error is not None else {"result": result}),
        }

    if config.get("parallel_tool_calls") is False:
        # Asked for one at a time: so they run, in the model's order.
        done = [await run(*item) for item in checked]
    else:
        done = list(await asyncio.gather(*(run(*item) for item in checked)))
    results = []
    for (_call, _args, problem), outcome in zip(checked, done, strict=True):
        if outcome is None:
            results.append(
                f"error: {problem}. Call it again with arguments that match its " "parameters."
            )
            continue
        # In the order the model asked, whichever finished first.
        calls.append(outcome)
        results.append(
            json.dumps({"error": outcome["error"]}, ensure_ascii=False)
            if "error" in outcome
            else chat_text(outcome["result"])
        )
    assistant = {
        "role": "assistant",
        "content": reply.content or None,
        "tool_calls": [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for call in reply.tool_calls
        ],
    }
    return [
        assistant,
        *(
            {"role": "tool", "tool_call_id": call["id"], "content": text}
            for (call, _args, _problem), text in zip(checked, results, strict=True)
        ),
    ]


# Tool calls a model may ask for in one round; more is a malformed reply.
MAX_TOOL_CALLS_PER_ROUND = 16


def strict_json(text: str) -> Any:
    """JSON as the standard says it: NaN and Infinity are not JSON (and would
    make the output, a batch's lines, not JSON either)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON number")

    return json.loads(text, parse_constant=refuse)


def structured_reply(text: str, form: dict[str, Any]) -> tuple[Any, str | None]:
    """The reply parsed as JSON and checked against the format's schema:
    (value, None), or (None, what is wrong with it)."""
    try:
        value = strict_json(text)
    except json.JSONDecodeError as exc:
        return None, f"is not JSON ({exc.msg} at character {exc.pos})"
    except (ValueError, RecursionError) as exc:
        return None, f"is not JSON ({exc})"
    if form["type"] == "json_object":
        return (value, None) if isinstance(value, dict) else (None, "is not a JSON object")
    problem = schema_problem(value, form["json_schema"]["schema"], "does not match the schema:")
    return (value, None) if problem is None else (None, problem)


# What checks a value against a JSON Schema: set by the json-schema runtime part
# (jsonschema), which scripts with tools or a json_schema reply carry.
SCHEMA_CHECK: Callable[[Any, dict[str, Any]], str | None] | None = None


def schema_problem(value: Any, schema: dict[str, Any], what: str) -> str | None:
    """The first way `value` breaks the JSON Schema, said for the model and the log."""
    if SCHEMA_CHECK is None:
        raise WorkflowError("this script has no JSON Schema checker; regenerate it")
    problem = SCHEMA_CHECK(value, schema)
    return None if problem is None else f"{what} {problem}"


def _combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The last round's reply with every round's usage, cost and latency added up."""
    result = dict(rounds[-1])
    if len(rounds) == 1:
        return result
    usage: dict[str, int] = {}
    for output in rounds:
        for key, count in output["usage"].items():
            usage[key] = usage.get(key, 0) + count
    costs = [output["cost_usd"] for output in rounds]
    result["usage"] = usage
    result["cost_usd"] = None if None in costs else round(sum(costs), 8)
    result["latency_ms"] = round(sum(output["latency_ms"] for output in rounds), 1)
    passed_over = [item for output in rounds for item in output.get("fallbacks", ())]
    if passed_over:
        result["fallbacks"] = passed_over
    return result


async def _answer(
    ctx: NodeContext, provider: str, config: dict[str, Any], messages: list[dict[str, Any]]
) -> tuple[dict[str, Any], ChatReply]:
    """One reply on the first model that answers: the configured model, then
    each fallback model, skipping those whose breaker is open. The output
    names the models passed over and why (`fallbacks`)."""
    passed_over: list[dict[str, str]] = []
    # Whether every model failed for a reason that may pass (open breaker, cut
    # stream, dropped connection, rate limit, overload): then the node tries
    # again; `slowed` if any was a rate limit or overload, worth waiting out.
    transient, slowed = True, False
    for chat, model, call_config in _chat_candidates(provider, config):
        breaker = circuit_breaker(chat.name, model, config)
        if not breaker.allows_call():
            passed_over.append(
                {"provider": chat.name, "model": model, "reason": "circuit breaker open"}
            )
            ctx.emit("fallback", provider=chat.name, model=model, reason="circuit breaker open")
            continue
        reply = ChatReply(model=model)
        try:
            output = await _recorded(
                ctx, chat, call_config, reply, _chat_call(ctx, chat, call_config, messages, reply)
            )
        except (*chat.errors, TransientError) as exc:
            failure = (
                ChatFailure("transient", str(exc))
                if isinstance(exc, TransientError)
                else chat.failure(exc, ctx, call_config, model)
            )
            if failure.kind in ("configuration", "request"):
                # The key or its rights, or the request itself: no other model mends it.
                raise failure_error(failure) from None
            if failure.kind != "rate_limited":
                # Being asked to slow down is not an outage of the model.
                breaker.record(succeeded=False)
            slowed = slowed or failure.kind in ("rate_limited", "overloaded")
            transient = transient and failure.kind in ("transient", "rate_limited", "overloaded")
            if reply.streamed:
                # Tokens already went out: a fallback would repeat them. The
                # node's own retries start the reply again, announced by an event.
                raise TransientError(failure.message) from None
            passed_over.append({"provider": chat.name, "model": model, "reason": failure.message})
            ctx.emit("fallback", provider=chat.name, model=model, reason=failure.message)
            continue
        breaker.record(succeeded=True)
        if passed_over:
            output["fallbacks"] = passed_over
        return output, reply
    reasons = "; ".join(f"{item['model']}: {item['reason']}" for item in passed_over)
    failure_type = (
        RateLimited if transient and slowed else TransientError if transient else WorkflowError
    )
    raise failure_type(f"no model answered ({reasons})")


async def _chat_call(
    ctx: NodeContext,
    chat: ChatProvider,
    config: dict[str, Any],
    messages: list[dict[str, Any]],
    reply: ChatReply,
) -> dict[str, Any]:
    """One call on `reply.model`, within the model's rate budget; the SDK's
    errors propagate. Streamed text goes out as `token` events."""
    request = chat.request(config, messages, reply.model)
    # The client first: its first use imports SDK modules, which must not eat
    # into the slot the limiter hands out.
    client = chat.client(ctx, config)
    limiter = rate_limiter(chat.name, reply.model, config)
    estimate = _token_estimate(messages, config)
    await limiter.acquire(estimate)
    started = _now()
    if config.get("stream"):
        async for text in chat.stream(client, request, reply):
            reply.streamed = True
            ctx.emit("token", text=text)
        if reply.finish_reason is None:
            raise TransientError(
                f"the stream from {chat.label} ended before the reply was " "complete"
            )
    else:
        done = await chat.complete(client, request)
        reply.content, reply.finish_reason = done.content, done.finish_reason
        reply.model, reply.usage, reply.extra = done.model, done.usage, done.extra
        reply.tool_calls, reply.reasoning = done.tool_calls, done.reasoning
    await limiter.charge(reply.usage["total_tokens"] - estimate)
    output = {
        "content": reply.content,
        "finish_reason": reply.finish_reason,
        "model": reply.model,
        "provider": chat.name,
        "usage": reply.usage,
        "cost_usd": chat_cost(chat.name, reply.model, reply.usage),
        "latency_ms": _elapsed_ms(started),
        **reply.extra,
    }
    if reply.reasoning is not None:
        output["reasoning"] = reply.reasoning
    return output


async def _recorded(
    ctx: NodeContext,
    chat: ChatProvider,
    config: dict[str, Any],
    reply: ChatReply,
    call: Awaitable[dict[str, Any]],
) -> dict[str, Any]:
    """`call`, one attempt on `reply.model`, told to the usage log as it ends,
    answered or failed (record_provider_call)."""
    started = _now()
    output: dict[str, Any] | None = None
    failed: BaseException | None = None
    try:
        output = await call
        return output
    except BaseException as exc:
        failed = exc
        raise
    finally:
        record_provider_call(
            ctx,
            provider=chat.name,
            model=reply.model,
            usage=reply.usage,
            latency_ms=output["latency_ms"] if output else _elapsed_ms(started),
            cost_usd=output["cost_usd"] if output else None,
            error=failed,
            error_kind=(
                chat.failure(failed, ctx, config, reply.model).kind
                if isinstance(failed, chat.errors)
                else None
            ),
        )


def _token_estimate(messages: list[dict[str, Any]], config: dict[str, Any]) -> int:
    # About four characters a token, plus the completion budget when one is set.
    prompt = sum(len(str(message.get("content", ""))) for message in messages) // 4
    return prompt + int(config.get("max_completion_tokens") or 0)


CHAT_MODELS.update(
    {
        "groq": {
            "openai/gpt-oss-120b": {
                "context_window": 131072,
                "usd_per_million": [0.15, 0.6],
                "requests_per_minute": 1000,
                "tokens_per_minute": 250000,
            },
            "openai/gpt-oss-20b": {
                "context_window": 131072,
                "usd_per_million": [0.075, 0.3],
                "requests_per_minute": 1000,
                "tokens_per_minute": 250000,
            },
            "qwen/qwen3.8-27b": {
                "context_window": 131072,
                "usd_per_million": [0.8, 4.0],
                "requests_per_minute": 1000,
                "tokens_per_minute": 250000,
            },
            "groq/compound": {
                "context_window": 131072,
                "usd_per_million": [None, None],
                "requests_per_minute": 200,
                "tokens_per_minute": 200000,
            },
            "groq/compound-mini": {
                "context_window": 131072,
                "usd_per_million": [None, None],
                "requests_per_minute": 200,
                "tokens_per_minute": 200000,
            },
        }
    }
)
RETIRED_MODELS.update(
    {
        "groq": {
            "llama-3.1-8b-instant": "openai/gpt-oss-20b",
            "llama-3.3-70b-versatile": "openai/gpt-oss-120b",
            "llama-3.1-70b-versatile": "openai/gpt-oss-120b",
            "mixtral-8x7b-32768": "openai/gpt-oss-20b",
            "gemma2-9b-it": "openai/gpt-oss-20b",
            "llama3-8b-8192": "openai/gpt-oss-20b",
            "llama3-70b-8192": "openai/gpt-oss-120b",
            "qwen/qwen3-32b": "qwen/qwen3.8-27b",
            "meta-llama/llama-4-scout-17b-16e-instruct": "openai/gpt-oss-20b",
            "meta-llama/llama-4-maverick-17b-128e-instruct": "openai/gpt-oss-120b",
            "moonshotai/kimi-k2-instruct": "openai/gpt-oss-120b",
            "moonshotai/kimi-k2-instruct-0905": "openai/gpt-oss-120b",
        }
    }
)
_GROQ_HOST = {"label": "Groq", "base_url_env": "GROQ_BASE_URL", "base_url": "https://api.groq.com"}


class GroqProvider(OpenAIWireProvider):
    """Groq through its official SDK. The SDK retries 408/409/429/5xx and
    dropped connections itself, honouring retry-after, `ctx.retries` times."""

    name = "groq"
    label = "Groq"
    sdk = groq
    transport_errors = (httpx.TransportError,)
    errors = (groq.APIError, httpx.TransportError)
    reasoning_options = ("reasoning_effort", "reasoning_format", "include_reasoning")

    def client(self, ctx: NodeContext, config: dict[str, Any]) -> groq.AsyncGroq:
        api_key = ctx.secret(config["api_key"])
        url = base_url(_GROQ_HOST, config)

        def create() -> groq.AsyncGroq:
            hooks = {"response": [rate_limit_hook("groq", "/chat/completions")]}
            http = groq.DefaultAsyncHttpxClient(event_hooks=hooks)
            return groq.AsyncGroq(api_key=api_key, base_url=url, http_client=http)

        key = ("groq", url, config["api_key"]["$secret"])
        client: groq.AsyncGroq = ctx.resource(key, create)
        return self.for_node(client, ctx)

    def usage(self, completion: Any) -> Any:
        # Streams carry it in x_groq on the final chunk (and top-level there too).
        extra = getattr(completion, "x_groq", None)
        if extra is not None and getattr(extra, "usage", None) is not None:
            return extra.usage
        return getattr(completion, "usage", None)

    def status_kind(self, status: int, detail: dict[str, Any]) -> str | None:
        # 498: flex-tier capacity, a rate limit by another name.
        return "rate_limited" if status == 498 else None


CHAT_PROVIDERS["groq"] = GroqProvider()


async def execute_condition(
    ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Pick the branch: edges from the other handle are skipped."""
    result = bool(config["expression"])
    return {"result": result, "branch": "true" if result else "false", "value": inputs.get("input")}


async def execute_edit_fields(
    ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Merge the fields into the incoming object (a non-object arrives as
    {"value": …}), or replace it with them."""
    base = inputs.get("input")
    if config["mode"] == "replace" or base is None:
        return dict(config["fields"])
    if not isinstance(base, dict):
        # Any output may feed any input: a value that is not an object is kept as `value`.
        base = {"value": base}
    return {**base, **config["fields"]}


async def execute_groq_completion(
    ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]
) -> Any:
    """One Groq chat completion (see execute_chat: fallbacks, breakers, budgets)."""
    return await execute_chat(ctx, config, inputs, "groq")


async def execute_trigger(
    ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """The entry point: hands the workflow inputs to what it is wired to."""
    return dict(ctx.run.inputs)


async def execute_log(ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]) -> Any:
    """One JSON line on stderr (stdout stays clean for results); passes its input on."""
    record = {"level": config["level"], "node": ctx.node_id, "message": config["message"]}
    if config.get("data") is not None:
        record["data"] = config["data"]
    if config.get("include_input"):
        record["input"] = inputs.get("input")
    print(json.dumps(record, ensure_ascii=False, default=str), file=sys.stderr, flush=True)
    return inputs.get("input")


# ---------------------------------------------------------------------------
# The workflow's nodes, by generation: a node depends only on nodes of earlier
# generations. Each starts as soon as the nodes it depends on are done, so
# independent nodes run concurrently.
# ---------------------------------------------------------------------------


# generation 1 · node 'http' · 'POST /api/v1/triage' ('httpEndpoint')
async def node_http(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = {"method": "POST", "path": "/api/v1/triage", "description": ""}
    return await execute_trigger(ctx, config, inputs)


# generation 2 · node 'classify' · 'Classify urgency' ('groqCompletion')
async def node_classify(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = ctx.resolve(
        {
            "system_prompt": "Answer with one word: urgent or routine.",
            "prompt": "Customer {{ input.customer }} writes: {{ input.message }}",
            "temperature": 0.0,
            "max_completion_tokens": "{{ global.MAX_TOKENS }}",
            "stream": False,
            "circuit_breaker": {"failures": 5, "cooldown_s": 60},
            "tools": [],
            "max_iterations": 5,
            "model": "{{ global.DEFAULT_MODEL }}",
            "fallback_models": [],
            "api_key": {"$secret": "GROQ_API_KEY"},
        },
        checks={
            "max_completion_tokens": [{"type": "integer", "minimum": 1}, {"type": "null"}],
            "model": [{"type": "string"}],
        },
    )
    return await execute_groq_completion(ctx, config, inputs)


# generation 3 · node 'is_urgent' · 'Urgent?' ('condition')
async def node_is_urgent(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = ctx.resolve(
        {"expression": "{{ 'urgent' in nodes.classify.output.content | lower }}", "description": ""}
    )
    return await execute_condition(ctx, config, inputs)


# generation 4 · node 'escalate' · 'Escalate' ('editFields')
async def node_escalate(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = ctx.resolve(
        {
            "mode": "replace",
            "fields": {
                "queue": "escalations",
                "team": "{{ global.TEAM }}",
                "customer": "{{ input.customer }}",
                "reason": "{{ nodes.classify.output.content }}",
            },
        }
    )
    return await execute_edit_fields(ctx, config, inputs)


# generation 4 · node 'file' · 'File as routine' ('editFields')
async def node_file(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = ctx.resolve(
        {"mode": "replace", "fields": {"queue": "inbox", "customer": "{{ input.customer }}"}}
    )
    return await execute_edit_fields(ctx, config, inputs)


# generation 5 · node 'record' · 'Record decision' ('log')
async def node_record(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
    config = ctx.resolve(
        {
            "level": "info",
            "message": "triaged message from {{ input.customer }}",
            "data": {"tokens": "{{ nodes.classify.output.usage.total_tokens }}"},
            "include_input": False,
        }
    )
    return await execute_log(ctx, config, inputs)


STEPS = (
    Step("http", "POST /api/v1/triage", node_http),
    Step("classify", "Classify urgency", node_classify, after=("http",), timeout=30.0),
    Step(
        "is_urgent",
        "Urgent?",
        node_is_urgent,
        links={"input": (Link("classify", field="content"),)},
    ),
    Step(
        "escalate",
        "Escalate",
        node_escalate,
        links={"input": (Link("is_urgent", field="value", branch="true"),)},
        after=("classify",),
    ),
    Step(
        "file",
        "File as routine",
        node_file,
        links={"input": (Link("is_urgent", field="value", branch="false"),)},
    ),
    Step(
        "record",
        "Record decision",
        node_record,
        links={
            "input": (
                Link("escalate"),
                Link("file"),
            )
        },
        after=("classify",),
    ),
)
# The workflow's result: the outputs of the nodes nothing else consumes.
SINKS: tuple[str, ...] = ("record",)
# Every model a node may call, in the order it tries them, with the provider,
# the variable holding the key and the address: what --check checks. A model
# None is set by an expression, known only at run time.
PROVIDER_USES: list[dict[str, Any]] = [
    {
        "node": "classify",
        "role": "model",
        "provider": "groq",
        "model": None,
        "kind": "chat",
        "api_key": "GROQ_API_KEY",
        "base_url": None,
    }
]


async def run_workflow(
    inputs: dict[str, Any],
    *,
    on_event: EventHandler | None = None,
    resources: dict[Hashable, Any] | None = None,
) -> dict[str, Any]:
    """Run the workflow once: {"outputs", "usage", "latency_ms", "nodes"}.

    `on_event` receives each event as it happens (see stream_workflow).
    API clients (and their connections) are shared by every run on the same
    event loop and closed when the loop ends or on `await aclose()`. A caller
    managing lifetimes itself passes its own `resources` dict instead: the run
    uses it and never closes it (close_resources() does).
    """
    checked = check_inputs(inputs)
    shared = await loop_resources() if resources is None else resources
    run = Run(checked, on_event, shared)
    try:
        return await asyncio.wait_for(run.execute(STEPS, SINKS), RUN_TIMEOUT_S)
    except TimeoutError:
        error = WorkflowError(f"the workflow did not finish within {RUN_TIMEOUT_S:g} s")
        run.emit({"type": "workflow_failed", "error": str(error)})
        raise error from None
    except WorkflowError as exc:
        run.emit({"type": "workflow_failed", "error": str(exc)})
        raise


async def stream_workflow(
    inputs: dict[str, Any], *, resources: dict[Hashable, Any] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Run the workflow, yielding events as they happen: node_started, token,
    node_finished, node_skipped, then workflow_finished (or workflow_failed).

    Each event is a JSON-ready dict, ready to forward as a server-sent event.
    Clients are shared with every other run on the loop, as for run_workflow;
    `resources` is the same as there.
    """
    events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def drive() -> None:
        try:
            await run_workflow(inputs, on_event=events.put_nowait, resources=resources)
        finally:
            events.put_nowait(None)

    task = asyncio.create_task(drive())
    try:
        while (event := await events.get()) is not None:
            yield event
        await task
    finally:
        if not task.done():
            task.cancel()
            # wait(), not gather(): a consumer cancelled again while it waits
            # (an ASGI server's cancel scope repeats its cancellation) must not
            # cancel the run's own clean-up, which closes the provider's stream.
            await asyncio.wait({task})
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so never reported as unhandled


# -- batch runs ---------------------------------------------------------------------


# The keys every result line has: how a previous output of a batch is told
# apart from a file that is not ours (which is never written to).
_RESULT_KEYS = ("id", "status", "latency_ms")


def _is_result_line(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(record, dict)
        and all(key in record for key in _RESULT_KEYS)
        and record["status"] in ("ok", "failed")
    )


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _check_output(source: str, target: str) -> tuple[set[str], int, int | None]:
    """Ids already in `target`, how many of them failed, and where a torn last
    line begins (None: the file ends on a whole line). Changes nothing.

    InputError when `target` is `source`, or exists and is anything but a
    previous output of a batch: every whole line a result line, and a torn
    last line (a run killed mid-write) the start of one."""
    try:
        if os.path.samefile(source, target):
            raise InputError(f"--output {target} is the --batch file; choose another file")
    except FileNotFoundError:
        return set(), 0, None
    if not os.path.isfile(target):
        raise InputError(f"--output {target} is not a regular file")
    # The last line about an id is its result: a re-run appends a new one.
    latest: dict[str, dict[str, Any]] = {}
    offset, torn_at = 0, None
    with open(target, "rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                # Our lines start so; a torn one does not parse, or is whole but
                # lost its line break.
                if line.startswith(b'{"id": ') and (_is_result_line(line) or not _is_json(line)):
                    torn_at = offset
                    break
            elif not line.strip():
                offset += len(line)
                continue
            elif _is_result_line(line):
                record = json.loads(line)
                latest[str(record["id"])] = record
                offset += len(line)
                continue
            raise InputError(
                f"--output {target} exists and is not an output of this batch (line {number} "
                "is not a result line); choose another file"
            )
    done, failed = set(), 0
    for record_id, record in latest.items():
        if record["status"] == "failed" and _runs_again(record):
            continue
        done.add(record_id)
        failed += record["status"] == "failed"
    return done, failed, torn_at


def _runs_again(record: dict[str, Any]) -> bool:
    """Whether a re-run retries this failed record (RETRY_FAILED: --retry-failed
    retries every failure, --no-retry-failed none, by default the transient ones)."""
    if RETRY_FAILED == "all":
        return True
    return RETRY_FAILED == "transient" and record.get("transient") is True


def _read_record(number: int, line: bytes) -> tuple[Any, dict[str, Any] | str]:
    """(id, inputs) of one input line; the inputs are an error text when the
    line cannot be read as a JSON object: that record fails, the others run."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return number, f"line {number} is not valid UTF-8"
    except RecursionError:
        return number, f"line {number} is nested too deeply"
    except json.JSONDecodeError as exc:
        return number, f"line {number} is not JSON: {exc}"
    except ValueError as exc:
        # Python refuses numbers of more than 4,300 digits (int_max_str_digits).
        return number, f"line {number} is not usable JSON: {exc}"
    if not isinstance(record, dict):
        return number, f"line {number} is not a JSON object"
    record_id = record.get("id", number)
    if "id" not in INPUTS:
        record.pop("id", None)
    return record_id, record


def _records(path: str) -> Iterator[tuple[int, Any, dict[str, Any] | str]]:
    """(line number, id, inputs) per input line. Read lazily: files may be large."""
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, *_read_record(number, line)


def _count_records(path: str) -> int:
    """How many records `path` holds; InputError when two have the same id
    (each result line names its record by id, so resuming could not tell them apart)."""
    first_line: dict[str, int] = {}
    for number, record_id, _ in _records(path):
        key = str(record_id)
        if key in first_line:
            raise InputError(
                f"{path}: id {key!r} is on line {first_line[key]} and line {number}; "
                "ids must be unique"
            )
        first_line[key] = number
    return len(first_line)


class _BatchProgress:
    """Counts, latencies and costs; a live progress line when stderr is a terminal."""

    def __init__(self, total: int, live: bool) -> None:
        self.total, self.live = total, live
        self.ok = self.failed = self.fallbacks = self.rate_limit_retries = 0
        self.rate_limit_wait_s = 0.0
        self.latencies: list[float] = []
        self.usage: dict[str, Any] = {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "cost_usd": 0.0,
        }
        self.started = _now()

    def add(self, line: dict[str, Any]) -> None:
        if line["status"] == "ok":
            self.ok += 1
        else:
            self.failed += 1
        self.fallbacks += "fallbacks" in line
        self.rate_limit_retries += line.get("rate_limit_retries", 0)
        self.rate_limit_wait_s += line.get("rate_limit_wait_s", 0.0)
        self.latencies.append(line["latency_ms"])
        for key, value in line.get("usage", {}).items():
            self.usage[key] = self.usage.get(key, 0) + value
        if self.live:
            sys.stderr.write("\r" + self.line() + "\x1b[K")
            sys.stderr.flush()

    def line(self) -> str:
        done = self.ok + self.failed
        elapsed = _now() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f", ETA {(self.total - done) / rate:.0f} s" if rate and self.total > done else ""
        return f"{done}/{self.total} done, {self.failed} failed, {rate:.1f}/s{eta}"

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def percentile(share: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None

        return {
            "records": self.ok + self.failed,
            "ok": self.ok,
            "failed": self.failed,
            "fallbacks": self.fallbacks,
            # Tries after a rate limit or overload, and the time paused for them.
            "rate_limit_retries": self.rate_limit_retries,
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
            "usage": {key: round(value, 8) for key, value in self.usage.items()},
            "latency_ms": {"p50": percentile(0.5), "p95": percentile(0.95)},
            "elapsed_s": round(_now() - self.started, 3),
        }


def _open_output(source: str, target: str) -> tuple[set[str], int, int]:
    """Ids already in `target`, how many of them failed, and how many records
    of `source` are left to run; a torn last line of `target` is cut off.
    Everything that can refuse the run does so before the output is touched."""
    done, failed_before, torn_at = _check_output(source, target)
    total = _count_records(source) - len(done)
    if torn_at is not None:
        # A run killed mid-write left a torn last line: cut it off, so that
        # record runs again and appears exactly once.
        with open(target, "rb+") as file:
            file.truncate(torn_at)
    return done, failed_before, max(total, 0)


async def _run_record(record_id: Any, inputs: dict[str, Any] | str) -> tuple[dict[str, Any], str]:
    """One record's result line, as a dict and as the JSON text to write. Records
    share the event loop's clients (loop_resources)."""
    started = _now()
    # The usage log's lines of this record's calls carry its id.
    _USAGE_RECORD.set(record_id)
    try:
        if isinstance(inputs, str):
            raise InputError(inputs)
        result = await run_workflow(inputs)
        line = {
            "id": record_id,
            "status": "ok",
            "outputs": result["outputs"],
            "usage": result["usage"],
            "latency_ms": result["latency_ms"],
        }
        if fallbacks := _node_errors(result):
            line["fallbacks"] = fallbacks
        waits = [s for s in result["nodes"].values() if s.get("rate_limit_retries")]
        if waits:
            line["rate_limit_retries"] = sum(s["rate_limit_retries"] for s in waits)
            line["rate_limit_wait_s"] = round(sum(s["rate_limit_wait_s"] for s in waits), 3)
    except WorkflowError as exc:
        line = {
            "id": record_id,
            "status": "failed",
            "error": str(exc),
            "latency_ms": _elapsed_ms(started),
        }
        if getattr(exc, "transient", False):
            # Rate limits, overload, timeouts: a re-run of the batch tries it again.
            line["transient"] = True
    except Exception as exc:
        # Whatever a record does, it fails alone: the batch goes on.
        line = {
            "id": record_id,
            "status": "failed",
            "error": _redact_urls(f"{type(exc).__name__}: {exc}"),
            "latency_ms": _elapsed_ms(started),
        }
    try:
        text = json.dumps(line, ensure_ascii=False, default=str)
    except (ValueError, RecursionError) as exc:
        line = {
            "id": record_id,
            "status": "failed",
            "error": f"the result cannot be written as JSON: {exc}",
            "latency_ms": line["latency_ms"],
        }
        text = json.dumps(line, ensure_ascii=False, default=str)
    return line, text


async def run_batch(source: str, target: str, concurrency: int) -> tuple[dict[str, Any], bool]:
    """Run every record of `source` not yet in `target`, appending one result
    line per record as it finishes. Returns the summary, and whether the whole
    output (earlier runs included) holds a failure.

    Ctrl-C stops taking records and lets those in flight finish; a second
    Ctrl-C abandons them (they run again on the next resume)."""
    done, failed_before, total = _open_output(source, target)
    progress = _BatchProgress(total, sys.stderr.isatty())
    slots = asyncio.Semaphore(concurrency)
    stopping = asyncio.Event()
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        if stopping.is_set():
            for task in in_flight:
                task.cancel()
        stopping.set()
        print(
            f"\nstopping: finishing {len(in_flight)} record(s) in flight "
            "(Ctrl-C again to abandon them)",
            file=sys.stderr,
        )

    loop.add_signal_handler(signal.SIGINT, interrupt)
    with open(target, "a", encoding="utf-8") as out:

        async def one(record_id: Any, inputs: dict[str, Any] | str) -> None:
            try:
                line, text = await _run_record(record_id, inputs)
            finally:
                slots.release()
            # One write per line and a flush: a crash loses only records in flight.
            out.write(text + "\n")
            out.flush()
            progress.add(line)

        try:
            for _, record_id, inputs in _records(source):
                if str(record_id) in done:
                    continue
                await slots.acquire()
                if stopping.is_set():
                    break
                task = asyncio.create_task(one(record_id, inputs))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            # Every record shared the loop's clients; closed before the summary.
            await aclose()
    if progress.live:
        sys.stderr.write("\n")
    summary = progress.summary()
    summary["interrupted"] = stopping.is_set()
    return summary, failed_before + progress.failed > 0


# -- batch runs on a Dask cluster (--dask) -------------------------------------------
#
# The client (this process) reads the input, sends records to the workers in
# chunks and is the only writer of the output, so the resume and exactly-once
# rules of a local batch hold unchanged. Workers run this very script: a worker
# plugin carries its source to every worker (those that join or replace a dead
# one later too) and loads it there as a module, which runs each chunk on one
# event loop per worker process.

DASK_INSTALL = "pip install 'dask[distributed]'"


def _import_distributed() -> Any:
    """The `distributed` package. It is an optional extra that only --dask
    needs, so it is not among the script's dependencies: InputError if missing."""
    try:
        import distributed
    except ImportError:
        raise InputError(
            f"--dask needs Dask's distributed scheduler, which is not installed: {DASK_INSTALL}"
        ) from None
    return distributed


def _dask_load(name: str, source: str) -> Any:
    """The workflow module `name` on a worker, run from `source` on first use.
    Travels by value (cloudpickle) with the plugin, so it names only `sys`."""
    module = sys.modules.get(name)
    if module is None:
        module = type(sys)(name)  # the module type, without importing `types`
        # Registered before it runs: dataclasses look their own module up meanwhile.
        sys.modules[name] = module
        try:
            exec(compile(source, f"<{name}>", "exec", dont_inherit=True), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def _dask_task(
    name: str, records: list[tuple[Any, Any]]
) -> tuple[str | None, list[str], list[dict[str, Any]]]:
    """One chunk, on a Dask worker (in one of its threads): the module the plugin
    loaded there runs it. Travels by value (cloudpickle), so it names only `sys`."""
    result: tuple[str | None, list[str], list[dict[str, Any]]] = sys.modules[name]._dask_worker_run(
        records
    )
    return result


def _dask_plugin(distributed: Any, name: str, source: str, settings: dict[str, Any]) -> Any:
    """A worker plugin that loads this script on every worker, now and later."""

    class WorkflowOnWorkers(distributed.WorkerPlugin):
        def __init__(self) -> None:
            self.name, self.source, self.settings = name, source, settings

        def setup(self, worker: Any) -> None:
            _dask_load(self.name, self.source)._dask_worker_start(self.settings)

        def teardown(self, worker: Any) -> None:
            module = sys.modules.pop(self.name, None)
            if module is not None:
                module._dask_worker_stop()

    return WorkflowOnWorkers()


# On a worker: the event loop this process runs records on (in a thread of its
# own, so that chunks arriving in several Dask threads share one rate limiter,
# one set of clients and one --concurrency), and those clients and slots.
_DASK_WORKER: dict[str, Any] = {}


def _dask_worker_start(settings: dict[str, Any]) -> None:
    import threading  # only a Dask worker runs a loop of its own

    # This worker's share of the cluster's budget, set before any limiter
    # exists: of --rpm / --tpm when given, else of each model's own budget.
    global BUDGET_SHARES
    RATE_LIMITS.update(
        requests_per_minute=settings["requests_per_minute"],
        tokens_per_minute=settings["tokens_per_minute"],
    )
    BUDGET_SHARES = settings["budget_shares"]
    if settings.get("usage_log"):
        # Usage lines go back to the client with each chunk's results: it alone
        # writes the log, as it alone writes the output.
        global USAGE_LOG
        USAGE_LOG = _UsageLines()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="catalyst-records", daemon=True)
    thread.start()
    _DASK_WORKER.update(loop=loop, thread=thread, slots=asyncio.Semaphore(settings["concurrency"]))


def _dask_worker_run(
    records: list[tuple[Any, Any]],
) -> tuple[str | None, list[str], list[dict[str, Any]]]:
    """(None, result lines as JSON text, usage log lines) for a chunk; (why, [],
    []) when this worker cannot run records at all (its environment lacks a
    variable): that is no record's failure, so nothing is written and a resume
    runs them."""
    try:
        _check_environment()
    except InputError as exc:
        return f"on a Dask worker: {exc}", [], []
    running = asyncio.run_coroutine_threadsafe(_dask_chunk(records), _DASK_WORKER["loop"])
    return None, *running.result()


class _UsageLines(list[dict[str, Any]]):
    """A Dask worker's usage log: lines kept until a chunk takes them back."""

    def write(self, entry: dict[str, Any]) -> None:
        self.append(entry)


async def _dask_chunk(records: list[tuple[Any, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    slots: asyncio.Semaphore = _DASK_WORKER["slots"]

    async def one(record_id: Any, inputs: dict[str, Any] | str) -> str:
        # Records on this worker share its loop's clients (loop_resources).
        async with slots:
            return (await _run_record(record_id, inputs))[1]

    texts = list(await asyncio.gather(*(one(*record) for record in records)))
    # The usage lines of every call so far (other chunks' too): taken on the
    # loop's own thread, where calls add them, so none is taken twice or lost.
    usage: list[dict[str, Any]] = []
    if isinstance(USAGE_LOG, _UsageLines):
        usage = USAGE_LOG[:]
        USAGE_LOG.clear()
    return texts, usage


def _dask_worker_stop() -> None:
    state = dict(_DASK_WORKER)
    _DASK_WORKER.clear()
    if not state:
        return
    loop = state["loop"]
    closing = asyncio.run_coroutine_threadsafe(aclose(), loop)
    try:
        closing.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        state["thread"].join(timeout=10)
        if not state["thread"].is_alive():
            loop.close()


def _dask_chunks(
    source: str, done: set[str], size: int
) -> Iterator[list[tuple[Any, dict[str, Any] | str]]]:
    """Records not yet in the output, `size` at a time, read lazily."""
    chunk: list[tuple[Any, dict[str, Any] | str]] = []
    for _, record_id, inputs in _records(source):
        if str(record_id) not in done:
            chunk.append((record_id, inputs))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dask_connect(distributed: Any, address: str, workers: int) -> tuple[Any, Any]:
    """(client, the LocalCluster it owns or None) for `address` or "local"."""
    if address != "local":
        client = distributed.Client(address, timeout=30, set_as_default=False)
        try:
            client.wait_for_workers(1, timeout=60)
        except BaseException:
            client.close()
            raise
        return client, None
    import logging  # only a LocalCluster's own logs are set here

    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=2,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return distributed.Client(cluster, set_as_default=False), cluster


def _dask_forget(client: Any, name: str) -> None:
    """Unload this run's module from the workers (a long-lived cluster keeps them)."""
    try:
        client.unregister_worker_plugin(name)
    except Exception as exc:
        # A cluster that went away has forgotten it already; the results are written.
        _notice(f"note: the Dask workers did not unload the workflow: {exc}")


def _chunk_size(total: int, threads: int, concurrency: int) -> int:
    """Records per task: at most --concurrency (one chunk keeps a worker's slots
    busy), and small enough that every worker thread gets about four chunks, so
    that a short batch is spread evenly and no worker is left finishing a long one."""
    return max(1, min(concurrency, total // max(4 * threads, 1)))


def _share(budget: int | None, workers: int) -> int | None:
    return None if budget is None else max(1, budget // workers)


def run_batch_dask(
    source: str,
    target: str,
    address: str,
    concurrency: int,
    chunk_size: int | None,
    workers: int,
) -> tuple[dict[str, Any], bool]:
    """run_batch on a Dask cluster (`address`, or "local": a LocalCluster of
    `workers` processes): `concurrency` records in flight per worker process,
    `chunk_size` records per task (None: _chunk_size). Results come back here, one chunk at a time,
    and are written once each, by id (Dask reruns the task of a worker that died,
    so a record may have run twice)."""
    distributed = _import_distributed()
    done, failed_before, total = _open_output(source, target)
    if __name__ != "__main__" and __name__ in sys.modules:
        # Imported, not run: workers cannot import this module by its name, so
        # its functions travel by value as those of a script (__main__) do.
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with open(__file__, encoding="utf-8") as file:
        script = file.read()
    progress = _BatchProgress(total, sys.stderr.isatty())
    if total == 0:
        # Nothing left to run: no cluster to start or to bother.
        summary = progress.summary()
        summary.update(interrupted=False, workers=0)
        return summary, failed_before > 0
    # A fresh module per run: a long-lived worker keeps nothing (budgets,
    # clients) from an earlier one.
    name = f"_catalyst_batch_{os.urandom(8).hex()}"
    # Why chunks were not run: a worker's environment (exit 2), a task that failed (exit 1).
    problems: dict[type[WorkflowError], list[str]] = {InputError: [], WorkflowError: []}
    stopping = interrupted = False

    def interrupt(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            raise KeyboardInterrupt
        stopping = True
        print(
            f"\nstopping: finishing {len(pending)} chunk(s) in flight "
            "(Ctrl-C again to abandon them)",
            file=sys.stderr,
        )

    pending: dict[Any, list[tuple[Any, Any]]] = {}
    client, cluster = _dask_connect(distributed, address, workers)
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        threads = client.nthreads()
        settings: dict[str, Any] = {"concurrency": concurrency, "usage_log": USAGE_LOG is not None}
        # The budget is split evenly: each worker process paces itself with its
        # share, so no request waits on another machine (see README).
        settings.update(
            requests_per_minute=_share(RATE_LIMITS["requests_per_minute"], len(threads)),
            tokens_per_minute=_share(RATE_LIMITS["tokens_per_minute"], len(threads)),
            budget_shares=len(threads),
        )
        client.register_plugin(_dask_plugin(distributed, name, script, settings), name=name)
        size = chunk_size or _chunk_size(total, sum(threads.values()), concurrency)
        chunks = _dask_chunks(source, done, size)
        finished = distributed.as_completed(loop=client.loop)

        def submit() -> None:
            chunk = next(chunks, None)
            if chunk is not None and not stopping:
                future = client.submit(_dask_task, name, chunk, pure=False)
                pending[future] = chunk
                finished.add(future)

        # Enough chunks queued that no worker thread waits; no more, so that a
        # large input is not held in memory.
        for _ in range(sum(threads.values()) + len(threads)):
            submit()
        with open(target, "a", encoding="utf-8") as out:
            try:
                for future in finished:
                    pending.pop(future)
                    try:
                        problem, texts, usage = future.result()
                        kind: type[WorkflowError] = InputError
                    except Exception as exc:
                        problem, texts = f"a Dask task failed: {type(exc).__name__}: {exc}", []
                        usage, kind = [], WorkflowError
                    if USAGE_LOG is not None:
                        for entry in usage:
                            USAGE_LOG.write(entry)
                    if problem is not None:
                        # Not a record's failure: stop, and leave its records to a resume.
                        problems[kind].append(problem)
                        stopping = True
                    for text in texts:
                        line = json.loads(text)
                        if str(line["id"]) in done:
                            continue  # a chunk run again after a worker died: written once
                        done.add(str(line["id"]))
                        # One write per line and a flush: a crash loses only chunks in flight.
                        out.write(text + "\n")
                        out.flush()
                        progress.add(line)
                    submit()
            except KeyboardInterrupt:
                interrupted = True
                client.cancel(list(pending))
    finally:
        signal.signal(signal.SIGINT, previous)
        _dask_forget(client, name)
        client.close()
        if cluster is not None:
            cluster.close()
    if progress.live:
        sys.stderr.write("\n")
    for kind, reasons in problems.items():
        if reasons:
            raise kind(
                f"{reasons[0]}; {len(reasons)} chunk(s) not run: run the same command "
                "again to resume"
            )
    summary = progress.summary()
    summary["interrupted"] = stopping or interrupted
    summary["workers"] = len(threads)
    return summary, failed_before + progress.failed > 0


# -- health check (--check) ----------------------------------------------------------
#
# Nothing of the workflow runs. For each provider it calls (fallbacks and router
# candidates included), per key variable and address: is the key accepted (GET
# /models), is every model a node names listed and not retired, and how long one
# test call takes (1 token, or one tiny embedding). The verdict:
#   healthy  (exit 0) every model answers as configured;
#   degraded (exit 1) every node has a model that answers, but something will cost
#            a fallback, a wait or a retry: a model a node names is missing,
#            retired or refused while another of its models answers; a fallback's
#            provider rejects its key; a provider rate-limits, is overloaded or
#            fails the models list or the test call; the test call takes longer
#            than CHECK_SLOW_MS;
#   unusable (exit 2) a key variable is not set (the script would not start), or a
#            node has no model that can answer (rejected key, unreachable provider,
#            every model missing or retired).
# A model set by an expression is known only at run time: listed, not checked.
CHECK_TIMEOUT_S = 20.0
CHECK_SLOW_MS = 5000.0
# Providers whose API lists no models: the test call checks the key and model.
_UNLISTED_PROVIDERS = ("voyage",)
_VERDICTS = ("healthy", "degraded", "unusable")
# Model statuses under which a node can still call the model.
_USABLE_MODEL = ("ok", "unverified")


@dataclass
class _CheckedProvider:
    """What --check found out about one provider, key variable and address."""

    name: str
    key_variable: str | None
    base_url: str | None
    # accepted, rejected, missing (not set), not needed, unknown.
    key: str = "unknown"
    listed: list[str] | None = None
    models_ms: float | None = None
    call_model: str | None = None
    call_ms: float | None = None
    # ok, degraded or unusable.
    status: str = "ok"
    problems: list[str] = field(default_factory=list)
    # Models the test call was refused (403, 404, retired): why.
    refused: dict[str, str] = field(default_factory=dict)

    def worsen(self, status: str, problem: str) -> None:
        order = ("ok", "degraded", "unusable")
        if order.index(status) > order.index(self.status):
            self.status = status
        self.problems.append(problem)


async def _no_node(ctx: NodeContext, inputs: dict[str, Any]) -> None:
    """The step --check's provider clients belong to: nothing runs in it."""


def _use_key(use: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return use["provider"], use["api_key"], use["base_url"]


def _secret_values() -> list[str]:
    """The keys --check may meet in a provider's message: never printed."""
    names = {use["api_key"] for use in PROVIDER_USES if use["api_key"]}
    # Longest first, so that no shorter key cuts a longer one apart; a value too
    # short to be a key (a placeholder) would blank out ordinary words.
    values = {os.environ.get(name, "") for name in names}
    return sorted((value for value in values if len(value) >= 8), key=len, reverse=True)


def _scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return _printable(text)


def _listed(model: str, listed: list[str]) -> bool:
    """Whether the provider lists `model`, or a dated version of it
    (Anthropic lists claude-haiku-4-5-20251001 for the alias claude-haiku-4-5)."""
    if model in listed:
        return True
    return any(
        found.startswith(model + "-") and found[len(model) + 1 :].isdigit() for found in listed
    )


async def _test_call(chat: ChatProvider, client: Any, kind: str, model: str) -> None:
    if kind == "chat":
        messages = [{"role": "user", "content": "Reply with OK."}]
        await chat.complete(client, chat.request({"max_completion_tokens": 1}, messages, model))
    else:
        await client.embeddings.create(input=["health check"], model=model)


def _failure(
    chat: ChatProvider, exc: Exception, ctx: NodeContext, config: dict[str, Any], model: str
) -> ChatFailure:
    if isinstance(exc, chat.errors):
        return chat.failure(exc, ctx, config, model)
    return ChatFailure("request", f"{type(exc).__name__}: {exc}")


async def _check_provider(
    checked: _CheckedProvider, uses: list[dict[str, Any]], resources: dict[Hashable, Any]
) -> None:
    chat = CHAT_PROVIDERS[checked.name]
    label = chat.label
    config = {
        "api_key": {"$secret": checked.key_variable} if checked.key_variable else None,
        "base_url": checked.base_url,
    }
    if checked.key_variable is None:
        checked.key = "not needed"
    elif not os.environ.get(checked.key_variable):
        checked.key = "missing"
        problem = f"{checked.key_variable} is not set: the script cannot start without it"
        checked.worsen("unusable", problem)
        return
    step = Step("--check", "health check", _no_node, timeout=CHECK_TIMEOUT_S, retries=0)
    ctx = NodeContext(Run({}, None, resources), step)
    client = chat.client(ctx, config)
    if checked.name not in _UNLISTED_PROVIDERS:
        started = _now()
        try:
            checked.listed = await chat.list_models(client)
            checked.key = "accepted" if checked.key_variable else checked.key
        except Exception as exc:
            failure = _failure(chat, exc, ctx, config, "")
            if getattr(exc, "status_code", None) == 401:
                checked.key = "rejected"
                checked.worsen("unusable", failure.message)
                return
            if failure.kind == "transient":
                checked.worsen("unusable", failure.message)
                return
            checked.worsen("degraded", f"{label}'s models list failed: {failure.message}")
        checked.models_ms = _elapsed_ms(started)
    retired = RETIRED_MODELS.get(checked.name, {})
    callable_uses = [
        use
        for use in uses
        if use["model"] is not None
        and use["kind"] != "other"
        and use["model"] not in retired
        and (checked.listed is None or _listed(use["model"], checked.listed))
    ]
    if not callable_uses:
        return
    use = callable_uses[0]
    checked.call_model = use["model"]
    started = _now()
    try:
        await _test_call(chat, client, use["kind"], use["model"])
    except Exception as exc:
        failure = _failure(chat, exc, ctx, config, use["model"])
        status = getattr(exc, "status_code", None)
        if status == 401:
            checked.key = "rejected"
            checked.worsen("unusable", failure.message)
        elif status == 403 or failure.kind == "unavailable":
            checked.refused[use["model"]] = failure.message
        else:
            checked.worsen("degraded", f"the test call to {label} failed: {failure.message}")
        return
    checked.call_ms = _elapsed_ms(started)
    if checked.key == "unknown":
        checked.key = "accepted"
    if checked.call_ms > CHECK_SLOW_MS:
        checked.worsen(
            "degraded",
            f"{label} took {checked.call_ms:,.0f} ms for a 1-token call "
            f"on {use['model']} (slow: more than {CHECK_SLOW_MS:,.0f} ms)",
        )


def _model_row(use: dict[str, Any], checked: _CheckedProvider) -> dict[str, Any]:
    """One model a node may call: ok, unverified, retired, missing, refused,
    unusable (its provider is), or not checked (an expression)."""
    row = {key: use[key] for key in ("node", "role", "provider", "model")}
    model = use["model"]
    replacement = RETIRED_MODELS.get(use["provider"], {}).get(model or "")
    if model is None:
        row.update(status="not checked", note="set by an expression at run time")
    elif checked.status == "unusable":
        row.update(status="unusable", note=checked.problems[-1])
    elif replacement:
        label = CHAT_PROVIDERS[use["provider"]].label
        row.update(
            status="retired",
            replacement=replacement,
            note=f"{label} retired {model}; use {replacement!r} instead",
        )
    elif model in checked.refused:
        row.update(status="refused", note=checked.refused[model])
    elif checked.listed is not None and not _listed(model, checked.listed):
        row.update(status="missing", note=f"{model} is not in the provider's models list")
    elif checked.listed is None and model != checked.call_model:
        row.update(status="unverified", note="the provider lists no models")
    else:
        row["status"] = "ok"
    return row


async def run_check() -> dict[str, Any]:
    """The health report: providers, models, problems, verdict and exit code."""
    checked: dict[tuple[str, str | None, str | None], _CheckedProvider] = {}
    for use in PROVIDER_USES:
        checked.setdefault(_use_key(use), _CheckedProvider(*_use_key(use)))
    resources: dict[Hashable, Any] = {}
    try:
        # One provider after the other: calls at the same time would share the
        # event loop and the CPU, and each would measure the others' time too.
        for key, found in checked.items():
            await _check_provider(
                found, [u for u in PROVIDER_USES if _use_key(u) == key], resources
            )
    finally:
        await close_resources(resources)
    secrets = _secret_values()
    rows = [_model_row(use, checked[_use_key(use)]) for use in PROVIDER_USES]
    verdict = 0
    problems: list[str] = []
    for found in checked.values():
        problems += found.problems
        if found.key == "missing":
            verdict = 2
        elif found.status == "degraded":
            verdict = max(verdict, 1)
    keys = {found.key_variable for found in checked.values()}
    for name in REQUIRED_ENV:
        if name not in keys and not os.environ.get(name):
            problems.append(f"{name} is not set: the script cannot start without it")
            verdict = 2
    for node in dict.fromkeys(row["node"] for row in rows):
        mine = [row for row in rows if row["node"] == node and row["status"] != "not checked"]
        good = [row for row in mine if row["status"] in _USABLE_MODEL]
        problems += [
            f"node {node!r}: {row['note']}"
            for row in mine
            if row["status"] in ("retired", "missing", "refused")
        ]
        if mine and not good:
            problems.append(f"node {node!r}: none of its models can answer")
            verdict = 2
        elif len(good) < len(mine):
            problems.append(f"node {node!r}: {len(good)} of its {len(mine)} models can answer")
            verdict = max(verdict, 1)
    providers = [
        {
            "provider": found.name,
            "key_variable": found.key_variable,
            "base_url": found.base_url,
            "key": found.key,
            "models_listed": None if found.listed is None else len(found.listed),
            "models_ms": found.models_ms,
            "test_model": found.call_model,
            "test_call_ms": found.call_ms,
            "status": found.status,
            "problems": [_scrubbed(problem, secrets) for problem in found.problems],
        }
        for found in checked.values()
    ]
    for row in rows:
        if "note" in row:
            row["note"] = _scrubbed(row["note"], secrets)
    return {
        "workflow": WORKFLOW["id"],
        "status": _VERDICTS[verdict],
        "exit_code": verdict,
        "providers": providers,
        "models": rows,
        "problems": [_scrubbed(problem, secrets) for problem in problems],
    }


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def print_check(report: dict[str, Any]) -> None:
    """The report as tables on stdout."""
    providers = [
        [
            found["provider"],
            found["key_variable"] or "-",
            found["key"],
            _ms(found["models_ms"]) if found["models_listed"] is not None else "-",
            f"{_ms(found['test_call_ms'])} ({found['test_model']})" if found["test_model"] else "-",
            found["status"],
        ]
        for found in report["providers"]
    ]
    headers = ["provider", "key variable", "key", "models list", "test call", "status"]
    print(_printable(_table(headers, providers)))
    print()
    models = [
        [
            row["node"],
            row["role"],
            row["provider"],
            row["model"] or "(expression)",
            row["status"] + (f" -> {row['replacement']}" if "replacement" in row else ""),
        ]
        for row in report["models"]
    ]
    print(_printable(_table(["node", "uses", "provider", "model", "status"], models)))
    if report["problems"]:
        print()
        for problem in report["problems"]:
            print(f"- {problem}")
    print()
    print(f"{report['status']} (exit {report['exit_code']})")


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
# The most an input file (--input NAME=@FILE, --inputs-json) or stdin may hold.
MAX_INPUT_BYTES = 10 * 1024 * 1024


def check_inputs(given: dict[str, Any]) -> dict[str, Any]:
    """The workflow inputs with defaults filled in; InputError when they do not fit."""
    unknown = sorted(set(given) - set(INPUTS))
    if unknown:
        raise InputError(f"unknown input {unknown[0]!r}; this workflow takes: {_input_names()}")
    values = {}
    for name, spec in INPUTS.items():
        if name in given:
            values[name] = _typed(name, spec["type"], given[name])
        elif "default" in spec:
            values[name] = spec["default"]
        elif spec["required"]:
            raise InputError(f"missing required input {name!r} (--input {name}=...)")
    return values


def _input_names() -> str:
    return ", ".join(INPUTS) or "no inputs"


def _typed(name: str, expected: str, value: Any) -> Any:
    """Check a value against the declared type; text from the command line is converted."""
    if isinstance(value, str) and expected != "string":
        value = _parse_text(name, expected, value)
    checks = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    if not checks[expected](value):
        raise InputError(f"input {name!r} must be {expected}, got {type(value).__name__}")
    if not _all_finite(value):
        raise InputError(
            f"input {name!r} holds NaN or Infinity; only finite numbers are allowed "
            "(JSON has no others)"
        )
    return value


def _all_finite(value: Any) -> bool:
    """Whether no float in `value`, however nested, is NaN or infinite."""
    pending, seen = [value], set()
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, (list, tuple, dict)) and id(item) not in seen:
            seen.add(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)
    return True


def _json_value(text: str, what: str) -> Any:
    """JSON text as a value. Numbers too long to read and nesting too deep are
    InputErrors too, not tracebacks; NaN and Infinity are refused by _typed."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{what} is nested too deeply") from None
    except json.JSONDecodeError:
        raise
    except ValueError:
        limit = sys.get_int_max_str_digits()
        raise InputError(f"{what} holds a number longer than {limit:,} digits") from None


def _parse_text(name: str, expected: str, text: str) -> Any:
    if expected == "boolean" and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    try:
        return _json_value(text, f"input {name!r}")
    except json.JSONDecodeError:
        raise InputError(f"input {name!r} must be {expected}, got {_short(text)}") from None


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"… ({len(text):,} characters)"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    lines = []
    for name, spec in INPUTS.items():
        facts = [spec["type"]]
        if spec["required"]:
            facts.append("required")
        if "default" in spec:
            facts.append(f"default {json.dumps(spec['default'])}")
        description = f": {spec['description']}" if spec["description"] else ""
        lines.append(f"  {name} ({', '.join(facts)}){description}")
    environment = [f"  {name}" + (f": {text}" if text else "") for name, text in SECRETS.items()]
    epilog = "inputs:\n" + ("\n".join(lines) or "  none")
    if environment:
        epilog += "\n\nenvironment variables:\n" + "\n".join(environment)
    routes = ", ".join(f"{route['method']} {route['path']}" for route in served_routes())
    epilog += (
        f"\n\nserving over HTTP ({routes}):\n  serve [--host HOST] [--port PORT] (see serve --help)"
    )
    summary = f"Run the workflow {WORKFLOW['name']!r}. {WORKFLOW['description']}".strip()
    parser = argparse.ArgumentParser(
        description=_as_written(summary),
        epilog=_as_written(epilog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input value; NAME=@FILE reads it from a file (at most 10 MB), "
        "NAME=@@TEXT passes @TEXT as it is",
    )
    parser.add_argument(
        "--inputs-json", metavar="FILE", help="a JSON object of inputs, from FILE or - (stdin)"
    )
    parser.add_argument(
        "--stream", action="store_true", help="print tokens to stdout as they arrive"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result, usage and latency as JSON"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the model providers this workflow calls (keys, models, one 1-token call "
        "each) and run nothing; exit 0 healthy, 1 degraded, 2 unusable; --json for machines",
    )
    parser.add_argument(
        "--usage-log",
        metavar="FILE",
        help="append one JSON line per provider call (time, run, node, provider, model, "
        "tokens, latency, cost, error kind) to FILE; never prompts, replies or keys",
    )
    batch = parser.add_argument_group("batch runs")
    batch.add_argument(
        "--batch", metavar="IN.jsonl", help="run once per line (a JSON object of inputs)"
    )
    batch.add_argument(
        "--output",
        metavar="OUT.jsonl",
        help="results, appended as each record finishes; "
        "running the same command again resumes where it stopped",
    )
    batch.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="records in flight (default 8; with --dask: per worker process)",
    )
    batch.add_argument(
        "--record-timeout",
        type=float,
        default=RECORD_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long a record (or a single run) keeps trying through rate limits and "
        f"overload (default {RECORD_TIMEOUT_S:g})",
    )
    retry = batch.add_mutually_exclusive_group()
    retry.add_argument(
        "--retry-failed",
        action="store_true",
        help="on a re-run, also retry records that failed for good (default: only those "
        "that failed on rate limits, overload or timeouts)",
    )
    retry.add_argument(
        "--no-retry-failed",
        action="store_true",
        help="on a re-run, keep every failed record as it is",
    )
    batch.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the batch on a Dask cluster: a scheduler "
        "address (tcp://host:8786) or `local` (worker processes on this machine); "
        f"needs the optional extra, not installed with the script: {DASK_INSTALL}"
        "; the rate budget (--rpm/--tpm, else each model's own) is split between "
        "the workers",
    )
    batch.add_argument(
        "--dask-workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes of --dask local (default: one per CPU)",
    )
    batch.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="records per Dask task (default: --concurrency, less for a short batch)",
    )
    schedule = parser.add_argument_group("running on a schedule")
    schedule.add_argument(
        "--schedule",
        action="store_true",
        help="run at each tick of the workflow's scheduledTask until stopped (SIGTERM or "
        "Ctrl-C: after the run in flight); --input values and defaults feed every run; "
        "one JSON line per run on stdout",
    )
    schedule.add_argument(
        "--max-runs", type=int, metavar="N", help="with --schedule: stop after N runs"
    )
    limits = parser.add_argument_group("rate budgets (default: each model's own)")
    limits.add_argument("--rpm", type=int, metavar="N", help="requests per minute per model")
    limits.add_argument("--tpm", type=int, metavar="N", help="tokens per minute per model")
    args = parser.parse_args(argv)
    if bool(args.batch) != bool(args.output):
        parser.error("--batch and --output go together")
    if not args.record_timeout > 0:
        parser.error("--record-timeout must be more than 0 seconds")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.dask and not args.batch:
        parser.error("--dask runs a batch: give --batch and --output")
    if args.dask_workers < 1 or (args.chunk_size is not None and args.chunk_size < 1):
        parser.error("--dask-workers and --chunk-size must be at least 1")
    if args.schedule and (args.batch or args.stream):
        parser.error(
            "--schedule runs the workflow with the same inputs at each tick: "
            "not with --batch or --stream"
        )
    if args.check and (args.batch or args.schedule or args.stream):
        parser.error(
            "--check runs nothing of the workflow: not with --batch, --schedule or " "--stream"
        )
    if args.max_runs is not None and (not args.schedule or args.max_runs < 1):
        parser.error("--max-runs goes with --schedule and must be at least 1")
    return args


def _as_written(text: str) -> str:
    """Help text that argparse shows as written: it %-formats a description or
    epilog holding "%(prog)", so then every % is escaped."""
    return text.replace("%", "%%") if "%(prog)" in text else text


def _read_inputs(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.inputs_json:
        values = _load_json_inputs(args.inputs_json)
    for item in args.input:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--input takes NAME=VALUE, got {item!r}")
        if value.startswith("@@"):
            value = value[1:]  # @@ escapes a value that starts with @
        elif value.startswith("@"):
            value = _read_file(value[1:])
        values[name] = value
    return values


def _load_json_inputs(source: str) -> dict[str, Any]:
    text = _read_stdin() if source == "-" else _read_file(source)
    try:
        values = _json_value(text, "--inputs-json")
    except json.JSONDecodeError as exc:
        raise InputError(f"--inputs-json is not valid JSON: {exc}") from None
    if not isinstance(values, dict):
        raise InputError("--inputs-json must hold a JSON object of input values")
    return values


def _read_file(path: str) -> str:
    """A regular file's text, at most MAX_INPUT_BYTES: a FIFO or a device
    (/dev/zero) could block the script or fill its memory."""
    try:
        # Non-blocking, so that opening a FIFO with no writer does not wait.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with open(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError(f"cannot read {path}: not a regular file")
        data = file.read(MAX_INPUT_BYTES + 1)
    return _decoded(data, path)


def _read_stdin() -> str:
    return _decoded(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin")


def _decoded(data: bytes, source: str) -> str:
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{source} holds more than {MAX_INPUT_BYTES // 2**20} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source} is not UTF-8 text") from None


def _check_environment() -> None:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise InputError(f"environment variable {missing[0]} is not set")


class _TokenPrinter:
    """Prints streamed replies, each one whole. The first node to stream goes
    out live; nodes streaming at the same time (parallel branches) are held
    and printed, then followed live, when the one before them finishes. A line
    break separates replies."""

    def __init__(self) -> None:
        # The node whose text was printed last (None: at the start of a line).
        self.node: str | None = None
        # The node printed as its tokens arrive; the others wait in `held`,
        # in the order their first token came; `done` have finished meanwhile.
        self.live: str | None = None
        self.held: dict[str, list[str]] = {}
        self.done: set[str] = set()

    def __call__(self, event: dict[str, Any]) -> None:
        kind, node = event["type"], event.get("node")
        if kind == "token":
            if self.live is None:
                self.live = node
            if node == self.live:
                self._write(node, event["text"])
            else:
                self.held.setdefault(node, []).append(event["text"])
        elif kind == "node_retry":
            # The node starts its reply again: leave the broken one on its own line.
            self.held.pop(node, None)
            if node == self.node:
                sys.stdout.write("\n")
                self.node = None
        elif kind == "node_finished" and node == self.live:
            self.live = None
            while self.held and self.live is None:
                waiting = next(iter(self.held))
                self._write(waiting, "".join(self.held.pop(waiting)))
                if waiting in self.done:
                    self.done.discard(waiting)
                else:
                    self.live = waiting
        elif kind == "node_finished" and node in self.held:
            self.done.add(node)

    def _write(self, node: str, text: str) -> None:
        if self.node is not None and node != self.node:
            sys.stdout.write("\n")
        self.node = node
        sys.stdout.write(text)
        sys.stdout.flush()


def _notice(text: str) -> None:
    """One line on stderr (a slow node, a rate-limit wait), safe for the terminal."""
    start = "\r\x1b[K" if sys.stderr.isatty() else ""
    sys.stderr.write(start + _printable(text) + "\n")
    sys.stderr.flush()


def _node_errors(result: dict[str, Any]) -> dict[str, str]:
    """Nodes the run went on without (onError fallback or continue, a failed
    branch of a fan-out): why. Nodes a failed branch cancelled say the same again."""
    return {
        node: stats["error"]
        for node, stats in result["nodes"].items()
        if "error" in stats and stats["status"] != "cancelled"
    }


def _print_result(result: dict[str, Any]) -> None:
    outputs = list(result["outputs"].values())
    if len(outputs) == 1 and isinstance(outputs[0], str):
        print(outputs[0])
    elif len(outputs) == 1 and isinstance(outputs[0], dict) and "content" in outputs[0]:
        print(outputs[0]["content"])
    else:
        print(json.dumps(result["outputs"], indent=2, ensure_ascii=False, default=str))


def _usage_line(usage: dict[str, Any]) -> str:
    line = (
        f"{usage['total_tokens']} tokens ({usage['prompt_tokens']} in, "
        f"{usage['completion_tokens']} out)"
    )
    if "cost_usd" in usage:
        line += f", about ${usage['cost_usd']:.6f}"
    return line


def _batch_line(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    fallbacks = f", {summary['fallbacks']} used a fallback" if summary["fallbacks"] else ""
    if summary["rate_limit_retries"]:
        fallbacks += (
            f", {summary['rate_limit_retries']} tries again after rate limits "
            f"({summary['rate_limit_wait_s']:g} s paused)"
        )
    return (
        f"{summary['records']} record(s): {summary['ok']} ok, {summary['failed']} failed"
        f"{fallbacks}; "
        f"{_usage_line(summary['usage'])}; latency p50 {latency['p50']} ms, "
        f"p95 {latency['p95']} ms"
    )


def _health_check(as_json: bool) -> int:
    """--check: 0 healthy, 1 degraded, 2 unusable (see run_check)."""
    report = asyncio.run(run_check())
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_check(report)
    exit_code: int = report["exit_code"]
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 the run (or a batch record) failed, 2 bad inputs
    or environment, 130 interrupted."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["serve"]:
        return serve_main(arguments[1:])
    args = _parse_args(argv)
    RATE_LIMITS.update(requests_per_minute=args.rpm, tokens_per_minute=args.tpm)
    NOTICE_HANDLERS.append(_notice)
    try:
        return _main(args)
    finally:
        NOTICE_HANDLERS.remove(_notice)


def _main(args: argparse.Namespace) -> int:
    global RECORD_TIMEOUT_S, RETRY_FAILED
    RECORD_TIMEOUT_S = args.record_timeout
    RETRY_FAILED = "all" if args.retry_failed else "none" if args.no_retry_failed else "transient"
    try:
        if args.check:
            return _health_check(args.json)
        _check_environment()
        if args.usage_log:
            open_usage_log(args.usage_log)
        if args.batch and args.dask:
            summary, any_failed = run_batch_dask(
                args.batch,
                args.output,
                args.dask,
                args.concurrency,
                args.chunk_size,
                args.dask_workers,
            )
        elif args.batch:
            summary, any_failed = asyncio.run(run_batch(args.batch, args.output, args.concurrency))
        if args.batch:
            if args.json:
                print(json.dumps(summary, indent=2))
            else:
                print(_batch_line(summary), file=sys.stderr)
            if summary["interrupted"]:
                return 130
            return 1 if any_failed else 0
        if args.schedule:
            raise InputError(
                "--schedule runs a workflow that starts on a schedule; this one "
                "has no scheduledTask trigger"
            )
        inputs = check_inputs(_read_inputs(args))
        printer = _TokenPrinter() if args.stream and not args.json else None
        result = asyncio.run(run_workflow(inputs, on_event=printer))
    except InputError as exc:
        print(f"error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    except WorkflowError as exc:
        print(f"error: {_printable(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        close_usage_log()
    for node, error in _node_errors(result).items():
        fan_out = result["nodes"][node].get("branch_of")
        went_on = "its onError value" if fan_out is None else f"the rest of {fan_out!r}"
        print(
            f"warning: {_printable(error)}; the run went on with {_printable(went_on)}",
            file=sys.stderr,
        )
    if args.json:
        try:
            # Strict JSON: NaN or Infinity (a fallback value, say) is an error, not bad output.
            text = json.dumps(result, indent=2, ensure_ascii=False, default=str, allow_nan=False)
        except ValueError:
            print(
                "error: the result holds NaN or Infinity, which JSON cannot carry", file=sys.stderr
            )
            return 1
        print(text)
        return 0
    if printer is not None and printer.node is not None:
        sys.stdout.write("\n")
    else:
        _print_result(result)
    if result["usage"]["total_tokens"]:
        print(f"usage: {_usage_line(result['usage'])}, {result['latency_ms']} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
