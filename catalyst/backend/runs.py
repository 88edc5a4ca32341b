"""Preview runs: the compiled script in a child process, its events fanned out
to server-sent-event listeners and folded into a stored run record.

The child is `python -I preview_runner.py script.py` in a fresh temporary
folder, with inputs as JSON on stdin and an environment holding only what the
script needs: a provider's key when the backend has one, else the address of
Catalyst's local provider server (canned replies). It is killed at the time
limit. Whatever it prints is scrubbed of the secret values it was given (and of
anything shaped like an API key) before it is sent or stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from catalyst.backend.storage import RunStore
from catalyst.keys import redact
from catalyst.planning import Plan
from catalyst.provider_models import PROVIDERS

# A node output kept in a run record is cut to this many characters of JSON.
MAX_STORED_OUTPUT_CHARS = 65_536
# The longest line (one event) read from a preview's output.
MAX_EVENT_BYTES = 16 * 2**20
# Variables a Python child needs to start; everything else it is given by name.
_BASE_ENV = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TZ")
REDACTED = "[redacted]"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class ActiveRun:
    record: dict[str, Any]
    secrets: tuple[str, ...]
    events: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=list)
    done: bool = False

    def publish(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        for queue in self.listeners:
            queue.put_nowait(event)

    def close(self) -> None:
        self.done = True
        for queue in self.listeners:
            queue.put_nowait(None)


class LocalProviders:
    """Catalyst's local provider server, started on the first preview that needs it."""

    def __init__(self, tokens_per_second: int) -> None:
        self._tokens_per_second = tokens_per_second
        self._server: Any = None
        self._lock = threading.Lock()

    def base_url_for(self, provider_name: str) -> str:
        with self._lock:
            if self._server is None:
                from catalyst.local_server import LocalServer, MockSettings

                settings = MockSettings(tokens_per_second=self._tokens_per_second)
                self._server = LocalServer(settings).start()
            return str(self._server.base_url_for(provider_name))

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None


class PreviewRuns:
    """Starts preview runs, streams their events and keeps their records."""

    def __init__(self, store: RunStore, *, time_limit_s: float, max_active: int,
                 tokens_per_second: int = 400) -> None:
        self.store = store
        self.time_limit_s = time_limit_s
        self.max_active = max_active
        self.local = LocalProviders(tokens_per_second)
        self._active: dict[str, ActiveRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Runs a previous backend process left running were cut off when it stopped.
        for record in store.unfinished():
            for node in record.get("nodes", {}).values():
                if node.get("status") in ("pending", "running"):
                    node["status"] = "not_run"
            record.update(status="failed", finished_at=record.get("finished_at") or now(),
                          error="the backend stopped during the run")
            store.save(record)

    @property
    def busy(self) -> bool:
        return sum(not run.done for run in self._active.values()) >= self.max_active

    def start(self, *, script: str, plan: Plan, document: Any, workflow_id: str | None,
              inputs: dict[str, Any], time_limit_s: float | None) -> str:
        run_id = uuid.uuid4().hex
        limit = min(time_limit_s or self.time_limit_s, self.time_limit_s)
        env, secrets, local = self._environment(plan)
        record: dict[str, Any] = {
            "id": run_id,
            "status": "running",
            "created_at": now(),
            "finished_at": None,
            "workflow": workflow_id,
            "workflow_name": plan.workflow.name,
            "document": document,
            "inputs": inputs,
            "time_limit_s": limit,
            "local_providers": local,
            "nodes": {node.id: {"label": node.label, "type": node.node_type.type,
                                "status": "pending"} for node in plan.nodes},
            "outputs": None,
            "usage": None,
            "latency_ms": None,
            "error": None,
            "tokens_streamed": 0,
        }
        record = _scrub(record, secrets)
        self.store.save(record)
        active = ActiveRun(record, secrets)
        self._active[run_id] = active
        task = asyncio.create_task(self._drive(active, script, inputs, env, limit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run_id

    def _environment(self, plan: Plan) -> tuple[dict[str, str], tuple[str, ...], list[str]]:
        env = {name: os.environ[name] for name in _BASE_ENV if name in os.environ}
        env["PYTHONIOENCODING"] = "utf-8"
        secrets: list[str] = []
        local: list[str] = []
        for provider in PROVIDERS:
            if provider.key_env not in plan.env_vars:
                continue
            key = os.environ.get(provider.key_env)
            if key:
                env[provider.key_env] = key
                secrets.append(key)
                if os.environ.get(provider.base_url_env):
                    env[provider.base_url_env] = os.environ[provider.base_url_env]
            else:
                env[provider.key_env] = "local-preview"
                env[provider.base_url_env] = self.local.base_url_for(provider.name)
                local.append(provider.name)
        return env, tuple(secrets), local

    async def _drive(self, active: ActiveRun, script: str, inputs: dict[str, Any],
                     env: dict[str, str], limit: float) -> None:
        record = active.record
        folder = Path(tempfile.mkdtemp(prefix="catalyst-preview-"))
        env["HOME"] = str(folder)
        try:
            (folder / "run-workflow.py").write_text(script, encoding="utf-8")
            runner = folder / "preview_runner.py"
            runner.write_text(
                files("catalyst.backend").joinpath("preview_runner.py").read_text("utf-8"),
                encoding="utf-8",
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", str(runner), str(folder / "run-workflow.py"),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=folder, env=env,
                limit=MAX_EVENT_BYTES, start_new_session=True,
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(inputs).encode())
            process.stdin.close()
            deadline = asyncio.get_running_loop().time() + limit
            try:
                await asyncio.wait_for(self._read(active, process), limit)
                # A child that closed its output but goes on is held to the same limit.
                remaining = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(process.wait(), max(remaining, 0.001))
            except TimeoutError:
                _kill(process)
                record["status"] = "timed_out"
                record["error"] = f"the preview run did not finish within {limit:g} s"
                active.publish({"type": "workflow_failed", "error": record["error"]})
            except (ValueError, asyncio.LimitOverrunError):
                _kill(process)
                record["status"] = "failed"
                record["error"] = "the preview printed an event too large to read"
            code = await process.wait()
            stderr = b""
            if process.stderr is not None:
                with contextlib.suppress(Exception):
                    stderr = await asyncio.wait_for(process.stderr.read(65_536), 1)
            if record["status"] == "running":
                record["status"] = "succeeded" if code == 0 else "failed"
                if code != 0 and record["error"] is None:
                    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                    record["error"] = tail[0] if tail else f"the preview exited with {code}"
        except Exception as exc:  # the backend must outlive any preview
            record["status"] = "failed"
            record["error"] = f"the preview could not run: {type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            for node in record["nodes"].values():
                if node["status"] in ("pending", "running"):
                    node["status"] = "not_run"
            record["finished_at"] = now()
            active.record = record = _scrub(record, active.secrets)
            self.store.save(record)
            active.publish({"type": "run_finished", "run": _summary(record)})
            active.close()
            self._active.pop(record["id"], None)

    async def _read(self, active: ActiveRun, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        record = active.record
        while line := await process.stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            event = _scrub(event, active.secrets)
            kind = event.get("type")
            node = record["nodes"].get(event.get("node")) if "node" in event else None
            if kind == "token":
                record["tokens_streamed"] += 1
            elif kind == "node_started" and node is not None:
                node.update(status="running", started_at=now())
            elif kind == "node_output" and node is not None:
                node["output"] = _bounded(event.get("output"))
                continue  # kept in the record; not an event the script emits
            elif kind == "node_finished" and node is not None:
                node.update({k: v for k, v in event.items() if k not in ("type", "node")})
                node["finished_at"] = now()
            elif kind == "node_failed" and node is not None:
                node["error"] = event.get("error")
            elif kind == "node_skipped" and node is not None:
                node["status"] = "skipped"
            elif kind == "workflow_finished" and isinstance(event.get("result"), dict):
                result = event["result"]
                record.update(outputs=_bounded(result.get("outputs")), usage=result.get("usage"),
                              latency_ms=result.get("latency_ms"))
            elif kind in ("workflow_failed", "input_error"):
                record["status"] = "failed"
                record["error"] = event.get("error")
            active.publish(event)

    async def events(self, run_id: str) -> AsyncIterator[dict[str, Any]]:
        """Every event of an active run from its start, then the new ones as they come."""
        active = self._active.get(run_id)
        if active is None:
            record = self.store.get(run_id)
            if record is not None:
                yield {"type": "run_finished", "run": _summary(record)}
            return
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        for past in active.events:
            queue.put_nowait(past)
        if active.done:
            queue.put_nowait(None)
        else:
            active.listeners.append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if queue in active.listeners:
                active.listeners.remove(queue)

    def get(self, run_id: str) -> dict[str, Any] | None:
        active = self._active.get(run_id)
        return active.record if active is not None else self.store.get(run_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.local.stop()


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in (
        "id", "status", "created_at", "finished_at", "workflow", "workflow_name",
        "latency_ms", "usage", "error",
    )}


def _bounded(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_STORED_OUTPUT_CHARS:
        return value
    return {"truncated": True, "preview": text[:MAX_STORED_OUTPUT_CHARS]}


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every secret value the run was given, and anything shaped like
    an API key, taken out of its strings (keys of objects too)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return redact(value)
    if isinstance(value, dict):
        return {_scrub(str(k), secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value
